// --export-default-settings: the table written out as nested JSON, with real numbers and booleans
// (the reference wrote strings; our loader reads both).
#include <cerrno>
#include <cstring>
#include <fstream>
#include <type_traits>
#include <variant>

#include <boost/json.hpp>

#include "localproxy/config/settings_json.hpp"
#include "localproxy/config/usage_error.hpp"
#include "settings_keys.hpp"

namespace localproxy::config {
namespace {

namespace json = boost::json;

json::object& group(json::object& root, std::string_view dotted, std::string_view& leaf) {
  json::object* at = &root;
  for (auto dot = dotted.find('.'); dot != std::string_view::npos; dot = dotted.find('.')) {
    auto& child = (*at)[json::string_view(dotted.data(), dot)];
    if (!child.is_object()) child = json::object{};
    at = &child.get_object();
    dotted.remove_prefix(dot + 1);
  }
  leaf = dotted;
  return *at;
}

json::value value_of(const settings& s, const settings_keys::key& k) {
  return std::visit(
      [&](auto field) -> json::value {
        using field_type = decltype(field);
        if constexpr (std::is_same_v<field_type, std::string settings::*>) {
          return json::string(s.*field);
        } else if constexpr (std::is_same_v<field_type, bool settings::*>) {
          return s.*field;
        } else {
          return static_cast<std::int64_t>(s.*field);
        }
      },
      k.field);
}

// Boost.JSON 1.81 serializes on one line; a settings file is meant to be read and edited.
void pretty(std::string& out, const json::value& v, int indent) {
  const std::string pad(static_cast<std::size_t>(indent) * 4, ' ');
  if (!v.is_object()) {
    out += json::serialize(v);
    return;
  }
  const auto& obj = v.get_object();
  if (obj.empty()) {
    out += "{}";
    return;
  }
  out += "{\n";
  bool first = true;
  for (const auto& [name, child] : obj) {
    if (!first) out += ",\n";
    first = false;
    out += pad + "    " + json::serialize(json::value(name)) + ": ";
    pretty(out, child, indent + 1);
  }
  out += "\n" + pad + "}";
}

}  // namespace

std::string settings_to_json(const settings& s) {
  json::object proxy;
  for (const auto& k : settings_keys::all()) {
    auto v = value_of(s, k);
    std::string_view leaf;
    group(proxy, k.path, leaf)[json::string_view(leaf.data(), leaf.size())] = std::move(v);
  }
  json::object overrides;
  for (const auto& [region, host] : s.region_endpoint_overrides) overrides[region] = host;
  proxy[settings_keys::overrides_key] = std::move(overrides);
  json::object tunneling;
  tunneling["proxy"] = std::move(proxy);
  json::object root;
  root["tunneling"] = std::move(tunneling);
  const json::value doc(std::move(root));
  std::string out;
  pretty(out, doc, 0);
  return out + "\n";
}

void export_settings(const settings& s, const std::string& path) {
  const auto origin = "--export-default-settings " + path;
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw usage_error(origin + ": cannot open for writing (" + std::strerror(errno) + ")");
  file << settings_to_json(s);
  file.flush();
  if (!file) throw usage_error(origin + ": cannot write (" + std::strerror(errno) + ")");
}

}  // namespace localproxy::config
