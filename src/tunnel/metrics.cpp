// The tunnel's side of the metrics: one reading of its counters and gauges.
#include "localproxy/tunnel/metrics.hpp"

#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace localproxy::tunnel {

metrics_snapshot tunnel_context::metrics() {
  metrics_snapshot m;
  m.connected = state_ == tunnel_state::connected;
  m.reconnects = counters_.sessions > 0 ? counters_.sessions - 1 : 0;
  m.handshake_failures = counters_.handshake_failures;
  if (session_) {
    m.rtt = session_->rtt();
    m.buffered_bytes = session_->budget().used();
    m.buffer_limit = session_->budget().limit();
  } else {
    m.buffer_limit = opts_.tunables.total_buffer_size;
  }
  for (const auto& s : table_.services()) {
    metrics_snapshot::service out{s.id, s.connections.size(), s.counters};
    // Live connections count what they read so far; ended ones were added as they left.
    for (const auto& [id, c] : s.connections)
      if (c) out.counters.bytes_to_tunnel += c->bytes_from_local();
    m.services.push_back(std::move(out));
  }
  return m;
}

}  // namespace localproxy::tunnel
