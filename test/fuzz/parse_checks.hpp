#pragma once
// What every successful parse_command_line must give, and what every refusal must look like;
// shared by the --config file and command line targets.
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_common.hpp"
#include "localproxy/config/command_line.hpp"
#include "localproxy/config/validation.hpp"

namespace fuzz {

// Inputs that would make the parser read what is not a small test file: a device or /proc file
// (endless), a directory tree (--config-dir /), a large file given as the settings. Skipped.
inline bool reads_outside(std::string_view input) {
  for (std::string_view bad : {"/dev", "/proc", "/sys", "conf", "sett", "-file", "/."})
    if (input.find(bad) != std::string_view::npos) return true;
  return false;
}

inline constexpr std::string_view secret_token = "Tok3n-Secret-Value";

inline void check_parsed(const localproxy::config::parse_result& r) {
  namespace lc = localproxy::config;
  if (r.what != lc::parse_result::action::run) return;
  const auto& o = r.opts;
  check(!o.access_token.empty(), "run without an access token");
  check(!o.endpoint.host.empty() && o.endpoint.port != 0, "run without an endpoint");
  check(!o.mappings.empty(), "run without a mapping");
  for (const auto& m : o.mappings) {
    check(!m.stdio || (o.mode == lc::proxy_mode::source && o.mappings.size() == 1), "--stdio beside other mappings");
    check(!m.stdio || (m.port == 0 && m.unix_path.empty() && m.host.empty()), "--stdio with a port or path");
    check(!m.unix_path.empty() || m.port != 0 || o.mode == lc::proxy_mode::source, "a destination mapping to port 0");
    for (const auto& other : o.mappings)
      check(&other == &m || other.service_id != m.service_id, "service ID mapped twice: " + printable(m.service_id));
  }
  check(o.client_token.empty() || lc::is_valid_client_token(o.client_token), "invalid client token accepted");
  check(o.destination_client_type >= 1 && o.destination_client_type <= 3, "bad destination client type");
  check(o.tunables.retry_delay_max_ms >= o.tunables.retry_delay_ms, "retry_delay_max_ms below retry_delay_ms");
  if (o.proxy) check(!o.proxy->host.empty() && o.proxy->port != 0, "a web proxy without host or port");
}

// `input`: what the fuzzer wrote; the token from the environment must not show, unless the input
// itself wrote it somewhere (e.g. as an option name, which an error may quote).
inline void check_refusal(const localproxy::config::usage_error& e, std::string_view input) {
  const std::string what = e.what();
  check(!what.empty(), "an empty usage error");
  check(what.find(secret_token) == std::string::npos || input.find(secret_token) != std::string_view::npos,
        "a usage error shows the access token: " + printable(what));
  note(what.find('\n') == std::string::npos, "multi-line usage error", printable(what));
}

// parse_command_line on `args` (argv[0] first) with `env`: what it gives, or how it refuses.
inline void check_command_line(const std::vector<std::string>& args, const localproxy::config::environment& env,
                               std::string_view input) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    check_parsed(localproxy::config::parse_command_line(static_cast<int>(argv.size()), argv.data(), env));
  } catch (const localproxy::config::usage_error& e) {
    check_refusal(e, input);
  }
}

}  // namespace fuzz
