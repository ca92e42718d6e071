// Tokens from files and systemd credentials, their precedence, and the environment scrub.
#include <sys/stat.h>

#include <cstdlib>

#include "config_test_support.hpp"
#include "localproxy/config/token_file.hpp"

using namespace config_test;

namespace {

const std::string secret = "FileAccessTok3nSecret";
const std::string client = "0123456789abcdef0123456789abcdefFILE";

std::string write_private(const temp_dir& dir, const std::string& name, const std::string& content,
                          mode_t mode = 0600) {
  const auto path = dir.write(name, content);
  EXPECT_EQ(::chmod(path.c_str(), mode), 0);
  return path;
}

std::vector<std::string> source(std::vector<std::string> extra) {
  std::vector<std::string> args{"-r", "us-east-1", "-s", "5555"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

}  // namespace

TEST(TokenFile, ReadOnceWithTrailingNewlineStripped) {
  temp_dir d;
  const auto lf = write_private(d, "lf", secret + "\n");
  const auto crlf = write_private(d, "crlf", secret + "\r\n");
  const auto bare = write_private(d, "bare", secret);
  for (const auto& path : {lf, crlf, bare})
    EXPECT_EQ(parse(source({"--access-token-file", path}), {}).opts.access_token, secret) << path;
}

TEST(TokenFile, BeatsTheEnvironmentVariableAndWarnsNothing) {
  temp_dir d;
  const auto path = write_private(d, "t", secret + "\n");
  const auto r = parse(source({"--access-token-file", path}));  // default_env has a token too
  EXPECT_EQ(r.opts.access_token, secret);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(TokenFile, MissingEmptyOrNotPrivateIsAOneLineErrorNamingTheFile) {
  temp_dir d;
  const auto missing = (d.path() / "nope").string();
  const auto empty = write_private(d, "empty", "\n");
  const auto group = write_private(d, "group", secret, 0640);
  const auto world = write_private(d, "world", secret, 0604);
  struct expectation {
    std::string path, detail;
  };
  for (const auto& [path, detail] : {expectation{missing, "cannot open"}, expectation{empty, "empty"},
                                     expectation{group, "readable by group or others (mode 0640)"},
                                     expectation{world, "readable by group or others (mode 0604)"},
                                     expectation{d.path().string(), "not a regular file"}}) {
    const auto e = error_of(source({"--access-token-file", path}), {});
    EXPECT_TRUE(contains(e, "--access-token-file: " + path + ": ")) << e;
    EXPECT_TRUE(contains(e, detail)) << e;
    EXPECT_FALSE(contains(e, secret)) << e;
  }
}

TEST(TokenFile, ExitStatusTwoComesFromUsageError) {
  // main maps usage_error to exit status 2; a bad file must be one, not another exception.
  temp_dir d;
  EXPECT_THROW((void)parse(source({"--access-token-file", (d.path() / "x").string()}), {}), cfg::usage_error);
}

TEST(TokenFile, BadContentIsReportedWithoutQuotingIt) {
  temp_dir d;
  const auto spaced = write_private(d, "spaced", secret + " " + secret);
  const auto e = error_of(source({"--access-token-file", spaced}), {});
  EXPECT_TRUE(contains(e, "--access-token-file (" + spaced + ")")) << e;
  EXPECT_FALSE(contains(e, secret)) << e;
  const auto bad_client = write_private(d, "client", client + "!");
  const auto c = error_of(source({"--client-token-file", bad_client}));
  EXPECT_TRUE(contains(c, "--client-token-file")) << c;
  EXPECT_FALSE(contains(c, client)) << c;
}

TEST(TokenFile, ValueAndFileAtTheSameLevelClash) {
  temp_dir d;
  const auto path = write_private(d, "t", secret);
  const auto e = error_of(source({"-t", "cli-token", "--access-token-file", path}), {});
  EXPECT_TRUE(contains(e, "-t/--access-token and --access-token-file: give only one")) << e;
}

TEST(TokenFile, ConfigFileKeyAndPrecedence) {
  temp_dir d;
  const auto path = write_private(d, "t", secret);
  const auto conf = d.write("lp.conf", "access-token-file = " + path + "\nclient-token-file = " +
                                           write_private(d, "c", client + "\n") + "\n");
  auto r = parse(source({"--config", conf}));
  EXPECT_EQ(r.opts.access_token, secret);  // the config file beats the environment
  EXPECT_EQ(r.opts.client_token, client);
  r = parse(source({"--config", conf, "-t", "cli-token"}));
  EXPECT_EQ(r.opts.access_token, "cli-token");  // the command line beats the config file
}

TEST(TokenFile, SystemdCredentialsDirectory) {
  temp_dir d;
  write_private(d, "creds/access-token", secret + "\n");
  write_private(d, "creds/client-token", client + "\n");
  const auto creds = (d.path() / "creds").string();
  auto r = parse(source({}), {{"CREDENTIALS_DIRECTORY", creds},
                              {"AWSIOT_TUNNEL_ACCESS_TOKEN", "inherited"},
                              {"AWSIOT_TUNNEL_CLIENT_TOKEN", std::string(40, 'z')}});
  EXPECT_EQ(r.opts.access_token, secret);  // the credential is meant for this service
  EXPECT_EQ(r.opts.client_token, client);
  r = parse(source({"-t", "cli-token"}), {{"CREDENTIALS_DIRECTORY", creds}});
  EXPECT_EQ(r.opts.access_token, "cli-token");
  // A credentials directory without the file: the variable is used.
  temp_dir other;
  r = parse(source({}), {{"CREDENTIALS_DIRECTORY", other.path().string()}, {"AWSIOT_TUNNEL_ACCESS_TOKEN", "from-env"}});
  EXPECT_EQ(r.opts.access_token, "from-env");
  EXPECT_TRUE(r.opts.client_token.empty());
  // systemd makes credential files 0440 in a directory only the service can enter: accepted.
  ASSERT_EQ(::chmod((d.path() / "creds/access-token").c_str(), 0440), 0);
  EXPECT_EQ(parse(source({}), {{"CREDENTIALS_DIRECTORY", creds}}).opts.access_token, secret);
  // An empty credential is still an error naming it.
  write_private(d, "creds/access-token", "\n");
  const auto e = error_of(source({}), {{"CREDENTIALS_DIRECTORY", creds}});
  EXPECT_TRUE(contains(e, "$CREDENTIALS_DIRECTORY/access-token: " + creds + "/access-token: the file is empty")) << e;
}

TEST(TokenFile, NoTokenAnywhereNamesTheWays) {
  const auto e = error_of(source({}), {});
  EXPECT_TRUE(contains(e, "--access-token-file")) << e;
}

TEST(TokenFile, RemoveTokenVariablesScrubsThemAndNothingElse) {
  ASSERT_EQ(::setenv("AWSIOT_TUNNEL_ACCESS_TOKEN", secret.c_str(), 1), 0);
  ASSERT_EQ(::setenv("AWSIOT_TUNNEL_CLIENT_TOKEN", client.c_str(), 1), 0);
  ASSERT_EQ(::setenv("AWSIOT_CLIENT_TOKEN", client.c_str(), 1), 0);
  ASSERT_EQ(::setenv("AWSIOT_TUNNEL_REGION", "us-east-1", 1), 0);
  const char* value = std::getenv("AWSIOT_TUNNEL_ACCESS_TOKEN");
  cfg::remove_token_variables();
  EXPECT_EQ(std::getenv("AWSIOT_TUNNEL_ACCESS_TOKEN"), nullptr);
  EXPECT_EQ(std::getenv("AWSIOT_TUNNEL_CLIENT_TOKEN"), nullptr);
  EXPECT_EQ(std::getenv("AWSIOT_CLIENT_TOKEN"), nullptr);
  EXPECT_STREQ(std::getenv("AWSIOT_TUNNEL_REGION"), "us-east-1");
  EXPECT_EQ(value[0], '\0');  // the old bytes are blanked, not only unlinked
  ::unsetenv("AWSIOT_TUNNEL_REGION");
}

TEST(StatusOptions, StatusFileFromOptionConfigOrEnvironment) {
  temp_dir d;
  const auto path = (d.path() / "status.json").string();
  EXPECT_EQ(parse(source({"--status-file", path})).opts.status_file, path);
  auto env = default_env;
  env["LOCALPROXY_STATUS_FILE"] = path;
  EXPECT_EQ(parse(source({}), env).opts.status_file, path);
  EXPECT_TRUE(parse(source({})).opts.status_file.empty());
  const auto e = error_of(source({"--status-file", (d.path() / "no/such/dir/s.json").string()}));
  EXPECT_TRUE(contains(e, "--status-file: the directory ")) << e;
}

TEST(StatusOptions, HealthIsAnActionThatNeedsNoTunnelOptions) {
  auto r = parse({"--health", "/tmp/s.json"}, {});
  EXPECT_EQ(r.what, cfg::parse_result::action::health);
  EXPECT_EQ(r.health_path, "/tmp/s.json");
  EXPECT_FALSE(r.health_max_age_s);
  r = parse({"--health", "/tmp/s.json", "--health-max-age", "90"}, {});
  EXPECT_EQ(r.health_max_age_s, 90);
  EXPECT_TRUE(contains(error_of({"--health", "/tmp/s.json", "--health-max-age", "0"}, {}), "--health-max-age"));
  EXPECT_TRUE(contains(error_of(source({"--health-max-age", "5"})), "--health-max-age: only valid with --health"));
  EXPECT_TRUE(contains(parse({"--help"}, {}).text, "--health FILE"));
}

TEST(TokenFile, OriginIsKeptForReloadAndRereadSeesTheNewContent) {
  temp_dir d;
  const auto path = write_private(d, "access", secret + "\n");
  const auto opts = parse(source({"--access-token-file", path}), {}).opts;
  EXPECT_TRUE(opts.access_token_origin.reloadable());
  EXPECT_EQ(opts.access_token_origin.file, path);
  EXPECT_EQ(opts.access_token_origin.describe(), "--access-token-file (" + path + ")");
  EXPECT_FALSE(opts.client_token_origin.reloadable());
  EXPECT_EQ(cfg::reread_access_token(opts.access_token_origin), secret);
  write_private(d, "access", "RotatedTok3n\n");
  EXPECT_EQ(cfg::reread_access_token(opts.access_token_origin), "RotatedTok3n");
  // on reload a file gone public or empty is an error naming the file, never the content
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  try {
    (void)cfg::reread_access_token(opts.access_token_origin);
    ADD_FAILURE() << "a world-readable file was read";
  } catch (const cfg::usage_error& e) {
    EXPECT_TRUE(contains(e.what(), "readable by group or others")) << e.what();
    EXPECT_FALSE(contains(e.what(), "RotatedTok3n"));
  }
  write_private(d, "access", "");
  EXPECT_THROW((void)cfg::reread_access_token(opts.access_token_origin), cfg::usage_error);
}

TEST(TokenFile, ATokenGivenAsAValueIsNotReloadable) {
  const auto env = parse(source({}), {{"AWSIOT_TUNNEL_ACCESS_TOKEN", "envtok"}}).opts;
  EXPECT_FALSE(env.access_token_origin.reloadable());
  EXPECT_EQ(env.access_token_origin.describe(), "AWSIOT_TUNNEL_ACCESS_TOKEN");
  const auto cli = parse(source({"-t", "clitok"}), {}).opts;
  EXPECT_FALSE(cli.access_token_origin.reloadable());
}
