#pragma once
#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "localproxy/transport/socket_options.hpp"
#include "localproxy/transport/tls_socket.hpp"
#include "peer.hpp"

namespace tunnel_service {

inline constexpr std::size_t max_message = 131076;

// The TCP socket at the bottom of a WebSocket's layers: inside Beast's tcp_stream (ws://), or the
// lowest layer itself (under tls_socket, wss://).
inline boost::asio::ip::tcp::socket& raw_socket(boost::beast::tcp_stream& stream) { return stream.socket(); }
inline boost::asio::ip::tcp::socket& raw_socket(boost::asio::ip::tcp::socket& socket) { return socket; }

// The longest run of whole frames at the start of `bytes` that fits in `limit` (the queue holds
// whole frames only, each at most 2 + 65535 bytes, so at least one fits): a frame cut across two
// messages would cost the receiver a copy to put it back together.
inline std::size_t whole_frames(std::span<const std::uint8_t> bytes, std::size_t limit) {
  std::size_t n = 0;
  while (bytes.size() - n >= 2) {
    const std::size_t frame = 2 + ((std::size_t{bytes[n]} << 8) | bytes[n + 1]);
    if (n + frame > limit || n + frame > bytes.size()) break;
    n += frame;
  }
  return n > 0 ? n : std::min(bytes.size(), limit);
}

template <class Stream>
class peer_impl final : public peer {
 public:
  explicit peer_impl(boost::beast::websocket::stream<Stream> ws)
      : ws_(std::move(ws)), wake_(ws_.get_executor()), drained_(ws_.get_executor()) {}

  boost::asio::awaitable<boost::system::error_code> read(std::span<const std::uint8_t>& message) override {
    in_.consume(in_.size());  // reused, and not zero-filled before each read
    message = {};
    auto [ec, n] = co_await ws_.async_read(in_, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)n;
    if (!ec && !ws_.got_binary()) co_return make_error_code(boost::system::errc::protocol_error);
    if (!ec) message = {static_cast<const std::uint8_t*>(in_.cdata().data()), in_.size()};
    co_return ec;
  }

  void start_writer(std::shared_ptr<peer> self) override {
    boost::asio::co_spawn(ws_.get_executor(), write_loop(std::move(self)), boost::asio::detached);
  }

  void send(std::span<const std::uint8_t> bytes) override {
    if (!open_ || close_code_) return;
    queue_.insert(queue_.end(), bytes.begin(), bytes.end());
    wake_.notify();
  }
  [[nodiscard]] std::size_t queued() const override { return queue_.size() + sending_.size(); }
  localproxy::tunnel::async_event& drained() override { return drained_; }

  void close(std::uint16_t code, std::string reason) override {
    if (!open_ || close_code_) return;
    close_code_ = code;
    close_reason_ = std::move(reason);
    wake_.notify();
  }

  void abort() noexcept override {
    if (!open_) return;
    open_ = false;
    boost::system::error_code ignored;
    auto& socket = raw_socket(boost::beast::get_lowest_layer(ws_));
    socket.shutdown(boost::asio::socket_base::shutdown_both, ignored);
    socket.close(ignored);
    wake_.notify();
    drained_.notify();
  }
  [[nodiscard]] bool open() const override { return open_; }

 private:
  boost::asio::awaitable<void> write_loop(std::shared_ptr<peer> self) {
    namespace asio = boost::asio;
    while (open_) {
      while (open_ && queue_.empty() && !close_code_) co_await wake_.wait();
      if (!open_) break;
      if (queue_.empty()) {  // close requested and everything sent
        boost::beast::websocket::close_reason reason(static_cast<boost::beast::websocket::close_code>(*close_code_), close_reason_);
        co_await ws_.async_close(reason, asio::as_tuple(asio::use_awaitable));
        abort();
        break;
      }
      std::swap(queue_, sending_);
      std::size_t at = 0;
      while (at < sending_.size() && open_) {
        // Reframing (chunker) cuts anywhere on purpose; otherwise messages end where frames do.
        const std::size_t left = sending_.size() - at;
        const std::size_t cut = chunker ? chunker(left) : 0;
        const std::size_t n = cut > 0 ? std::min({cut, left, max_message})
                                      : whole_frames(std::span(sending_).subspan(at), max_message);
        // Corked as the proxies do (localproxy/transport/socket_options.hpp): the records of one
        // message reach the reader as a few large segments, not one each. tls_socket needs no cork.
        auto& socket = raw_socket(boost::beast::get_lowest_layer(ws_));
        const bool cork = localproxy::transport::corks_messages<Stream> && n > localproxy::transport::cork_above;
        // Reframing cuts a message into WebSocket frames too (of Beast's 4 KiB write buffer), so
        // that the proxies' reassembly of fragmented messages is tested as well.
        ws_.auto_fragment(cut > 0);
        boost::system::error_code ignored;
        if (cork) socket.set_option(localproxy::transport::tcp_cork(true), ignored);
        auto [ec, written] = co_await ws_.async_write(asio::buffer(sending_.data() + at, n), asio::as_tuple(asio::use_awaitable));
        if (cork) socket.set_option(localproxy::transport::tcp_cork(false), ignored);
        (void)written;
        if (ec) {
          abort();
          break;
        }
        at += n;
      }
      sending_.clear();
      drained_.notify();
    }
    (void)self;
  }

  boost::beast::websocket::stream<Stream> ws_;
  boost::beast::flat_buffer in_;
  localproxy::tunnel::async_event wake_;
  localproxy::tunnel::async_event drained_;
  std::vector<std::uint8_t> queue_;
  std::vector<std::uint8_t> sending_;
  std::optional<std::uint16_t> close_code_;
  std::string close_reason_;
  bool open_ = true;
};

}  // namespace tunnel_service
