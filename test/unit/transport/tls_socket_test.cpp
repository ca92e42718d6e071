// TLS straight on the socket (tls_socket, under every wss:// connection without an https web
// proxy): many messages of awkward sizes in flight at once, a read and a write outstanding
// together, arrive whole and in order.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "transport_fixture.hpp"

namespace transport_test {
namespace {

class TlsSocket : public TransportTest {};

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

}  // namespace
}  // namespace transport_test
