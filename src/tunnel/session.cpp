#include "localproxy/tunnel/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/protocol/rules.hpp"
#include "localproxy/tunnel/service_plan.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using protocol::message_type;
using std::chrono::milliseconds;

namespace {
protocol::frame_limits frame_limits_of(const config::settings& s) {
  protocol::frame_limits l;
  l.max_payload = s.max_payload_size;
  l.max_frame = std::min<std::size_t>(s.max_message_size, 65535);
  return l;
}

protocol::endpoint_role role_of(const config::options& o) {
  return o.mode == config::proxy_mode::source ? protocol::endpoint_role::source : protocol::endpoint_role::destination;
}
}  // namespace

tunnel_session::tunnel_session(tunnel_context& context, std::unique_ptr<transport::websocket_connection> ws)
    : context_(context),
      ws_(std::move(ws)),
      decoder_(frame_limits_of(context.options().tunables)),
      outbox_(context.executor(), context.options().tunables.max_frame_size, frame_limits_of(context.options().tunables)),
      ping_timer_(context.executor()),
      service_ids_timer_(context.executor()) {
  limits_.frames = frame_limits_of(context.options().tunables);
  limits_.queue_limit = context.options().tunables.connection_buffer_size;
  if (role_of(context.options()) == protocol::endpoint_role::source)
    limits_.half_close_linger = milliseconds(context.options().tunables.half_close_linger_ms);
  limits_.budget = std::make_shared<memory_budget>(context.executor(), context.options().tunables.total_buffer_size);
}

tunnel_session::~tunnel_session() = default;

asio::awaitable<session_end> tunnel_session::run() {
  auto self = shared_from_this();
  ws_->on_control([this](transport::control_frame kind, std::string_view) {
    if (kind != transport::control_frame::pong || !ping_outstanding_) return;
    rtt_ = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - ping_sent_);
    LP_LOG(debug) << "Pong after " << rtt_->count() << " us";
    ping_outstanding_ = false;
    pong_seen_ = true;
  });
  auto ex = context_.executor();
  asio::co_spawn(ex, write_loop(self), asio::detached);
  asio::co_spawn(ex, ping_loop(self), asio::detached);
  if (ws_->subprotocol() == "aws.iot.securetunneling-1.0")
    apply_services(std::nullopt);  // V1 services send no SERVICE_IDS
  else
    asio::co_spawn(ex, service_ids_deadline(self), asio::detached);
  co_await read_loop();
  shut_down();
  co_return end_.value_or(session_end{session_end::kind::lost, "connection ended"});
}

asio::awaitable<void> tunnel_session::read_loop() {
  std::span<const std::uint8_t> message;
  while (!end_) {
    auto ec = co_await ws_->read(message);
    if (ec) {
      const auto closed = ws_->closed_by_peer();
      if (closed.received && closed.code == 1000)
        finish(session_end::kind::closed_by_service, closed.reason);
      else if (closed.received)
        finish(session_end::kind::lost, "service closed the connection with code " + std::to_string(closed.code) +
                                            (closed.reason.empty() ? "" : " (" + closed.reason + ")"));
      else
        finish(session_end::kind::lost, ec.message());
      break;
    }
    bytes_in_ += message.size();
    auto err = decoder_.feed(message, [this](const protocol::message_view& m) {
      if (!end_) handle(m);
    });
    if (err != protocol::decode_error::none) finish(session_end::kind::protocol_error, std::string(protocol::describe(err)));
    if (!congested_.empty() && !end_) {
      // Pongs are read by this loop: while it waits, their absence says nothing of the service.
      reader_paused_ = true;
      co_await relieve_backpressure();
      reader_paused_ = false;
      if (ping_outstanding_) ping_sent_ = std::chrono::steady_clock::now();
    }
  }
}

asio::awaitable<void> tunnel_session::write_loop(std::shared_ptr<tunnel_session> self) {
  std::vector<asio::const_buffer> buffers;
  for (;;) {
    while (outbox_.empty() && !shut_down_) co_await outbox_.writer_idle();
    if (shut_down_) break;
    const auto size = outbox_.take(buffers);
    if (size == 0) continue;
    write_started_ = std::chrono::steady_clock::now();
    writing_ = true;
    auto ec = co_await ws_->write(buffers);
    writing_ = false;
    // A ping queued behind that write could not be answered before the service read it.
    if (ping_outstanding_) ping_sent_ = std::max(ping_sent_, write_started_);
    outbox_.sent();
    if (ec) {
      finish(session_end::kind::lost, "write failed: " + ec.message());
      break;
    }
    bytes_out_ += size;
  }
  (void)self;
}

asio::awaitable<void> tunnel_session::ping_loop(std::shared_ptr<tunnel_session> self) {
  const auto& s = context_.options().tunables;
  const auto period = milliseconds(s.ping_period_ms);
  // A dead service is noticed in a time that follows the ping period: at most three periods
  // after its last pong by default.
  const auto deadline = s.pong_timeout_ms ? milliseconds(s.pong_timeout_ms) : 2 * period;
  const auto write_deadline = std::max(deadline, milliseconds(30000));
  auto next_ping = std::chrono::steady_clock::now() + period;
  while (!shut_down_) {
    // The service answers pings only once it has a peer, so silence before the first pong is normal.
    // Pongs are in band: the deadline runs only while the service can answer, i.e. our reader is
    // reading and none of our writes waits for the service to take it (a write the service does
    // not take for write_deadline is a dead service too).
    const bool overdue_possible = ping_outstanding_ && pong_seen_ && !reader_paused_ && !writing_;
    ping_timer_.expires_at(overdue_possible ? std::min(next_ping, ping_sent_ + deadline)
                                            : writing_ ? std::min(next_ping, write_started_ + write_deadline) : next_ping);
    co_await ping_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (shut_down_) break;
    const auto now = std::chrono::steady_clock::now();
    if (ping_outstanding_ && pong_seen_ && !reader_paused_ && !writing_ && now >= ping_sent_ + deadline) {
      finish(session_end::kind::lost, "no pong from the service for " + std::to_string(deadline.count()) + " ms");
      break;
    }
    if (writing_ && now >= write_started_ + write_deadline) {
      finish(session_end::kind::lost, "the service took nothing of a write for " +
                                          std::to_string(write_deadline.count()) + " ms");
      break;
    }
    if (now < next_ping) continue;
    next_ping = now + period;
    if (!ping_outstanding_) {
      ping_sent_ = now;
      ping_outstanding_ = true;
    }
    LP_LOG(debug) << "Ping";
    if (auto ec = co_await ws_->ping({}); ec && !shut_down_) {
      finish(session_end::kind::lost, "ping failed: " + ec.message());
      break;
    }
  }
  (void)self;
}

asio::awaitable<void> tunnel_session::service_ids_deadline(std::shared_ptr<tunnel_session> self) {
  const auto wait = context_.options().tunables.service_ids_timeout_ms;
  service_ids_timer_.expires_after(milliseconds(wait));
  auto [ec] = co_await service_ids_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec || services_known_ || end_) co_return;
  LP_LOG(warning) << "No SERVICE_IDS from the service within " << wait << " ms; using the configured mappings";
  apply_services(std::nullopt);
  (void)self;
}

bool tunnel_session::role_is_source() const noexcept {
  return role_of(context_.options()) == protocol::endpoint_role::source;
}

void tunnel_session::stop() {
  if (end_) return;
  end_ = session_end{session_end::kind::stopped, "stopped"};
  // The peer hears of each connection that ends with the proxy (SIGTERM, or SIGHUP under --stdio)
  // as when one ends on its own, so that it closes its side.
  end_connections("the proxy is stopping");
  asio::co_spawn(context_.executor(), [self = shared_from_this()]() -> asio::awaitable<void> {
    // The resets queued just before (the end of the --stdio connection) go out before the close.
    co_await self->outbox_.control_written(self->shut_down_);
    co_await self->ws_->close();
    self->shut_down();
  }, asio::detached);
}

void tunnel_session::finish(session_end::kind what, std::string detail) {
  if (!end_) end_ = session_end{what, std::move(detail)};
  shut_down();
}

void tunnel_session::shut_down() {
  if (shut_down_) return;
  shut_down_ = true;
  ws_->abort();
  ping_timer_.cancel();
  service_ids_timer_.cancel();
  outbox_.clear();
  outbox_.wake_all();
  congested_.clear();
  for (auto& connection : context_.table().end_session()) connection->abort();
}

// ---- dispatch ---------------------------------------------------------------------------------

void tunnel_session::handle(const protocol::message_view& m) {
  const auto role = role_of(context_.options());
  if (auto v = protocol::check_received_by(role, m); v != protocol::rule_violation::none) {
    finish(session_end::kind::protocol_error,
           std::string(protocol::describe(v)) + " (" + std::string(protocol::type_name(m.type)) + ")");
    return;
  }
  if (protocol::should_skip(m)) {
    LP_LOG(debug) << "Skipping ignorable message of unknown type " << static_cast<int>(m.type);
    return;
  }
  LP_LOG(trace) << "Received " << protocol::type_name(m.type) << " stream " << m.stream_id << " service '"
                << m.service_id << "' connection " << m.connection_id << " payload " << m.payload.size();
  if (m.type != message_type::service_ids && !services_known_) apply_services(std::nullopt);
  if (end_) return;
  auto& table = context_.table();
  const bool first = !table.peer().known;
  switch (table.learn(m)) {
    case stream_table::peer_news::none: break;
    case stream_table::peer_news::learned: {
      const auto& peer = table.peer();
      LP_LOG(info) << (first ? "Peer speaks protocol V" : "Peer shows it speaks protocol V") << peer.version() << " ("
                   << (peer.multiplexed ? "many connections per stream" : "one connection per stream") << ", "
                   << (peer.names_services ? "named services" : "no service IDs") << "); answering in that format";
      break;
    }
    case stream_table::peer_news::older_peer: on_older_destination(); break;
    case stream_table::peer_news::older_peer_answer: on_older_destination(); return;
    case stream_table::peer_news::answer:
      LP_LOG(debug) << "STREAM_RESET for stream " << m.stream_id << " answers a refused CONNECTION_START";
      return;
  }
  switch (m.type) {
    case message_type::service_ids: on_service_ids(m); break;
    case message_type::stream_start:
    case message_type::connection_start: on_start(m); break;
    case message_type::data: on_data(m); break;
    case message_type::stream_reset: on_stream_reset(m); break;
    case message_type::connection_reset: on_connection_reset(m); break;
    case message_type::session_reset: on_session_reset(); break;
    default: break;
  }
}

void tunnel_session::on_older_destination() {
  const auto& peer = context_.table().peer();
  const auto version = peer.version();
  // Unconfirmed (a reset that a V3 destination might have sent too): the next answer tells.
  const auto what = std::string("The destination ") + (peer.known ? "is" : "looks like") +
                    " an older localproxy (protocol V" + std::to_string(version) +
                    "): only one connection per service works at a time; further connections are refused "
                    "until it ends (-y V" + std::to_string(version) + " says so up front)";
  if (context_.first_older_destination())
    LP_LOG(warning) << what;
  else
    LP_LOG(debug) << what;  // said once per process: a reconnect finds the same destination
  for (auto& connection : context_.table().refuse_joined()) {
    log_closed(*connection, "refused: the destination speaks V" + std::to_string(version) +
                                ", which carries one connection per service");
    connection->abort();
  }
}

void tunnel_session::on_service_ids(const protocol::message_view& m) {
  std::vector<std::string> ids(m.available_service_ids.begin(), m.available_service_ids.end());
  apply_services(std::move(ids));
}

void tunnel_session::apply_services(const std::optional<std::vector<std::string>>& ids) {
  if (context_.services_unchanged(ids)) {
    services_ready();
    return;
  }
  // New services replace the table's entries: no connection may outlive the entry it points to,
  // and the peer is told of each one that ends (else it keeps its side open).
  end_connections("the tunnel's services changed");
  const auto& table = context_.table();
  if (ids && ids->size() > 1 && !table.peer().names_services && role_is_source()) {
    finish(session_end::kind::mapping_error, "the tunnel has " + std::to_string(ids->size()) +
                                                 " services, but -y V1 carries no service IDs: use -y V2, or no -y (V3)");
    return;
  }
  try {
    context_.apply_services(ids);
  } catch (const mapping_error& e) {
    finish(session_end::kind::mapping_error, e.what());
    return;
  } catch (const std::exception& e) {
    finish(session_end::kind::mapping_error, e.what());
    return;
  }
  service_ids_timer_.cancel();
  services_ready();
}

void tunnel_session::services_ready() {
  services_known_ = true;
  for (const auto& reset : context_.table().lost_stream_resets()) {
    LP_LOG(info) << "Ending stream " << reset.stream_id << " of "
                 << (reset.service_id.empty() ? std::string("the service") : "service " + std::string(reset.service_id))
                 << " at the source: its connections here ended with the last connection to the service";
    outbox_.push_control(reset);
  }
  context_.session_ready();
}

void tunnel_session::on_start(const protocol::message_view& m) {
  auto& table = context_.table();
  auto started = table.on_start(m, context_.options().tunables.max_active_connections);
  for (auto& connection : started.replaced) {
    log_closed(*connection, "replaced by a new stream " + std::to_string(m.stream_id));
    connection->abort();
  }
  if (!started.ref.service) {
    LP_LOG(warning) << "Refusing " << protocol::type_name(m.type) << " for service '" << m.service_id << "' stream "
                    << m.stream_id << " connection " << protocol::effective_connection_id(m) << ": " << started.why;
    if (started.refusal) outbox_.push_control(*started.refusal);  // a client waits behind it: never dropped
    return;
  }
  if (started.taken_up)
    LP_LOG(info) << "Taking up stream " << m.stream_id << " of "
                 << (started.ref.service->id.empty() ? std::string("the service") : "service " + started.ref.service->id)
                 << ": the source started it before this destination was connected";
  auto connection = make_connection(started.ref);
  asio::co_spawn(context_.executor(), connect_local(shared_from_this(), connection), asio::detached);
}

void tunnel_session::on_data(const protocol::message_view& m) {
  auto connection = context_.table().route(m);
  if (!connection) {
    answer_unroutable(m, "no such connection");
    return;
  }
  connection->ref().service->counters.bytes_from_tunnel += m.payload.size();
  connection->deliver(m.payload);
  if (connection->pending_bytes() > limits_.queue_limit || limits_.budget->over())
    congested_.push_back(std::move(connection));
}

void tunnel_session::on_connection_reset(const protocol::message_view& m) {
  if (auto connection = context_.table().reset_by_peer(m)) {
    log_closed(*connection, "closed by the peer");
    connection->close_after_flush();
  } else {
    LP_LOG(trace) << "Ignoring CONNECTION_RESET for stream " << m.stream_id << " connection " << m.connection_id
                  << " (not live)";
  }
}

void tunnel_session::on_stream_reset(const protocol::message_view& m) {
  auto ended = context_.table().end_stream(m);
  if (ended.empty()) {
    LP_LOG(debug) << "STREAM_RESET for stream " << m.stream_id << " ended no connection (not current, or none open)";
    return;
  }
  for (auto& connection : ended) {
    log_closed(*connection, "its stream was reset by the peer");
    connection->close_after_flush();
  }
}

void tunnel_session::on_session_reset() {
  auto ended = context_.table().end_all();
  LP_LOG(info) << "SESSION_RESET from the service; closing " << ended.size() << " connection(s)";
  for (auto& connection : ended) {
    log_closed(*connection, "the service reset the session");
    connection->close_after_flush();
  }
}

void tunnel_session::answer_unroutable(const protocol::message_view& m, const char* why) {
  auto answer = context_.table().answer_unroutable(m);
  if (!answer) {
    LP_LOG(trace) << "Dropping " << protocol::type_name(m.type) << " for stream " << m.stream_id << " connection "
                  << m.connection_id << " (already ended)";
    return;
  }
  // One answer per unknown connection (the table remembers), and at most a burst a second.
  const auto now = std::chrono::steady_clock::now();
  if (now - reset_answers_since_ >= std::chrono::seconds(1)) {
    reset_answers_since_ = now;
    reset_answers_left_ = reset_answer_burst;
  }
  if (reset_answers_left_ == 0) return;
  --reset_answers_left_;
  LP_LOG(debug) << "Answering " << protocol::type_name(m.type) << " for stream " << m.stream_id << " connection "
                << protocol::effective_connection_id(m) << " (" << why << ") with " << protocol::type_name(answer->type);
  outbox_.push_control(*answer);
}

}  // namespace localproxy::tunnel
