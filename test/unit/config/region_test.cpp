// The region check: the built-in list, what the settings add to it, "did you mean", and the
// one start-up warning an unknown region gets through the command line.
#include "config_test_support.hpp"

#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/settings_json.hpp"

using namespace config_test;

TEST(Region, BuiltInListHasCommercialChinaAndGovCloudRegions) {
  const cfg::settings s;
  for (const char* r : {"us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1", "sa-east-1", "cn-north-1",
                        "cn-northwest-1", "us-gov-west-1", "us-gov-east-1"})
    EXPECT_TRUE(cfg::is_known_region(r, s)) << r;
  for (const char* r : {"us-wset-2", "us-east-9", "moon-1", "useast1"}) EXPECT_FALSE(cfg::is_known_region(r, s)) << r;
}

TEST(Region, NearestKnownRegionByEditDistance) {
  const cfg::settings s;
  EXPECT_EQ(cfg::nearest_known_region("us-wset-2", s), "us-west-2");      // two letters swapped
  EXPECT_EQ(cfg::nearest_known_region("us-west2", s), "us-west-2");       // a dash missing
  EXPECT_EQ(cfg::nearest_known_region("eu-centrl-1", s), "eu-central-1");  // a letter missing
  EXPECT_EQ(cfg::nearest_known_region("cn-nortwest-1", s), "cn-northwest-1");
  EXPECT_EQ(cfg::nearest_known_region("us-gov-wset-1", s), "us-gov-west-1");
  EXPECT_EQ(cfg::nearest_known_region("ap-southeast-2x", s), "ap-southeast-2");
}

TEST(Region, SettingsExtendTheList) {
  cfg::settings s;
  cfg::load_settings_text(R"({"tunneling":{"proxy":{"extra_regions":"xx-new-1, xx-new-2"}}})", "settings file x", s);
  EXPECT_TRUE(cfg::is_known_region("xx-new-1", s));
  EXPECT_TRUE(cfg::is_known_region("xx-new-2", s));
  EXPECT_EQ(cfg::nearest_known_region("xx-nwe-1", s), "xx-new-1");
  // a region with an endpoint override is known too: its host was given
  cfg::load_settings_text(R"({"tunneling":{"proxy":{"region_endpoint_overrides":{"yy-lab-1":"lab.example:8443"}}}})",
                          "settings file y", s);
  EXPECT_TRUE(cfg::is_known_region("yy-lab-1", s));
}

TEST(Region, ExtraRegionsMustBeRegionNames) {
  cfg::settings s;
  try {
    cfg::load_settings_text(R"({"tunneling":{"proxy":{"extra_regions":"us-east-1;Bad"}}})", "settings file x", s);
    ADD_FAILURE() << "accepted";
  } catch (const cfg::usage_error& e) {
    EXPECT_TRUE(contains(e.what(), "tunneling.proxy.extra_regions: expected region names")) << e.what();
  }
  EXPECT_EQ(cfg::split_region_list(" a-1,b-2  c-3,,"), (std::vector<std::string>{"a-1", "b-2", "c-3"}));
}

TEST(Region, UnknownRegionWarnsOnceNamingTheHostAndTheNearestRegion) {
  const auto r = parse({"-r", "us-wset-2", "-s", "5555"});
  ASSERT_EQ(r.warnings.size(), 1u);
  const auto& w = r.warnings[0];
  EXPECT_TRUE(contains(w, "-r/--region: us-wset-2 is not a known AWS IoT Secure Tunneling region")) << w;
  EXPECT_TRUE(contains(w, "did you mean us-west-2?")) << w;
  EXPECT_TRUE(contains(w, "trying data.tunneling.iot.us-wset-2.amazonaws.com")) << w;
  EXPECT_EQ(r.opts.endpoint.host, "data.tunneling.iot.us-wset-2.amazonaws.com");  // only a warning
}

TEST(Region, KnownRegionAndAnEndpointWarnNothing) {
  EXPECT_TRUE(parse({"-r", "us-west-2", "-s", "5555"}).warnings.empty());
  EXPECT_TRUE(parse({"-r", "cn-north-1", "-s", "5555"}).warnings.empty());
  EXPECT_TRUE(parse({"-e", "wss://tunnel.example", "-s", "5555"}).warnings.empty());
  const auto r = parse({"-s", "5555"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_TUNNEL_REGION", "eu-wset-1"}});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "AWSIOT_TUNNEL_REGION: eu-wset-1 is not a known")) << r.warnings[0];
  EXPECT_TRUE(contains(r.warnings[0], "did you mean eu-west-1?")) << r.warnings[0];
}
