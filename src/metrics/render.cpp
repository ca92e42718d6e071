// The Prometheus exposition of a metrics_snapshot. A fresh registry per scrape: the counters
// are the tunnel's own integers, fed in as they are now.
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include "localproxy/metrics/metrics_server.hpp"

namespace localproxy::metrics {

namespace {
prometheus::Family<prometheus::Gauge>& gauge(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}
prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const char* name, const char* help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}
void add(prometheus::Family<prometheus::Counter>& f, const prometheus::Labels& labels, std::uint64_t value) {
  f.Add(labels).Increment(static_cast<double>(value));
}
}  // namespace

std::string render(const tunnel::metrics_snapshot& m) {
  prometheus::Registry r;
  gauge(r, "localproxy_connected", "1 while the WebSocket to the tunneling service is up and its services are known")
      .Add({})
      .Set(m.connected ? 1 : 0);
  add(counter(r, "localproxy_reconnects_total", "WebSocket connections to the service after the first"), {},
      m.reconnects);
  auto& failures = counter(r, "localproxy_handshake_failures_total",
                           "failed connects to the service by HTTP status (0: no HTTP answer)");
  for (const auto& [status, n] : m.handshake_failures) add(failures, {{"status", std::to_string(status)}}, n);
  if (m.rtt)
    gauge(r, "localproxy_rtt_seconds", "the last WebSocket ping's round trip to the service")
        .Add({})
        .Set(std::chrono::duration<double>(*m.rtt).count());
  gauge(r, "localproxy_buffered_bytes", "payload buffered for all local connections (tcp.total_buffer_size in use)")
      .Add({})
      .Set(static_cast<double>(m.buffered_bytes));
  gauge(r, "localproxy_buffer_limit_bytes", "tcp.total_buffer_size").Add({}).Set(static_cast<double>(m.buffer_limit));
  auto& active = gauge(r, "localproxy_connections_active", "local connections open now, per service");
  auto& opened = counter(r, "localproxy_connections_opened_total", "local connections carried, per service");
  auto& refused = counter(r, "localproxy_connections_refused_total",
                          "local clients or peer starts turned away, per service");
  auto& bytes = counter(r, "localproxy_bytes_total",
                        "payload bytes per service: direction to_tunnel (read from local applications) or "
                        "from_tunnel (delivered to them)");
  for (const auto& s : m.services) {
    const prometheus::Labels service{{"service", s.id}};
    active.Add(service).Set(static_cast<double>(s.active));
    add(opened, service, s.counters.opened);
    add(refused, service, s.counters.refused);
    add(bytes, {{"service", s.id}, {"direction", "to_tunnel"}}, s.counters.bytes_to_tunnel);
    add(bytes, {{"service", s.id}, {"direction", "from_tunnel"}}, s.counters.bytes_from_tunnel);
  }
  return prometheus::TextSerializer().Serialize(r.Collect());
}

}  // namespace localproxy::metrics
