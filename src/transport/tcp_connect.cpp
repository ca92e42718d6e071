#include "localproxy/transport/tcp_connect.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace localproxy::transport {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using boost::system::error_code;

namespace {
asio::awaitable<void> expire(asio::steady_timer& timer) {
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

template <class Socket, class Endpoint>
asio::awaitable<error_code> connect_one(Socket& socket, const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  asio::steady_timer timer(socket.get_executor(), timeout);
  error_code ec;
  socket.close(ec);
  auto result = co_await (socket.async_connect(endpoint, asio::as_tuple(asio::use_awaitable)) || expire(timer));
  if (result.index() == 1) {
    socket.close(ec);
    co_return asio::error::timed_out;
  }
  co_return std::get<0>(std::get<0>(result));
}
}  // namespace

asio::awaitable<error_code> connect_tcp(asio::ip::tcp::socket& socket, const std::string& host, std::uint16_t port,
                                        std::chrono::milliseconds timeout) {
  asio::ip::tcp::resolver resolver(socket.get_executor());
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), asio::as_tuple(asio::use_awaitable)) ||
                            expire(timer));
  if (resolved.index() == 1) co_return asio::error::timed_out;
  auto [ec, results] = std::get<0>(resolved);
  if (ec) co_return ec;
  error_code last = asio::error::host_not_found;
  for (const auto& entry : results) {
    last = co_await connect_one(socket, entry.endpoint(), timeout);
    if (!last) {
      socket.set_option(asio::ip::tcp::no_delay(true), ec);
      co_return error_code{};
    }
  }
  co_return last;
}

asio::awaitable<error_code> connect_unix(asio::local::stream_protocol::socket& socket, const std::string& path,
                                         std::chrono::milliseconds timeout) {
  co_return co_await connect_one(socket, asio::local::stream_protocol::endpoint(path), timeout);
}

}  // namespace localproxy::transport
