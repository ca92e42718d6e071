#pragma once
// What the tunnel counts for the metrics endpoint. The counters are plain integers changed on the
// event loop thread (per message or read batch, never per byte); a reader on the same thread
// takes a snapshot when it is scraped. Nothing here knows the exposition format.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace localproxy::tunnel {

// One service's connections, over the process's life.
struct service_counters {
  std::uint64_t opened = 0;             // connections started (source: STREAM/CONNECTION_START sent)
  std::uint64_t refused = 0;            // local clients or peer starts turned away
  std::uint64_t bytes_to_tunnel = 0;    // read from local applications, of connections that ended
  std::uint64_t bytes_from_tunnel = 0;  // payload the tunnel delivered to local applications
};

struct tunnel_counters {
  std::uint64_t sessions = 0;                       // WebSockets that came up (reconnects: the ones after the first)
  std::map<int, std::uint64_t> handshake_failures;  // failed connects by HTTP status; 0: no HTTP answer
};

// Everything at one moment.
struct metrics_snapshot {
  bool connected = false;
  std::optional<std::chrono::microseconds> rtt;  // none before the first pong
  std::uint64_t reconnects = 0;
  std::map<int, std::uint64_t> handshake_failures;
  std::size_t buffered_bytes = 0;  // tcp.total_buffer_size in use (memory_budget)
  std::size_t buffer_limit = 0;
  struct service {
    std::string id;  // empty on a tunnel without services
    std::uint64_t active = 0;
    service_counters counters;  // bytes_to_tunnel includes the live connections
  };
  std::vector<service> services;
};

}  // namespace localproxy::tunnel
