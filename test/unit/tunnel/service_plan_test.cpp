#include "localproxy/tunnel/service_plan.hpp"

#include <gtest/gtest.h>

namespace lt = localproxy::tunnel;
namespace lc = localproxy::config;

namespace {
lc::service_mapping mapping(const std::string& id, std::uint16_t port) {
  lc::service_mapping m;
  m.service_id = id;
  m.port = port;
  return m;
}
using ids = std::vector<std::string>;
}  // namespace

TEST(ServicePlan, SingleUnnamedMappingAdoptsTheOnlyService) {
  auto plan = lt::plan_services(lc::proxy_mode::destination, {mapping("", 22)}, ids{"SSH1"});
  ASSERT_EQ(plan.services.size(), 1u);
  EXPECT_EQ(plan.services[0].id, "SSH1");
  EXPECT_EQ(plan.services[0].mapping.port, 22);
}

TEST(ServicePlan, SingleUnnamedMappingWithSeveralServicesIsAnError) {
  try {
    (void)lt::plan_services(lc::proxy_mode::source, {mapping("", 5555)}, ids{"SSH", "WEB"});
    FAIL();
  } catch (const lt::mapping_error& e) {
    EXPECT_NE(std::string(e.what()).find("SSH, WEB"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("-s SSH=PORT"), std::string::npos);
  }
}

TEST(ServicePlan, DestinationMissingAMappingNamesTheService) {
  try {
    (void)lt::plan_services(lc::proxy_mode::destination, {mapping("SSH", 22)}, ids{"SSH", "WEB"});
    FAIL();
  } catch (const lt::mapping_error& e) {
    EXPECT_NE(std::string(e.what()).find("service WEB"), std::string::npos) << e.what();
  }
}

TEST(ServicePlan, SourceGetsAFreePortForUnmappedServices) {
  auto plan = lt::plan_services(lc::proxy_mode::source, {mapping("SSH", 5555)}, ids{"SSH", "WEB"});
  ASSERT_EQ(plan.services.size(), 2u);
  EXPECT_EQ(plan.services[1].id, "WEB");
  EXPECT_EQ(plan.services[1].mapping.port, 0);
}

TEST(ServicePlan, MappingsForServicesNotInTheTunnelAreWarnedAndIgnored) {
  auto plan = lt::plan_services(lc::proxy_mode::source, {mapping("SSH", 5555), mapping("RDP", 3389)}, ids{"SSH"});
  ASSERT_EQ(plan.services.size(), 1u);
  ASSERT_EQ(plan.warnings.size(), 1u);
  EXPECT_NE(plan.warnings[0].find("RDP"), std::string::npos);
}

TEST(ServicePlan, WithoutServiceIdsTheMappingsAreUsedAsGiven) {
  auto plan = lt::plan_services(lc::proxy_mode::source, {mapping("", 5555)}, std::nullopt);
  ASSERT_EQ(plan.services.size(), 1u);
  EXPECT_EQ(plan.services[0].id, "");
  auto empty = lt::plan_services(lc::proxy_mode::destination, {mapping("", 22)}, ids{});
  ASSERT_EQ(empty.services.size(), 1u);
}

namespace {
lc::service_mapping stdio_mapping(const std::string& id) {
  lc::service_mapping m;
  m.service_id = id;
  m.stdio = true;
  return m;
}
std::string plan_error(const lc::service_mapping& m, const ids& tunnel) {
  try {
    (void)lt::plan_services(lc::proxy_mode::source, {m}, tunnel);
  } catch (const lt::mapping_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted";
  return "";
}
}  // namespace

TEST(ServicePlan, StdioCarriesTheNamedServiceAndListensForNoOther) {
  auto plan = lt::plan_services(lc::proxy_mode::source, {stdio_mapping("SSH")}, ids{"WEB", "SSH", "RDP"});
  ASSERT_EQ(plan.services.size(), 1u);
  EXPECT_EQ(plan.services[0].id, "SSH");
  EXPECT_TRUE(plan.services[0].mapping.stdio);
  EXPECT_TRUE(plan.warnings.empty());
  plan = lt::plan_services(lc::proxy_mode::source, {stdio_mapping("")}, ids{"SSH"});
  ASSERT_EQ(plan.services.size(), 1u);
  EXPECT_EQ(plan.services[0].id, "SSH");
  for (const auto& none : {std::optional<ids>{}, std::optional<ids>{ids{}}}) {
    plan = lt::plan_services(lc::proxy_mode::source, {stdio_mapping("")}, none);
    ASSERT_EQ(plan.services.size(), 1u);
    EXPECT_EQ(plan.services[0].id, "");
  }
}

TEST(ServicePlan, StdioMustNameOneOfSeveralServicesAndOnlyAKnownOne) {
  auto e = plan_error(stdio_mapping(""), ids{"SSH", "WEB"});
  EXPECT_NE(e.find("the tunnel has services SSH, WEB; name the one to carry, e.g. --stdio SSH"), std::string::npos) << e;
  e = plan_error(stdio_mapping("RDP"), ids{"SSH", "WEB"});
  EXPECT_NE(e.find("--stdio RDP: the tunnel has no such service (it has SSH, WEB)"), std::string::npos) << e;
}
