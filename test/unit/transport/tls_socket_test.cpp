// TLS straight on the socket (tls_socket, under every wss:// connection without an https web
// proxy): many messages of awkward sizes in flight at once, a read and a write outstanding
// together, arrive whole and in order. Its server side (the test tunnel-service accepts with it):
// a tls_socket on each end carries data both ways, and a handshake with a client that is not
// speaking TLS fails instead of waiting. Each write leaves the process whole: its records but the
// last go with MSG_MORE, the last without, so nothing waits in the kernel for a next write. A read
// after one that emptied the socket waits for it without a recv that could only find nothing.
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <sys/ioctl.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "localproxy/transport/tls_socket.hpp"
#include "recv_counter.hpp"
#include "transport_fixture.hpp"

namespace transport_test {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);

class TlsSocket : public TransportTest {
 protected:
  tcp::acceptor listener{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};

  // Accepts one connection and runs the server's handshake on it, while `client` runs on a socket
  // connected to it; bounded, as a handshake that waits for bytes that never come would be.
  struct accepted {
    bool finished = false;
    boost::system::error_code ec;
    std::chrono::milliseconds elapsed{0};
  };
  accepted server_handshake_with(std::function<asio::awaitable<void>(tcp::socket&)> client) {
    accepted out;
    auto context = server_tls(certs().localhost);
    out.finished = run_bounded(
        [&]() -> asio::awaitable<void> {
          const auto start = std::chrono::steady_clock::now();
          auto server_side = [&]() -> asio::awaitable<void> {
            auto [aec, socket] = co_await listener.async_accept(tuple_awaitable);
            if (aec) {
              out.ec = aec;
              co_return;
            }
            transport::tls_socket tls(std::move(socket), context->native_handle());
            out.ec = co_await tls.handshake(asio::ssl::stream_base::server);
            out.elapsed =
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
          };
          auto client_side = [&]() -> asio::awaitable<void> {
            tcp::socket socket(io);
            auto [cec] = co_await socket.async_connect(listener.local_endpoint(), tuple_awaitable);
            if (!cec) co_await client(socket);
          };
          co_await (server_side() && client_side());
        },
        10s);
    return out;
  }

  // A client and a server tls_socket on the two ends of one loopback connection, both handshakes
  // done; nothing (and `problem` says why) if the connection or a handshake failed.
  asio::awaitable<std::optional<std::pair<transport::tls_socket, transport::tls_socket>>> handshaken_pair(
      asio::ssl::context& client_context, SSL_CTX* server_context, std::string& problem) {
    auto connection = co_await loopback_connection(listener, problem);
    if (!connection) co_return std::nullopt;
    auto& [client_socket, server_socket] = *connection;
    client_socket.set_option(tcp::no_delay(true));  // as every connection to the service
    std::pair<transport::tls_socket, transport::tls_socket> pair(
        transport::tls_socket(std::move(client_socket), client_context.native_handle()),
        transport::tls_socket(std::move(server_socket), server_context));
    auto& [client, server] = pair;
    SSL_set_tlsext_host_name(client.native_handle(), "localhost");
    SSL_set1_host(client.native_handle(), "localhost");
    auto client_handshake = [&]() -> asio::awaitable<boost::system::error_code> { co_return co_await client.handshake(); };
    auto server_handshake = [&]() -> asio::awaitable<boost::system::error_code> {
      co_return co_await server.handshake(asio::ssl::stream_base::server);
    };
    auto [client_ec, server_ec] = co_await (client_handshake() && server_handshake());
    if (client_ec || server_ec) {
      problem = "handshake: " + (client_ec ? client_ec : server_ec).message();
      co_return std::nullopt;
    }
    co_return std::move(pair);
  }

  // A client context that trusts the test CA, as the proxies' does the service's.
  static void trust_test_ca(asio::ssl::context& client_context) {
    client_context.add_verify_path(certs().trusted_capath);
    client_context.set_verify_mode(asio::ssl::verify_peer);
  }
};

std::string pattern(std::size_t size, std::size_t seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 31 + seed * 7) & 0xff);
  return s;
}

TEST_F(TlsSocket, PipelinedMessagesOfRecordBoundarySizesComeBackWholeAndInOrder) {
  websocket_server service(io, tls_service(certs().localhost));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.connection) << out.failure.message;
  auto& ws = *out.connection;
  // Around the 16 KiB record size, the 64 KiB frame size and the 128 KiB message limit.
  const std::vector<std::size_t> sizes = {1, 2, 125, 126, 16383, 16384, 16385, 32768, 49153, 65535, 65536, 131000};
  std::vector<std::string> sent;
  for (int round = 0; round < 20; ++round)
    for (auto size : sizes) sent.push_back(pattern(size, sent.size()));
  std::size_t matched = 0;
  std::string problem;
  bool writer_done = false;
  const bool finished = run_bounded(
      [&]() -> boost::asio::awaitable<void> {
        boost::asio::co_spawn(
            co_await boost::asio::this_coro::executor,
            [&]() -> boost::asio::awaitable<void> {
              for (const auto& m : sent) {
                const boost::asio::const_buffer b(m.data(), m.size());
                if (auto ec = co_await ws.write(std::span(&b, 1))) {
                  problem = "write: " + ec.message();
                  break;
                }
              }
              writer_done = true;
            },
            boost::asio::detached);
        for (const auto& expected : sent) {
          std::span<const std::uint8_t> got;
          if (auto ec = co_await ws.read(got)) {
            problem = "read after " + std::to_string(matched) + " messages: " + ec.message();
            co_return;
          }
          if (std::string(got.begin(), got.end()) != expected) {
            problem = "message " + std::to_string(matched) + " differs (" + std::to_string(got.size()) + " bytes, " +
                      std::to_string(expected.size()) + " expected)";
            co_return;
          }
          ++matched;
        }
      },
      60s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(writer_done);
  EXPECT_EQ(matched, sent.size());
}

// Sends `out` and reads `expected` bytes at the same time on one tls_socket.
asio::awaitable<void> exchange(transport::tls_socket& tls, const std::string& out, std::string& in,
                               std::size_t expected, std::string& problem, const std::string& who) {
  in.assign(expected, '\0');
  auto send = [&]() -> asio::awaitable<void> {
    auto [ec, n] = co_await asio::async_write(tls, asio::buffer(out), tuple_awaitable);
    if (ec) problem += who + " write after " + std::to_string(n) + " bytes: " + ec.message() + "; ";
  };
  auto receive = [&]() -> asio::awaitable<void> {
    auto [ec, n] = co_await asio::async_read(tls, asio::buffer(in), tuple_awaitable);
    if (ec) problem += who + " read after " + std::to_string(n) + " bytes: " + ec.message() + "; ";
  };
  co_await (send() && receive());
}

TEST_F(TlsSocket, ServerSideAcceptsAndCarriesDataBothWays) {
  auto server_context = server_tls(certs().localhost);
  asio::ssl::context client_context(asio::ssl::context::tls_client);
  client_context.add_verify_path(certs().trusted_capath);
  client_context.set_verify_mode(asio::ssl::verify_peer);
  // Both ways at once, many records each, the last one not full.
  const std::string upstream = pattern((1u << 20) + 5, 1);
  const std::string downstream = pattern(3 * 16384 + 1000, 2);
  std::string at_server, at_client, problem;
  boost::system::error_code after_close_notify;
  bool server_done = false, client_done = false;
  const bool finished = run_bounded(
      [&]() -> asio::awaitable<void> {
        auto server_side = [&]() -> asio::awaitable<void> {
          auto [aec, socket] = co_await listener.async_accept(tuple_awaitable);
          if (aec) co_return;
          transport::tls_socket tls(std::move(socket), server_context->native_handle());
          if (auto ec = co_await tls.handshake(asio::ssl::stream_base::server)) {
            problem += "server handshake: " + ec.message() + "; ";
            co_return;
          }
          co_await exchange(tls, downstream, at_server, upstream.size(), problem, "server");
          // The client's close_notify follows its data.
          char byte = 0;
          auto [ec, n] = co_await tls.async_read_some(asio::buffer(&byte, 1), tuple_awaitable);
          after_close_notify = ec;
          server_done = true;
        };
        auto client_side = [&]() -> asio::awaitable<void> {
          tcp::socket socket(io);
          auto [cec] = co_await socket.async_connect(listener.local_endpoint(), tuple_awaitable);
          if (cec) co_return;
          transport::tls_socket tls(std::move(socket), client_context.native_handle());
          SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
          SSL_set1_host(tls.native_handle(), "localhost");
          if (auto ec = co_await tls.handshake()) {
            problem += "client handshake: " + ec.message() + "; ";
            co_return;
          }
          co_await exchange(tls, upstream, at_client, downstream.size(), problem, "client");
          tls.shutdown();
          client_done = true;
        };
        co_await (server_side() && client_side());
      },
      30s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(problem, "");
  EXPECT_TRUE(server_done && client_done);
  EXPECT_TRUE(at_server == upstream) << at_server.size() << " bytes at the server";
  EXPECT_TRUE(at_client == downstream) << at_client.size() << " bytes at the client";
  EXPECT_EQ(after_close_notify, asio::error::eof) << after_close_notify.message();
}

// The bytes of `socket`'s send queue that TCP has not sent yet: what MSG_MORE (or a cork) holds
// back for a write that is to follow.
int unsent(tcp::socket& socket) {
  int n = -1;
  if (::ioctl(socket.native_handle(), SIOCOUTQNSD, &n) != 0) return -1;
  return n;
}

TEST_F(TlsSocket, EachWriteLeavesTheProcessWithNothingHeldBack) {
  auto server_context = server_tls(certs().localhost);
  asio::ssl::context client_context(asio::ssl::context::tls_client);
  trust_test_ca(client_context);
  // The buffers of one write each: one buffer, or a WebSocket header and its payload (staged into
  // the first record with what follows, the rest in place), around the 16 KiB record size.
  const std::vector<std::vector<std::size_t>> writes = {
      {1},         {16383},        {16384},       {16385},         {40000},     {2, 1},
      {2, 100},    {2, 16382},     {2, 16383},    {2, 16384},      {2, 40000},  {14, 16370, 30000},
      {2, 0, 500}, {16384, 2, 40}, {10, 10, 10}, {6, 16378, 16384}, {2, 65536}};
  std::string problem;
  std::size_t checked = 0;
  const bool finished = run_bounded(
      [&]() -> asio::awaitable<void> {
        auto pair = co_await handshaken_pair(client_context, server_context->native_handle(), problem);
        if (!pair) co_return;
        auto& [client, server] = *pair;
        for (const auto& sizes : writes) {
          std::vector<std::string> pieces;
          std::string whole;
          for (auto size : sizes) {
            pieces.push_back(pattern(size, whole.size()));
            whole += pieces.back();
          }
          std::vector<asio::const_buffer> buffers;
          for (const auto& piece : pieces) buffers.emplace_back(piece.data(), piece.size());
          // A write may take the buffers in more than one call (write_now sends a large first
          // buffer alone); after each call, nothing it sent waits in the kernel.
          std::size_t sent = 0;
          while (sent < whole.size()) {
            boost::system::error_code ec;
            std::vector<asio::const_buffer> rest;
            std::size_t skip = sent;
            for (auto b : buffers) {
              if (skip >= b.size()) {
                skip -= b.size();
                continue;
              }
              rest.push_back(b + skip);
              skip = 0;
            }
            const std::size_t n = client.write_now(rest, ec);
            if (ec || n == 0) {
              problem = "write of " + std::to_string(whole.size()) + " bytes after " + std::to_string(sent) + ": " +
                        (ec ? ec.message() : "nothing taken");
              co_return;
            }
            sent += n;
            if (const int held = unsent(client.next_layer()); held != 0) {
              problem = std::to_string(held) + " bytes held back after a write of " + std::to_string(n) + " of " +
                        std::to_string(whole.size()) + " bytes in " + std::to_string(sizes.size()) + " buffers";
              co_return;
            }
          }
          std::string got(whole.size(), '\0');
          auto [rec, n] = co_await asio::async_read(server, asio::buffer(got), tuple_awaitable);
          if (rec || got != whole) {
            problem = "read of " + std::to_string(whole.size()) + " bytes: " + (rec ? rec.message() : "they differ");
            co_return;
          }
          ++checked;
        }
      },
      30s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(problem, "");
  EXPECT_EQ(checked, writes.size());
}

TEST_F(TlsSocket, AReadAfterOneThatEmptiedTheSocketWaitsWithoutAskingItFirst) {
  // Round trips of one small record each way, the reply written after the client's read began:
  // each read of the client's gets all there is (fewer bytes than it asks the kernel for), so the
  // next one waits for the socket at once instead of first asking it for bytes that cannot be
  // there yet. Only the first read asks in vain.
  auto server_context = server_tls(certs().localhost);
  asio::ssl::context client_context(asio::ssl::context::tls_client);
  trust_test_ca(client_context);
  constexpr int round_trips = 100;
  std::string problem;
  int answered = 0, asked_in_vain = -1;
  bool zero_byte_read_done = false;
  const bool finished = run_bounded(
      [&]() -> asio::awaitable<void> {
        auto pair = co_await handshaken_pair(client_context, server_context->native_handle(), problem);
        if (!pair) co_return;
        auto& [client, server] = *pair;
        count_empty_recvs_on(client.next_layer().native_handle());
        auto client_side = [&]() -> asio::awaitable<void> {
          for (int i = 0; i < round_trips; ++i) {
            const char sent = static_cast<char>('a' + i % 26);
            boost::system::error_code ec;
            if (client.write_now(asio::buffer(&sent, 1), ec) != 1) {
              problem = "client write: " + ec.message();
              co_return;
            }
            char got = 0;
            auto [rec, n] = co_await client.async_read_some(asio::buffer(&got, 1), tuple_awaitable);
            if (rec || n != 1 || got != sent) {
              problem = "client read " + std::to_string(i) + ": " + (rec ? rec.message() : "other bytes");
              co_return;
            }
            ++answered;
          }
        };
        auto echo = [&]() -> asio::awaitable<void> {
          for (int i = 0; i < round_trips; ++i) {
            char byte = 0;
            auto [rec, n] = co_await server.async_read_some(asio::buffer(&byte, 1), tuple_awaitable);
            boost::system::error_code ec;
            if (rec || n != 1 || server.write_now(asio::buffer(&byte, 1), ec) != 1) {
              problem = "server: " + (rec ? rec : ec).message();
              co_return;
            }
          }
        };
        co_await (client_side() && echo());
        asked_in_vain = empty_recvs();
        count_empty_recvs_on(-1);
        // A read of no bytes completes at once, though the last read emptied the socket and the
        // server sends nothing more.
        auto [zero_ec, zero_n] = co_await client.async_read_some(asio::mutable_buffer(), tuple_awaitable);
        if (zero_ec || zero_n != 0) problem = "a read of no bytes: " + zero_ec.message();
        zero_byte_read_done = true;
      },
      30s);
  EXPECT_TRUE(finished);
  EXPECT_EQ(problem, "");
  EXPECT_EQ(answered, round_trips);
  EXPECT_GE(asked_in_vain, 0);
  EXPECT_LE(asked_in_vain, 1) << "reads that asked an empty socket in " << round_trips << " round trips";
  EXPECT_TRUE(zero_byte_read_done);
}

TEST_F(TlsSocket, ServerHandshakeFailsOnPlainHttp) {
  const auto out = server_handshake_with([](tcp::socket& socket) -> asio::awaitable<void> {
    const std::string request = "GET /tunnel HTTP/1.1\r\nHost: localhost\r\n\r\n";
    co_await asio::async_write(socket, asio::buffer(request), tuple_awaitable);
    char byte = 0;  // stays until the server gives up
    co_await socket.async_read_some(asio::buffer(&byte, 1), tuple_awaitable);
  });
  ASSERT_TRUE(out.finished);
  // OpenSSL recognises the request line: the accept side looked at the bytes.
  EXPECT_EQ(out.ec.category(), asio::error::get_ssl_category()) << out.ec.message();
  EXPECT_EQ(ERR_GET_REASON(static_cast<unsigned long>(out.ec.value())), SSL_R_HTTP_REQUEST) << out.ec.message();
  EXPECT_LT(out.elapsed, 2s);
}

TEST_F(TlsSocket, ServerHandshakeFailsWhenTheClientClosesAtOnce) {
  const auto out = server_handshake_with([](tcp::socket& socket) -> asio::awaitable<void> {
    socket.close();
    co_return;
  });
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.ec, asio::ssl::error::stream_truncated) << out.ec.message();
  EXPECT_LT(out.elapsed, 2s);
}

TEST_F(TlsSocket, ServerHandshakeFailsWhenTheClientClosesAfterAPause) {
  // The server has found nothing to read and waits on the socket when the close comes.
  const auto out = server_handshake_with([this](tcp::socket& socket) -> asio::awaitable<void> {
    asio::steady_timer pause(io, 200ms);
    co_await pause.async_wait(tuple_awaitable);
    socket.close();
  });
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.ec, asio::ssl::error::stream_truncated) << out.ec.message();
  EXPECT_LT(out.elapsed, 2s);
}

}  // namespace
}  // namespace transport_test
