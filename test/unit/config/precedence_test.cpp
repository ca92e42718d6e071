// Command line > --config file > environment > defaults; tokens and region/endpoint resolution.
#include "config_test_support.hpp"

using namespace config_test;
using cfg::proxy_mode;

namespace {
const std::string client_a(32, 'a');
const std::string client_b(32, 'b');
const std::string client_c(32, 'c');
}  // namespace

TEST(Precedence, CommandLineBeatsConfigFileBeatsEnvironment) {
  temp_dir dir;
  const auto config = dir.write("lp.conf", "client-token = " + client_b + "\nverbose = 2\naccess-token = file-token\n");
  const env_map env{{"AWSIOT_TUNNEL_ACCESS_TOKEN", "env-token"}, {"AWSIOT_TUNNEL_CLIENT_TOKEN", client_c}};
  auto r = parse({"-r", "us-east-1", "-s", "1", "--config", config, "-i", client_a, "-v", "5"}, env);
  EXPECT_EQ(r.opts.client_token, client_a);
  EXPECT_EQ(r.opts.verbosity, 5);
  EXPECT_EQ(r.opts.access_token, "file-token");
  r = parse({"-r", "us-east-1", "-s", "1", "--config", config}, env);
  EXPECT_EQ(r.opts.client_token, client_b);
  EXPECT_EQ(r.opts.verbosity, 2);  // the reference ignored verbose in a config file
  r = parse({"-r", "us-east-1", "-s", "1"}, env);
  EXPECT_EQ(r.opts.client_token, client_c);
  EXPECT_EQ(r.opts.access_token, "env-token");
  EXPECT_EQ(r.opts.verbosity, 4);
}

TEST(Precedence, ReferenceClientTokenVariableIsAcceptedButOursWins) {
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_CLIENT_TOKEN", client_a}})
                .opts.client_token,
            client_a);
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1"},
                  {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_CLIENT_TOKEN", client_a}, {"AWSIOT_TUNNEL_CLIENT_TOKEN", client_b}})
                .opts.client_token,
            client_b);
}

TEST(Precedence, EndpointOrRegionFromTheHighestLevelThatHasEither) {
  env_map env{{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_TUNNEL_REGION", "us-west-2"}};
  auto r = parse({"-s", "1"}, env);
  EXPECT_EQ(r.opts.region, "us-west-2");
  EXPECT_EQ(r.opts.endpoint.host, "data.tunneling.iot.us-west-2.amazonaws.com");
  r = parse({"-s", "1", "-e", "tunnel.example.com:8443"}, env);
  EXPECT_EQ(r.opts.region, "");
  EXPECT_EQ(r.opts.endpoint.host, "tunnel.example.com");
  EXPECT_EQ(r.opts.endpoint.port, 8443);
  env = {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_TUNNEL_ENDPOINT", "env.example.com"}};
  r = parse({"-s", "1", "-r", "eu-central-1"}, env);
  EXPECT_EQ(r.opts.endpoint.host, "data.tunneling.iot.eu-central-1.amazonaws.com");
  EXPECT_EQ(parse({"-s", "1"}, env).opts.endpoint.host, "env.example.com");
}

TEST(Precedence, RegionAndEndpointAtTheSameLevelIsAnError) {
  EXPECT_TRUE(contains(error_of({"-s", "1", "-r", "us-east-1", "-e", "x.example.com"}),
                       "-r/--region and -e/--proxy-endpoint: give only one"));
  const auto e = error_of({"-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"},
                                        {"AWSIOT_TUNNEL_REGION", "us-east-1"},
                                        {"AWSIOT_TUNNEL_ENDPOINT", "x.example.com"}});
  EXPECT_TRUE(contains(e, "AWSIOT_TUNNEL_REGION and AWSIOT_TUNNEL_ENDPOINT")) << e;
  temp_dir dir;
  const auto config = dir.write("c", "region = us-east-1\nproxy-endpoint = x.example.com\n");
  EXPECT_TRUE(contains(error_of({"-s", "1", "--config", config}), "region and"));
  EXPECT_TRUE(contains(error_of({"-s", "1"}), "-r/--region or -e/--proxy-endpoint: one is required"));
}

TEST(Precedence, ModeOptionsComeWholeFromOneLevel) {
  temp_dir dir;
  const auto config = dir.write("c", "destination-app = 22\nregion = us-east-1\n");
  auto r = parse({"--config", config});
  EXPECT_EQ(r.opts.mode, proxy_mode::destination);
  r = parse({"--config", config, "-s", "5555"});  // the command line's -s replaces the file's -d
  EXPECT_EQ(r.opts.mode, proxy_mode::source);
  ASSERT_EQ(r.opts.mappings.size(), 1u);
  EXPECT_EQ(r.opts.mappings[0].port, 5555);
}

TEST(Tokens, AccessTokenIsRequired) {
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1"}, {}), "AWSIOT_TUNNEL_ACCESS_TOKEN"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", ""}}),
                       "access token: none given"));
}

TEST(Tokens, AccessTokenOnTheCommandLineWarns) {
  const auto r = parse({"-r", "us-east-1", "-s", "1", "-t", "cli-token"});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "AWSIOT_TUNNEL_ACCESS_TOKEN"));
  EXPECT_FALSE(contains(r.warnings[0], "cli-token"));
}

TEST(Tokens, AccessTokenLimitsNeverQuoteTheToken) {
  const std::string long_token(4097, 'Q');
  auto e = error_of({"-r", "us-east-1", "-s", "1", "-t", long_token});
  EXPECT_EQ(e, "-t/--access-token: too long (max 4096 bytes)");
  e = error_of({"-r", "us-east-1", "-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "SeCrEt\x01Value"}});
  EXPECT_TRUE(contains(e, "AWSIOT_TUNNEL_ACCESS_TOKEN: contains a control character"));
  EXPECT_FALSE(contains(e, "SeCrEt"));
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "-t", std::string(4096, 'Q')}).opts.access_token.size(), 4096u);
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "-t", "t\xc3\xa9st"}).opts.access_token, "t\xc3\xa9st");
}

TEST(Tokens, ClientTokenPattern) {
  for (const std::string& bad : {std::string(31, 'a'), std::string(129, 'a'), std::string(31, 'a') + "_", std::string(32, ' ')}) {
    const auto e = error_of({"-r", "us-east-1", "-s", "1", "-i", bad});
    EXPECT_TRUE(contains(e, "-i/--client-token: expected 32 to 128 characters")) << e;
    EXPECT_FALSE(contains(e, bad));
  }
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "-i", std::string(128, '-')}).opts.client_token, std::string(128, '-'));
}

TEST(Region, IsValidated) {
  EXPECT_TRUE(contains(error_of({"-r", "US-EAST-1", "-s", "1"}), "-r/--region: expected a region"));
  EXPECT_TRUE(contains(error_of({"-r", "us_east_1", "-s", "1"}), "-r/--region"));
  EXPECT_TRUE(contains(error_of({"-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_TUNNEL_REGION", "a.b"}}),
                       "AWSIOT_TUNNEL_REGION: expected a region"));
}

TEST(Region, ChinaAndOverridesFromSettings) {
  EXPECT_EQ(parse({"-r", "cn-north-1", "-s", "1"}).opts.endpoint.host, "data.tunneling.iot.cn-north-1.amazonaws.com.cn");
  temp_dir dir;
  const auto json = dir.write("s.json", R"({"tunneling":{"proxy":{"region_endpoint_overrides":{"us-east-1":"tunnel.example.com:9443"}}}})");
  auto r = parse({"-r", "us-east-1", "-s", "1", "--settings-json", json});
  EXPECT_EQ(r.opts.endpoint.host, "tunnel.example.com");
  EXPECT_EQ(r.opts.endpoint.port, 9443);
  r = parse({"-r", "cn-northwest-1", "-s", "1", "--settings-json", json});  // merged, not replaced
  EXPECT_EQ(r.opts.endpoint.host, "data.tunneling.iot.cn-northwest-1.amazonaws.com.cn");
  EXPECT_EQ(r.opts.tunables.region_endpoint_overrides.at("us-east-1"), "tunnel.example.com:9443");
}
