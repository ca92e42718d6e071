#pragma once
// `host`, `host:port`, `[v6]`, `[v6]:port` — the shape shared by -s/-d targets, -e and proxy URLs.
#include <optional>
#include <string>
#include <string_view>

namespace localproxy::config {

struct host_port {
  std::string host;                 // brackets removed
  std::optional<std::string> port;  // the text after ':' (unchecked), when present
};

// Throws usage_error naming `what` for an empty host, an unclosed bracket, an unbracketed IPv6
// address or characters that cannot be in a host name.
[[nodiscard]] host_port split_host_port(std::string_view text, std::string_view what);

}  // namespace localproxy::config
