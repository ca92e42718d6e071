#pragma once
// --status-file: a small JSON document that says how the tunnel is doing, replaced atomically,
// and the check behind `localproxy --health FILE` (a Docker HEALTHCHECK needs no shell for it).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace localproxy::tunnel {

enum class tunnel_state { starting, connecting, connected, reconnecting, stopped };
[[nodiscard]] const char* state_name(tunnel_state s) noexcept;

struct status_snapshot {
  tunnel_state state = tunnel_state::starting;
  std::chrono::system_clock::time_point since{};    // when the state last changed
  std::chrono::system_clock::time_point updated{};  // when this snapshot was taken
  std::chrono::milliseconds period{0};              // how often the file is rewritten
  std::string mode;                                 // "source" or "destination"
  std::string channel_id;
  std::optional<std::chrono::microseconds> rtt;
  std::vector<std::pair<std::string, std::size_t>> connections;  // per service (id "" = unnamed)
  std::uint64_t bytes_from_service = 0;  // since start, every session
  std::uint64_t bytes_to_service = 0;
  std::string last_error;
};

[[nodiscard]] std::string status_json(const status_snapshot& s);

// Writes the document to a temporary file beside `path` and renames it over `path`, so a reader
// never sees half a file. Returns an error text, empty on success.
[[nodiscard]] std::string write_status_file(const std::string& path, const status_snapshot& s);

struct health_verdict {
  bool healthy = false;
  std::string reason;  // one line
};
// Healthy when the file says "connected" and was updated at most max_age ago (default: three of
// its own periods).
[[nodiscard]] health_verdict check_health(const std::string& path, std::optional<std::chrono::seconds> max_age,
                                          std::chrono::system_clock::time_point now);

}  // namespace localproxy::tunnel
