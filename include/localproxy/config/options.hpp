#pragma once
// What the command line, --config file, --config-dir, environment and settings JSON resolve to.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "localproxy/config/settings.hpp"
#include "localproxy/log/log.hpp"

namespace localproxy::config {

enum class proxy_mode { source, destination };

// One -s / -d / --config-dir mapping, or --stdio.
struct service_mapping {
  std::string service_id;  // empty: the single unnamed mapping (`-s 5555`, `-d 22`, `--stdio`)
  std::string host;        // empty: the default (bind address on source, localhost on destination)
  std::uint16_t port = 0;  // 0 when unix_path is set
  std::string unix_path;   // listen on (source) or connect to (destination) this Unix socket
  bool stdio = false;      // source, --stdio: one connection over stdin/stdout, no listener
  bool operator==(const service_mapping&) const = default;
};

// Where the tunneling service is.
struct service_endpoint {
  std::string host;
  std::uint16_t port = 443;
  bool tls = true;  // false only for ws:// (a local test service)
  [[nodiscard]] std::string url() const;  // wss://host:port (IPv6 hosts in brackets)
  bool operator==(const service_endpoint&) const = default;
};

// An HTTP(S) proxy to reach the service through (HTTP CONNECT).
struct web_proxy {
  std::string host;
  std::uint16_t port = 3128;
  bool tls = false;  // https:// proxy
  std::string user;
  std::string password;  // secret
  bool operator==(const web_proxy&) const = default;
};

// Where a token came from. One read from a file is read again on SIGHUP and when the service
// refuses it (after RotateTunnelAccessToken the file may hold a new one).
struct token_origin {
  std::string file;             // empty: given as a value (command line, --config file, environment)
  bool require_private = true;  // false for a systemd credential (systemd guards its directory)
  std::string option;           // where it was given ("--access-token-file", "AWSIOT_TUNNEL_ACCESS_TOKEN"); empty: none
  [[nodiscard]] bool reloadable() const noexcept { return !file.empty(); }
  // Names it in messages (never its content): the option, and the file if there is one.
  [[nodiscard]] std::string describe() const { return file.empty() ? option : option + " (" + file + ")"; }
};

struct options {
  proxy_mode mode = proxy_mode::source;
  std::string access_token;  // secret
  std::string client_token;  // secret; empty = none given
  token_origin access_token_origin;
  token_origin client_token_origin;
  std::string region;        // empty when the endpoint was given
  service_endpoint endpoint;
  std::vector<service_mapping> mappings;
  std::string bind_address;  // -b; empty = settings.default_bind_address
  std::string capath;        // -c
  bool verify_ssl = true;    // false with -k
  int verbosity = 4;
  std::optional<log::format> log_format;  // --log-format; nullopt: log::default_format()
  int destination_client_type = 3;  // -y V1 -> 1, V2 -> 2; 3 otherwise
  settings tunables;
  std::optional<web_proxy> proxy;  // resolved for endpoint.host (no_proxy applied)
  std::string status_file;          // --status-file; empty = none
  std::string metrics_host;         // --metrics; brackets removed
  std::uint16_t metrics_port = 0;   // --metrics; 0 = off

  // --stdio: the single mapping is the stdin/stdout connection.
  [[nodiscard]] bool stdio() const noexcept { return mappings.size() == 1 && mappings.front().stdio; }
};

}  // namespace localproxy::config
