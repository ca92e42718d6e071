// What the tunnel tells the world about itself: the status line (log), the status file and
// systemd (READY=1, STATUS=, WATCHDOG=1, STOPPING=1). One state, changed only by set_state().
#include <algorithm>
#include <atomic>
#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/process_memory.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"
#include "localproxy/version.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
// Without a status period the status file is still refreshed, so that --health can tell a live
// proxy from a dead one.
constexpr milliseconds default_refresh{60000};
}  // namespace

std::string startup_line(const config::options& opts) {
  const bool source = opts.mode == config::proxy_mode::source;
  std::string line = std::string("Starting localproxy ") + version + " (git " + git_revision + "): " +
                     (source ? "source" : "destination") + " mode, mappings";
  const auto default_host = source ? (opts.bind_address.empty() ? opts.tunables.default_bind_address : opts.bind_address)
                                   : std::string("localhost");
  for (const auto& m : opts.mappings) {
    line += ' ';
    if (!m.service_id.empty()) line += m.service_id + "=";
    if (!m.unix_path.empty()) {
      line += m.unix_path;
      continue;
    }
    const auto& host = m.host.empty() ? default_host : m.host;
    line += (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(m.port);
  }
  line += ", endpoint " + opts.endpoint.url() + ", subprotocol " + opts.tunables.subprotocol;
  if (source && opts.destination_client_type != 3)
    line += ", destination speaks V" + std::to_string(opts.destination_client_type);
  // The proxy's address only: its user and password stay out of every line.
  if (opts.proxy)
    line += std::string(", web proxy ") + (opts.proxy->tls ? "https://" : "http://") + opts.proxy->host + ":" +
            std::to_string(opts.proxy->port);
  if (!opts.verify_ssl) line += ", certificate verification off";
  return line;
}

milliseconds tunnel_context::status_period() const {
  return opts_.tunables.status_period_ms > 0 ? milliseconds(opts_.tunables.status_period_ms) : default_refresh;
}

status_snapshot tunnel_context::snapshot() {
  status_snapshot s;
  s.state = state_;
  s.since = since_;
  s.updated = std::chrono::system_clock::now();
  s.period = status_period();
  s.mode = opts_.mode == config::proxy_mode::source ? "source" : "destination";
  s.channel_id = channel_id_;
  if (session_) s.rtt = session_->rtt();
  s.connections = live_connections();
  s.bytes_from_service = bytes_in_before_ + (session_ ? session_->bytes_received() : 0);
  s.bytes_to_service = bytes_out_before_ + (session_ ? session_->bytes_sent() : 0);
  s.last_error = log::redact(last_error_);
  return s;
}

void tunnel_context::publish(const std::string& status) {
  service_manager::notify_status(status);
  if (opts_.status_file.empty()) return;
  const auto error = write_status_file(opts_.status_file, snapshot());
  if (!error.empty() && error != status_write_error_) LP_LOG(error) << "Status file: " << error;
  status_write_error_ = error;
}

void tunnel_context::set_state(tunnel_state state, const std::string& status) {
  if (state != state_) {
    state_ = state;
    since_ = std::chrono::system_clock::now();
  }
  publish(status);
}

void tunnel_context::session_ready() {
  ready_.notify();
  if (state_ == tunnel_state::connected) return;
  const auto status = "connected to " + opts_.endpoint.url() + ", channel-id " + channel_id_;
  set_state(tunnel_state::connected, status);
  if (ready_sent_ && !reload_pending_) return;
  // Start-up is over: what it touched and the tunnel will not need again can go. Once per process
  // (a process that runs many tunnels, as the tests and fuzz targets do, has one start-up).
  static std::atomic_flag started_up;
  if (!ready_sent_ && !started_up.test_and_set()) release_startup_pages("the tunnel up");
  ready_sent_ = true;
  reload_pending_ = false;
  service_manager::notify_ready(status);  // the first time, and at the end of a reload that reconnected
}

void tunnel_context::end_session() {
  if (!session_) return;
  bytes_in_before_ += session_->bytes_received();
  bytes_out_before_ += session_->bytes_sent();
  session_.reset();
}

void tunnel_context::finish(int exit_status) {
  service_manager::notify_stopping();
  set_state(tunnel_state::stopped, "stopped (exit status " + std::to_string(exit_status) + ")");
}

namespace {

// 45s, 12m05s, 2h13m, 3d04h
std::string duration_text(std::chrono::seconds d) {
  const auto s = std::max<long long>(0, d.count());
  char text[32];
  if (s < 60) std::snprintf(text, sizeof text, "%llds", s);
  else if (s < 3600) std::snprintf(text, sizeof text, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400) std::snprintf(text, sizeof text, "%lldh%02lldm", s / 3600, s / 60 % 60);
  else std::snprintf(text, sizeof text, "%lldd%02lldh", s / 86400, s / 3600 % 24);
  return text;
}

// 512 B, 40.2 kB, 1.1 MB, 3.0 GB (powers of 1000)
std::string bytes_text(std::uint64_t n) {
  if (n < 1000) return std::to_string(n) + " B";
  static constexpr const char* units[] = {"kB", "MB", "GB", "TB", "PB"};
  double v = static_cast<double>(n) / 1000;
  std::size_t u = 0;
  for (; v >= 999.95 && u + 1 < std::size(units); ++u) v /= 1000;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", v, units[u]);
  return text;
}

}  // namespace

std::vector<std::pair<std::string, std::size_t>> tunnel_context::live_connections() {
  std::vector<std::pair<std::string, std::size_t>> out;
  for (const auto& service : table_.services()) {
    // An entry whose connection already ended (reset, closed, waiting to be forgotten) is not live.
    const auto live = std::count_if(service.connections.begin(), service.connections.end(),
                                    [](const auto& entry) { return entry.second && !entry.second->closed(); });
    out.emplace_back(service.id, static_cast<std::size_t>(live));
  }
  return out;
}

// status: connected 2h13m, rtt 4.1 ms, connections SSH 1 (3 opened), WEB 0; since last: 40.2 MB in, 1.1 MB out;
// total 52.0 MB in, 3.3 MB out. "in" came from the service (the peer's data), "out" went to it.
std::string tunnel_context::status_line() {
  const auto now = std::chrono::system_clock::now();
  std::string line = std::string("status: ") + state_name(state_) + " " +
                     duration_text(std::chrono::duration_cast<std::chrono::seconds>(now - since_));
  if (session_ && session_->rtt()) {
    const double ms = session_->rtt()->count() / 1000.0;
    char rtt[32];
    std::snprintf(rtt, sizeof rtt, ms < 1 ? "%.2f" : "%.1f", ms);
    line += std::string(", rtt ") + rtt + " ms";
  }
  line += ", connections";
  bool first = true;
  const auto live = live_connections();
  const auto& services = table_.services();
  for (std::size_t i = 0; i < live.size(); ++i) {
    const auto& [id, count] = live[i];
    line += first ? " " : ", ";
    if (!id.empty()) line += id + " ";
    line += std::to_string(count);
    // Opened since the start (this service's counter survives reconnects), only once there were any.
    if (const auto opened = services[i].counters.opened; opened > 0) line += " (" + std::to_string(opened) + " opened)";
    first = false;
  }
  if (first) line += " 0";
  const std::uint64_t in = bytes_in_before_ + (session_ ? session_->bytes_received() : 0);
  const std::uint64_t out = bytes_out_before_ + (session_ ? session_->bytes_sent() : 0);
  line += "; since last: " + bytes_text(in - reported_in_) + " in, " + bytes_text(out - reported_out_) +
          " out; total " + bytes_text(in) + " in, " + bytes_text(out) + " out";
  reported_in_ = in;
  reported_out_ = out;
  return line;
}

asio::awaitable<void> tunnel_context::status_loop() {
  asio::steady_timer timer(ioc_);
  for (;;) {
    timer.expires_after(status_period());
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec || stop_requested_) co_return;
    const auto line = status_line();
    if (opts_.tunables.status_period_ms > 0) LP_LOG(info) << line;
    publish(line.substr(line.find(' ') + 1));  // without "status: "
  }
}

// Pings come from the event loop itself, so a wedged loop stops them and systemd restarts us.
asio::awaitable<void> tunnel_context::watchdog_loop(std::chrono::microseconds period) {
  asio::steady_timer timer(ioc_);
  while (!stop_requested_) {
    service_manager::notify_watchdog();
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
  }
}

}  // namespace localproxy::tunnel
