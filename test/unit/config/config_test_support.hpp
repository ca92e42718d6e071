#pragma once
// Helpers for the config tests: a fake environment, argv from strings, and temporary directories.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "localproxy/config/command_line.hpp"

namespace config_test {

using env_map = std::map<std::string, std::string>;
namespace cfg = localproxy::config;

inline cfg::environment fake_env(env_map vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    const auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

inline cfg::service_mapping mapping(std::string id, std::string host, std::uint16_t port, std::string unix_path = "") {
  return cfg::service_mapping{std::move(id), std::move(host), port, std::move(unix_path)};
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

inline const env_map default_env{{"AWSIOT_TUNNEL_ACCESS_TOKEN", "env-access-token"}};

inline cfg::parse_result parse(std::vector<std::string> args, const env_map& env = default_env) {
  args.insert(args.begin(), "localproxy");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return cfg::parse_command_line(static_cast<int>(argv.size()), argv.data(), fake_env(env));
}

// The usage_error message, or a test failure when parsing succeeds or throws anything else.
inline std::string error_of(std::vector<std::string> args, const env_map& env = default_env) {
  try {
    (void)parse(std::move(args), env);
  } catch (const cfg::usage_error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << "not one line: " << what;
    return what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not a usage_error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected a usage_error";
  return "";
}

class temp_dir {
 public:
  temp_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "lp-config-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    const auto file = path_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace config_test
