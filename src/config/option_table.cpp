#include "option_table.hpp"

#include <algorithm>
#include <array>

namespace localproxy::config::option_table {
namespace {

using enum group;

// One entry an option; its place in its group is its place here.
const option options[] = {
    {"help", 'h', "", false, false, "show this help and exit", general},
    {"version", 'V', "", false, false, "show the version, git revision and library versions and exit", general},
    {"config", 0, "FILE", false, false,
     "read options from FILE (long-option = value lines); the command line overrides it", general},

    {"source-listen-port", 's', "MAPPING", true, true,
     "source mode: listen ports, e.g. 5555, SSH1=5555,WEB=8080, SSH1=127.0.0.1:5555 or SSH=/run/ssh.sock", mode},
    {"stdio", 0, "[SERVICE]", false, false,
     "source mode: one connection over stdin/stdout (ssh ProxyCommand), for SERVICE if named", mode},
    {"destination-app", 'd', "MAPPING", true, true,
     "destination mode: local targets, e.g. 22, host:22, SSH1=22,WEB=10.0.0.1:80 or APP=/run/app.sock", mode},
    {"mode", 'm', "MODE", false, true, "src, source, dst or destination (when the mappings come from --config-dir)",
     mode},
    {"destination-client-type", 'y', "V1|V2", false, true,
     "source: the destination is an older localproxy (V1 or V2; found out without it); destination: speak only that",
     mode},
    {"local-bind-address", 'b', "ADDRESS", false, true, "source mode: the address to listen on (default localhost)",
     mode},
    {"config-dir", 0, "DIR", false, true,
     "files of SERVICE = [HOST:]PORT lines for services that -s/-d do not map (default: ./config if it exists; "
     "not read for a single unnamed -s/-d PORT)",
     mode},

    {"region", 'r', "REGION", false, true,
     "the tunnel's AWS region, e.g. us-east-1 (or AWSIOT_TUNNEL_REGION); not with -e", service},
    {"proxy-endpoint", 'e', "HOST[:PORT]", false, true,
     "the tunneling service: HOST, HOST:PORT, wss://HOST[:PORT] (or AWSIOT_TUNNEL_ENDPOINT); not with -r", service},
    {"access-token", 't', "TOKEN", false, true,
     "the tunnel's access token (prefer the environment variable AWSIOT_TUNNEL_ACCESS_TOKEN)", service},
    {"access-token-file", 0, "FILE", false, true,
     "read the access token from FILE (private: mode 600), or from $CREDENTIALS_DIRECTORY/access-token", service},
    {"client-token", 'i', "TOKEN", false, true,
     "client token, 32-128 of A-Z a-z 0-9 - (or AWSIOT_TUNNEL_CLIENT_TOKEN); lets the access token be reused",
     service},
    {"client-token-file", 0, "FILE", false, true,
     "read the client token from FILE (private: mode 600), or from $CREDENTIALS_DIRECTORY/client-token", service},

    {"capath", 'c', "DIR", false, true, "a directory of extra CA certificates to verify the service with", tls},
    {"no-ssl-host-verify", 'k', "", false, true, "do not verify the service's certificate (testing only)", tls},
    {"web-proxy", 0, "URL", false, true,
     "reach the service through an HTTP proxy: http[s]://[USER:PASSWORD@]HOST[:PORT] (or https_proxy)", tls},

    {"settings-json", 0, "FILE", false, true, "read tunables (keys under tunneling.proxy.) from a JSON file", tuning},
    {"export-default-settings", 0, "FILE", false, false, "write the default settings as JSON to FILE and exit",
     tuning},

    {"status-file", 0, "FILE", false, true,
     "keep a JSON status (state, RTT, connections, bytes) in FILE (or LOCALPROXY_STATUS_FILE)", status},
    {"metrics", 0, "[HOST:]PORT", false, true,
     "serve Prometheus metrics on GET /metrics at HOST:PORT (HOST 127.0.0.1 unless given; off by default)", status},
    {"health", 0, "FILE", false, false, "check a status file: exit 0 if it says connected and is fresh, 1 otherwise",
     status},
    {"health-max-age", 0, "SECONDS", false, false,
     "with --health: the oldest status file that counts as fresh (default 3 status periods)", status},

    {"verbose", 'v', "0-255", false, true,
     "log level: 0 off, 1 fatal, 2 error, 3 warning, 4 info (default), 5 debug, 6 or more trace", logging},
    {"log-format", 0, "FORMAT", false, true,
     "plain ([UTC time] [level] text), journal (<N> syslog priority prefixes; the default when run by systemd "
     "with stderr to the journal) or json (one object a line: time, level, message)",
     logging},
};

struct section_title {
  group g;
  std::string_view text;
};
constexpr std::array<section_title, 7> titles{{
    {general, "General"},
    {mode, "Mode and mappings"},
    {service, "Service and tokens"},
    {tls, "TLS and proxies"},
    {tuning, "Tuning"},
    {status, "Status and health"},
    {logging, "Logging"},
}};

constexpr std::string_view usage =
    "Usage: localproxy (-s MAPPING | -d MAPPING | -m MODE) (-r REGION | -e ENDPOINT)\n"
    "                  [options]\n"
    "       localproxy --health FILE [--health-max-age SECONDS]\n"
    "AWS IoT Secure Tunneling local proxy. The access token comes from\n"
    "AWSIOT_TUNNEL_ACCESS_TOKEN, --access-token-file or -t.\n";

constexpr std::string_view exit_statuses =
    "Exit statuses:\n"
    "  0  normal end: the service closed the tunnel, SIGTERM or SIGINT, the --stdio\n"
    "     connection ended, --help, --version, --export-default-settings;\n"
    "     --health: healthy\n"
    "  1  runtime failure, e.g. connection retries exhausted, the tunnel lost during\n"
    "     the --stdio connection; --health: unhealthy\n"
    "  2  usage or configuration error (one line names the option or file)\n"
    "  3  the service or a web proxy rejected the connection (4xx): access token,\n"
    "     region or mode wrong; or the service's certificate failed verification\n"
    "     websocket.certificate_failure_limit times in a row\n";

constexpr std::size_t text_column = 30;  // where descriptions start

// Appends `text` to `out` in lines of at most help_width columns, each but the first indented to
// `column`; `used` is how much of the first line is taken already.
void wrap(std::string& out, std::string_view text, std::size_t used, std::size_t column) {
  std::size_t line = used;
  bool first_word = true;
  while (!text.empty()) {
    const auto end = text.find(' ');
    const auto word = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (word.empty()) continue;
    if (!first_word && line + 1 + word.size() > help_width) {
      out += '\n';
      out.append(column, ' ');
      line = column;
    } else if (!first_word) {
      out += ' ';
      ++line;
    }
    out += word;
    line += word.size();
    first_word = false;
  }
  out += '\n';
}

void append_option(std::string& out, const option& o) {
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
  out += left;
  if (left.size() + 2 > text_column) {  // too wide to share a line with its text
    out += '\n';
    out.append(text_column, ' ');
  } else {
    out.append(text_column - left.size(), ' ');
  }
  wrap(out, o.help, text_column, text_column);
}

}  // namespace

std::span<const option> all() { return options; }

const option* find(std::string_view name) {
  const auto it = std::find_if(std::begin(options), std::end(options), [&](const option& o) { return o.name == name; });
  return it == std::end(options) ? nullptr : &*it;
}

std::string_view title(group g) {
  for (const auto& t : titles)
    if (t.g == g) return t.text;
  return {};
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
  std::string out(usage);
  for (const auto& t : titles) {
    out += '\n';
    out += t.text;
    out += ":\n";
    for (const auto& o : options)
      if (o.section == t.g) append_option(out, o);
  }
  out += '\n';
  out += exit_statuses;
  return out;
}

}  // namespace localproxy::config::option_table
