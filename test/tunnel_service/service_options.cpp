#include "service_options.hpp"

#include <charconv>
#include <tuple>

namespace tunnel_service {
namespace {

std::pair<std::string, unsigned short> host_port(const std::string& option, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) throw usage_error(option + ": expected HOST:PORT");
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const auto digits = text.substr(colon + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
  if (host.empty() || ec != std::errc{} || end != digits.data() + digits.size() || port > 65535)
    throw usage_error(option + ": expected HOST:PORT with a port from 0 to 65535");
  return {host, static_cast<unsigned short>(port)};
}

std::vector<std::string> split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (auto at = text.find(sep); at != std::string::npos; at = text.find(sep, start)) {
    parts.push_back(text.substr(start, at - start));
    start = at + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

tunnel_spec parse_tunnel(const std::string& text) {
  auto parts = split(text, ':');
  if (parts.size() < 3 || parts.size() > 4 || parts[0].empty() || parts[1].empty() || parts[2].empty())
    throw usage_error("--tunnel: expected ID:SOURCE_TOKEN:DESTINATION_TOKEN[:SERVICE,SERVICE...]");
  tunnel_spec t{parts[0], parts[1], parts[2], {}};
  if (parts.size() == 4 && !parts[3].empty()) t.services = split(parts[3], ',');
  return t;
}

// The whole of `text` as a number: no '+', no spaces, nothing after it.
template <class Number>
bool number(const std::string& text, Number& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

const char* service_usage() {
  return "Usage: tunnel-service (--self-signed DIR | --tls-cert FILE --tls-key FILE\n"
         "                       | --plain) [--listen HOST:PORT] [--api HOST:PORT]\n"
         "                      [--tunnel ID:SOURCE_TOKEN:DESTINATION_TOKEN[:SERVICES]]...\n"
         "                      [--bandwidth N] [--receive-buffer N] [-v LEVEL]\n"
         "A local stand-in for the AWS IoT Secure Tunneling service, for tests, demos and\n"
         "offline work. It prints the listening lines once every port is bound.\n"
         "\n"
         "Options:\n"
         "  -h, --help           show this help and exit\n"
         "  -V, --version        show the version, git revision and library versions\n"
         "  --listen HOST:PORT   where proxies connect (default 127.0.0.1:8443; port 0\n"
         "                       picks a free one)\n"
         "  --self-signed DIR    make (once) a CA and a localhost certificate in DIR;\n"
         "                       trust it with localproxy -c DIR/ca\n"
         "  --tls-cert FILE      the server certificate chain (PEM), with --tls-key FILE\n"
         "  --plain              no TLS (ws://)\n"
         "  --api HOST:PORT      the management API, JSON over HTTP (default off)\n"
         "  --tunnel SPEC        a tunnel open from the start, with these tokens and\n"
         "                       services (SERVICES: SSH,WEB,...; may be repeated)\n"
         "  --bandwidth N        cap each tunnel at N bytes per second, both directions\n"
         "                       together\n"
         "  --receive-buffer N   give each proxy's connection a receive buffer of N\n"
         "                       bytes (SO_RCVBUF) instead of the kernel's autotuned one\n"
         "                       (up to several MiB; the kernel caps N at\n"
         "                       net.core.rmem_max): with --bandwidth, a slow link whose\n"
         "                       buffer fills and pushes back on the proxy that sends\n"
         "  -v, --verbose LEVEL  log level 0-6 (default 4)\n"
         "\n"
         "API (--api):\n"
         "  POST   /tunnels                    open one; body {\"services\": [\"SSH\", ...]};\n"
         "                                     answers tunnelId, sourceAccessToken and\n"
         "                                     destinationAccessToken\n"
         "  GET    /tunnels/ID                 each side: connected, subprotocol, bytes,\n"
         "                                     frames\n"
         "  DELETE /tunnels/ID                 close it (both sides get close code 1000)\n"
         "  POST   /tunnels/ID/rotate          new tokens; connected sides are dropped\n"
         "  POST   /tunnels/ID/drop?side=S     abrupt TCP close of side S (source or\n"
         "                                     destination)\n"
         "  POST   /tunnels/ID/freeze?side=S   stop reading side S (no pongs); with &on=0,\n"
         "                                     read it again\n"
         "  POST   /tunnels/ID/session-reset   SESSION_RESET to both sides\n"
         "  POST   /tunnels/ID/reframe?on=1|0  re-chunk relayed data into random sizes\n"
         "  POST   /tunnels/ID/reset-on-connect?on=1|0\n"
         "                                     as the AWS service does: when a side\n"
         "                                     connects, reset the other's streams\n"
         "  GET    /stats                      tunnels and bytes relayed\n"
         "\n"
         "Exit statuses: 0 stopped by SIGINT or SIGTERM, --help, --version; 1 runtime\n"
         "failure; 2 usage error, or a port or certificate directory that cannot be used.\n";
}

service_options parse_service_options(int argc, const char* const argv[]) {
  service_options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw usage_error(arg + ": missing value");
      return argv[++i];
    };
    if (arg == "-h" || arg == "--help") o.help = true;
    else if (arg == "-V" || arg == "--version") o.version = true;
    else if (arg == "--listen") std::tie(o.listen_host, o.listen_port) = host_port(arg, value());
    else if (arg == "--api") o.api = host_port(arg, value());
    else if (arg == "--tls-cert") o.tls_cert = value();
    else if (arg == "--tls-key") o.tls_key = value();
    else if (arg == "--self-signed") o.self_signed_dir = value();
    else if (arg == "--plain") o.plain = true;
    else if (arg == "--tunnel") o.tunnels.push_back(parse_tunnel(value()));
    else if (arg == "--bandwidth") {
      if (!number(value(), o.bandwidth) || o.bandwidth <= 0)
        throw usage_error("--bandwidth: expected a positive number of bytes per second");
    } else if (arg == "--receive-buffer") {
      if (!number(value(), o.receive_buffer) || o.receive_buffer < 4096)
        throw usage_error("--receive-buffer: expected a number of bytes, at least 4096");
    } else if (arg == "-v" || arg == "--verbose") {
      if (!number(value(), o.verbosity) || o.verbosity < 0 || o.verbosity > 255)
        throw usage_error("-v: expected a level from 0 to 255");
    } else throw usage_error("unknown option " + arg + " (see --help)");
  }
  const int modes = (o.plain ? 1 : 0) + (o.self_signed_dir.empty() ? 0 : 1) + (o.tls_cert.empty() ? 0 : 1);
  if (modes > 1) throw usage_error("--plain, --self-signed and --tls-cert exclude each other");
  if (o.tls_cert.empty() != o.tls_key.empty()) throw usage_error("--tls-cert and --tls-key go together");
  if (modes == 0 && !o.help && !o.version) throw usage_error("give --self-signed DIR, --tls-cert FILE --tls-key FILE, or --plain");
  return o;
}

}  // namespace tunnel_service
