#include "option_table.hpp"

#include <algorithm>
#include <array>

namespace localproxy::config::option_table {
namespace {

const std::array<option, 26> options{{
    {"help", 'h', "", false, false, "show this help and exit"},
    {"version", 'V', "", false, false, "show the version and exit"},
    {"access-token", 't', "TOKEN", false, true,
     "the tunnel's access token (prefer the environment variable AWSIOT_TUNNEL_ACCESS_TOKEN)"},
    {"client-token", 'i', "TOKEN", false, true,
     "client token, 32-128 of A-Z a-z 0-9 - (or AWSIOT_TUNNEL_CLIENT_TOKEN); lets the access token be reused"},
    {"access-token-file", 0, "FILE", false, true,
     "read the access token from FILE (private: mode 600), or from $CREDENTIALS_DIRECTORY/access-token"},
    {"client-token-file", 0, "FILE", false, true,
     "read the client token from FILE (private: mode 600), or from $CREDENTIALS_DIRECTORY/client-token"},
    {"proxy-endpoint", 'e', "HOST[:PORT]", false, true,
     "the tunneling service: HOST, HOST:PORT, wss://HOST[:PORT] (or AWSIOT_TUNNEL_ENDPOINT); not with -r"},
    {"region", 'r', "REGION", false, true,
     "the tunnel's AWS region, e.g. us-east-1 (or AWSIOT_TUNNEL_REGION); not with -e"},
    {"source-listen-port", 's', "MAPPING", true, true,
     "source mode: listen ports, e.g. 5555, SSH1=5555,WEB=8080, SSH1=127.0.0.1:5555 or SSH=/run/ssh.sock"},
    {"destination-app", 'd', "MAPPING", true, true,
     "destination mode: local targets, e.g. 22, host:22, SSH1=22,WEB=10.0.0.1:80 or APP=/run/app.sock"},
    {"stdio", 0, "[SERVICE]", false, false,
     "source mode: one connection over stdin/stdout (ssh ProxyCommand), for SERVICE if named"},
    {"local-bind-address", 'b', "ADDRESS", false, true, "source mode: the address to listen on (default localhost)"},
    {"capath", 'c', "DIR", false, true, "a directory of extra CA certificates to verify the service with"},
    {"no-ssl-host-verify", 'k', "", false, true, "do not verify the service's certificate (testing only)"},
    {"export-default-settings", 0, "FILE", false, false, "write the default settings as JSON to FILE and exit"},
    {"settings-json", 0, "FILE", false, true, "read tunables (keys under tunneling.proxy.) from a JSON file"},
    {"config", 0, "FILE", false, false,
     "read options from FILE (long-option = value lines); the command line overrides it"},
    {"verbose", 'v', "0-255", false, true,
     "log level: 0 off, 1 fatal, 2 error, 3 warning, 4 info (default), 5 debug, 6 or more trace"},
    {"mode", 'm', "MODE", false, true, "src, source, dst or destination (when the mappings come from --config-dir)"},
    {"destination-client-type", 'y', "V1|V2", false, true,
     "source: the destination is an older localproxy (V1 or V2; found out without it); destination: speak only that"},
    {"config-dir", 0, "DIR", false, true,
     "a directory of files with SERVICE = [HOST:]PORT lines (default ./config if it exists)"},
    {"web-proxy", 0, "URL", false, true,
     "reach the service through an HTTP proxy: http[s]://[USER:PASSWORD@]HOST[:PORT] (or https_proxy)"},
    {"status-file", 0, "FILE", false, true,
     "keep a JSON status (state, RTT, connections, bytes) in FILE (or LOCALPROXY_STATUS_FILE)"},
    {"metrics", 0, "[HOST:]PORT", false, true,
     "serve Prometheus metrics on GET /metrics at HOST:PORT (HOST 127.0.0.1 unless given; off by default)"},
    {"health", 0, "FILE", false, false,
     "check a status file: exit 0 if it says connected and is fresh, 1 otherwise"},
    {"health-max-age", 0, "SECONDS", false, false,
     "with --health: the oldest status file that counts as fresh (default 3 status periods)"},
}};

}  // namespace

std::span<const option> all() { return options; }

const option* find(std::string_view name) {
  const auto it = std::find_if(options.begin(), options.end(), [&](const option& o) { return o.name == name; });
  return it == options.end() ? nullptr : &*it;
}

std::string display(std::string_view name) {
  const auto* o = find(name);
  // Appending piece by piece: GCC 12 reports a false -Wrestrict on chained operator+ here.
  std::string out;
  if (o && o->short_name) {
    out += '-';
    out += o->short_name;
    out += '/';
  }
  out += "--";
  out += name;
  return out;
}

std::string help_text() {
  std::string out =
      "Usage: localproxy (-s MAPPING | -d MAPPING | -m MODE) (-r REGION | -e ENDPOINT) [options]\n"
      "       localproxy --health FILE [--health-max-age SECONDS]\n"
      "The access token comes from AWSIOT_TUNNEL_ACCESS_TOKEN, --access-token-file or -t.\n\nOptions:\n";
  for (const auto& o : options) {
    std::string left = "  ";
    if (o.short_name) {
      left += '-';
      left += o.short_name;
      left += ", ";
    } else {
      left += "    ";
    }
    left += "--";
    left += o.name;
    if (!o.arg.empty()) {
      left += ' ';
      left += o.arg;
    }
    if (left.size() < 40) left.resize(40, ' ');
    else left += "  ";
    out += left;
    out += o.help;
    out += '\n';
  }
  return out;
}

}  // namespace localproxy::config::option_table
