#include "test_servers.hpp"

#include <array>
#include <chrono>
#include <sstream>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace transport_test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

namespace {

tcp::acceptor listen_on_loopback(asio::io_context& io) {
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor;
}

// The SNI the client sent in this server-side handshake.
template <class Tls>
std::string server_name_of(Tls& tls) {
  const char* name = SSL_get_servername(tls.native_handle(), TLSEXT_NAMETYPE_host_name);
  return name ? name : "";
}

// Waits until the peer closes (or anything fails), discarding what it sends.
template <class Stream>
asio::awaitable<void> drain(Stream& stream) {
  std::array<char, 4096> buffer;
  for (;;) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(buffer), tuple_awaitable);
    if (ec) co_return;
  }
}

// One direction of a relay; closes both sides when it ends so that the other direction ends too.
template <class From, class To>
asio::awaitable<void> pump(From& from, To& to) {
  std::array<char, 16384> buffer;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buffer), tuple_awaitable);
    if (ec) break;
    auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buffer.data(), n), tuple_awaitable);
    if (wec) break;
  }
  boost::system::error_code ignored;
  beast::get_lowest_layer(from).close(ignored);
  beast::get_lowest_layer(to).close(ignored);
}

template <class Handler>
void accept_forever(std::shared_ptr<tcp::acceptor> acceptor, Handler handle) {
  asio::co_spawn(
      acceptor->get_executor(),
      [acceptor, handle]() -> asio::awaitable<void> {
        for (;;) {
          auto [ec, socket] = co_await acceptor->async_accept(tuple_awaitable);
          if (ec) co_return;
          socket.set_option(tcp::no_delay(true), ec);
          asio::co_spawn(acceptor->get_executor(), handle(std::move(socket)), asio::detached);
        }
      },
      asio::detached);
}

}  // namespace

std::uint16_t unused_port(asio::io_context& io) {
  auto acceptor = listen_on_loopback(io);
  return acceptor.local_endpoint().port();  // closed on return
}

tls_server_context server_tls(const issued_cert& cert) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->use_certificate_chain(asio::buffer(cert.cert_pem));
  ctx->use_private_key(asio::buffer(cert.key_pem), asio::ssl::context::pem);
  return ctx;
}

// ---- websocket_server

struct websocket_server::state {
  websocket_server_options options;
  std::shared_ptr<tcp::acceptor> acceptor;
  std::vector<std::string> requests;
  std::vector<std::string> server_names;

  template <class Stream>
  asio::awaitable<void> serve_websocket(Stream stream) {
    beast::flat_buffer buffer;
    http::request<http::string_body> request;
    auto [ec, n] = co_await http::async_read(stream, buffer, request, tuple_awaitable);
    if (ec) co_return;
    std::ostringstream header;
    header << request.base();
    requests.push_back(header.str());
    websocket::stream<Stream> ws(std::move(stream));
    beast::get_lowest_layer(ws).expires_never();
    const std::string offered(request[http::field::sec_websocket_protocol]);
    ws.set_option(websocket::stream_base::decorator([this, offered](websocket::response_type& res) {
      res.set("channel-id", options.channel_id);
      if (options.protocol == websocket_server_options::reply_protocol::offered)
        res.set(http::field::sec_websocket_protocol, offered);
      else if (options.protocol == websocket_server_options::reply_protocol::fixed)
        res.set(http::field::sec_websocket_protocol, options.fixed_protocol);
    }));
    auto [aec] = co_await ws.async_accept(request, tuple_awaitable);
    if (aec) co_return;
    if (options.send_text_first) {
      ws.text(true);
      const std::string text = "a text message";
      auto [tec, tn] = co_await ws.async_write(asio::buffer(text), tuple_awaitable);
      if (tec) co_return;
    }
    for (;;) {
      beast::flat_buffer message;
      auto [rec, rn] = co_await ws.async_read(message, tuple_awaitable);
      if (rec) co_return;
      ws.binary(ws.got_binary());
      auto [wec, wn] = co_await ws.async_write(message.data(), tuple_awaitable);
      if (wec) co_return;
    }
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    beast::tcp_stream tcp_stream(std::move(socket));
    tcp_stream.expires_after(std::chrono::seconds(30));
    if (!options.tls) co_return co_await serve_websocket(std::move(tcp_stream));
    asio::ssl::stream<beast::tcp_stream> tls(std::move(tcp_stream), *options.tls);
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (ec) co_return;
    server_names.push_back(server_name_of(tls));
    co_await serve_websocket(std::move(tls));
  }
};

websocket_server::websocket_server(asio::io_context& io, websocket_server_options options)
    : state_(std::make_shared<state>()) {
  state_->options = std::move(options);
  state_->acceptor = std::make_shared<tcp::acceptor>(listen_on_loopback(io));
  accept_forever(state_->acceptor, [s = state_](tcp::socket socket) { return s->serve(std::move(socket)); });
}

std::uint16_t websocket_server::port() const { return state_->acceptor->local_endpoint().port(); }
const std::vector<std::string>& websocket_server::requests() const { return state_->requests; }
const std::vector<std::string>& websocket_server::server_names() const { return state_->server_names; }

// ---- raw_server

struct raw_server::state {
  mode m = mode::silent;
  std::string reply;
  std::shared_ptr<tcp::acceptor> acceptor;
  int accepted = 0;
  std::vector<std::string> requests;

  asio::awaitable<void> serve(tcp::socket socket) {
    ++accepted;
    if (m == mode::silent) {
      // Hold the socket without reading: the client's bytes stay unread, nothing is ever sent.
      asio::steady_timer forever(socket.get_executor(), std::chrono::hours(1));
      co_await forever.async_wait(tuple_awaitable);
      co_return;
    }
    if (m != mode::reply_at_once) {
      std::string header;
      auto [ec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(header), "\r\n\r\n", tuple_awaitable);
      if (ec) co_return;
      requests.push_back(header.substr(0, n));
      if (m == mode::close_after_request) co_return;
    }
    auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(reply), tuple_awaitable);
    if (!wec) co_await drain(socket);
  }
};

raw_server::raw_server(asio::io_context& io, mode m, std::string reply) : state_(std::make_shared<state>()) {
  state_->m = m;
  state_->reply = std::move(reply);
  state_->acceptor = std::make_shared<tcp::acceptor>(listen_on_loopback(io));
  accept_forever(state_->acceptor, [s = state_](tcp::socket socket) { return s->serve(std::move(socket)); });
}

std::uint16_t raw_server::port() const { return state_->acceptor->local_endpoint().port(); }
int raw_server::accepted() const { return state_->accepted; }
const std::vector<std::string>& raw_server::requests() const { return state_->requests; }

// ---- web_proxy

struct web_proxy::state {
  web_proxy_options options;
  std::shared_ptr<tcp::acceptor> acceptor;
  std::vector<std::string> requests;
  std::vector<std::string> server_names;
  int relayed = 0;

  static std::uint16_t requested_port(const std::string& header) {
    // "CONNECT host:port HTTP/1.1"
    const auto space = header.find(" HTTP/");
    const auto colon = header.rfind(':', space);
    if (space == std::string::npos || colon == std::string::npos) return 0;
    return static_cast<std::uint16_t>(std::stoul(header.substr(colon + 1, space - colon - 1)));
  }

  template <class Stream>
  asio::awaitable<void> handle(Stream& stream) {
    std::string header;
    auto [ec, n] = co_await asio::async_read_until(stream, asio::dynamic_buffer(header), "\r\n\r\n", tuple_awaitable);
    if (ec) co_return;
    const std::string early = header.substr(n);  // bytes the client sent before our reply
    header.resize(n);
    requests.push_back(header);
    if (options.silent) co_return co_await drain(stream);
    std::string reply = options.reply;
    if (!options.required_authorization.empty() &&
        header.find("\r\nProxy-Authorization: " + options.required_authorization + "\r\n") == std::string::npos)
      reply =
          "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\n"
          "Content-Length: 0\r\n\r\n";
    if (options.close_after < reply.size()) reply.resize(options.close_after);
    // One byte per write, each after a short pause: the client gets the reply in pieces.
    asio::steady_timer pause(stream.get_executor());
    const std::size_t piece = options.in_pieces ? 1 : reply.size();
    for (std::size_t i = 0; i < reply.size(); i += piece) {
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(&reply[i], piece), tuple_awaitable);
      if (wec) co_return;
      pause.expires_after(std::chrono::milliseconds(1));
      co_await pause.async_wait(tuple_awaitable);
    }
    if (options.close_after != std::string::npos) co_return;
    if (!(reply.starts_with("HTTP/1.") && reply.compare(8, 2, " 2") == 0)) co_return co_await drain(stream);
    tcp::socket upstream(stream.get_executor());
    auto [cec] = co_await upstream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), requested_port(header)), tuple_awaitable);
    if (cec) co_return;
    ++relayed;
    if (!early.empty()) {
      auto [eec, en] = co_await asio::async_write(upstream, asio::buffer(early), tuple_awaitable);
      if (eec) co_return;
    }
    co_await (pump(stream, upstream) && pump(upstream, stream));
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    if (!options.tls) co_return co_await handle(socket);
    asio::ssl::stream<tcp::socket> tls(std::move(socket), *options.tls);
    auto [ec] = co_await tls.async_handshake(asio::ssl::stream_base::server, tuple_awaitable);
    if (ec) co_return;
    server_names.push_back(server_name_of(tls));
    co_await handle(tls);
  }
};

web_proxy::web_proxy(asio::io_context& io, web_proxy_options options) : state_(std::make_shared<state>()) {
  state_->options = std::move(options);
  state_->acceptor = std::make_shared<tcp::acceptor>(listen_on_loopback(io));
  accept_forever(state_->acceptor, [s = state_](tcp::socket socket) { return s->serve(std::move(socket)); });
}

std::uint16_t web_proxy::port() const { return state_->acceptor->local_endpoint().port(); }
const std::vector<std::string>& web_proxy::requests() const { return state_->requests; }
const std::vector<std::string>& web_proxy::server_names() const { return state_->server_names; }
int web_proxy::relayed() const { return state_->relayed; }

}  // namespace transport_test
