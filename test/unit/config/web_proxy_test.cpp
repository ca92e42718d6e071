// Web proxy URLs, no_proxy, and where the proxy comes from.
#include "config_test_support.hpp"

#include "localproxy/config/web_proxy_url.hpp"

using namespace config_test;

namespace {
cfg::web_proxy proxy(std::string host, std::uint16_t port, bool tls = false, std::string user = "", std::string password = "") {
  return cfg::web_proxy{std::move(host), port, tls, std::move(user), std::move(password)};
}
std::string url_error(const std::string& url) {
  try {
    (void)cfg::parse_proxy_url(url, "--web-proxy");
  } catch (const cfg::usage_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << url;
  return "";
}
}  // namespace

TEST(WebProxyUrl, Forms) {
  EXPECT_EQ(cfg::parse_proxy_url("http://proxy.example.com:8080", "x").proxy, proxy("proxy.example.com", 8080));
  EXPECT_EQ(cfg::parse_proxy_url("HTTPS://proxy.example.com:8443", "x").proxy, proxy("proxy.example.com", 8443, true));
  EXPECT_EQ(cfg::parse_proxy_url("proxy.example.com:3129", "x").proxy, proxy("proxy.example.com", 3129));
  EXPECT_EQ(cfg::parse_proxy_url("http://[::1]:3128", "x").proxy, proxy("::1", 3128));
  EXPECT_EQ(cfg::parse_proxy_url("http://10.0.0.1:3128/", "x").proxy, proxy("10.0.0.1", 3128));
  EXPECT_EQ(cfg::parse_proxy_url("http://alice:s3cret%2Bpass@127.0.0.1:3128", "x").proxy,
            proxy("127.0.0.1", 3128, false, "alice", "s3cret+pass"));
  EXPECT_EQ(cfg::parse_proxy_url("http://a%40b:p+q%25r%3a@h:1", "x").proxy, proxy("h", 1, false, "a@b", "p+q%r:"));
  EXPECT_EQ(cfg::parse_proxy_url("http://bob@h:1", "x").proxy, proxy("h", 1, false, "bob", ""));
  EXPECT_FALSE(cfg::parse_proxy_url("http://h:1", "x").port_defaulted);
  const auto defaulted = cfg::parse_proxy_url("http://proxy.example.com", "x");
  EXPECT_EQ(defaulted.proxy, proxy("proxy.example.com", 3128));
  EXPECT_TRUE(defaulted.port_defaulted);
}

TEST(WebProxyUrl, ErrorsNameTheSourceAndNeverThePassword) {
  for (const char* bad : {"socks5://h:1080", "ftp://h:21", "http://h:1/path", "http://h:1?x", "http://h:0",
                                "http://h:70000", "http://h:port", "http://:3128", "http://", "",
                                "http://u:Pa55%zz@h:1", "http://u:Pa55%2@h:1", "http://:Pa55word@h:1", "http://[::1:3128"}) {
    const auto e = url_error(bad);
    EXPECT_TRUE(e.starts_with("--web-proxy: ")) << bad << " -> " << e;
    EXPECT_FALSE(contains(e, "Pa55")) << e;
  }
  EXPECT_TRUE(contains(url_error("http://u:Pa55%zz@h:1"), "percent escape in the password"));
  EXPECT_TRUE(contains(url_error("socks5://h:1080"), "unsupported scheme"));
}

TEST(NoProxy, Matching) {
  const std::string host = "data.tunneling.iot.us-east-1.amazonaws.com";
  EXPECT_TRUE(cfg::no_proxy_matches("*", host));
  EXPECT_TRUE(cfg::no_proxy_matches("amazonaws.com", host));
  EXPECT_TRUE(cfg::no_proxy_matches(".amazonaws.com", host));
  EXPECT_TRUE(cfg::no_proxy_matches("*.amazonaws.com", host));
  EXPECT_TRUE(cfg::no_proxy_matches("example.com, AMAZONAWS.COM", host));
  EXPECT_TRUE(cfg::no_proxy_matches(host, host));
  EXPECT_TRUE(cfg::no_proxy_matches("amazonaws.com:443", host));
  EXPECT_FALSE(cfg::no_proxy_matches("zonaws.com", host));
  EXPECT_FALSE(cfg::no_proxy_matches("example.com,localhost", host));
  EXPECT_FALSE(cfg::no_proxy_matches("", host));
  EXPECT_FALSE(cfg::no_proxy_matches(",,", host));
  EXPECT_TRUE(cfg::no_proxy_matches("10.0.0.1", "10.0.0.1"));
  EXPECT_FALSE(cfg::no_proxy_matches("0.0.1", "10.0.0.1"));
  EXPECT_TRUE(cfg::no_proxy_matches("::1", "::1"));
  EXPECT_TRUE(cfg::no_proxy_matches("[::1]", "::1"));
  EXPECT_TRUE(cfg::no_proxy_matches("[::1]:8080", "::1"));
  EXPECT_FALSE(cfg::no_proxy_matches("::2", "::1"));
}

TEST(WebProxySource, CommandLineThenConfigFileThenEnvironment) {
  temp_dir dir;
  const auto config = dir.write("c", "web-proxy = http://file.example.com:2\n");
  env_map env = default_env;
  env["https_proxy"] = "http://lower.example.com:3";
  env["HTTPS_PROXY"] = "http://upper.example.com:4";
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "--web-proxy", "http://cli.example.com:1", "--config", config}, env).opts.proxy,
            proxy("cli.example.com", 1));
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "--config", config}, env).opts.proxy, proxy("file.example.com", 2));
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1"}, env).opts.proxy, proxy("lower.example.com", 3));
  env.erase("https_proxy");
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1"}, env).opts.proxy, proxy("upper.example.com", 4));
  EXPECT_FALSE(parse({"-r", "us-east-1", "-s", "1"}).opts.proxy);
}

TEST(WebProxySource, NoProxyLowerCaseWinsAndMatchesTheServiceHost) {
  env_map env = default_env;
  env["https_proxy"] = "http://p.example.com:3128";
  env["no_proxy"] = "localhost,.amazonaws.com";
  EXPECT_FALSE(parse({"-r", "us-east-1", "-s", "1"}, env).opts.proxy);
  EXPECT_TRUE(parse({"-e", "tunnel.example.org", "-s", "1"}, env).opts.proxy);
  env["no_proxy"] = "example.org";
  env["NO_PROXY"] = "amazonaws.com";
  EXPECT_TRUE(parse({"-r", "us-east-1", "-s", "1"}, env).opts.proxy);  // the lower-case list applies
  env.erase("no_proxy");
  EXPECT_FALSE(parse({"-r", "us-east-1", "-s", "1"}, env).opts.proxy);
  EXPECT_FALSE(parse({"-r", "us-east-1", "-s", "1", "--web-proxy", "http://q.example.com:1"}, env).opts.proxy);
}

TEST(WebProxySource, DefaultPortWarnsAndErrorsNameTheVariable) {
  auto r = parse({"-r", "us-east-1", "-s", "1", "--web-proxy", "proxy.example.com"});
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_TRUE(contains(r.warnings[0], "3128"));
  env_map env = default_env;
  env["HTTPS_PROXY"] = "socks://x:1";
  EXPECT_TRUE(error_of({"-r", "us-east-1", "-s", "1"}, env).starts_with("HTTPS_PROXY: unsupported scheme"));
  env["https_proxy"] = "http://u:TopSecret99@h:bad";
  const auto e = error_of({"-r", "us-east-1", "-s", "1"}, env);
  EXPECT_TRUE(e.starts_with("https_proxy: expected a port")) << e;
  EXPECT_FALSE(contains(e, "TopSecret99"));
}
