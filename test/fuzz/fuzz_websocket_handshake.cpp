// The WebSocket upgrade as the client sees it. The checks on the service's reply live inside
// connect_websocket (Beast's handshake, then the subprotocol and channel-id checks and the
// classification of a refusal), with no function of their own, so this target drives the real
// connect_websocket (ws://, no TLS) against a loopback server of its own that answers with the
// input: the reply header and body first, then, after the line "@@FRAMES@@", raw WebSocket frames
// from the server. In the reply, {ACCEPT} becomes the Sec-WebSocket-Accept for the client's key
// and {PROTO} the subprotocol the client offered.
// Checks: a connection comes back only for a 101 that selects the offered subprotocol; a refusal
// is classified by its status (4xx: no retry) with a one-line message; reading the frames that
// follow never yields more than the message limit and ends with an error, not a hang.
#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cstdlib>
#include <chrono>
#include <memory>
#include <span>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "fuzz_common.hpp"
#include "localproxy/transport/websocket.hpp"

namespace {

namespace asio = boost::asio;
namespace lt = localproxy::transport;
using asio::ip::tcp;

constexpr std::string_view frames_marker = "@@FRAMES@@\n";
constexpr std::size_t max_message = 4096;  // small, so that the limit is reached

std::string accept_key(std::string_view key) {
  const std::string input = std::string(key) + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
  return {reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(n)};
}

void replace_all(std::string& s, std::string_view from, const std::string& to) {
  for (auto at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

std::string header_value(const std::string& request, std::string_view name) {
  // Beast writes "Sec-WebSocket-Key: <value>\r\n".
  const auto at = request.find(std::string(name) + ": ");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 2;
  return request.substr(start, request.find("\r\n", start) - start);
}

struct server_state {
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
};

server_state& state() {
  static server_state s;
  return s;
}

// Serves one connection: reads the upgrade request, answers with the input, then half-closes.
// `sent_token`: what it sends holds the access token (the input may split it across the marker,
// or a substitution may complete it).
asio::awaitable<void> serve(std::string reply, std::string frames, const std::string& subprotocol, bool& sent_token) {
  auto& s = state();
  auto [aec, socket] = co_await s.acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
  if (aec) co_return;
  std::string request;
  auto [rec, n] = co_await asio::async_read_until(socket, asio::dynamic_buffer(request, 8192), "\r\n\r\n",
                                                  asio::as_tuple(asio::use_awaitable));
  if (rec) co_return;
  (void)n;
  replace_all(reply, "{ACCEPT}", accept_key(header_value(request, "Sec-WebSocket-Key")));
  replace_all(reply, "{PROTO}", subprotocol);
  sent_token = (reply + frames).find("token-value") != std::string::npos;
  auto [wec, wn] = co_await asio::async_write(socket, asio::buffer(reply + frames), asio::as_tuple(asio::use_awaitable));
  (void)wn;
  boost::system::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  // Drain what the client sends (its close frame) until it closes.
  char sink[512];
  for (int i = 0; i < 64 && !wec; ++i) {
    auto [e, got] = co_await socket.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
    (void)got;
    if (e) break;
  }
}

asio::awaitable<void> client(const lt::websocket_target& target, const bool& reply_has_token, bool& done) {
  lt::connect_failure failure;
  failure.message = "(untouched)";
  auto ws = co_await lt::connect_websocket(target, failure);
  if (!ws) {
    fuzz::check(!failure.message.empty() && failure.message != "(untouched)", "a failed upgrade without a message");
    fuzz::check(failure.message.find_first_of("\r\n") == std::string::npos,
                "the failure message spans lines: " + fuzz::printable(failure.message));
    // The reply's body is quoted on purpose; the token must not show unless the reply itself has it.
    fuzz::check(failure.message.find("token-value") == std::string::npos || reply_has_token,
                "the failure message shows the access token");
    const int status = failure.http_status;
    // A 101 the checks refuse is the service's malformed acceptance, not a server error.
    fuzz::check(status != 101 || failure.kind == lt::failure_kind::bad_response,
                "a refused 101 is not a bad response: " + fuzz::printable(failure.message));
    if (failure.kind == lt::failure_kind::http_rejected) {
      fuzz::check(status >= 400 && status < 500, "no retry after status " + std::to_string(status));
    } else {
      fuzz::check(failure.retryable(), "a failure that is not a 4xx is not retried");
      fuzz::check(!(status >= 400 && status < 500), "status " + std::to_string(status) + " is retried");
    }
    done = true;
    co_return;
  }
  fuzz::check(ws->subprotocol() == target.subprotocol,
              "connected with subprotocol '" + fuzz::printable(ws->subprotocol()) + "' instead of the one offered");
  std::span<const std::uint8_t> message;  // a view of the connection's buffer, until the next read
  for (int i = 0; i < 64; ++i) {
    auto ec = co_await ws->read(message);
    if (ec) break;
    fuzz::check(message.size() <= max_message, "a message over read_message_max: " + std::to_string(message.size()));
  }
  ws->abort();
  done = true;
}

void set_up() {
  // connect_websocket makes a TLS context (the system CA store) even for ws://; this target has no
  // TLS, and reading the store under ASan costs about 250 ms an input.
  ::setenv("SSL_CERT_FILE", "/nonexistent/lp-fuzz", 1);
  ::setenv("SSL_CERT_DIR", "/nonexistent/lp-fuzz", 1);
  (void)state();
}

}  // namespace

LP_FUZZ_INITIALIZE(set_up())

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 65536) return -1;
  const std::string input(fuzz::as_text(data, size));
  const auto marker = input.find(frames_marker);
  const std::string reply = input.substr(0, marker);
  const std::string frames = marker == std::string::npos ? std::string() : input.substr(marker + frames_marker.size());

  auto& s = state();
  lt::websocket_target target;
  target.host = "127.0.0.1";
  target.port = s.acceptor.local_endpoint().port();
  target.tls = false;
  target.target = "/tunnel?local-proxy-mode=source";
  target.headers = {{"access-token", "token-value"}};
  target.subprotocol = "aws.iot.securetunneling-3.0";
  target.user_agent = "fuzz";
  target.step_timeout = std::chrono::milliseconds(500);
  target.max_message_size = max_message;
  target.write_buffer_size = 4096;

  bool done = false;
  bool reply_has_token = false;
  asio::co_spawn(s.ioc, serve(reply, frames, target.subprotocol, reply_has_token), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  asio::co_spawn(s.ioc, client(target, reply_has_token, done), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  s.ioc.restart();
  while (!s.ioc.stopped() && std::chrono::steady_clock::now() < deadline) s.ioc.run_for(std::chrono::milliseconds(10));
  fuzz::check(done, "connect_websocket did not finish within 3 s (each step is bounded by 500 ms)");
  fuzz::check(s.ioc.stopped(), "work still pending after the client finished");
  return 0;
}
