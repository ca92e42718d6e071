// -s/-d values (parse_mappings). Input: one byte (bit 0: destination), then the value.
// Checks: only usage_error comes out, naming the option; an accepted list has either one unnamed
// mapping or unique valid service IDs, each a port, host:port or a Unix socket path;
// the list written back out reads back the same.
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "localproxy/config/mappings.hpp"
#include "localproxy/config/validation.hpp"

namespace {
namespace lc = localproxy::config;

std::string format(const lc::service_mapping& m) {
  std::string target;
  if (!m.unix_path.empty()) target = m.unix_path;
  else if (m.host.empty()) target = std::to_string(m.port);
  else target = (m.host.find(':') != std::string::npos ? "[" + m.host + "]" : m.host) + ":" + std::to_string(m.port);
  return m.service_id.empty() ? target : m.service_id + "=" + target;
}

std::string format(const std::vector<lc::service_mapping>& ms) {
  std::string out;
  for (const auto& m : ms) out += (out.empty() ? "" : ",") + format(m);
  return out;
}
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto mode = (data[0] & 1) ? lc::proxy_mode::destination : lc::proxy_mode::source;
  const char* option = mode == lc::proxy_mode::destination ? "-d/--destination-app" : "-s/--source-listen-port";
  const auto value = fuzz::as_text(data + 1, size - 1);
  std::vector<lc::service_mapping> ms;
  try {
    ms = lc::parse_mappings(value, mode, option);
  } catch (const lc::usage_error& e) {
    const std::string what = e.what();
    fuzz::check(what.starts_with(option), "error does not name the option: " + fuzz::printable(what));
    fuzz::note(what.find('\n') == std::string::npos, "multi-line error", fuzz::printable(what));
    return 0;
  }
  const auto shown = fuzz::printable(format(ms));
  fuzz::check(!ms.empty(), "an empty list accepted");
  for (const auto& m : ms) {
    if (ms.size() > 1 || !m.service_id.empty())
      fuzz::check(lc::is_valid_service_id(m.service_id), "invalid service ID accepted: " + shown);
    if (m.unix_path.empty()) {
      fuzz::check(m.port != 0, "port 0 accepted: " + shown);
    } else {
      fuzz::check(m.port == 0 && m.host.empty(), "a Unix socket mapping with a host or port: " + shown);
    }
    for (const auto& other : ms)
      fuzz::check(&other == &m || other.service_id != m.service_id, "service ID mapped twice: " + shown);
  }
  try {
    const auto again = lc::parse_mappings(format(ms), mode, option);
    fuzz::check(again == ms, "the mappings written out do not read back the same: " + shown);
  } catch (const lc::usage_error& e) {
    fuzz::fail("the mappings written out are refused: " + shown + ": " + e.what());
  }
  return 0;
}
