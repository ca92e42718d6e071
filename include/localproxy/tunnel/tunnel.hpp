#pragma once
// The tunnel: connect to the service, run sessions, reconnect with backoff, and turn the way it
// ended into the process exit status (README: 0 normal end, 1 runtime failure, 2 configuration
// does not fit the tunnel, 3 rejected by the service or the web proxy).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "localproxy/config/options.hpp"
#include "localproxy/transport/websocket.hpp"
#include "localproxy/tunnel/async_event.hpp"
#include "localproxy/tunnel/backoff.hpp"
#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/metrics.hpp"
#include "localproxy/tunnel/source_listeners.hpp"
#include "localproxy/tunnel/status_file.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

class tunnel_session;
class tunnel_context;

// Something that runs beside the tunnel on its event loop (the metrics endpoint), started after
// the local checks and before the first handshake. What it returns lives as long as the tunnel;
// an exception is a local mistake (exit status 2, nothing sent).
using companion = std::function<std::shared_ptr<void>(tunnel_context&)>;

// Runs until the tunnel ends; returns the exit status. Installs SIGINT/SIGTERM handling, and
// SIGHUP, which reloads the token files (tunnel_context::reload).
int run_tunnel(const config::options& opts, const companion& beside = {});

// The WebSocket request for these options and tokens (URL, headers, subprotocol, timeouts, proxy).
[[nodiscard]] transport::websocket_target make_target(const config::options& opts, const std::string& access_token,
                                                      const std::string& client_token);

// The first info line: version, mode, mappings, endpoint, subprotocol (never a token or a
// password).
[[nodiscard]] std::string startup_line(const config::options& opts);

// A random client token in UUID form, so that a dropped connection can reconnect with the same
// single-use access token.
[[nodiscard]] std::string random_client_token(std::mt19937_64& rng);

class tunnel_context {
 public:
  tunnel_context(boost::asio::io_context& ioc, const config::options& opts);
  ~tunnel_context();

  boost::asio::awaitable<int> run();
  void stop();
  // SIGHUP: reads the token files again. A changed token reconnects with it; an unchanged one
  // leaves the tunnel and its connections alone; a bad file is logged and the old token kept.
  // systemd hears RELOADING=1 at once and READY=1 when it is done.
  void reload();

  [[nodiscard]] const config::options& options() const noexcept { return opts_; }
  [[nodiscard]] stream_table& table() noexcept { return table_; }
  [[nodiscard]] boost::asio::any_io_executor executor() const { return ioc_.get_executor(); }

  // Called by the session with what SERVICE_IDS said (nullopt: none came), once it has ended the
  // live connections (the table's entries are replaced). Throws mapping_error.
  void apply_services(const std::optional<std::vector<std::string>>& ids);
  // True when apply_services(ids) would change nothing (a repeated, identical SERVICE_IDS).
  [[nodiscard]] bool services_unchanged(const std::optional<std::vector<std::string>>& ids) const {
    return services_applied_ && ids == service_ids_;
  }
  // The session has applied the tunnel's services: the proxy is useful (READY=1 the first time).
  void session_ready();
  // True the first time in the process's life that a session finds an older destination: its
  // warning is given once (after a reconnect the same destination is found again).
  [[nodiscard]] bool first_older_destination() noexcept { return !std::exchange(older_destination_seen_, true); }

  // Reports the end (status file, STOPPING=1) once the run is over.
  void finish(int exit_status);

  // metrics.cpp: the counters and gauges now, for the metrics endpoint (event loop thread only).
  [[nodiscard]] metrics_snapshot metrics();
  void run_beside(companion beside) { companion_ = std::move(beside); }

 private:
  boost::asio::awaitable<std::unique_ptr<transport::websocket_connection>> connect(int& exit_status);
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
  // tunnel.cpp: the tokens read again from their files (nullopt, logged, when a file is bad).
  struct token_pair {
    std::string access;
    std::string client;
    bool operator==(const token_pair&) const = default;
  };
  [[nodiscard]] std::optional<token_pair> reread_tokens(const char* why);
  void use_tokens(const token_pair& tokens);
  // A 401/403 for `used`: true when the token file now holds another token (taken into use).
  [[nodiscard]] bool token_file_changed(const token_pair& used);
  // READY=1 (once systemd has had the first), STATUS= saying how the tunnel is and `what` the reload did.
  void end_reload(const std::string& what);
  // tunnel_run.cpp: the one line for a failed attempt, with its likely cause and what to try.
  [[nodiscard]] std::string failure_line(const transport::connect_failure& f, int attempt) const;
  boost::asio::awaitable<void> hand_over(std::string service_id, local_stream stream, std::string peer);
  void on_accept(const std::string& service_id, local_stream stream, const std::string& peer);

  boost::asio::io_context& ioc_;
  const config::options& opts_;
  std::string access_token_;
  std::string client_token_;
  transport::websocket_target target_;
  bool reconnect_requested_ = false;  // the session is being ended to reconnect with new tokens
  bool reload_pending_ = false;       // a reload waits for the new session (or attempt) to end it
  int certificate_failures_ = 0;      // consecutive ones (websocket.certificate_failure_limit)
  stream_table table_;
  source_listeners listeners_;
  std::optional<std::vector<std::string>> service_ids_;
  bool services_applied_ = false;
  bool older_destination_seen_ = false;
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
  tunnel_counters counters_;
  companion companion_;
  std::shared_ptr<void> companion_state_;
};

}  // namespace localproxy::tunnel
