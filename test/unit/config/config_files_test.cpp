// --config files and --config-dir directories.
#include "config_test_support.hpp"

#include "localproxy/config/config_files.hpp"

using namespace config_test;
using cfg::proxy_mode;
using cfg::service_mapping;

TEST(ConfigFile, EveryOptionWithCommentsAndBlankLines) {
  temp_dir dir;
  const auto ca = (dir.path() / "ca").string();
  std::filesystem::create_directories(ca);
  const auto config = dir.write("lp.conf",
                                "# a comment\n\n  ; another\n"
                                "region = eu-west-1\n"
                                "source-listen-port = SSH1=5555\n"
                                "source-listen-port = WEB=8080\n"
                                "local-bind-address = 127.0.0.1\n"
                                "capath = " + ca + "\n"
                                "no-ssl-host-verify = true\n"
                                "verbose = 6\n"
                                "destination-client-type = V2\n"
                                "client-token = " + std::string(32, 'z') + "\n");
  const auto r = parse({"--config", config});
  EXPECT_EQ(r.opts.region, "eu-west-1");
  EXPECT_EQ(r.opts.mappings, (std::vector{mapping("SSH1", "", 5555), mapping("WEB", "", 8080)}));
  EXPECT_EQ(r.opts.bind_address, "127.0.0.1");
  EXPECT_EQ(r.opts.capath, ca);
  EXPECT_FALSE(r.opts.verify_ssl);
  EXPECT_EQ(r.opts.verbosity, 6);
  EXPECT_EQ(r.opts.destination_client_type, 2);
  EXPECT_EQ(r.opts.client_token, std::string(32, 'z'));
  EXPECT_TRUE(parse({"-r", "us-east-1", "-s", "1", "--config", dir.write("f", "no-ssl-host-verify = off\n")}).opts.verify_ssl);
}

TEST(ConfigFile, ErrorsNameFileAndLine) {
  temp_dir dir;
  const std::vector<std::pair<std::string, std::string>> cases{
      {"region = us-east-1\nbogus = 1\n", " line 2: unknown option 'bogus'"},
      {"\nregion\n", " line 2: expected KEY = VALUE"},
      {"[section]\n", " line 1: sections are not supported"},
      {" = 1\n", " line 1: the key before '=' is empty"},
      {"verbose = 300\n", " line 1: verbose: expected an integer from 0 to 255"},
      {"region = us-east-1\nregion = us-west-2\n", " line 2: region: given more than once"},
      {"config = other.conf\n", " line 1: config: not allowed in a config file"},
      {"no-ssl-host-verify = perhaps\n", " line 1: no-ssl-host-verify: expected true or false"},
      {"region =\n", " line 1: region: the value is empty"},
      {"local-bind-address = a b\n", " line 1: local-bind-address: expected an address"},
      {"access-token = a\x02token\n", " line 1: access-token: contains a control character"},
  };
  for (const auto& [content, expected] : cases) {
    const auto path = dir.write("bad.conf", content);
    const auto e = error_of({"-r", "us-east-1", "-s", "1", "--config", path});
    EXPECT_TRUE(e.starts_with("config file " + path + expected)) << content << " -> " << e;
  }
  // Without -s on the command line, the file's mapping is the one in use.
  const auto path = dir.write("map.conf", "region = us-east-1\nsource-listen-port = 0\n");
  EXPECT_TRUE(error_of({"--config", path}).starts_with("config file " + path + " line 2: source-listen-port: expected a port"));
  EXPECT_TRUE(contains(error_of({"--config", "/nonexistent/lp.conf"}), "config file /nonexistent/lp.conf: cannot open"));
}

TEST(ConfigDir, SuppliesMappingsTheCommandLineDoesNot) {
  temp_dir dir;
  dir.write("a.ini", "# services\nSSH1 = 2222\nWEB = 10.0.0.5:80\n");
  dir.write("sub/b", "; more\nRDP = 3389\nSSH1 = 9999\n");  // SSH1 already defined in a.ini
  const auto r = parse({"-r", "us-east-1", "-d", "SSH1=22", "--config-dir", dir.path().string()});
  EXPECT_EQ(r.opts.mappings,
            (std::vector{mapping("SSH1", "", 22), mapping("WEB", "10.0.0.5", 80), mapping("RDP", "", 3389)}));
  const auto only_dir = parse({"-r", "us-east-1", "-m", "src", "--config-dir", dir.path().string()});
  EXPECT_EQ(only_dir.opts.mappings,
            (std::vector{mapping("SSH1", "", 2222), mapping("WEB", "10.0.0.5", 80), mapping("RDP", "", 3389)}));
}

TEST(ConfigDir, DefaultDirectoryIsReadWhenPresent) {
  // The tests run in an empty working directory (main_environment_test.cpp).
  EXPECT_FALSE(std::filesystem::exists("config"));
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-m", "dst"}), "at least one mapping"));
  std::filesystem::create_directory("config");
  std::ofstream("config/services") << "SSH1 = 22\n";
  const auto r = parse({"-r", "us-east-1", "-m", "dst"});
  std::filesystem::remove_all("config");
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("SSH1", "", 22)});
}

TEST(ConfigDir, UnnamedCommandLineMappingIgnoresTheDirectory) {
  temp_dir dir;
  dir.write("a", "SSH1 = 2222\n");
  const auto r = parse({"-r", "us-east-1", "-s", "5555", "--config-dir", dir.path().string()});
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("", "", 5555)});
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(ConfigDir, Errors) {
  temp_dir dir;
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--config-dir", "/nonexistent/dir"}),
                       "--config-dir /nonexistent/dir: no such directory"));
  const auto file = dir.write("plain", "x");
  EXPECT_TRUE(contains(error_of({"-r", "us-east-1", "-s", "1", "--config-dir", file}), "not a directory"));
  const auto bad = dir.write("d/bad", "SSH1 = 22\nWEB = 99999\n");
  auto e = error_of({"-r", "us-east-1", "-d", "X=1", "--config-dir", (dir.path() / "d").string()});
  EXPECT_TRUE(e.starts_with("config file " + bad + " line 2: expected a port")) << e;
  dir.write("e/bad", "not valid id = 22\n");
  e = error_of({"-r", "us-east-1", "-d", "X=1", "--config-dir", (dir.path() / "e").string()});
  EXPECT_TRUE(contains(e, " line 1: service ID")) << e;
  dir.write("f/sock", "APP = /run/app.sock\n");
  std::vector<std::string> warnings;
  EXPECT_EQ(cfg::read_config_dir((dir.path() / "f").string(), proxy_mode::source, true, warnings),
            std::vector{mapping("APP", "", 0, "/run/app.sock")});
  EXPECT_EQ(cfg::read_config_dir((dir.path() / "f").string(), proxy_mode::destination, true, warnings),
            std::vector{mapping("APP", "", 0, "/run/app.sock")});
  EXPECT_TRUE(warnings.empty());
}

namespace {
// Runs the test in a fresh working directory, so that ./config is the test's own.
class DefaultConfigDir : public ::testing::Test {
 protected:
  void SetUp() override {
    old_ = std::filesystem::current_path();
    std::filesystem::current_path(dir_.path());
  }
  void TearDown() override { std::filesystem::current_path(old_); }
  temp_dir dir_;
  std::filesystem::path old_;
};
}  // namespace

TEST_F(DefaultConfigDir, IsNotReadForAnUnnamedMapping) {
  dir_.write("config/app.yaml", "server:\n  port: 80\n");
  dir_.write("config/mappings", "WEB = 8080\n");
  const auto r = parse({"-r", "us-east-1", "-s", "5555"});
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("", "", 5555)});
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
}

TEST_F(DefaultConfigDir, SkipsAFileThatIsNotAMappingFileAndSaysWhy) {
  dir_.write("config/app.yaml", "server:\n  port: 80\n");
  dir_.write("config/mappings", "WEB = 8080\n");
  const auto r = parse({"-r", "us-east-1", "-s", "SSH=5555"});
  EXPECT_EQ(r.opts.mappings, (std::vector{mapping("SSH", "", 5555), mapping("WEB", "", 8080)}));
  ASSERT_EQ(r.warnings.size(), 1u);
  const auto& w = r.warnings.front();
  EXPECT_TRUE(w.starts_with("config file ./config/app.yaml line 1: ")) << w;
  EXPECT_TRUE(contains(w, "file skipped (./config is read by default for service mappings; give --config-dir DIR"))
      << w;
}

TEST_F(DefaultConfigDir, AFileWithOneBadLineAddsNothing) {
  dir_.write("config/half", "WEB = 8080\nname: x\n");
  const auto r = parse({"-r", "us-east-1", "-d", "SSH=22"});
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("SSH", "", 22)});
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST_F(DefaultConfigDir, NamedExplicitlyTheSameFileIsAnError) {
  dir_.write("config/app.yaml", "server:\n  port: 80\n");
  const auto e = error_of({"-r", "us-east-1", "-s", "SSH=5555", "--config-dir", "config"});
  EXPECT_TRUE(e.starts_with("config file config/app.yaml line 1: expected KEY = VALUE")) << e;
}

TEST_F(DefaultConfigDir, ModeAloneTakesEveryMappingFromIt) {
  dir_.write("config/mappings", "SSH = 22\n");
  dir_.write("config/notes.txt", "remember to rotate the token\n");
  const auto r = parse({"-r", "us-east-1", "-m", "dst"});
  EXPECT_EQ(r.opts.mappings, std::vector{mapping("SSH", "", 22)});
  EXPECT_EQ(r.warnings.size(), 1u);
}
