#pragma once
// One WebSocket connection's life: the reader dispatches tunnel messages, the writer drains the
// outbox, the pinger measures latency. It ends when the WebSocket does; local connections end
// with it, source listeners (owned by the tunnel) do not.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "localproxy/protocol/frame_codec.hpp"
#include "localproxy/transport/tcp_connect.hpp"
#include "localproxy/transport/websocket.hpp"
#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/outbox.hpp"

namespace localproxy::tunnel {

class tunnel_context;

struct session_end {
  enum class kind { closed_by_service, lost, protocol_error, mapping_error, stopped } what = kind::lost;
  std::string detail;
};

class tunnel_session : public std::enable_shared_from_this<tunnel_session> {
 public:
  tunnel_session(tunnel_context& context, std::unique_ptr<transport::websocket_connection> ws);
  ~tunnel_session();

  boost::asio::awaitable<session_end> run();
  // Graceful end (SIGTERM/SIGINT, a reload, the end of --stdio): every live connection ends with
  // a reset to the peer, then the WebSocket closes normally once the resets are written.
  void stop();

  // Source: a local client was accepted for this service.
  void adopt(const std::string& service_id, local_stream stream, const std::string& peer);
  [[nodiscard]] bool services_known() const noexcept { return services_known_; }
  [[nodiscard]] bool role_is_source() const noexcept;

  [[nodiscard]] std::optional<std::chrono::microseconds> rtt() const noexcept { return rtt_; }
  [[nodiscard]] std::uint64_t bytes_received() const noexcept { return bytes_in_; }
  [[nodiscard]] std::uint64_t bytes_sent() const noexcept { return bytes_out_; }
  [[nodiscard]] const memory_budget& budget() const noexcept { return *limits_.budget; }

 private:
  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<void> write_loop(std::shared_ptr<tunnel_session> self);
  boost::asio::awaitable<void> ping_loop(std::shared_ptr<tunnel_session> self);
  boost::asio::awaitable<void> service_ids_deadline(std::shared_ptr<tunnel_session> self);
  boost::asio::awaitable<void> relieve_backpressure();
  std::shared_ptr<local_connection> most_stalled_holder();
  boost::asio::awaitable<void> connect_local(std::shared_ptr<tunnel_session> self,
                                             std::shared_ptr<local_connection> connection);

  void handle(const protocol::message_view& m);
  void on_service_ids(const protocol::message_view& m);
  void on_older_destination();
  void apply_services(const std::optional<std::vector<std::string>>& ids);
  // The services are known: the session is ready (see stream_table::lost_stream_resets).
  void services_ready();
  void on_start(const protocol::message_view& m);
  void on_data(const protocol::message_view& m);
  void on_connection_reset(const protocol::message_view& m);
  void on_stream_reset(const protocol::message_view& m);
  void on_session_reset();
  void answer_unroutable(const protocol::message_view& m, const char* why);

  std::shared_ptr<local_connection> make_connection(const connection_ref& ref);
  void start_connection(const std::shared_ptr<local_connection>& connection, local_stream stream);
  void local_ended(local_connection& connection, const char* how);
  void log_closed(const local_connection& connection, std::string_view how) const;
  void reset_connection(const std::shared_ptr<local_connection>& connection, const char* why);
  // Ends every live connection as its local end would: forgotten, logged, the peer told (a reset
  // each, queued), the local side closed.
  void end_connections(const char* how);
  void finish(session_end::kind what, std::string detail);
  void shut_down();

  tunnel_context& context_;
  std::unique_ptr<transport::websocket_connection> ws_;
  protocol::frame_decoder decoder_;
  outbox outbox_;
  connection_limits limits_;
  transport::resolve_cache local_names_;  // the destination's service hosts, for bursts of connections
  std::vector<std::shared_ptr<local_connection>> congested_;
  boost::asio::steady_timer ping_timer_;
  boost::asio::steady_timer service_ids_timer_;

  std::optional<session_end> end_;
  bool services_known_ = false;
  bool shut_down_ = false;
  std::chrono::steady_clock::time_point ping_sent_{};
  bool ping_outstanding_ = false;
  bool reader_paused_ = false;  // the reader waits for local applications (backpressure)
  bool writing_ = false;        // a WebSocket write is outstanding, since write_started_
  std::chrono::steady_clock::time_point write_started_{};
  bool pong_seen_ = false;
  std::optional<std::chrono::microseconds> rtt_;
  std::uint64_t bytes_in_ = 0;
  std::uint64_t bytes_out_ = 0;
  // Resets that answer messages for unknown connections: at most reset_answer_burst a second,
  // so that junk from the peer cannot make the proxy chatty.
  static constexpr int reset_answer_burst = 32;
  int reset_answers_left_ = reset_answer_burst;
  std::chrono::steady_clock::time_point reset_answers_since_{};
};

}  // namespace localproxy::tunnel
