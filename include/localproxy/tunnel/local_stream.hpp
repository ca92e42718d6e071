#pragma once
// What a local connection reads from and writes to: a connected TCP or Unix socket, or (source
// mode, --stdio) the process's stdin and stdout, one direction each. Both kinds take the same
// completion tokens, so the connection's loops, buffers and backpressure are the same for all.
#include <functional>
#include <memory>
#include <utility>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace localproxy::tunnel {

class local_stream {
 public:
  using socket_type = boost::asio::generic::stream_protocol::socket;

  explicit local_stream(const boost::asio::any_io_executor& ex) : socket_(ex) {}
  // A socket is a local stream (implicit: accepted and dialled sockets are handed on as they are).
  local_stream(socket_type socket) : socket_(std::move(socket)) {}  // NOLINT(google-explicit-constructor)
  // Takes over stdin (read) and stdout (write). on_closed is posted once they are given back
  // (close, or destruction). Throws std::runtime_error when either is not open.
  [[nodiscard]] static local_stream standard_io(const boost::asio::any_io_executor& ex, std::function<void()> on_closed);

  local_stream(local_stream&&) noexcept = default;
  local_stream& operator=(local_stream&& other) noexcept;  // closes what it held first
  ~local_stream();

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (stdio_) return stdio_->in.async_read_some(buffers, std::forward<Token>(token));
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }
  // Waits until a read would not block (data, the end of the stream or an error), reading nothing:
  // a connection waiting for its application holds no buffer. Call only after a read returned
  // would_block (the reactor is edge-triggered: readiness seen before the wait began is not
  // reported again).
  template <class Token>
  auto async_wait_readable(Token&& token) {
    if (stdio_) return stdio_->in.async_wait(boost::asio::posix::descriptor_base::wait_read, std::forward<Token>(token));
    return socket_.async_wait(socket_type::wait_read, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (stdio_) return stdio_->out.async_write_some(buffers, std::forward<Token>(token));
    return socket_.async_write_some(buffers, std::forward<Token>(token));
  }

  // Writes what the application takes at once, never waiting: 0 bytes and would_block when it
  // takes nothing now. Call make_non_blocking() first.
  template <class Buffers>
  std::size_t write_now(const Buffers& buffers, boost::system::error_code& ec) {
    if (stdio_) return stdio_->out.write_some(buffers, ec);
    return socket_.write_some(buffers, ec);
  }
  // Reads what is there now, never waiting: 0 bytes and would_block when nothing is. Call
  // make_non_blocking() first.
  template <class Buffers>
  std::size_t read_now(const Buffers& buffers, boost::system::error_code& ec) {
    if (stdio_) return stdio_->in.read_some(buffers, ec);
    return socket_.read_some(buffers, ec);
  }
  void make_non_blocking() noexcept;

  // Ends one direction (or both), as a socket's shutdown does; stdin and stdout are given back.
  //  - shutdown_send: the application sees the end of the stream after what was written
  //    (stdout: closed);
  //  - shutdown_receive: a pending read ends (end of stream, or cancelled); nothing more is read.
  void shutdown(socket_type::shutdown_type what) noexcept;
  void close() noexcept;

  // stdin's end is always a half-close: stdout stays open for the reply. A socket's end of
  // stream may as well be a full close (TCP cannot tell them apart).
  [[nodiscard]] bool end_is_half_close() const noexcept { return stdio_ != nullptr; }
  // async_wait_readable on a socket registers it anew with the event loop, which reports bytes
  // already there at once; stdin may be a regular file, which cannot be waited on.
  [[nodiscard]] bool wait_rearms() const noexcept { return stdio_ == nullptr; }
  [[nodiscard]] boost::asio::any_io_executor get_executor() { return socket_.get_executor(); }

 private:
  struct standard_streams {
    standard_streams(const boost::asio::any_io_executor& ex, std::function<void()> closed);
    boost::asio::posix::stream_descriptor in, out;
    int in_flags = 0, out_flags = 0;  // as found, put back when they are given back
    std::function<void()> on_closed;
  };

  socket_type socket_;
  std::unique_ptr<standard_streams> stdio_;
};

}  // namespace localproxy::tunnel
