// any_stream, under every way to the service but direct TLS (plain ws://, an http web proxy's
// tunnel without TLS, an https web proxy, TLS to the service inside TLS to the proxy): a write of
// more buffers than one operation passes on arrives whole and in order, a read skips empty
// buffers, the deadline of the TCP stream below ends a read. And every way to the service, direct
// TLS too, carries messages of sizes around the frame-header and TLS-record boundaries, each
// written from several buffers as the tunnel writes them, whole and in order.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "any_stream.hpp"
#include "transport_fixture.hpp"

namespace transport_test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

std::string pattern(std::size_t size, std::size_t seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed * 17 + i / 251) & 0xff);
  return s;
}

class AnyStream : public TransportTest {
 protected:
  tcp::acceptor listener{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};

  // An any_stream over a beast::tcp_stream connected to `server` (accepted here).
  asio::awaitable<std::unique_ptr<transport::any_stream>> connected(tcp::socket& server, std::string& problem) {
    auto connection = co_await loopback_connection(listener, problem);
    if (!connection) co_return nullptr;
    server = std::move(connection->second);
    co_return std::make_unique<transport::any_stream>(beast::tcp_stream(std::move(connection->first)));
  }
};

TEST_F(AnyStream, AWriteOfMoreBuffersThanOneOperationTakesArrivesWholeAndInOrder) {
  // 13 buffers, some empty, more than buffer_run's limit: async_write goes on until all are sent.
  std::vector<std::string> parts;
  std::string expected;
  for (std::size_t i = 0; i < 13; ++i) {
    parts.push_back(i % 4 == 1 ? std::string() : pattern(1000 * i + 7, i));
    expected += parts.back();
  }
  static_assert(transport::buffer_run<asio::const_buffer>::limit < 13);
  std::string received, problem;
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> {
        tcp::socket server(io);
        auto stream = co_await connected(server, problem);
        if (!stream) co_return;
        std::vector<asio::const_buffer> buffers;
        for (const auto& p : parts) buffers.push_back(asio::buffer(p));
        auto [wec, wn] = co_await asio::async_write(*stream, buffers, tuple_awaitable);
        if (wec || wn != expected.size()) {
          problem = "write: " + wec.message() + ", " + std::to_string(wn) + " bytes";
          co_return;
        }
        received.resize(expected.size());
        auto [rec, rn] = co_await asio::async_read(server, asio::buffer(received), tuple_awaitable);
        if (rec) problem = "read: " + rec.message();
        received.resize(rn);
      },
      10s));
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(received == expected) << received.size() << " bytes of " << expected.size();
}

TEST_F(AnyStream, AReadSkipsEmptyBuffersAndFillsTheNextOnes) {
  const std::string sent = pattern(3000, 5);
  std::string first(1000, '\0'), second(2000, '\0'), problem;
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> {
        tcp::socket server(io);
        auto stream = co_await connected(server, problem);
        if (!stream) co_return;
        auto [wec, wn] = co_await asio::async_write(server, asio::buffer(sent), tuple_awaitable);
        (void)wn;
        if (wec) {
          problem = "write: " + wec.message();
          co_return;
        }
        const std::vector<asio::mutable_buffer> buffers{asio::mutable_buffer(), asio::buffer(first),
                                                        asio::mutable_buffer(), asio::buffer(second)};
        auto [rec, rn] = co_await asio::async_read(*stream, buffers, tuple_awaitable);
        if (rec || rn != sent.size()) problem = "read: " + rec.message() + ", " + std::to_string(rn) + " bytes";
      },
      10s));
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(first + second == sent);
}

TEST_F(AnyStream, TheDeadlineOfTheTcpStreamBelowEndsAReadThatGetsNothing) {
  boost::system::error_code read_error;
  std::string problem;
  std::uint16_t local_port = 0;
  ASSERT_TRUE(run_bounded(
      [&]() -> asio::awaitable<void> {
        tcp::socket server(io);
        auto stream = co_await connected(server, problem);
        if (!stream) co_return;
        local_port = stream->socket().local_endpoint().port();  // the TCP socket at the bottom
        stream->expires_after(200ms);
        char c = 0;
        auto [ec, n] = co_await stream->async_read_some(asio::buffer(&c, 1), tuple_awaitable);
        (void)n;
        read_error = ec;
      },
      10s));
  EXPECT_EQ(problem, "");
  EXPECT_EQ(read_error, beast::error::timeout) << read_error.message();
  EXPECT_NE(local_port, 0);
  EXPECT_NE(local_port, listener.local_endpoint().port());
}

// Every way to the service: the service's TLS (or none), and the web proxy's kind (none, http, https).
struct way {
  const char* name;
  bool service_tls;
  enum { none, http, https } proxy;
};

void PrintTo(const way& w, std::ostream* os) { *os << w.name; }

class EveryWay : public TransportTest, public ::testing::WithParamInterface<way> {};

TEST_P(EveryWay, MessagesAroundFrameAndRecordBoundariesWrittenInPiecesComeBackWhole) {
  const auto& w = GetParam();
  websocket_server_options service_options;
  if (w.service_tls) service_options = tls_service(certs().localhost);
  websocket_server service(io, service_options);
  web_proxy_options proxy_options;
  if (w.proxy == way::https) proxy_options.tls = server_tls(certs().localhost);
  web_proxy proxy(io, proxy_options);
  auto t = service_target(service.port(), w.service_tls);
  if (w.proxy != way::none) {
    transport::http_proxy p;
    p.host = "localhost";
    p.port = proxy.port();
    p.tls = w.proxy == way::https;
    t.proxy = p;
  }
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  // Frame headers change at 126 and 65536 bytes; TLS records hold 16384; the largest message the
  // tunnel allows is max_message_size.
  const std::vector<std::size_t> sizes{1, 2, 125, 126, 127, 16383, 16384, 16385, 65535, 65536, 65537,
                                       t.max_message_size};
  std::size_t seed = 0;
  for (const auto size : sizes) {
    const auto payload = pattern(size, ++seed);
    std::string reply = "error: no reply within the deadline";
    run_bounded(
        [&]() -> asio::awaitable<void> {
          // As the tunnel writes a data message: a small header, then the payload in two parts.
          const std::size_t a = std::min<std::size_t>(size, 3), b = (size - a) / 2;
          const std::vector<asio::const_buffer> buffers{asio::buffer(payload.data(), a),
                                                        asio::buffer(payload.data() + a, b),
                                                        asio::buffer(payload.data() + a + b, size - a - b)};
          if (auto ec = co_await out.connection->write(buffers)) {
            reply = "error: write: " + ec.message();
            co_return;
          }
          std::span<const std::uint8_t> message;
          if (auto ec = co_await out.connection->read(message)) {
            reply = "error: read: " + ec.message();
            co_return;
          }
          reply.assign(message.begin(), message.end());
        },
        10s);
    EXPECT_TRUE(reply == payload) << size << " bytes: " << reply.substr(0, 60);
  }
  EXPECT_EQ(proxy.relayed(), w.proxy == way::none ? 0 : 1);
}

INSTANTIATE_TEST_SUITE_P(ToTheService, EveryWay,
                         ::testing::Values(way{"wss", true, way::none}, way{"ws", false, way::none},
                                           way{"wss_through_http_proxy", true, way::http},
                                           way{"ws_through_http_proxy", false, way::http},
                                           way{"wss_through_https_proxy", true, way::https},
                                           way{"ws_through_https_proxy", false, way::https}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace transport_test
