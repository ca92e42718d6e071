// What the tunnel tells the world about itself: the status line (log), the status file and
// systemd (READY=1, STATUS=, WATCHDOG=1, STOPPING=1). One state, changed only by set_state().
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
// Without a status period the status file is still refreshed, so that --health can tell a live
// proxy from a dead one.
constexpr milliseconds default_refresh{60000};
}  // namespace

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
  for (const auto& service : table_.services()) s.connections.emplace_back(service.id, service.connections.size());
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
  ready_sent_ = true;
  reload_pending_ = false;
  service_manager::notify_ready(status);  // the first time, and at the end of a reload that reconnected
}

void tunnel_context::end_session() {
  if (!session_) return;
  bytes_in_before_ += session_->bytes_received();
  bytes_out_before_ += session_->bytes_sent();
  // The status line reports what moved since the last line: the next session starts from zero.
  reported_in_ = 0;
  reported_out_ = 0;
  session_.reset();
}

void tunnel_context::finish(int exit_status) {
  service_manager::notify_stopping();
  set_state(tunnel_state::stopped, "stopped (exit status " + std::to_string(exit_status) + ")");
}

std::string tunnel_context::status_line() {
  std::string line = session_ ? "Status: connected" : "Status: not connected";
  if (session_ && session_->rtt()) line += ", rtt " + std::to_string(session_->rtt()->count() / 1000.0).substr(0, 6) + " ms";
  for (const auto& s : table_.services())
    line += ", " + (s.id.empty() ? std::string("connections") : s.id) + ": " + std::to_string(s.connections.size());
  const std::uint64_t in = session_ ? session_->bytes_received() : 0;
  const std::uint64_t out = session_ ? session_->bytes_sent() : 0;
  line += ", bytes from service " + std::to_string(in >= reported_in_ ? in - reported_in_ : in) + ", to service " +
          std::to_string(out >= reported_out_ ? out - reported_out_ : out);
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
    publish(line.substr(line.find(' ') + 1));  // without "Status: "
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
