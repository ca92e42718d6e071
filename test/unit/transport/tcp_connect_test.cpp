// connect_tcp / connect_unix: every step bounded, TCP_NODELAY on success.
#include "localproxy/transport/tcp_connect.hpp"

#include <unistd.h>

#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "transport_fixture.hpp"

namespace transport_test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class TcpConnect : public TransportTest {
 protected:
  template <class Socket = tcp::socket>
  boost::system::error_code dial(Socket& socket, const std::string& host, std::uint16_t port,
                                 std::chrono::milliseconds timeout = 2s, transport::resolve_cache* cache = nullptr) {
    boost::system::error_code result = asio::error::would_block;
    EXPECT_TRUE(run_bounded(
        [&]() -> asio::awaitable<void> { result = co_await transport::connect_tcp(socket, host, port, timeout, cache); },
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

// A connect to this machine has ended when connect(2) returns (the kernel ran the handshake in
// the call): connect_tcp returns in the same turn of the event loop, before a handler that was
// already waiting runs. Without that check it waits for the reactor, which runs such a handler
// first every time; the kernel may defer its part now and then, hence "most", not "all".
TEST_F(TcpConnect, ALoopbackConnectEndsWithoutWaitingForTheEventLoop) {
  raw_server server(io, raw_server::mode::silent);
  int same_turn = 0, connected = 0;
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 20; ++i) {
          tcp::socket socket(io);
          bool waiting_handler_ran = false;
          asio::post(io, [&] { waiting_handler_ran = true; });
          const auto ec = co_await transport::connect_tcp(socket, "127.0.0.1", server.port(), 2s);
          if (!ec) ++connected;
          if (!ec && !waiting_handler_ran) ++same_turn;
          co_await asio::post(io, asio::use_awaitable);  // the posted handler runs before the next round
        }
      },
      20s));
  EXPECT_EQ(connected, 20);
  EXPECT_GE(same_turn, 10);
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

TEST_F(TcpConnect, GenericSocketConnectsWithNoDelay) {
  raw_server server(io, raw_server::mode::silent);
  asio::generic::stream_protocol::socket socket(io);
  ASSERT_FALSE(dial(socket, "127.0.0.1", server.port()));
  tcp::no_delay option;
  socket.get_option(option);
  EXPECT_TRUE(option.value());
  EXPECT_EQ(socket.remote_endpoint().protocol().family(), AF_INET);
}

TEST_F(TcpConnect, NumericAddressesAreNotLookedUp) {
  raw_server server(io, raw_server::mode::silent);
  transport::resolve_cache cache;
  for (int i = 0; i < 3; ++i) {
    tcp::socket socket(io);
    ASSERT_FALSE(dial(socket, "127.0.0.1", server.port(), 2s, &cache));
  }
  EXPECT_EQ(cache.lookups(), 0u);
}

// A name that goes through the resolver, as any other name: this machine's host name, when all it
// resolves to is loopback (Debian's /etc/hosts: 127.0.1.1), with that address. Else nothing.
std::pair<std::string, asio::ip::address> own_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return {};
  asio::io_context io;
  boost::system::error_code ec;
  const auto results = tcp::resolver(io).resolve(name, "1", ec);
  if (ec || results.empty()) return {};
  for (const auto& r : results)
    if (!r.endpoint().address().is_loopback()) return {};
  return {name, results.begin()->endpoint().address()};
}

TEST_F(TcpConnect, LocalhostIsTheLoopbackWithoutALookup) {
  raw_server server(io, raw_server::mode::silent);
  transport::resolve_cache cache;
  for (const char* name : {"localhost", "LocalHost", "localhost."}) {
    tcp::socket socket(io);
    ASSERT_FALSE(dial(socket, name, server.port(), 2s, &cache)) << name;
    EXPECT_TRUE(socket.remote_endpoint().address().is_loopback()) << name;
  }
  EXPECT_EQ(cache.lookups(), 0u);
}

TEST_F(TcpConnect, ANameIsLookedUpOnceForABurst) {
  const auto [name, address] = own_host_name();
  if (name.empty()) GTEST_SKIP() << "this machine's host name does not resolve to loopback only";
  tcp::acceptor acceptor(io, tcp::endpoint(address, 0));
  transport::resolve_cache cache;
  for (int i = 0; i < 5; ++i) {
    tcp::socket socket(io);
    ASSERT_FALSE(dial(socket, name, acceptor.local_endpoint().port(), 2s, &cache));
  }
  EXPECT_EQ(cache.lookups(), 1u);
}

TEST_F(TcpConnect, ANameIsLookedUpAgainAfterItsTimeOrAFailure) {
  const auto [name, address] = own_host_name();
  if (name.empty()) GTEST_SKIP() << "this machine's host name does not resolve to loopback only";
  tcp::acceptor acceptor(io, tcp::endpoint(address, 0));
  transport::resolve_cache brief(0s);  // every entry already expired
  for (int i = 0; i < 2; ++i) {
    tcp::socket socket(io);
    ASSERT_FALSE(dial(socket, name, acceptor.local_endpoint().port(), 2s, &brief));
  }
  EXPECT_EQ(brief.lookups(), 2u);

  // No address of the entry connects: the next connect asks the resolver again.
  transport::resolve_cache cache;
  const auto closed = unused_port(io);
  tcp::socket socket(io);
  EXPECT_TRUE(dial(socket, name, closed, 2s, &cache));
  tcp::socket again(io);
  EXPECT_TRUE(dial(again, name, closed, 2s, &cache));
  EXPECT_EQ(cache.lookups(), 2u);
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
