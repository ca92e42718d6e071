#include "localproxy/config/mappings.hpp"

#include <sys/un.h>

#include <algorithm>
#include <set>

#include "host_port.hpp"
#include "localproxy/config/validation.hpp"
#include "text.hpp"

namespace localproxy::config {
namespace {

[[noreturn]] void fail(std::string_view what, std::string_view detail) { throw usage_error(text::join(what, detail)); }

bool all_digits(std::string_view s) {
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return !s.empty();
}

}  // namespace

service_mapping parse_mapping_target(std::string_view target, proxy_mode mode, std::string_view what) {
  const auto t = text::trim(target);
  service_mapping m;
  if (t.empty()) fail(what, "empty mapping (expected PORT, HOST:PORT, a socket path or SERVICE_ID=PORT)");
  if (t.find('/') != std::string_view::npos) {
    // A Unix socket: listened on (source) or connected to (destination).
    if (t.size() >= sizeof(sockaddr_un::sun_path))
      fail(what, std::string("the Unix socket path to ") + (mode == proxy_mode::source ? "listen on" : "connect to") +
                     " is " + std::to_string(t.size()) + " bytes long; at most " +
                     std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " fit");
    m.unix_path = std::string(t);
    return m;
  }
  if (all_digits(t)) {
    m.port = parse_port(t, what);
    return m;
  }
  auto hp = split_host_port(t, what);
  if (!hp.port) fail(what, "expected PORT or HOST:PORT, got no port");
  m.host = std::move(hp.host);
  m.port = parse_port(*hp.port, what);
  return m;
}

std::vector<service_mapping> parse_mappings(std::string_view value, proxy_mode mode, std::string_view what) {
  std::vector<service_mapping> out;
  const auto items = text::split(value, ',');
  for (const auto item : items) {
    if (item.empty()) fail(what, "empty item in the list (expected e.g. SSH1=5555,WEB=8080)");
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (items.size() != 1) fail(what, "in a list every item needs a service ID (expected e.g. SSH1=5555,WEB=8080)");
      out.push_back(parse_mapping_target(item, mode, what));
      continue;
    }
    const auto id = text::trim(item.substr(0, eq));
    check_service_id(id, what);
    auto m = parse_mapping_target(item.substr(eq + 1), mode, what);
    m.service_id = std::string(id);
    out.push_back(std::move(m));
  }
  check_unique_services(out, what);
  return out;
}

void check_unique_services(const std::vector<service_mapping>& mappings, std::string_view what) {
  std::set<std::string> seen;
  const bool any_unnamed = std::any_of(mappings.begin(), mappings.end(), [](const auto& m) { return m.service_id.empty(); });
  if (any_unnamed && mappings.size() > 1)
    fail(what, "a mapping without a service ID must be the only one (name each, e.g. SSH1=22,WEB=80)");
  for (const auto& m : mappings)
    if (!seen.insert(m.service_id).second) fail(what, "service ID " + m.service_id + " is mapped twice");
}

}  // namespace localproxy::config
