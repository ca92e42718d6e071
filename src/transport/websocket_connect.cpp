// connect_websocket: the steps in order: TCP connect, CONNECT through a web proxy (TLS to it
// first for https://), TLS to the service, WebSocket upgrade. Each step is bounded.
#include <variant>

#include <openssl/err.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "any_stream.hpp"
#include "http_connect.hpp"
#include "localproxy/log/log.hpp"
#include "localproxy/transport/tcp_connect.hpp"
#include "localproxy/transport/tls_socket.hpp"
#include "tls_context.hpp"
#include "websocket_connection_impl.hpp"

namespace localproxy::transport {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
// asio's ssl::stream (not beast::ssl_stream) because it nests: TLS to the service inside TLS to
// an https web proxy. Every way but the direct TLS one goes on over an any_stream, so that they
// share one instantiation of the WebSocket (and of the inner TLS) instead of one each.
using tls_stream = asio::ssl::stream<beast::tcp_stream>;

namespace {

bool handshake_succeeded(const boost::system::error_code& ec, const char* what, connect_failure& failure) {
  if (ec == beast::error::timeout) {
    failure = {failure_kind::timeout, 0, {}, std::string("TLS handshake with ") + what + " timed out"};
    return false;
  }
  if (ec) {
    failure = {is_certificate_failure(ec) ? failure_kind::certificate : failure_kind::tls, 0, {},
               std::string("TLS handshake with ") + what + " failed: " + tls_error_text(ec)};
    return false;
  }
  return true;
}

bool tls_prepared(SSL* ssl, const std::string& host, const websocket_target& t, const char* what,
                  connect_failure& failure) {
  boost::system::error_code ec;
  if (!ssl)
    ec = {static_cast<int>(ERR_get_error()), asio::error::get_ssl_category()};
  else
    ec = prepare_tls_client(ssl, host, t.tls_settings.verify);
  if (ec) failure = {failure_kind::tls, 0, {}, std::string("TLS set-up for ") + what + " failed: " + tls_error_text(ec)};
  return !ec;
}

// TLS through asio's stream (to an https web proxy, and to the service inside that).
template <class Stream>
asio::awaitable<bool> tls_handshake(Stream& stream, const std::string& host, const websocket_target& t,
                                    const char* what, connect_failure& failure) {
  if (!tls_prepared(stream.native_handle(), host, t, what, failure)) co_return false;
  beast::get_lowest_layer(stream).expires_after(t.step_timeout);
  auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  beast::get_lowest_layer(stream).expires_never();
  co_return handshake_succeeded(ec, what, failure);
}

// TLS straight on the TCP connection to the service.
asio::awaitable<bool> tls_handshake(tls_socket& stream, const std::string& host, const websocket_target& t,
                                    const char* what, connect_failure& failure) {
  using namespace asio::experimental::awaitable_operators;
  if (!tls_prepared(stream.native_handle(), host, t, what, failure)) co_return false;
  asio::steady_timer limit(stream.get_executor(), t.step_timeout);
  auto done = co_await (stream.handshake() ||
                        limit.async_wait(asio::as_tuple(asio::use_awaitable)));
  const boost::system::error_code ec = done.index() == 0 ? std::get<0>(done) : beast::error::timeout;
  co_return handshake_succeeded(ec, what, failure);
}

std::string host_header(const websocket_target& t) {
  const bool default_port = t.port == (t.tls ? 443 : 80);
  return default_port ? (t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host) : authority(t.host, t.port);
}

void classify_upgrade_failure(const boost::system::error_code& ec, const websocket::response_type& res,
                              const websocket_target& t, connect_failure& failure) {
  // Beast sets the response to 500 before it reads anything: its status is the service's only
  // when a reply was read, which a WebSocket-category error (upgrade declined, bad headers) says.
  const bool answered = ec.category() == make_error_code(websocket::error::upgrade_declined).category();
  const int status = answered ? static_cast<int>(res.result_int()) : 0;
  std::string body = res.body().substr(0, 200);
  for (auto& c : body)
    if (c == '\n' || c == '\r') c = ' ';
  failure.http_status = status;
  failure.channel_id = std::string(res["channel-id"]);
  if (ec == beast::error::timeout) {
    failure.kind = failure_kind::timeout;
    failure.message = "WebSocket upgrade timed out after " + std::to_string(t.step_timeout.count()) + " ms";
  } else if (status == 101) {
    // Beast read a 101 and refused it (no Upgrade or Connection field, a wrong
    // Sec-WebSocket-Accept, HTTP/1.0): the service accepted the upgrade, its answer is malformed.
    failure.kind = failure_kind::bad_response;
    failure.message = "the service answered 101 but its upgrade reply fails the WebSocket checks: " + ec.message();
  } else if (status >= 400 && status < 500) {
    failure.kind = failure_kind::http_rejected;
    failure.message = "the service answered " + std::to_string(status) + (body.empty() ? "" : ": " + body);
  } else if (status != 0) {
    failure.kind = failure_kind::http_server;
    failure.message = "the service answered " + std::to_string(status) + (body.empty() ? "" : ": " + body);
  } else if (ec.category() == make_error_code(beast::http::error::end_of_stream).category() &&
             ec != beast::http::error::end_of_stream) {
    failure.kind = failure_kind::bad_response;
    failure.message = "the service's answer to the WebSocket upgrade is not HTTP: " + ec.message();
  } else {
    failure.kind = failure_kind::network;
    failure.message = "WebSocket upgrade failed: " + ec.message();
  }
}

template <class Stream>
asio::awaitable<std::unique_ptr<websocket_connection>> upgrade(Stream stream, std::shared_ptr<asio::ssl::context> tls,
                                                               const websocket_target& t, connect_failure& failure) {
  websocket::stream<Stream> ws(std::move(stream));
  if constexpr (requires { beast::get_lowest_layer(ws).expires_never(); }) beast::get_lowest_layer(ws).expires_never();
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = t.step_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator([&t](websocket::request_type& req) {
    for (const auto& [name, value] : t.headers) req.set(name, value);
    req.set(beast::http::field::sec_websocket_protocol, t.subprotocol);
    req.set(beast::http::field::user_agent, t.user_agent);
  }));
  ws.read_message_max(t.max_message_size);
  ws.write_buffer_bytes(t.write_buffer_size);
  ws.binary(true);
  ws.auto_fragment(false);
  websocket::response_type res;
  auto [ec] = co_await ws.async_handshake(res, host_header(t), t.target, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    classify_upgrade_failure(ec, res, t, failure);
    co_return nullptr;
  }
  const std::string selected(res[beast::http::field::sec_websocket_protocol]);
  if (selected != t.subprotocol) {
    failure = {failure_kind::bad_response, static_cast<int>(res.result_int()), std::string(res["channel-id"]),
               "the service answered 101 but selected subprotocol '" + selected + "' instead of '" + t.subprotocol +
                   "'"};
    co_return nullptr;
  }
  if (t.after_step) t.after_step("the WebSocket upgrade");
  co_return std::make_unique<websocket_connection_impl<Stream>>(std::move(ws), std::move(tls),
                                                                std::string(res["channel-id"]), selected);
}

// TLS to the service (when wss) and the upgrade, over the TLS to an https web proxy.
asio::awaitable<std::unique_ptr<websocket_connection>> to_service(any_stream stream, std::shared_ptr<asio::ssl::context> tls,
                                                                  const websocket_target& t, connect_failure& failure) {
  if (!t.tls) co_return co_await upgrade(std::move(stream), tls, t, failure);
  asio::ssl::stream<any_stream> secured(std::move(stream), *tls);
  if (!co_await tls_handshake(secured, t.host, t, "the service", failure)) co_return nullptr;
  keep_tls_buffers(secured);
  co_return co_await upgrade(any_stream(std::move(secured)), tls, t, failure);
}

// The same over TCP (direct, or through an http web proxy's tunnel).
asio::awaitable<std::unique_ptr<websocket_connection>> to_service(beast::tcp_stream stream,
                                                                  std::shared_ptr<asio::ssl::context> tls,
                                                                  const websocket_target& t, connect_failure& failure) {
  if (!t.tls) co_return co_await upgrade(any_stream(std::move(stream)), tls, t, failure);
  tls_socket secured(stream.release_socket(), tls->native_handle());
  if (!co_await tls_handshake(secured, t.host, t, "the service", failure)) co_return nullptr;
  if (t.after_step) t.after_step("the TLS handshake");
  co_return co_await upgrade(std::move(secured), tls, t, failure);
}

}  // namespace

asio::awaitable<std::unique_ptr<websocket_connection>> connect_websocket(const websocket_target& t,
                                                                          connect_failure& failure) {
  auto ex = co_await asio::this_coro::executor;
  // First: on the first attempt a CA directory's warning comes before any connection.
  auto tls = shared_tls_context(t.tls_settings);
  const auto& dial_host = t.proxy ? t.proxy->host : t.host;
  const auto dial_port = t.proxy ? t.proxy->port : t.port;
  if (t.proxy) LP_LOG(info) << "Using web proxy " << authority(dial_host, dial_port) << (t.proxy->tls ? " (https)" : "");
  asio::ip::tcp::socket socket(ex);
  if (auto ec = co_await connect_tcp(socket, dial_host, dial_port, t.step_timeout)) {
    const bool unresolved = ec.category() == asio::error::get_netdb_category() ||
                            ec.category() == asio::error::get_addrinfo_category();
    failure = {ec == asio::error::timed_out ? failure_kind::timeout
               : unresolved                 ? failure_kind::dns
                                            : failure_kind::network,
               0, {},
               "cannot connect to " + std::string(t.proxy ? "web proxy " : "") + authority(dial_host, dial_port) + ": " +
                   ec.message()};
    co_return nullptr;
  }
  if (t.after_step) t.after_step("the TCP connect");
  beast::tcp_stream tcp(std::move(socket));
  if (t.proxy && t.proxy->tls) {
    tls_stream to_proxy(std::move(tcp), *tls);
    if (!co_await tls_handshake(to_proxy, t.proxy->host, t, "the web proxy", failure)) co_return nullptr;
    keep_tls_buffers(to_proxy);
    any_stream proxied(std::move(to_proxy));
    if (!co_await http_connect(proxied, t, failure)) co_return nullptr;
    co_return co_await to_service(std::move(proxied), tls, t, failure);
  }
  if (t.proxy && !co_await http_connect(tcp, t, failure)) co_return nullptr;
  co_return co_await to_service(std::move(tcp), tls, t, failure);
}

}  // namespace localproxy::transport
