#pragma once
// HTTP CONNECT through a web proxy, over any stream (plain TCP, or TLS to an https proxy).
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/empty_body.hpp>

#include "localproxy/transport/websocket.hpp"

namespace localproxy::transport {

// "host:port", with IPv6 literals in brackets.
[[nodiscard]] std::string authority(const std::string& host, std::uint16_t port);
// The CONNECT request's bytes (Proxy-Authorization when a user is set).
[[nodiscard]] std::string connect_request(const websocket_target& target);
// Parses a complete reply header; fills failure and returns false unless it is 2xx.
bool check_connect_reply(const std::string& header, const http_proxy& proxy, connect_failure& failure);

// Sends CONNECT and reads the reply header byte by byte, so that nothing after it (the start
// of the TLS stream) is consumed; bounded by step_timeout.
template <class Stream>
boost::asio::awaitable<bool> http_connect(Stream& stream, const websocket_target& target, connect_failure& failure) {
  namespace asio = boost::asio;
  auto& lowest = boost::beast::get_lowest_layer(stream);
  lowest.expires_after(target.step_timeout);
  const auto request = connect_request(target);
  auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(request), asio::as_tuple(asio::use_awaitable));
  std::string header;
  boost::system::error_code ec = wec;
  while (!ec && header.size() < 8192 && !header.ends_with("\r\n\r\n")) {
    char c = 0;
    auto [rec, n] = co_await stream.async_read_some(asio::buffer(&c, 1), asio::as_tuple(asio::use_awaitable));
    ec = rec;
    if (n == 1) header.push_back(c);
  }
  lowest.expires_never();
  (void)wn;
  const auto where = "web proxy " + authority(target.proxy->host, target.proxy->port);
  if (ec == boost::beast::error::timeout) {
    failure = {failure_kind::timeout, 0, {}, where + " did not answer CONNECT within " +
                                                 std::to_string(target.step_timeout.count()) + " ms"};
    co_return false;
  }
  if (ec) {
    failure = {failure_kind::proxy_failed, 0, {}, where + " closed the connection during CONNECT: " + ec.message()};
    co_return false;
  }
  if (!header.ends_with("\r\n\r\n")) {
    failure = {failure_kind::proxy_failed, 0, {}, where + " sent a CONNECT reply header over 8 KiB"};
    co_return false;
  }
  co_return check_connect_reply(header, *target.proxy, failure);
}

}  // namespace localproxy::transport
