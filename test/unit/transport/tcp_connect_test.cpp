// connect_tcp / connect_unix: every step bounded, TCP_NODELAY on success.
#include "localproxy/transport/tcp_connect.hpp"

#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "transport_fixture.hpp"

namespace transport_test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class TcpConnect : public TransportTest {
 protected:
  boost::system::error_code dial(tcp::socket& socket, const std::string& host, std::uint16_t port,
                                 std::chrono::milliseconds timeout = 2s) {
    boost::system::error_code result = asio::error::would_block;
    EXPECT_TRUE(run_bounded(
        [&]() -> asio::awaitable<void> { result = co_await transport::connect_tcp(socket, host, port, timeout); },
        timeout * 3 + 5s));
    return result;
  }
};

TEST_F(TcpConnect, ConnectsByNameWithNoDelay) {
  raw_server server(io, raw_server::mode::silent);
  tcp::socket socket(io);
  ASSERT_FALSE(dial(socket, "localhost", server.port()));
  tcp::no_delay option;
  socket.get_option(option);
  EXPECT_TRUE(option.value());
  EXPECT_EQ(socket.remote_endpoint().port(), server.port());
}

TEST_F(TcpConnect, RefusedIsAnError) {
  tcp::socket socket(io);
  EXPECT_EQ(dial(socket, "127.0.0.1", unused_port(io)), asio::error::connection_refused);
}

TEST_F(TcpConnect, UnansweredConnectTimesOut) {
  const auto port = unanswered_port();
  ASSERT_NE(port, 0) << "could not fill a listener's accept queue";
  tcp::socket socket(io);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(dial(socket, "127.0.0.1", port, 300ms), asio::error::timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_FALSE(socket.is_open());
}

TEST_F(TcpConnect, UnixSocket) {
  temp_dir dir;
  const auto path = (dir.path() / "app.sock").string();
  asio::local::stream_protocol::acceptor acceptor(io, asio::local::stream_protocol::endpoint(path));
  asio::local::stream_protocol::socket socket(io);
  boost::system::error_code result = asio::error::would_block;
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> { result = co_await transport::connect_unix(socket, path, 2s); }, 10s));
  EXPECT_FALSE(result) << result.message();
  asio::local::stream_protocol::socket missing(io);
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> {
        result = co_await transport::connect_unix(missing, (dir.path() / "none.sock").string(), 2s);
      },
      10s));
  EXPECT_TRUE(result);
}

}  // namespace
}  // namespace transport_test
