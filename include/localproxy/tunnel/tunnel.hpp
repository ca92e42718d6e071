#pragma once
// The tunnel: connect to the service, run sessions, reconnect with backoff, and turn the way it
// ended into the process exit status (README: 0 normal end, 1 runtime failure, 2 configuration
// does not fit the tunnel, 3 rejected by the service or the web proxy).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "localproxy/config/options.hpp"
#include "localproxy/transport/websocket.hpp"
#include "localproxy/tunnel/async_event.hpp"
#include "localproxy/tunnel/backoff.hpp"
#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/source_listeners.hpp"
#include "localproxy/tunnel/status_file.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

class tunnel_session;

// Runs until the tunnel ends; returns the exit status. Installs SIGINT/SIGTERM handling.
int run_tunnel(const config::options& opts);

// The first info line: version, mode, mappings, endpoint, subprotocol (never a token or a
// password).
[[nodiscard]] std::string startup_line(const config::options& opts);

// The WebSocket request for these options (URL, headers, subprotocol, timeouts, proxy).
[[nodiscard]] transport::websocket_target make_target(const config::options& opts, const std::string& client_token);
// A random client token in UUID form, so that a dropped connection can reconnect with the same
// single-use access token.
[[nodiscard]] std::string random_client_token(std::mt19937_64& rng);

class tunnel_context {
 public:
  tunnel_context(boost::asio::io_context& ioc, const config::options& opts);
  ~tunnel_context();

  boost::asio::awaitable<int> run();
  void stop();

  [[nodiscard]] const config::options& options() const noexcept { return opts_; }
  [[nodiscard]] stream_table& table() noexcept { return table_; }
  [[nodiscard]] boost::asio::any_io_executor executor() const { return ioc_.get_executor(); }

  // Called by the session with what SERVICE_IDS said (nullopt: none came). Throws mapping_error.
  void apply_services(const std::optional<std::vector<std::string>>& ids);
  // True when apply_services(ids) would change nothing (a repeated, identical SERVICE_IDS).
  [[nodiscard]] bool services_unchanged(const std::optional<std::vector<std::string>>& ids) const {
    return services_applied_ && ids == service_ids_;
  }
  // The session has applied the tunnel's services: the proxy is useful (READY=1 the first time).
  void session_ready();

  // Reports the end (status file, STOPPING=1) once the run is over.
  void finish(int exit_status);

 private:
  boost::asio::awaitable<std::unique_ptr<transport::websocket_connection>> connect(int& exit_status);
  boost::asio::awaitable<bool> wait_before_retry(int& exit_status, const char* what);
  boost::asio::awaitable<void> status_loop();
  boost::asio::awaitable<void> watchdog_loop(std::chrono::microseconds period);
  // tunnel_status.cpp: the state others see (status file, systemd STATUS=), changed in one place.
  void set_state(tunnel_state state, const std::string& status);
  void publish(const std::string& status);
  [[nodiscard]] status_snapshot snapshot();
  [[nodiscard]] std::chrono::milliseconds status_period() const;
  [[nodiscard]] std::string status_line();
  // Per service, the connections that are live (not those that ended and wait to be forgotten).
  [[nodiscard]] std::vector<std::pair<std::string, std::size_t>> live_connections();
  void end_session();
  boost::asio::awaitable<void> hand_over(std::string service_id, local_connection::socket_type socket, std::string peer);
  void on_accept(const std::string& service_id, local_connection::socket_type socket, const std::string& peer);

  boost::asio::io_context& ioc_;
  const config::options& opts_;
  std::string client_token_;
  transport::websocket_target target_;
  stream_table table_;
  source_listeners listeners_;
  std::optional<std::vector<std::string>> service_ids_;
  bool services_applied_ = false;
  std::shared_ptr<tunnel_session> session_;
  async_event ready_;
  async_event stopping_;
  bool stop_requested_ = false;
  std::mt19937_64 rng_;
  backoff backoff_;
  // The totals at the last status line ("since last").
  std::uint64_t reported_in_ = 0;
  std::uint64_t reported_out_ = 0;
  // Totals of the sessions that ended; the current session's counters come on top.
  std::uint64_t bytes_in_before_ = 0;
  std::uint64_t bytes_out_before_ = 0;
  tunnel_state state_ = tunnel_state::starting;
  std::chrono::system_clock::time_point since_ = std::chrono::system_clock::now();
  std::string channel_id_;
  std::string last_error_;
  std::string status_write_error_;  // the last one logged, so a full disk is not logged every period
  bool ready_sent_ = false;
};

}  // namespace localproxy::tunnel
