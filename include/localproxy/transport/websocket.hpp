#pragma once
// A client WebSocket to the tunneling service, behind a small interface so that the session
// does not see Beast, TLS or proxies (and can be driven by a scripted fake in unit tests).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>

namespace localproxy::transport {

struct tls_options {
  bool verify = true;      // false with -k (logged loudly by the caller)
  std::string capath;      // extra OpenSSL hashed CA directory, added to the system store
};

struct http_proxy {
  std::string host;
  std::uint16_t port = 3128;
  bool tls = false;
  std::string user;
  std::string password;  // never logged
};

struct websocket_target {
  std::string host;
  std::uint16_t port = 443;
  bool tls = true;
  std::string target = "/";                                   // path and query
  std::vector<std::pair<std::string, std::string>> headers;   // may hold secrets: never logged
  std::string subprotocol;                                    // offered, and required in the reply
  std::string user_agent;
  std::chrono::milliseconds step_timeout{30000};              // each of resolve, connect, TLS, upgrade
  tls_options tls_settings;
  std::optional<http_proxy> proxy;
  std::size_t max_message_size = 131076;
  // Client frames are masked through this buffer; Beast's 4 KiB default splits every large
  // message into many small TLS records and writes.
  std::size_t write_buffer_size = 131076;
  // Called after each step of the connect that touches much code once (the TCP connect, the TLS
  // handshake, the WebSocket upgrade), with the step's name: the caller may give back what the
  // step alone needed.
  std::function<void(std::string_view step)> after_step;
};

enum class failure_kind {
  network,          // connect/read/write failure; retry
  dns,              // the host name (the service's or the web proxy's) did not resolve; retry
  timeout,          // a step took longer than step_timeout; retry
  tls,              // TLS handshake failed; retry
  certificate,      // the peer's certificate was not verified (untrusted CA, wrong name); retry
  http_rejected,    // 4xx on the upgrade: do not retry
  http_server,      // 5xx or another unexpected status: retry
  bad_response,     // 101 but wrong/missing subprotocol, or garbage: retry
  proxy_rejected,   // the web proxy answered CONNECT with 4xx (407 included): do not retry
  proxy_failed,     // the web proxy answered 5xx or failed: retry
};

struct connect_failure {
  failure_kind kind = failure_kind::network;
  int http_status = 0;          // when the failure came with an HTTP status
  std::string channel_id;       // when the service sent one
  std::string message;          // one line, no secrets
  [[nodiscard]] bool retryable() const noexcept {
    return kind != failure_kind::http_rejected && kind != failure_kind::proxy_rejected;
  }
};

enum class control_frame { ping, pong, close };

struct close_info {
  bool received = false;     // the peer sent a close frame
  std::uint16_t code = 0;    // 1000 = normal
  std::string reason;
};

class websocket_connection {
 public:
  virtual ~websocket_connection() = default;

  // Reads one whole binary message; `message` views it until the next read (the storage is the
  // connection's, reused, never zero-filled). A text message is an error.
  virtual boost::asio::awaitable<boost::system::error_code> read(std::span<const std::uint8_t>& message) = 0;
  // Writes one binary message made of these buffers. At most one write at a time.
  virtual boost::asio::awaitable<boost::system::error_code> write(
      std::span<const boost::asio::const_buffer> buffers) = 0;
  // May run beside a write. Pongs are answered by the implementation, within read().
  virtual boost::asio::awaitable<boost::system::error_code> ping(std::string_view payload) = 0;
  // Called from within read() for each control frame received.
  virtual void on_control(std::function<void(control_frame, std::string_view payload)> callback) = 0;
  // Sends a close frame (normal closure) and waits, bounded, for the peer's.
  virtual boost::asio::awaitable<void> close() = 0;
  // Closes the socket at once; pending operations complete with an error.
  virtual void abort() noexcept = 0;

  [[nodiscard]] virtual const std::string& channel_id() const noexcept = 0;
  [[nodiscard]] virtual const std::string& subprotocol() const noexcept = 0;
  [[nodiscard]] virtual close_info closed_by_peer() const = 0;
};

// Sets up TLS for these settings (OpenSSL's initialisation, the client context, the CA store)
// ahead of the first connect_websocket, which would otherwise do it then; a later call, or
// connect_websocket, reuses what it made.
void prepare_tls(const tls_options& options);

// Resolves, connects (every address tried, TCP_NODELAY), goes through the web proxy if any,
// TLS (SNI, verification), WebSocket upgrade. On failure returns nullptr and fills `failure`.
boost::asio::awaitable<std::unique_ptr<websocket_connection>> connect_websocket(
    const websocket_target& target, connect_failure& failure);

}  // namespace localproxy::transport
