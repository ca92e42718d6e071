// The --config file and the environment, turned into layers of raw option values.
#include <filesystem>

#include "layers.hpp"
#include "localproxy/config/config_files.hpp"
#include "option_table.hpp"
#include "text.hpp"

namespace localproxy::config {
namespace {

// A flag in a --config file is written `no-ssl-host-verify = true`.
std::string flag_value(const std::string& value, const std::string& what) {
  const auto v = text::lower(value);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return "true";
  if (v == "false" || v == "no" || v == "off" || v == "0") return "false";
  throw usage_error(what + ": expected true or false");
}

}  // namespace

layer read_config_layer(const std::string& path) {
  layer out;
  for (const auto& e : read_key_value_file(path)) {
    const auto where = "config file " + path + " line " + std::to_string(e.line);
    const auto* o = option_table::find(e.key);
    if (o == nullptr) throw usage_error(where + ": unknown option '" + e.key + "' (expected a long option name, e.g. region)");
    const auto what = where + ": " + e.key;
    if (!o->in_config_file) throw usage_error(what + ": not allowed in a config file");
    if (!o->repeatable && out.has(e.key)) throw usage_error(what + ": given more than once");
    if (e.value.empty()) throw usage_error(what + ": the value is empty");
    out.add(e.key, o->arg.empty() ? flag_value(e.value, what) : e.value, what);
  }
  return out;
}

layer environment_layer(const environment& env) {
  layer out;
  // An empty variable counts as unset, as `export HTTPS_PROXY=` is a common way to clear one.
  const auto take = [&](const char* variable, const char* option) {
    if (out.has(option)) return;
    if (auto value = env(variable); value && !value->empty()) out.add(option, std::move(*value), variable);
  };
  // systemd's LoadCredential= puts files in $CREDENTIALS_DIRECTORY; they are meant for this
  // service, so they win over a variable that may have been inherited.
  const auto credential = [&](const char* name, const char* option) {
    const auto dir = env("CREDENTIALS_DIRECTORY");
    if (!dir || dir->empty()) return;
    const auto path = std::filesystem::path(*dir) / name;
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) out.add(option, path.string(), std::string("$CREDENTIALS_DIRECTORY/") + name);
  };
  credential("access-token", "access-token-file");
  credential("client-token", "client-token-file");
  if (!out.has("access-token-file")) take("AWSIOT_TUNNEL_ACCESS_TOKEN", "access-token");
  if (!out.has("client-token-file")) {
    take("AWSIOT_TUNNEL_CLIENT_TOKEN", "client-token");
    take("AWSIOT_CLIENT_TOKEN", "client-token");  // the reference localproxy's name for it
  }
  take("AWSIOT_TUNNEL_ENDPOINT", "proxy-endpoint");
  take("AWSIOT_TUNNEL_REGION", "region");
  take("LOCALPROXY_STATUS_FILE", "status-file");
  take("https_proxy", "web-proxy");  // lower case wins, as in curl
  take("HTTPS_PROXY", "web-proxy");
  return out;
}

}  // namespace localproxy::config
