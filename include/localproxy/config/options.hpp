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

// One -s / -d / --config-dir mapping.
struct service_mapping {
  std::string service_id;  // empty: the single unnamed mapping (`-s 5555`, `-d 22`)
  std::string host;        // empty: the default (bind address on source, localhost on destination)
  std::uint16_t port = 0;  // 0 when unix_path is set
  std::string unix_path;   // destination only: connect to this Unix socket
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

struct options {
  proxy_mode mode = proxy_mode::source;
  std::string access_token;  // secret
  std::string client_token;  // secret; empty = none given
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
};

}  // namespace localproxy::config
