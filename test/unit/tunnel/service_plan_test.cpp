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
