// -s/-d values and -e endpoints, through the pure parsers and through the command line.
#include "config_test_support.hpp"

#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/mappings.hpp"

using namespace config_test;
using cfg::proxy_mode;
using cfg::service_mapping;

namespace {
std::string mapping_error(const std::string& value, proxy_mode mode) {
  try {
    (void)cfg::parse_mappings(value, mode, "-d/--destination-app");
  } catch (const cfg::usage_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << value;
  return "";
}
}  // namespace

TEST(Mappings, SourceForms) {
  const auto s = proxy_mode::source;
  EXPECT_EQ(cfg::parse_mappings("5555", s, "-s"), std::vector{mapping("", "", 5555)});
  EXPECT_EQ(cfg::parse_mappings("SSH1=5555", s, "-s"), std::vector{mapping("SSH1", "", 5555)});
  EXPECT_EQ(cfg::parse_mappings("SSH1=5555,WEB=8080", s, "-s"),
            (std::vector{mapping("SSH1", "", 5555), mapping("WEB", "", 8080)}));
  EXPECT_EQ(cfg::parse_mappings("SSH1=5555, WEB=8080", s, "-s"),
            (std::vector{mapping("SSH1", "", 5555), mapping("WEB", "", 8080)}));
  EXPECT_EQ(cfg::parse_mappings("SSH1=127.0.0.1:5555", s, "-s"), std::vector{mapping("SSH1", "127.0.0.1", 5555)});
  EXPECT_EQ(cfg::parse_mappings("a_b-C=[::1]:5555", s, "-s"), std::vector{mapping("a_b-C", "::1", 5555)});
  // A value containing '/' is a Unix socket to listen on.
  EXPECT_EQ(cfg::parse_mappings("SSH=/run/localproxy/ssh.sock", s, "-s"),
            std::vector{mapping("SSH", "", 0, "/run/localproxy/ssh.sock")});
  EXPECT_EQ(cfg::parse_mappings("./x.sock", s, "-s"), std::vector{mapping("", "", 0, "./x.sock")});
  EXPECT_EQ(cfg::parse_mappings("SSH=/tmp/s.sock,WEB=8080", s, "-s"),
            (std::vector{mapping("SSH", "", 0, "/tmp/s.sock"), mapping("WEB", "", 8080)}));
  const auto longest = "/" + std::string(106, 'x');
  EXPECT_EQ(cfg::parse_mappings(longest, s, "-s"), std::vector{mapping("", "", 0, longest)});
}

TEST(Mappings, DestinationForms) {
  const auto d = proxy_mode::destination;
  EXPECT_EQ(cfg::parse_mappings("22", d, "-d"), std::vector{mapping("", "", 22)});
  EXPECT_EQ(cfg::parse_mappings("host:22", d, "-d"), std::vector{mapping("", "host", 22)});
  EXPECT_EQ(cfg::parse_mappings("[::1]:22", d, "-d"), std::vector{mapping("", "::1", 22)});
  EXPECT_EQ(cfg::parse_mappings("SSH1=10.0.0.1:22", d, "-d"), std::vector{mapping("SSH1", "10.0.0.1", 22)});
  EXPECT_EQ(cfg::parse_mappings("SSH1=/run/app.sock", d, "-d"), std::vector{mapping("SSH1", "", 0, "/run/app.sock")});
  EXPECT_EQ(cfg::parse_mappings("/run/app.sock", d, "-d"), std::vector{mapping("", "", 0, "/run/app.sock")});
  EXPECT_EQ(cfg::parse_mappings("SSH1=22,WEB=web.local:80,APP=/tmp/a.sock", d, "-d"),
            (std::vector{mapping("SSH1", "", 22), mapping("WEB", "web.local", 80), mapping("APP", "", 0, "/tmp/a.sock")}));
}

TEST(Mappings, Errors) {
  const auto d = proxy_mode::destination;
  for (const auto* bad : {"0", "65536", "99999999999", "abc", "host:", "host:x", ":22", "[::1:22", "::1:22", "SSH1=",
                          "=22", "SSH 1=22", "SSH1=22,", "SSH1=22,,WEB=80", "22,80", "SSH1=22,80", "SSH1=22,SSH1=23",
                          "", "SSH1=host:22:33", "bad$host:22"}) {
    const auto e = mapping_error(bad, d);
    EXPECT_TRUE(e.starts_with("-d/--destination-app: ")) << bad << " -> " << e;
  }
  const auto e = mapping_error(std::string(129, 'x') + "=22", d);
  EXPECT_TRUE(contains(e, "service ID")) << e;
  const auto long_path = "SSH1=/" + std::string(107, 'x');
  EXPECT_TRUE(contains(mapping_error(long_path, proxy_mode::source), "socket path to listen on is 108 bytes long; at most 107"))
      << mapping_error(long_path, proxy_mode::source);
  EXPECT_TRUE(contains(mapping_error("SSH1=22,SSH1=23", d), "SSH1 is mapped twice"));
}

TEST(Mappings, ErrorsFromTheCommandLineNameTheOption) {
  EXPECT_TRUE(error_of({"-r", "us-east-1", "-s", "70000"}).starts_with("-s/--source-listen-port: expected a port"));
  EXPECT_TRUE(error_of({"-r", "us-east-1", "-d", "SSH1"}).starts_with("-d/--destination-app: "));
}

TEST(Endpoint, Forms) {
  std::vector<std::string> warnings;
  auto ep = cfg::parse_service_endpoint("data.tunneling.iot.us-east-1.amazonaws.com", "-e", warnings);
  EXPECT_EQ(ep, (cfg::service_endpoint{"data.tunneling.iot.us-east-1.amazonaws.com", 443, true}));
  EXPECT_EQ(cfg::parse_service_endpoint("Host.Example.COM:8443", "-e", warnings),
            (cfg::service_endpoint{"host.example.com", 8443, true}));
  EXPECT_EQ(cfg::parse_service_endpoint("[::1]:9000", "-e", warnings), (cfg::service_endpoint{"::1", 9000, true}));
  EXPECT_EQ(cfg::parse_service_endpoint("wss://h.example.com", "-e", warnings), (cfg::service_endpoint{"h.example.com", 443, true}));
  EXPECT_EQ(cfg::parse_service_endpoint("wss://h.example.com:444/", "-e", warnings),
            (cfg::service_endpoint{"h.example.com", 444, true}));
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(cfg::parse_service_endpoint("ws://127.0.0.1:8080", "-e", warnings),
            (cfg::service_endpoint{"127.0.0.1", 8080, false}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains(warnings[0], "ws://"));
}

TEST(Endpoint, ErrorsNameTheOption) {
  for (const auto* bad : {"wss://h/tunnel", "h.example.com/x", "https://h.example.com", "h:0", "h:65536", "h:", "",
                          "[::1", "::1", "u@h.example.com", "wss://"}) {
    const auto e = error_of({"-s", "1", "-e", bad});
    EXPECT_TRUE(e.starts_with("-e/--proxy-endpoint: ")) << bad << " -> " << e;
  }
  const auto e = error_of({"-s", "1"}, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "t"}, {"AWSIOT_TUNNEL_ENDPOINT", "h/x"}});
  EXPECT_TRUE(e.starts_with("AWSIOT_TUNNEL_ENDPOINT: a path is not allowed")) << e;
}

TEST(Endpoint, PlainWebSocketWarnsThroughTheCommandLine) {
  const auto r = parse({"-s", "1", "-e", "ws://127.0.0.1:8080"});
  EXPECT_FALSE(r.opts.endpoint.tls);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "-e/--proxy-endpoint"));
}

TEST(Endpoint, Url) {
  EXPECT_EQ((cfg::service_endpoint{"h.example.com", 443, true}.url()), "wss://h.example.com:443");
  EXPECT_EQ((cfg::service_endpoint{"::1", 8080, false}.url()), "ws://[::1]:8080");
}

TEST(Endpoint, RegionHosts) {
  EXPECT_EQ(cfg::default_region_host("us-east-1"), "data.tunneling.iot.us-east-1.amazonaws.com");
  EXPECT_EQ(cfg::default_region_host("cn-north-1"), "data.tunneling.iot.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(cfg::default_region_host("cn-northwest-1"), "data.tunneling.iot.cn-northwest-1.amazonaws.com.cn");
  cfg::settings s;
  for (const auto* region : {"us-east-1", "ap-south-1", "cn-north-1", "cn-northwest-1"})
    EXPECT_EQ(cfg::region_endpoint(region, s).host, cfg::default_region_host(region)) << region;
  s.region_endpoint_overrides["us-east-1"] = "vpce.example.com";
  EXPECT_EQ(cfg::region_endpoint("us-east-1", s), (cfg::service_endpoint{"vpce.example.com", 443, true}));
  EXPECT_EQ(cfg::region_endpoint("cn-north-1", s).host, "data.tunneling.iot.cn-north-1.amazonaws.com.cn");
  s.endpoint_format = "tunnel.%s.example.net";
  EXPECT_EQ(cfg::region_endpoint("eu-west-3", s).host, "tunnel.eu-west-3.example.net");
}
