#pragma once
// any_stream: an asynchronous stream of any type behind one set of operations, each with one
// buffer type and one (type-erased) handler type.
//
// A WebSocket or TLS stream over another stream compiles every one of its operations again for
// each type of stream below it, and once more for each buffer type and handler it is called with.
// The ways to the service other than the direct TLS one (plain ws://, an https web proxy, TLS to
// the service inside TLS to the proxy) each nested Beast's WebSocket and asio's TLS over a
// different stream type: two fifths of the program's code, for paths that are rarely taken. Over
// an any_stream they share one WebSocket and one TLS instantiation, at the price of a virtual call
// and a handler allocation (asio's recycling allocator) per operation.
#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <boost/system/error_code.hpp>

namespace localproxy::transport {

// The first non-empty buffers of a sequence (at most `limit`), held by value: what one read or
// write passes on. A read or write may take less than its whole sequence, so leaving the rest to
// the next call keeps the meaning; the streams wrapped here (asio's TLS stream takes only the
// first buffer of a call anyway) lose nothing by it.
template <class Buffer>
class buffer_run {
 public:
  static constexpr std::size_t limit = 8;
  using value_type = Buffer;
  using const_iterator = const Buffer*;

  template <class Sequence>
  explicit buffer_run(const Sequence& sequence) {
    for (auto it = boost::asio::buffer_sequence_begin(sequence), end = boost::asio::buffer_sequence_end(sequence);
         it != end && count_ < limit; ++it) {
      const Buffer b(*it);
      if (b.size() > 0) items_[count_++] = b;
    }
  }
  [[nodiscard]] const Buffer* begin() const noexcept { return items_.data(); }
  [[nodiscard]] const Buffer* end() const noexcept { return items_.data() + count_; }

 private:
  std::array<Buffer, limit> items_{};
  std::size_t count_ = 0;
};

class any_stream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using io_handler = boost::asio::any_completion_handler<void(boost::system::error_code, std::size_t)>;
  using teardown_handler = boost::asio::any_completion_handler<void(boost::system::error_code)>;

  // Stream: an AsyncStream whose lowest layer is a beast::tcp_stream (or another any_stream).
  template <class Stream>
  explicit any_stream(Stream stream) : impl_(std::make_unique<model<Stream>>(std::move(stream))) {}

  [[nodiscard]] executor_type get_executor() const noexcept { return impl_->executor; }
  // The TCP connection at the bottom, and its deadline for the operations in progress and to come.
  [[nodiscard]] boost::asio::ip::tcp::socket& socket() { return impl_->socket(); }
  // asio's TLS stream asks its next layer for these.
  using lowest_layer_type = boost::asio::ip::tcp::socket;
  [[nodiscard]] lowest_layer_type& lowest_layer() { return socket(); }
  void expires_after(std::chrono::steady_clock::duration d) { impl_->expires_after(d); }
  void expires_never() { impl_->expires_never(); }

  template <class MutableBufferSequence, class ReadToken>
  auto async_read_some(const MutableBufferSequence& buffers, ReadToken&& token) {
    return boost::asio::async_initiate<ReadToken, void(boost::system::error_code, std::size_t)>(
        [](auto handler, base* impl, const buffer_run<boost::asio::mutable_buffer>& run) {
          impl->read_some(run, io_handler(std::move(handler)));
        },
        token, impl_.get(), buffer_run<boost::asio::mutable_buffer>(buffers));
  }

  template <class ConstBufferSequence, class WriteToken>
  auto async_write_some(const ConstBufferSequence& buffers, WriteToken&& token) {
    return boost::asio::async_initiate<WriteToken, void(boost::system::error_code, std::size_t)>(
        [](auto handler, base* impl, const buffer_run<boost::asio::const_buffer>& run) {
          impl->write_some(run, io_handler(std::move(handler)));
        },
        token, impl_.get(), buffer_run<boost::asio::const_buffer>(buffers));
  }

  // Beast closes the lowest layer when a WebSocket operation times out.
  friend void beast_close_socket(any_stream& stream) { stream.impl_->close(); }

  // The WebSocket's closing: what the wrapped stream does (a TLS close_notify, then the TCP shutdown).
  template <class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, any_stream& stream, TeardownHandler&& handler) {
    stream.impl_->teardown(role, teardown_handler(std::forward<TeardownHandler>(handler)));
  }

 private:
  struct base {
    explicit base(executor_type ex) : executor(std::move(ex)) {}
    virtual ~base() = default;
    virtual boost::asio::ip::tcp::socket& socket() = 0;
    virtual void expires_after(std::chrono::steady_clock::duration d) = 0;
    virtual void expires_never() = 0;
    virtual void close() = 0;
    virtual void read_some(const buffer_run<boost::asio::mutable_buffer>& run, io_handler handler) = 0;
    virtual void write_some(const buffer_run<boost::asio::const_buffer>& run, io_handler handler) = 0;
    virtual void teardown(boost::beast::role_type role, teardown_handler handler) = 0;
    executor_type executor;
  };

  template <class Stream>
  struct model final : base {
    explicit model(Stream s) : base(s.get_executor()), stream(std::move(s)) {}
    boost::asio::ip::tcp::socket& socket() override { return boost::beast::get_lowest_layer(stream).socket(); }
    void expires_after(std::chrono::steady_clock::duration d) override {
      boost::beast::get_lowest_layer(stream).expires_after(d);
    }
    void expires_never() override { boost::beast::get_lowest_layer(stream).expires_never(); }
    void close() override { boost::beast::close_socket(boost::beast::get_lowest_layer(stream)); }
    // Beast's TCP stream posts to a handler's executor with blocking.never, which the executor of
    // asio 1.81's type-erased handler does not offer: the handlers run on the stream's executor.
    void read_some(const buffer_run<boost::asio::mutable_buffer>& run, io_handler handler) override {
      stream.async_read_some(run, boost::asio::bind_executor(executor, std::move(handler)));
    }
    void write_some(const buffer_run<boost::asio::const_buffer>& run, io_handler handler) override {
      stream.async_write_some(run, boost::asio::bind_executor(executor, std::move(handler)));
    }
    void teardown(boost::beast::role_type role, teardown_handler handler) override {
      using boost::beast::websocket::async_teardown;
      async_teardown(role, stream, boost::asio::bind_executor(executor, std::move(handler)));
    }
    Stream stream;
  };

  std::unique_ptr<base> impl_;
};

}  // namespace localproxy::transport
