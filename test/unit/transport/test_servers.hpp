#pragma once
// Servers the transport tests run on 127.0.0.1 inside the test process, on the test's own
// io_context: a WebSocket service (plain or TLS), a raw TCP server that answers with canned bytes
// or says nothing, and an HTTP CONNECT web proxy (plain or TLS) that answers in pieces.
// Each keeps its state in a shared block owned by its coroutines, so a test may drop the object
// while the io_context still holds them.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "test_pki.hpp"

namespace boost::asio::ssl {
class context;
}

namespace transport_test {

using tls_server_context = std::shared_ptr<boost::asio::ssl::context>;

// A loopback port that was free a moment ago and has no listener.
[[nodiscard]] std::uint16_t unused_port(boost::asio::io_context& io);

// A TLS server context presenting `cert`.
[[nodiscard]] tls_server_context server_tls(const issued_cert& cert);

struct websocket_server_options {
  tls_server_context tls;  // null: plain ws://
  // The Sec-WebSocket-Protocol of the 101 reply: the one offered, this fixed one, or none.
  enum class reply_protocol { offered, fixed, none } protocol = reply_protocol::offered;
  std::string fixed_protocol;
  std::string channel_id = "test-channel-0001";
  bool send_text_first = false;  // a text message right after the upgrade
};

// Accepts upgrades and echoes every message back with its type.
class websocket_server {
 public:
  websocket_server(boost::asio::io_context& io, websocket_server_options options);
  [[nodiscard]] std::uint16_t port() const;
  // The upgrade requests' header text (request line and fields), in order.
  [[nodiscard]] const std::vector<std::string>& requests() const;
  // The SNI of each TLS handshake ("" when none was sent).
  [[nodiscard]] const std::vector<std::string>& server_names() const;
  struct state;

 private:
  std::shared_ptr<state> state_;
};

// Plain TCP, for replies no well-behaved server gives.
class raw_server {
 public:
  enum class mode {
    silent,              // accepts, reads nothing, writes nothing, keeps the socket open
    reply_to_request,    // reads a request header, writes `reply`, then waits for the client to go
    reply_at_once,       // writes `reply` as soon as it accepts, then waits
    close_after_request  // reads a request header and closes
  };
  raw_server(boost::asio::io_context& io, mode m, std::string reply = {});
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] int accepted() const;
  [[nodiscard]] const std::vector<std::string>& requests() const;
  struct state;

 private:
  std::shared_ptr<state> state_;
};

inline constexpr const char* connect_established = "HTTP/1.1 200 Connection established\r\n\r\n";

struct web_proxy_options {
  tls_server_context tls;                    // null: http://, else https:// (TLS to the proxy)
  std::string reply = connect_established;   // written one byte at a time (see in_pieces)
  bool in_pieces = true;                     // false: the reply in one write
  // When set, a CONNECT without exactly "Proxy-Authorization: <this>" is answered 407 instead.
  std::string required_authorization;
  bool silent = false;                       // reads the CONNECT, never answers
  std::size_t close_after = std::string::npos;  // closes after writing this many bytes of the reply
};

// An HTTP CONNECT proxy: a 2xx reply is followed by a relay to 127.0.0.1:<port of the request>.
class web_proxy {
 public:
  web_proxy(boost::asio::io_context& io, web_proxy_options options);
  [[nodiscard]] std::uint16_t port() const;
  [[nodiscard]] const std::vector<std::string>& requests() const;
  [[nodiscard]] const std::vector<std::string>& server_names() const;
  [[nodiscard]] int relayed() const;  // connections relayed to the target
  struct state;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace transport_test
