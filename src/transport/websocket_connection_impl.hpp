#pragma once
// websocket_connection over a concrete Beast stream type (plain, TLS, or TLS inside TLS).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "localproxy/transport/socket_options.hpp"
#include "localproxy/transport/tls_socket.hpp"
#include "localproxy/transport/websocket.hpp"

namespace localproxy::transport {

// OpenSSL frees a connection's record buffers whenever they run empty (asio asks for it): that is a
// free and a malloc per record on a busy tunnel, to save 34 KiB on an idle one. Keep them.
template <class Layer>
void keep_tls_buffers(Layer& layer) {
  if constexpr (requires { SSL_clear_mode(layer.native_handle(), SSL_MODE_RELEASE_BUFFERS); }) {
    SSL_clear_mode(layer.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    keep_tls_buffers(layer.next_layer());
  }
}

// The TCP socket under a stack of layers (Beast's tcp_stream holds one; a bare socket is one).
template <class Lowest>
auto& tcp_socket_of(Lowest& lowest) {
  if constexpr (requires { lowest.socket(); })
    return lowest.socket();
  else
    return lowest;
}

template <class Stream>
class websocket_connection_impl final : public websocket_connection {
 public:
  using ws_type = boost::beast::websocket::stream<Stream>;

  websocket_connection_impl(ws_type ws, std::shared_ptr<boost::asio::ssl::context> tls, std::string channel_id,
                            std::string subprotocol)
      : ws_(std::move(ws)), tls_(std::move(tls)), channel_id_(std::move(channel_id)), subprotocol_(std::move(subprotocol)) {
    keep_tls_buffers(ws_.next_layer());
    boost::system::error_code ignored;  // an optimisation only
    tcp_socket_of(boost::beast::get_lowest_layer(ws_)).set_option(tcp_notsent_lowat(unsent_limit), ignored);
  }

  boost::asio::awaitable<boost::system::error_code> read(std::span<const std::uint8_t>& message) override {
    namespace asio = boost::asio;
    // A flat_buffer keeps its storage from one message to the next and, unlike a vector, does not
    // zero-fill what the read is about to overwrite.
    in_.consume(in_.size());
    message = {};
    auto [ec, n] = co_await ws_.async_read(in_, asio::as_tuple(asio::use_awaitable));
    if (ec == boost::beast::websocket::error::closed) peer_closed_ = true;
    if (!ec && !ws_.got_binary()) co_return make_error_code(boost::system::errc::protocol_error);
    (void)n;
    if (!ec) message = {static_cast<const std::uint8_t*>(in_.cdata().data()), in_.size()};
    co_return ec;
  }

  boost::asio::awaitable<boost::system::error_code> write(std::span<const boost::asio::const_buffer> buffers) override {
    // One message, many records: corked while they are written (see tcp_cork). A small message is
    // not: it goes out with its single write, as TCP_NODELAY wants. tls_socket needs no cork.
    auto& socket = tcp_socket_of(boost::beast::get_lowest_layer(ws_));
    const bool cork = corks_messages<Stream> && boost::asio::buffer_size(buffers) > cork_above;
    boost::system::error_code ignored;  // an optimisation only
    if (cork) socket.set_option(tcp_cork(true), ignored);
    auto [ec, n] = co_await ws_.async_write(buffers, boost::asio::as_tuple(boost::asio::use_awaitable));
    (void)n;
    if (cork) socket.set_option(tcp_cork(false), ignored);
    co_return ec;
  }

  boost::asio::awaitable<boost::system::error_code> ping(std::string_view payload) override {
    boost::beast::websocket::ping_data data;
    data.assign(payload.data(), std::min(payload.size(), data.max_size()));
    auto [ec] = co_await ws_.async_ping(data, boost::asio::as_tuple(boost::asio::use_awaitable));
    co_return ec;
  }

  void on_control(std::function<void(control_frame, std::string_view)> callback) override {
    ws_.control_callback([cb = std::move(callback)](boost::beast::websocket::frame_type kind, boost::beast::string_view payload) {
      const auto k = kind == boost::beast::websocket::frame_type::ping   ? control_frame::ping
                     : kind == boost::beast::websocket::frame_type::pong ? control_frame::pong
                                                                          : control_frame::close;
      cb(k, std::string_view(payload.data(), payload.size()));
    });
  }

  boost::asio::awaitable<void> close() override {
    namespace asio = boost::asio;
    using namespace asio::experimental::awaitable_operators;
    asio::steady_timer limit(ws_.get_executor(), std::chrono::milliseconds(500));
    if (ws_.is_open())
      co_await (ws_.async_close(boost::beast::websocket::close_code::normal, asio::as_tuple(asio::use_awaitable)) ||
                limit.async_wait(asio::as_tuple(asio::use_awaitable)));
    abort();
  }

  void abort() noexcept override {
    boost::system::error_code ignored;
    tcp_socket_of(boost::beast::get_lowest_layer(ws_)).shutdown(boost::asio::socket_base::shutdown_both, ignored);
    tcp_socket_of(boost::beast::get_lowest_layer(ws_)).close(ignored);
  }

  [[nodiscard]] const std::string& channel_id() const noexcept override { return channel_id_; }
  [[nodiscard]] const std::string& subprotocol() const noexcept override { return subprotocol_; }
  [[nodiscard]] close_info closed_by_peer() const override {
    close_info info;
    info.received = peer_closed_;
    info.code = static_cast<std::uint16_t>(ws_.reason().code);
    info.reason = std::string(ws_.reason().reason.data(), ws_.reason().reason.size());
    return info;
  }

 private:
  ws_type ws_;
  boost::beast::flat_buffer in_;  // the message read last
  std::shared_ptr<boost::asio::ssl::context> tls_;  // outlives the stream that uses it
  std::string channel_id_;
  std::string subprotocol_;
  bool peer_closed_ = false;
};

}  // namespace localproxy::transport
