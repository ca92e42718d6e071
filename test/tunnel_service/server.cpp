#include "server.hpp"

#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/transport/socket_options.hpp"
#include "localproxy/transport/tls_socket.hpp"
#include "peer_impl.hpp"

namespace tunnel_service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

// For the TLS handshake, and again for the upgrade request.
constexpr std::chrono::seconds handshake_limit{10};

// Gives up on a connection that has not got through a handshake in time. Beast's tcp_stream has
// a timer of its own; a bare socket (under tls_socket) is closed when time is up, which ends what
// waits on it. cancel() (or destruction) must come before the socket moves: an expiry already
// queued reaches the socket only through the pointer cancel() clears.
class deadline {
 public:
  deadline(beast::tcp_stream& stream, std::chrono::steady_clock::duration limit) : stream_(&stream) {
    stream.expires_after(limit);
  }
  deadline(asio::ip::tcp::socket& socket, std::chrono::steady_clock::duration limit)
      : state_(std::make_shared<timer_state>(&socket)) {
    timer_.emplace(socket.get_executor(), limit);
    timer_->async_wait([state = state_](boost::system::error_code ec) {
      if (ec || !state->socket) return;
      state->expired = true;
      boost::system::error_code ignored;
      state->socket->close(ignored);
    });
  }
  ~deadline() { cancel(); }
  deadline(const deadline&) = delete;
  deadline& operator=(const deadline&) = delete;

  void cancel() {
    if (stream_) std::exchange(stream_, nullptr)->expires_never();
    if (state_ && state_->socket) {
      state_->socket = nullptr;
      timer_->cancel();
    }
  }
  // True when this closed the socket (a tcp_stream reports its own timeout).
  [[nodiscard]] bool expired() const { return state_ && state_->expired; }

 private:
  struct timer_state {
    explicit timer_state(asio::ip::tcp::socket* s) : socket(s) {}
    asio::ip::tcp::socket* socket;
    bool expired = false;
  };
  beast::tcp_stream* stream_ = nullptr;
  std::shared_ptr<timer_state> state_;
  std::optional<asio::steady_timer> timer_;
};

const char* const subprotocols[] = {"aws.iot.securetunneling-3.0", "aws.iot.securetunneling-2.0",
                                    "aws.iot.securetunneling-1.0"};

std::string shown(const std::string& token) { return token.substr(0, 4) + "…"; }

std::string query_value(std::string_view target, std::string_view key) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    if (pair.substr(0, pair.find('=')) == key && pair.find('=') != std::string_view::npos)
      return std::string(pair.substr(pair.find('=') + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

std::string cookie_token(std::string_view cookies) {
  const std::string_view name = "awsiot-tunnel-token=";
  auto at = cookies.find(name);
  if (at == std::string_view::npos) return {};
  auto value = cookies.substr(at + name.size());
  return std::string(value.substr(0, value.find(';')));
}

std::string pick_subprotocol(std::string_view offered) {
  for (const char* p : subprotocols)
    if (offered.find(p) != std::string_view::npos) return p;
  return {};
}

struct verdict {
  http::status status = http::status::switching_protocols;
  std::string reason;
  std::shared_ptr<tunnel> t;
  role r = role::source;
  std::string subprotocol;
};

verdict judge(const http::request<http::empty_body>& req, registry& tunnels) {
  verdict v;
  auto fail = [&v](http::status s, std::string why) {
    v.status = s;
    v.reason = std::move(why);
    return v;
  };
  const std::string_view target = req.target();
  if (target.substr(0, target.find('?')) != "/tunnel") return fail(http::status::bad_request, "path must be /tunnel");
  if (!websocket::is_upgrade(req)) return fail(http::status::bad_request, "not a WebSocket upgrade");
  const auto mode = query_value(target, "local-proxy-mode");
  if (mode != "source" && mode != "destination")
    return fail(http::status::bad_request, "local-proxy-mode must be source or destination");
  v.subprotocol = pick_subprotocol(req[http::field::sec_websocket_protocol]);
  if (v.subprotocol.empty()) return fail(http::status::bad_request, "no supported Sec-WebSocket-Protocol offered");
  std::string token(req["access-token"]);
  if (token.empty()) token = cookie_token(req[http::field::cookie]);
  auto [t, r] = tunnels.by_token(token);
  if (!t) return fail(http::status::unauthorized, "unknown access token");
  if (t->closed) return fail(http::status::forbidden, "tunnel is closed");
  if (role_name(r) != mode) return fail(http::status::forbidden, std::string("access token is for ") + role_name(r) + " mode");
  auto& s = t->of(r);
  const std::string client_token(req["client-token"]);
  if (s.used && (s.client_token.empty() || s.client_token != client_token))
    return fail(http::status::forbidden, s.client_token.empty() ? "access token already used" : "client token does not match");
  if (!s.used) {
    s.used = true;
    s.client_token = client_token;
  }
  v.t = t;
  v.r = r;
  return v;
}

}  // namespace

asio::awaitable<void> server::accept_loop(asio::ip::tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (ec) continue;
    socket.set_option(asio::ip::tcp::no_delay(true), ec);
    socket.set_option(localproxy::transport::tcp_notsent_lowat(localproxy::transport::unsent_limit), ec);
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> server::serve(asio::ip::tcp::socket socket) {
  if (!tls_) {
    co_await upgrade(beast::tcp_stream(std::move(socket)));
    co_return;
  }
  // OpenSSL on the socket itself, as the proxies' side does: through asio's ssl::stream this relay
  // cost more CPU per byte than either proxy, and so could limit what the benchmarks measure.
  localproxy::transport::tls_socket tls(std::move(socket), tls_->native_handle());
  boost::system::error_code ec;
  {
    deadline limit(tls.next_layer(), handshake_limit);
    ec = co_await tls.handshake(asio::ssl::stream_base::server);
    if (limit.expired()) ec = beast::error::timeout;
  }
  if (ec) {
    LP_LOG(info) << "TLS handshake failed: " << ec.message();
    co_return;
  }
  co_await upgrade(std::move(tls));
}

template <class Stream>
asio::awaitable<void> server::upgrade(Stream stream) {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(4096);
  // Also bounds the write of a rejection.
  deadline limit(beast::get_lowest_layer(stream), handshake_limit);
  auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return;
  auto req = parser.release();
  auto v = judge(req, tunnels_);
  const auto channel = tunnels_.random_text(32, true);
  if (v.status != http::status::switching_protocols) {
    LP_LOG(info) << "Rejected " << req.target() << " with " << static_cast<int>(v.status) << ": " << v.reason
                 << " (channel-id " << channel << ")";
    http::response<http::string_body> res{v.status, req.version()};
    res.set("channel-id", channel);
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(false);
    res.body() = v.reason + "\n";
    res.prepare_payload();
    co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  limit.cancel();  // before the stream moves into the WebSocket
  websocket::stream<Stream> ws(std::move(stream));
  ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
  ws.set_option(websocket::stream_base::decorator([&](websocket::response_type& res) {
    res.set(http::field::sec_websocket_protocol, v.subprotocol);
    res.set("channel-id", channel);
  }));
  ws.read_message_max(max_message);
  ws.binary(true);
  // A message goes out as one frame (reframing also cuts messages into frames: peer_impl). Beast's
  // default cuts what a server sends into frames of its 4 KiB write buffer: a 64 KiB message
  // became 16 frames, and the proxies spent most of their reading on frame headers (32 reads per
  // message instead of 2).
  ws.auto_fragment(false);
  auto [aec] = co_await ws.async_accept(req, asio::as_tuple(asio::use_awaitable));
  if (aec) co_return;
  auto self = std::make_shared<peer_impl<Stream>>(std::move(ws));
  auto t = v.t;
  // The tunnel owns this peer (side::connection): a weak reference here, or the two keep each
  // other alive once the registry lets the tunnel go (LeakSanitizer found that cycle).
  self->chunker = [weak = std::weak_ptr<tunnel>(t), &tunnels = tunnels_](std::size_t) -> std::size_t {
    const auto owner = weak.lock();
    if (!owner || !owner->reframe) return 0;  // 0: whole frames
    return tunnels.random_size(max_message);
  };
  auto& s = t->of(v.r);
  LP_LOG(info) << "Tunnel " << t->id << ": " << role_name(v.r) << " connected, token " << shown(s.token) << ", "
               << v.subprotocol << ", channel-id " << channel;
  const bool replaces = s.connection != nullptr;
  if (replaces) {
    LP_LOG(info) << "Tunnel " << t->id << ": a new " << role_name(v.r) << " replaces the connected one";
    s.connection->abort();
  }
  if (replaces || t->reset_on_connect) {
    if (auto& peer_side = t->of(other(v.r)).connection; peer_side && !t->streams.empty()) {
      LP_LOG(info) << "Tunnel " << t->id << ": resetting " << t->streams.size() << " stream(s) at the "
                   << role_name(other(v.r));
      reset_streams(*t, *peer_side);
    }
  }
  s.connection = self;
  s.subprotocol = v.subprotocol;
  self->start_writer(self);
  if (v.subprotocol != "aws.iot.securetunneling-1.0") send_service_ids(*self, *t);
  co_await relay(self, t, v.r, settings_);
}

void server::close_tunnel(tunnel& t) {
  t.closed = true;
  for (role r : {role::source, role::destination})
    if (auto& c = t.of(r).connection) c->close(1000, "tunnel closed");
}

}  // namespace tunnel_service
