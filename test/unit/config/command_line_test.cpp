#include "config_test_support.hpp"


using namespace config_test;
using cfg::parse_result;
using cfg::proxy_mode;
using cfg::service_mapping;


TEST(CommandLine, MinimalSourceWithEverythingDefaulted) {
  const auto r = parse({"-r", "us-east-1", "-s", "5555"});
  ASSERT_EQ(r.what, parse_result::action::run);
  EXPECT_EQ(r.opts.mode, proxy_mode::source);
  EXPECT_EQ(r.opts.access_token, "env-access-token");
  EXPECT_EQ(r.opts.region, "us-east-1");
  EXPECT_EQ(r.opts.endpoint.host, "data.tunneling.iot.us-east-1.amazonaws.com");
  EXPECT_EQ(r.opts.endpoint.port, 443);
  EXPECT_TRUE(r.opts.endpoint.tls);
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("", "", 5555)});
  EXPECT_EQ(r.opts.verbosity, 4);
  EXPECT_TRUE(r.opts.verify_ssl);
  EXPECT_EQ(r.opts.destination_client_type, 3);
  EXPECT_FALSE(r.opts.proxy);
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.opts.tunables, cfg::settings{});
}

TEST(CommandLine, LongOptionsAndEveryLocalOption) {
  temp_dir ca;
  const auto r = parse({"--region", "eu-west-1", "--destination-app", "SSH1=22", "--client-token",
                        "0123456789abcdef0123456789abcdef", "--local-bind-address", "0.0.0.0", "--capath",
                        ca.path().string(), "--no-ssl-host-verify", "--verbose", "6"});
  EXPECT_EQ(r.opts.mode, proxy_mode::destination);
  EXPECT_EQ(r.opts.client_token, "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(r.opts.bind_address, "0.0.0.0");
  EXPECT_EQ(r.opts.capath, ca.path().string());
  EXPECT_FALSE(r.opts.verify_ssl);
  EXPECT_EQ(r.opts.verbosity, 6);
}

TEST(CommandLine, ShortOptions) {
  temp_dir ca;
  const auto r = parse({"-r", "eu-west-1", "-d", "22", "-i", std::string(40, 'a'), "-b", "::1", "-c",
                        ca.path().string(), "-k", "-v", "255", "-t", "cli-token"});
  EXPECT_EQ(r.opts.client_token, std::string(40, 'a'));
  EXPECT_EQ(r.opts.bind_address, "::1");
  EXPECT_FALSE(r.opts.verify_ssl);
  EXPECT_EQ(r.opts.verbosity, 255);
  EXPECT_EQ(r.opts.access_token, "cli-token");
}

TEST(CommandLine, HelpListsEveryOptionAndSkipsValidation) {
  const auto r = parse({"--help"}, {});
  ASSERT_EQ(r.what, parse_result::action::help);
  for (const char* o : {"--help", "--version", "--access-token", "--client-token", "--proxy-endpoint", "--region",
                        "--source-listen-port", "--destination-app", "--local-bind-address", "--capath",
                        "--no-ssl-host-verify", "--export-default-settings", "--settings-json", "--config",
                        "--verbose", "--mode", "--destination-client-type", "--config-dir", "--web-proxy",
                        "--stdio [SERVICE]"})
    EXPECT_TRUE(contains(r.text, o)) << o;
  EXPECT_TRUE(r.text.starts_with("Usage: localproxy"));
  EXPECT_EQ(parse({"-h"}, {}).what, parse_result::action::help);
}

TEST(CommandLine, VersionSkipsValidation) {
  for (const char* flag : {"--version", "-V"}) {
    const auto r = parse({flag, "-r", "NOT A REGION"}, {});
    EXPECT_EQ(r.what, parse_result::action::version);
  }
}

TEST(CommandLine, ExportDefaultSettingsNeedsNothingElse) {
  const auto r = parse({"--export-default-settings", "/tmp/out.json"}, {});
  ASSERT_EQ(r.what, parse_result::action::export_settings);
  EXPECT_EQ(r.export_path, "/tmp/out.json");
}

TEST(CommandLine, VerboseRangeIsChecked) {
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "-v", "0"}).opts.verbosity, 0);
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-v", "256"}), "-v/--verbose: expected an integer from 0 to 255"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-v", "-1"}), "-v/--verbose"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-v", "loud"}), "-v/--verbose"));
}

TEST(CommandLine, ModeOption) {
  temp_dir dir;
  dir.write("m", "SSH1 = 22\n");
  for (const char* m : {"src", "source"})
    EXPECT_EQ(parse({"-r", "us-east-1", "-m", m, "--config-dir", dir.path().string()}).opts.mode, proxy_mode::source);
  for (const char* m : {"dst", "destination"})
    EXPECT_EQ(parse({"-r", "us-east-1", "-m", m, "--config-dir", dir.path().string()}).opts.mode,
              proxy_mode::destination);
  EXPECT_EQ(parse({"-r", "us-east-1", "-m", "src", "-s", "5555"}).opts.mode, proxy_mode::source);
  EXPECT_EQ(parse({"-r", "us-east-1", "-m", "dst", "-d", "22"}).opts.mode, proxy_mode::destination);
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "both", "-s", "1"}), "-m/--mode: expected src, source, dst or destination"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "dst", "-s", "1"}), "-m/--mode: says destination"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "src", "-d", "22"}), "-m/--mode: says source"));
}

TEST(CommandLine, ExactlyOneMode) {
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1"}), "-s/--source-listen-port, -d/--destination-app or -m/--mode"));
  const auto both = error_of({"-r", "us-east-1", "-s", "1", "-d", "22"});
  EXPECT_TRUE(contains(both, "-s/--source-listen-port and -d/--destination-app")) << both;
}

TEST(CommandLine, ModeAloneNeedsMappingsFromSomewhere) {
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "dst"}), "-d/--destination-app: at least one mapping"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "src"}), "-s/--source-listen-port: at least one mapping"));
}

TEST(CommandLine, RepeatedMappingOptionsAccumulate) {
  const auto r = parse({"-r", "us-east-1", "-s", "SSH1=5555", "-s", "WEB=8080, RDP=3389"});
  EXPECT_EQ(r.opts.mappings,
            (std::vector{mapping("SSH1", "", 5555), mapping("WEB", "", 8080), mapping("RDP", "", 3389)}));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "SSH1=5555", "-s", "SSH1=6666"}), "SSH1 is mapped twice"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "5555", "-s", "6666"}), "-s/--source-listen-port"));
}

TEST(CommandLine, DestinationClientType) {
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "-y", "V1"}).opts.destination_client_type, 1);
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1", "--destination-client-type", "V2"}).opts.destination_client_type, 2);
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-y", "V7"}), "-y/--destination-client-type: expected V1 or V2"));
  // A destination given -y speaks only that older format (as an older proxy would).
  EXPECT_EQ(parse({"-r", "us-east-1", "-d", "22", "-y", "V1"}).opts.destination_client_type, 1);
}

TEST(CommandLine, MetricsAddress) {
  EXPECT_EQ(parse({"-r", "us-east-1", "-s", "1"}).opts.metrics_port, 0);  // off by default
  const auto port_only = parse({"-r", "us-east-1", "-s", "1", "--metrics", "9100"}).opts;
  EXPECT_EQ(port_only.metrics_host, "127.0.0.1");
  EXPECT_EQ(port_only.metrics_port, 9100);
  const auto v6 = parse({"-r", "us-east-1", "-d", "22", "--metrics", "[::1]:9101"}).opts;
  EXPECT_EQ(v6.metrics_host, "::1");
  EXPECT_EQ(v6.metrics_port, 9101);
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--metrics", "localhost"}), "--metrics: expected [HOST:]PORT"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--metrics", "localhost:0"}), "--metrics"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--metrics", "70000"}), "--metrics"));
}

TEST(CommandLine, CapathMustBeADirectory) {
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-c", "/nonexistent/ca"}), "-c/--capath"));
}

TEST(CommandLine, BindAddressMustNotBeBlank) {
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-b", ""}), "-b/--local-bind-address"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-b", "a b"}), "-b/--local-bind-address"));
}

TEST(CommandLine, BoostErrorsBecomeOneLineUsageErrors) {
  EXPECT_TRUE(contains(error_of({"--frobnicate"}), "unknown option --frobnicate"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-r", "us-west-2"}), "region"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "-r", "us-west-2"}), "more than once"));
  EXPECT_TRUE(contains(error_of({"-r"}), "region"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "stray"}), "unexpected argument"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--no-ssl-host-verify=yes"}), "no-ssl-host-verify"));
}

TEST(CommandLine, ErrorsNeverQuoteAStrayArgumentThatMayBeAToken) {
  const std::string secret = "AQGAAXiTotallySecretTokenValue";
  EXPECT_FALSE(contains(error_of({"-r", "us-east-1", "-s", "1", secret}), secret));
  EXPECT_FALSE(contains(error_of({"--access-tokn=" + secret}), secret));
  const auto ambiguous = error_of({"--c=" + secret});  // --capath, --client-token, --config, ...
  EXPECT_FALSE(contains(ambiguous, secret)) << ambiguous;
  EXPECT_TRUE(contains(ambiguous, "option --c is ambiguous: it may be --")) << ambiguous;
  EXPECT_TRUE(contains(ambiguous, "--client-token")) << ambiguous;
}

// Found by fuzzing: a message quoted the input raw, so a newline in it broke the one-line rule.
TEST(CommandLine, ErrorsQuotingInputWithControlCharactersStayOneLine) {
  const auto mapping = error_of({"-r", "us-east-1", "-d", "ho\nst=22"});
  EXPECT_TRUE(contains(mapping, "ho\\nst")) << mapping;
  const auto option = error_of({"--reg\n", "us-east-1", "-s", "1"});
  EXPECT_TRUE(contains(option, "reg\\n")) << option;
  const auto control = error_of({"-r", "us-east-1", "-d", "a\x7f\tb=22"});
  EXPECT_TRUE(contains(control, "\\x7f\\t")) << control;
}

// Found by fuzzing: Boost replaced `%original_token%` in a message with the argument, which held
// `%original_token%` again, forever (the process hung, growing).
TEST(CommandLine, AnArgumentHoldingABoostPlaceholderIsReportedNotExpandedForever) {
  for (const std::string placeholder : {"%original_token%", "%option%", "%canonical_option%", "%value%", "%prefix%"}) {
    const auto ambiguous = error_of({"--d=" + placeholder});
    EXPECT_TRUE(contains(ambiguous, "ambiguous")) << ambiguous;
    EXPECT_TRUE(contains(error_of({"--no-ssl-host-verify=" + placeholder}), "no-ssl-host-verify"));
    EXPECT_TRUE(contains(error_of({"--" + placeholder + "=1"}), "unknown option"));
  }
}

TEST(CommandLine, StdioIsASourceWithOneConnectionAndQuietLogs) {
  service_mapping unnamed;
  unnamed.stdio = true;
  auto named = unnamed;
  named.service_id = "SSH";
  const auto r = parse({"-r", "us-east-1", "--stdio"});
  EXPECT_EQ(r.opts.mode, proxy_mode::source);
  EXPECT_EQ(r.opts.mappings, std::vector{unnamed});
  EXPECT_TRUE(r.opts.stdio());
  EXPECT_EQ(r.opts.verbosity, 3);  // warnings and errors: stderr is the ssh user's terminal
  // SERVICE as the next word or after '='; an option after --stdio is not its value.
  EXPECT_EQ(parse({"-r", "us-east-1", "--stdio", "SSH"}).opts.mappings, std::vector{named});
  EXPECT_EQ(parse({"--stdio=SSH", "-r", "us-east-1"}).opts.mappings, std::vector{named});
  const auto verbose = parse({"--stdio", "-v", "5", "-r", "us-east-1"});
  EXPECT_EQ(verbose.opts.mappings, std::vector{unnamed});
  EXPECT_EQ(verbose.opts.verbosity, 5);
  EXPECT_FALSE(parse({"-r", "us-east-1", "-s", "SSH=5555"}).opts.stdio());
}

TEST(CommandLine, StdioMistakes) {
  auto e = error_of({"-r", "us-east-1", "--stdio", "-s", "5555"});
  EXPECT_TRUE(contains(e, "--stdio and -s/--source-listen-port: give only one")) << e;
  e = error_of({"-r", "us-east-1", "--stdio", "SSH", "-d", "22"});
  EXPECT_TRUE(contains(e, "--stdio and -d/--destination-app: give only one")) << e;
  e = error_of({"-r", "us-east-1", "--stdio", "-m", "dst"});
  EXPECT_TRUE(contains(e, "-m/--mode: says destination but --stdio is for source mode")) << e;
  e = error_of({"-r", "us-east-1", "--stdio", "bad$id"});
  EXPECT_TRUE(e.starts_with("--stdio: ")) << e;
  EXPECT_TRUE(contains(e, "service ID")) << e;
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "--stdio", "SSH", "more"}), "unexpected argument"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "--stdio", "--stdio"}), "more than once"));
  temp_dir dir;
  const auto config = dir.write("c.conf", "stdio = SSH\n");
  e = error_of({"-r", "us-east-1", "--config", config});
  EXPECT_TRUE(contains(e, "stdio: not allowed in a config file")) << e;
}
