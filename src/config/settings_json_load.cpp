// Loading --settings-json: merged over a base, every key checked against the table.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>
#include <type_traits>
#include <variant>

#include <boost/json.hpp>

#include "host_port.hpp"
#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/settings_json.hpp"
#include "localproxy/config/usage_error.hpp"
#include "localproxy/config/validation.hpp"
#include "settings_keys.hpp"

namespace localproxy::config {
namespace {

namespace json = boost::json;
using settings_keys::key;

struct loader {
  std::string_view origin;
  settings& out;

  [[noreturn]] void fail(std::string_view path, std::string_view detail) const {
    std::string msg(origin);
    msg += ": ";
    msg += settings_keys::root;
    if (!path.empty()) msg += "." + std::string(path);
    msg += ": ";
    msg += detail;
    throw usage_error(msg);
  }

  long long integer(const json::value& v, const key& k) const {
    const auto expected = "expected an integer from " + std::to_string(k.min) + " to " + std::to_string(k.max);
    long long n = 0;
    if (v.is_int64()) {
      n = v.get_int64();
    } else if (v.is_uint64()) {
      if (v.get_uint64() > static_cast<std::uint64_t>(k.max)) fail(k.path, expected);
      n = static_cast<long long>(v.get_uint64());
    } else if (v.is_double() && std::trunc(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 1e15) {
      n = static_cast<long long>(v.get_double());
    } else if (v.is_string()) {
      try {
        return parse_integer(std::string_view(v.get_string()), k.min, k.max, "");
      } catch (const usage_error&) {
        fail(k.path, expected);
      }
    } else {
      fail(k.path, expected);
    }
    if (n < k.min || n > k.max) fail(k.path, expected);
    return n;
  }

  bool boolean(const json::value& v, const key& k) const {
    if (v.is_bool()) return v.get_bool();
    if (v.is_string()) {
      const std::string_view s = v.get_string();
      if (s == "true" || s == "1") return true;
      if (s == "false" || s == "0") return false;
    }
    fail(k.path, "expected true or false");
  }

  std::string string(const json::value& v, const key& k) const {
    const auto expected = "expected a string of " + std::to_string(k.min) + " to " + std::to_string(k.max) + " characters";
    if (!v.is_string()) fail(k.path, expected);
    std::string s(v.get_string());
    if (static_cast<long long>(s.size()) < k.min || static_cast<long long>(s.size()) > k.max) fail(k.path, expected);
    if (k.path == "endpoint_format" && (s.find("%s") == std::string::npos || s.find('%') != s.rfind('%')))
      fail(k.path, "expected a host name with one %s where the region goes");
    if (k.path == "unix_socket_mode" && !settings_keys::is_file_mode(s))
      fail(k.path, "expected a file mode of 3 or 4 octal digits, at most 0777 (e.g. 0660)");
    if (k.path == "websocket.subprotocol" && !settings_keys::is_known_subprotocol(s))
      fail(k.path, "expected aws.iot.securetunneling-1.0, aws.iot.securetunneling-2.0 or aws.iot.securetunneling-3.0");
    if (k.path == "extra_regions")
      for (const auto& region : split_region_list(s))
        if (!is_valid_region(region)) fail(k.path, "expected region names such as us-east-1, separated by commas");
    return s;
  }

  void assign(const json::value& v, const key& k) const {
    std::visit(
        [&](auto field) {
          using field_type = decltype(field);
          if constexpr (std::is_same_v<field_type, bool settings::*>) {
            out.*field = boolean(v, k);
          } else if constexpr (std::is_same_v<field_type, std::string settings::*>) {
            out.*field = string(v, k);
          } else {
            using target = std::remove_reference_t<decltype(out.*field)>;
            out.*field = static_cast<target>(integer(v, k));
          }
        },
        k.field);
  }

  void overrides(const json::value& v) const {
    const std::string path(settings_keys::overrides_key);
    if (!v.is_object()) fail(path, "expected an object of region: endpoint host");
    for (const auto& [region, host] : v.get_object()) {
      const auto entry = path + "." + std::string(region);
      if (!is_valid_region(region)) fail(entry, "expected a region name such as us-east-1 as the key");
      if (!host.is_string() || host.get_string().empty()) fail(entry, "expected an endpoint host name (HOST or HOST:PORT)");
      const std::string what = std::string(origin) + ": " + std::string(settings_keys::root) + "." + entry;
      const auto hp = split_host_port(std::string_view(host.get_string()), what);
      if (hp.port) (void)parse_port(*hp.port, what);
      out.region_endpoint_overrides[std::string(region)] = std::string(host.get_string());
    }
  }

  void object(const json::object& obj, const std::string& prefix) const {
    for (const auto& [name, v] : obj) {
      const auto path = prefix.empty() ? std::string(name) : prefix + "." + std::string(name);
      if (path == settings_keys::overrides_key) {
        overrides(v);
        continue;
      }
      const auto keys = settings_keys::all();
      const auto it = std::find_if(keys.begin(), keys.end(), [&](const key& k) { return k.path == path; });
      if (it != keys.end()) {
        assign(v, *it);
        continue;
      }
      const bool is_group = std::any_of(keys.begin(), keys.end(), [&](const key& k) { return k.path.starts_with(path + "."); });
      if (!is_group) fail(path, "unknown key");
      if (!v.is_object()) fail(path, "expected an object");
      object(v.get_object(), path);
    }
  }
};

const json::object& proxy_object(const json::value& doc, std::string_view origin) {
  const auto fail = [&](std::string_view detail) { throw usage_error(std::string(origin) + ": " + std::string(detail)); };
  if (!doc.is_object()) fail("expected a JSON object with the key tunneling.proxy");
  static const json::object empty;
  for (const auto& [name, v] : doc.get_object())
    if (name != "tunneling") fail(std::string(name) + ": unknown key (expected tunneling.proxy)");
  const auto* tunneling = doc.get_object().if_contains("tunneling");
  if (!tunneling) return empty;
  if (!tunneling->is_object()) fail("tunneling: expected an object");
  for (const auto& [name, v] : tunneling->get_object())
    if (name != "proxy") fail("tunneling." + std::string(name) + ": unknown key (expected tunneling.proxy)");
  const auto* proxy = tunneling->get_object().if_contains("proxy");
  if (!proxy) return empty;
  if (!proxy->is_object()) fail("tunneling.proxy: expected an object");
  return proxy->get_object();
}

}  // namespace

void load_settings_text(const std::string& text, const std::string& origin, settings& into) {
  boost::system::error_code ec;
  const auto doc = json::parse(text, ec);
  if (ec) throw usage_error(origin + ": not valid JSON (" + ec.message() + ")");
  // Work on a copy so a bad file leaves `into` untouched.
  settings out = into;
  const loader load{origin, out};
  load.object(proxy_object(doc, origin), "");
  if (out.retry_delay_max_ms < out.retry_delay_ms)
    load.fail("websocket.retry_delay_max_ms", "must not be less than tunneling.proxy.websocket.retry_delay_ms");
  into = std::move(out);
}

void load_settings(const std::string& path, settings& into) {
  const auto origin = "settings file " + path;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw usage_error(origin + ": cannot open (" + std::strerror(errno) + ")");
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) throw usage_error(origin + ": cannot read");
  load_settings_text(content.str(), origin, into);
}

}  // namespace localproxy::config
