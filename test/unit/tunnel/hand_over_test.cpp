// A source's client that comes while the tunnel is not ready waits in the hand-over; one that the
// tunnel does not take in time is closed and counted as refused, as the metrics show it.
#include "session_fixture.hpp"

using namespace session_test;

namespace {
class HandOver : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    opts_.mode = lc::proxy_mode::source;
    opts_.tunables.pending_connection_timeout_ms = 100;
    tcp::acceptor probe(ioc_, {asio::ip::make_address("127.0.0.1"), 0});  // a free port for the listener
    opts_.mappings.front().port = probe.local_endpoint().port();
    probe.close();
    // The session is not the tunnel context's (the fixture runs it on its own), so to the
    // context's listener the tunnel is never ready: every client it accepts waits.
    start();
  }
  std::uint64_t refused() {
    for (const auto& s : context_->metrics().services)
      if (s.id == "SSH") return s.counters.refused;
    ADD_FAILURE() << "no service SSH in the metrics";
    return 0;
  }
};
}  // namespace

TEST_F(HandOver, AClientTheTunnelDoesNotTakeInTimeIsClosedAndCountedAsRefused) {
  EXPECT_EQ(refused(), 0u);
  tcp::socket client(ioc_);
  bool connected = false;
  client.async_connect({asio::ip::make_address("127.0.0.1"), opts_.mappings.front().port},
                       [&](boost::system::error_code ec) { connected = !ec; });
  ASSERT_TRUE(run_until([&] { return connected; }));
  auto [got, ec] = read_app_to_end(client);  // the hand-over gives up after 100 ms
  EXPECT_EQ(got, "");
  EXPECT_TRUE(ec == asio::error::eof || ec == asio::error::connection_reset) << ec.message();
  EXPECT_EQ(refused(), 1u);
}
