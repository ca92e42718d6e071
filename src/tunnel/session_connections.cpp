// The session's local connections: opening them (source: accepted clients; destination: dialing
// the mapped service), ending them in order, and the backpressure that bounds their queues.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/transport/tcp_connect.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
template <class Socket>
local_connection::socket_type to_generic(Socket& socket) {
  const auto protocol = socket.local_endpoint().protocol();
  return local_connection::socket_type(socket.get_executor(), asio::generic::stream_protocol(protocol), socket.release());
}

std::string describe_target(const config::service_mapping& m) {
  if (!m.unix_path.empty()) return m.unix_path;
  return (m.host.empty() ? std::string("localhost") : m.host) + ", port: " + std::to_string(m.port);
}
}  // namespace

std::shared_ptr<local_connection> tunnel_session::make_connection(const connection_ref& ref) {
  auto& table = context_.table();
  auto limits = limits_;
  // A V1/V2 service carries one connection at a time: a lingering one would refuse the next client.
  if (!table.peer().multiplexed) limits.half_close_linger = milliseconds(0);
  auto connection = std::make_shared<local_connection>(context_.executor(), ref, std::string(table.wire_service_id(*ref.service)),
                                                       table.wire_connection_id(ref.connection_id), limits, outbox_);
  table.attach(ref, connection);
  return connection;
}

void tunnel_session::start_connection(const std::shared_ptr<local_connection>& connection, local_stream stream) {
  std::weak_ptr<tunnel_session> weak = shared_from_this();
  connection->start(std::move(stream), [weak](local_connection& c) {
    if (auto self = weak.lock(); self && !self->shut_down_)
      self->local_ended(c, self->role_is_source() ? "closed by the client" : "closed by the application");
  });
}

void tunnel_session::adopt(const std::string& service_id, local_stream stream, const std::string& peer) {
  auto& table = context_.table();
  service_entry* service = table.find(service_id);
  const auto& tunables = context_.options().tunables;
  if (!service || shut_down_) return;
  if (table.live_connections(*service) >= tunables.max_active_connections) {
    ++service->counters.refused;
    LP_LOG(warning) << "Refusing connection from " << peer << ": service " << service->id << " already has "
                    << tunables.max_active_connections << " connections (tcp.max_active_connections)";
    return;
  }
  auto opened = table.open_connection(*service);
  if (!opened) {
    LP_LOG(warning) << "Refusing connection from " << peer << ": the destination speaks V"
                    << table.peer().version() << ", which carries one connection per service, and "
                    << (service->id.empty() ? std::string("the service") : service->id) << " has one open";
    return;
  }
  LP_LOG(info) << "Opened " << describe_connection(opened->ref) << " for " << peer << " ("
               << protocol::type_name(opened->start_type) << ")";
  // The start is queued first, so no data frame of the connection can leave before it. It wakes
  // the writer through the event loop; the connection's first read comes before that, and bytes
  // the client sent with its connect resume the writer at once: they leave with the start (in its
  // message when it is a CONNECTION_START).
  outbox_.push_control(table.address(opened->start_type, opened->ref));
  start_connection(make_connection(opened->ref), std::move(stream));
}

asio::awaitable<void> tunnel_session::connect_local(std::shared_ptr<tunnel_session> self,
                                                    std::shared_ptr<local_connection> connection) {
  // The rest of the message that started the connection is handled first: the client's first
  // bytes, which come with the start, are queued then, and go to the application in the call that
  // starts the connection, before its reader's first read and before the log line.
  // That rest may end the connection, its service's entry too (a new SERVICE_IDS): nothing of
  // either is read before the check.
  co_await asio::post(context_.executor(), asio::use_awaitable);
  if (connection->closed() || shut_down_) co_return;
  const auto ref = connection->ref();
  const auto mapping = ref.service->mapping;
  const auto& s = context_.options().tunables;
  // connection_retry_count -1: retry until it works or the peer gives up on the stream.
  const bool forever = s.connection_retry_count < 0;
  const int attempts = 1 + std::max(0, s.connection_retry_count);
  asio::steady_timer delay(context_.executor());
  for (int attempt = 1; forever || attempt <= attempts; ++attempt) {
    if (connection->closed() || shut_down_) co_return;
    boost::system::error_code ec;
    if (!mapping.unix_path.empty()) {
      asio::local::stream_protocol::socket socket(context_.executor());
      ec = co_await transport::connect_unix(socket, mapping.unix_path, milliseconds(s.tcp_connect_timeout_ms));
      if (!ec && !connection->closed() && !shut_down_) {
        start_connection(connection, to_generic(socket));  // first: it writes what waits at once
        LP_LOG(info) << "Connected to " << mapping.unix_path << " for " << describe_connection(ref);
        co_return;
      }
    } else {
      local_connection::socket_type socket(context_.executor());
      const auto host = mapping.host.empty() ? std::string("localhost") : mapping.host;
      ec = co_await transport::connect_tcp(socket, host, mapping.port, milliseconds(s.tcp_connect_timeout_ms),
                                           &local_names_);
      if (!ec && !connection->closed() && !shut_down_) {
        start_connection(connection, std::move(socket));  // first: it writes what waits at once
        LP_LOG(info) << "Connected to " << host << ", port: " << mapping.port << " for " << describe_connection(ref);
        co_return;
      }
    }
    if (connection->closed() || shut_down_) co_return;
    LP_LOG(warning) << "Could not connect to " << describe_target(mapping) << " for " << ref.service->id
                    << " (attempt " << attempt << (forever ? std::string() : " of " + std::to_string(attempts))
                    << "): " << ec.message();
    if (!forever && attempt == attempts) break;
    delay.expires_after(milliseconds(s.connection_retry_delay_ms));
    co_await delay.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (connection->closed() || shut_down_) co_return;
  LP_LOG(error) << "Giving up connecting to " << describe_target(mapping) << "; resetting the connection";
  local_ended(*connection, "the application could not be reached");
  connection->abort();
  (void)self;
}

void tunnel_session::local_ended(local_connection& connection, const char* how) {
  auto reset = context_.table().close_connection(connection.ref(), &connection);
  if (!reset) return;
  log_closed(connection, how);
  outbox_.push_control(*reset);
}

void tunnel_session::end_connections(const char* how) {
  congested_.clear();
  std::vector<std::shared_ptr<local_connection>> live;
  for (auto& s : context_.table().services())
    for (const auto& [id, connection] : s.connections)
      if (connection) live.push_back(connection);
  for (auto& connection : live) {
    local_ended(*connection, how);
    connection->abort();
  }
}

void tunnel_session::log_closed(const local_connection& connection, std::string_view how) const {
  LP_LOG(info) << "Disconnected from: " << describe_connection(connection.ref()) << ", " << how << " ("
               << connection.summary() << ")";
}

void tunnel_session::reset_connection(const std::shared_ptr<local_connection>& connection, const char* why) {
  const auto ref = connection->ref();
  LP_LOG(warning) << "Resetting " << describe_connection(ref) << ": " << why << " (" << connection->summary() << ")";
  if (auto reset = context_.table().close_connection(ref, connection.get())) outbox_.push_control(*reset);
  connection->abort();
}

std::shared_ptr<local_connection> tunnel_session::most_stalled_holder() {
  std::shared_ptr<local_connection> stalled;
  for (auto& s : context_.table().services())
    for (auto& [id, c] : s.connections)
      if (c && c->pending_bytes() > 0 && (!stalled || c->last_progress() < stalled->last_progress())) stalled = c;
  return stalled;
}

asio::awaitable<void> tunnel_session::relieve_backpressure() {
  // The protocol has no per-stream flow control: pausing the WebSocket reader is the only way to
  // bound a slow application's queue. A connection that stops moving is reset so that it cannot
  // hold up every other connection; a slow but moving one is waited for.
  const auto stall = milliseconds(context_.options().tunables.stall_timeout_ms);
  // Waits while `over` holds for c; true when c stopped moving for the stall timeout.
  auto stalls = [&](const std::shared_ptr<local_connection>& c, auto over) -> asio::awaitable<bool> {
    while (!c->closed() && !end_ && over()) {
      const auto deadline = c->last_progress() + stall;
      if (std::chrono::steady_clock::now() >= deadline) co_return true;
      co_await c->progress().wait_until(deadline);
    }
    co_return false;
  };
  auto congested = std::move(congested_);
  congested_.clear();
  for (auto& c : congested)
    if (co_await stalls(c, [&] { return c->pending_bytes() > limits_.queue_limit; }))
      reset_connection(c, "the local application stopped reading (tcp.stall_timeout_ms)");
  // All connections together over tcp.total_buffer_size: the tunnel waits, and the connection
  // that has gone longest without progress is reset first once it passes the stall timeout (a
  // fresh burst to an application that is reading must not pay for old stalled ones).
  auto& budget = *limits_.budget;
  for (bool logged = false; budget.over() && !end_;) {
    auto stalled = most_stalled_holder();
    if (!stalled) break;
    if (!logged) {
      LP_LOG(warning) << "Buffered payload is over tcp.total_buffer_size (" << budget.limit()
                      << " bytes); pausing the tunnel until the connections that stopped reading drain or are reset";
      logged = true;
    }
    if (co_await stalls(stalled, [&] { return budget.over() && stalled == most_stalled_holder(); }))
      reset_connection(stalled, "the local application stopped reading while all buffers were full (tcp.stall_timeout_ms)");
  }
}

}  // namespace localproxy::tunnel
