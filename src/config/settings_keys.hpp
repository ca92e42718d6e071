#pragma once
// The table of settings keys: where each lives under tunneling.proxy., which field holds it and
// which values are sane. Loading and exporting both walk this one table, so they cannot disagree.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "localproxy/config/settings.hpp"

namespace localproxy::config::settings_keys {

using member = std::variant<std::size_t settings::*, std::uint32_t settings::*, int settings::*, bool settings::*,
                            std::string settings::*>;

struct key {
  std::string_view path;  // below tunneling.proxy., dotted, e.g. "tcp.max_active_connections"
  member field;
  long long min = 0;      // integers: the range; strings: the length range
  long long max = 0;
};

[[nodiscard]] std::span<const key> all();

// Prefix of every key path.
inline constexpr std::string_view root = "tunneling.proxy";
inline constexpr std::string_view overrides_key = "region_endpoint_overrides";

// unix_socket_mode: 3 or 4 octal digits, at most 0777 (e.g. 0600, 660).
[[nodiscard]] bool is_file_mode(std::string_view value);

// The allowed values of websocket.subprotocol.
[[nodiscard]] bool is_known_subprotocol(std::string_view value);

}  // namespace localproxy::config::settings_keys
