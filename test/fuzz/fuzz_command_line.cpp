// The whole command line (parse_command_line): the input is argv[1..], NUL-separated, with an
// environment that gives the access token. Checks as for --config files (parse_checks.hpp).
#include <optional>
#include <string>
#include <vector>

#include "parse_checks.hpp"

namespace {
namespace lc = localproxy::config;
}

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;
  const auto input = fuzz::as_text(data, size);
  if (fuzz::reads_outside(input)) return -1;
  std::vector<std::string> args{"localproxy"};
  for (std::size_t at = 0; at <= input.size() && args.size() < 64;) {
    const auto end = input.find('\0', at);
    args.emplace_back(input.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  if (args.size() > 1 && args.back().empty()) args.pop_back();
  const lc::environment env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "AWSIOT_TUNNEL_ACCESS_TOKEN") return std::string(fuzz::secret_token);
    return std::nullopt;
  };
  fuzz::check_command_line(args, env, input);
  return 0;
}
