#pragma once
// TLS straight on a TCP socket, for Beast's WebSocket stream.
//
// asio's ssl::stream runs OpenSSL through a memory BIO pair: every 16 KiB record is copied into
// the pair, out of it into asio's buffer, and written or read by its own asynchronous operation,
// each completion a trip through the event loop. Here OpenSSL reads and writes the socket itself
// (non-blocking): a read takes up to read_ahead bytes from the kernel at once and hands back as
// many records as the caller's buffer holds; a write encrypts from the caller's buffer and sends
// each record as it is made. The event loop is involved only when the socket would block.
//
// Used for TLS directly on a TCP connection (with or without an http:// web proxy in front); TLS
// inside TLS (an https:// web proxy) keeps asio's stream. The test tunnel-service accepts with it
// too (the server's handshake), so that its relay does not cost more than the proxies it carries.
#include <openssl/ssl.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>

namespace localproxy::transport {

class tls_socket {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using next_layer_type = boost::asio::ip::tcp::socket;

  // Takes a connected socket; no I/O until handshake().
  tls_socket(boost::asio::ip::tcp::socket socket, SSL_CTX* context);
  ~tls_socket();
  tls_socket(tls_socket&& other) noexcept;
  tls_socket& operator=(tls_socket&&) = delete;
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;

  [[nodiscard]] executor_type get_executor() noexcept { return socket_.get_executor(); }
  [[nodiscard]] next_layer_type& next_layer() noexcept { return socket_; }
  // Null only after a move; SNI and name checks are set on it before the handshake.
  [[nodiscard]] SSL* native_handle() noexcept { return ssl_; }

  // The TLS handshake, as the client (connect) or the server (accept). Not bounded: the caller
  // cancels or closes the socket to give up.
  boost::asio::awaitable<boost::system::error_code> handshake(
      boost::asio::ssl::stream_base::handshake_type type = boost::asio::ssl::stream_base::client);

  // Reads what is there now into `buffers` without blocking: the bytes read, or would_block
  // (nothing yet), eof (close_notify), another error.
  template <class MutableBuffers>
  std::size_t read_now(const MutableBuffers& buffers, boost::system::error_code& ec) {
    std::size_t total = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::mutable_buffer b(*it);
      if (b.size() == 0) continue;
      total += read_into(static_cast<char*>(b.data()), b.size(), ec);
      if (ec || !more_buffered()) break;
    }
    if (total > 0) ec = {};
    return total;
  }

  // Writes from `buffers` what the socket takes now without blocking: the bytes written (whole
  // records), or would_block, or an error. Small leading pieces (a WebSocket frame header) are
  // gathered with what follows into one record instead of a record each; the rest follows from
  // the buffers themselves. Every record but the last of the call is sent with MSG_MORE: the
  // kernel holds a partial segment for the record that follows at once, so that a message of
  // several records reaches the reader as a few large segments instead of one small one each (as
  // TCP_CORK would, without the two setsockopt calls per message around it). The last record
  // goes out at once, as TCP_NODELAY wants.
  template <class ConstBuffers>
  std::size_t write_now(const ConstBuffers& buffers, boost::system::error_code& ec) {
    auto it = boost::asio::buffer_sequence_begin(buffers);
    const auto end = boost::asio::buffer_sequence_end(buffers);
    while (it != end && boost::asio::const_buffer(*it).size() == 0) ++it;
    if (it == end) {
      ec = {};
      return 0;
    }
    const boost::asio::const_buffer first(*it);
    auto next = it;
    ++next;
    if (first.size() >= record_size || next == end) return write_from(first.data(), first.size(), ec, false);
    const auto start = it;
    std::size_t staged = 0;
    for (; it != end && staged < record_size; ++it) {
      const boost::asio::const_buffer b(*it);
      const std::size_t n = std::min(b.size(), record_size - staged);
      std::memcpy(stage_.get() + staged, b.data(), n);
      staged += n;
    }
    // Every byte of the call is sent in it unless the socket stops taking them: a piece is followed
    // at once by more when it ends before the buffers do.
    const std::size_t all = boost::asio::buffer_size(buffers);
    std::size_t total = write_from(stage_.get(), staged, ec, staged < all);
    if (ec || total < staged) return total;
    // The rest in place, in the same call (a whole message is one write, not one per record run).
    std::size_t skip = staged;
    for (it = start; it != end; ++it) {
      boost::asio::const_buffer b(*it);
      if (skip >= b.size()) {
        skip -= b.size();
        continue;
      }
      b += skip;
      skip = 0;
      boost::system::error_code rest_ec;
      const std::size_t n = write_from(b.data(), b.size(), rest_ec, total + b.size() < all);
      total += n;
      if (rest_ec || n < b.size()) break;  // what went is reported; the rest comes back next call
    }
    return total;
  }

  // Sends close_notify if the socket takes it now, and ends the TCP connection's sending side.
  void shutdown() noexcept;

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<read_kind, MutableBuffers>{this, buffers}, token, socket_);
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        io_op<write_kind, ConstBuffers>{this, buffers}, token, socket_);
  }

 private:
  static constexpr std::size_t record_size = 16384;
  struct read_kind {};
  struct write_kind {};

  // One read or write: tried at once; while the socket would block, waits for it and tries again.
  // A result found at once is posted, not delivered inside the initiating call.
  template <class Kind, class Buffers>
  struct io_op {
    tls_socket* self;
    Buffers buffers;
    enum { start, waiting, posted } state = start;
    boost::system::error_code result{};
    std::size_t bytes = 0;

    template <class Self>
    void operator()(Self& op, boost::system::error_code wait_ec = {}) {
      if (state == posted) return op.complete(result, bytes);
      if (wait_ec) return op.complete(wait_ec, 0);
      const bool first = state == start;
      if constexpr (std::is_same_v<Kind, read_kind>) {
        // The last read emptied the socket and left nothing in the SSL (no bytes decrypted, no part
        // of a record): a recv now would only say would_block, so the read waits at once (asio's
        // wait re-arms the descriptor: bytes that came meanwhile wake it at once). A read of no
        // bytes completes at once, as before.
        if (first && self->drained_ && boost::asio::buffer_size(buffers) > 0) {
          self->drained_ = false;
          state = waiting;
          return self->socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(op));
        }
        bytes = self->read_now(buffers, result);
      } else {
        bytes = self->write_now(buffers, result);
      }
      if (result == boost::asio::error::would_block) {
        state = waiting;
        const auto what = self->wants_write_ ? boost::asio::ip::tcp::socket::wait_write
                                             : boost::asio::ip::tcp::socket::wait_read;
        return self->socket_.async_wait(what, std::move(op));
      }
      if (first) {
        state = posted;
        return boost::asio::post(std::move(op));
      }
      op.complete(result, bytes);
    }
  };

  std::size_t read_into(char* data, std::size_t size, boost::system::error_code& ec);
  // `more_follows`: this call sends more right after these bytes (their last record goes with
  // MSG_MORE too).
  std::size_t write_from(const void* data, std::size_t size, boost::system::error_code& ec, bool more_follows);
  [[nodiscard]] bool more_buffered() const noexcept;
  // The error_code for a failed SSL call (`ret` its return), setting wants_write_ on would_block.
  boost::system::error_code failure(int ret);

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  std::unique_ptr<char[]> stage_;
  bool wants_write_ = false;  // the last would_block waits for the socket to take more
  // The last read's last recv got less than it asked for, and nothing it read is left in the SSL:
  // the next read waits for the socket before it tries (read_into, io_op).
  bool drained_ = false;
};

// Whether a WebSocket over `Stream` is corked around a message of several records (tcp_cork):
// tls_socket sends them with MSG_MORE itself (write_now), the other streams need the cork.
template <class Stream>
inline constexpr bool corks_messages = !std::is_same_v<Stream, tls_socket>;

// Beast's WebSocket close: after the closing handshake, TLS and TCP end (no wait for the peer's
// close_notify: the WebSocket close frames already said everything was received).
void teardown(boost::beast::role_type, tls_socket& stream, boost::system::error_code& ec);

template <class Handler>
void async_teardown(boost::beast::role_type, tls_socket& stream, Handler&& handler) {
  stream.shutdown();
  auto ex = boost::asio::get_associated_executor(handler, stream.get_executor());
  boost::asio::post(ex, boost::beast::bind_front_handler(std::forward<Handler>(handler), boost::system::error_code{}));
}

}  // namespace localproxy::transport
