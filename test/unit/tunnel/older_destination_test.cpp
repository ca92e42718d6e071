// A source session without -y whose destination turns out to be an older proxy: both signs, the
// warning, the refused connection and the first one going on.
#include "session_fixture.hpp"

#include "../log/clog_capture.hpp"

using namespace session_test;

namespace {
class OlderDestination : public SessionTest {
 protected:
  void SetUp() override {
    SessionTest::SetUp();
    opts_.mode = lc::proxy_mode::source;
    opts_.tunables.half_close_linger_ms = 0;
    for (auto& m : opts_.mappings) m.port = 0;  // the source's listener is not used: clients are adopted
    start();
  }
  std::size_t sent_count(lp::message_type type) {
    return std::count_if(ws_->sent.begin(), ws_->sent.end(), [&](const auto& m) { return m.type == type; });
  }
  // True once the peer closed the client's socket.
  bool closed(tcp::socket& client) {
    std::array<char, 16> buf;
    bool done = false;
    boost::system::error_code result;
    client.async_read_some(asio::buffer(buf), [&](boost::system::error_code ec, std::size_t) {
      result = ec;
      done = true;
    });
    run_until([&] { return done; });
    return done && result;
  }
};
}  // namespace

TEST_F(OlderDestination, AnAnswerWithoutConnectionIdSwitchesToV2AndRefusesTheJoinedConnection) {
  auto first = connect_client("SSH");
  auto second = connect_client("SSH");
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_start); }));
  ws_->push(fields(lp::message_type::data, 1, "SSH", 0), "banner");  // V2: no connection ID
  EXPECT_EQ(read_app(first, 6), "banner");
  EXPECT_TRUE(closed(second));
  EXPECT_EQ(context_->table().peer().version(), 2);
  // The first connection goes on both ways.
  write_app(first, "reply");
  ASSERT_TRUE(run_until([&] { return sent_payload(lp::message_type::data) == "reply"; }));
  ws_->push(fields(lp::message_type::data, 1, "SSH", 0), "more");
  EXPECT_EQ(read_app(first, 4), "more");
  // The peer was never told of the refused one: it never had it.
  EXPECT_EQ(sent_count(lp::message_type::connection_reset), 0u);
  EXPECT_EQ(sent_count(lp::message_type::stream_reset), 0u);
}

TEST_F(OlderDestination, AResetOfTheConnectionStartSwitchesToV2AndKeepsTheFirstConnection) {
  auto first = connect_client("SSH");
  auto second = connect_client("SSH");
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_start); }));
  ws_->push(fields(lp::message_type::stream_reset, 1, "SSH", 0));
  EXPECT_TRUE(closed(second));
  EXPECT_EQ(context_->table().peer().version(), 2);
  ws_->push(fields(lp::message_type::data, 1, "SSH", 0), "still here");
  EXPECT_EQ(read_app(first, 10), "still here");
  // One connection per service now: a third client is refused at once, nothing is sent for it.
  const auto starts = sent_count(lp::message_type::stream_start) + sent_count(lp::message_type::connection_start);
  auto third = connect_client("SSH");
  EXPECT_TRUE(closed(third));
  EXPECT_EQ(sent_count(lp::message_type::stream_start) + sent_count(lp::message_type::connection_start), starts);
}

TEST_F(OlderDestination, AV3AnswerKeepsManyConnections) {
  auto first = connect_client("SSH");
  ws_->push(fields(lp::message_type::data, 1, "SSH", 1), "banner");
  EXPECT_EQ(read_app(first, 6), "banner");
  auto second = connect_client("SSH");
  ws_->push(fields(lp::message_type::data, 1, "SSH", 2), "two");
  EXPECT_EQ(read_app(second, 3), "two");
  EXPECT_EQ(context_->table().peer().version(), 3);
}

TEST_F(OlderDestination, TheWarningIsGivenOncePerProcessNotAgainAfterAReconnect) {
  log_test::clog_capture log;
  const auto warnings = [&] {
    const auto text = log.text();
    std::size_t n = 0;
    for (auto at = text.find("[warning] The destination"); at != std::string::npos;
         at = text.find("[warning] The destination", at + 1))
      ++n;
    return n;
  };
  for (int session = 0; session < 2; ++session) {
    if (session > 0) reconnect({"SSH"});
    auto first = connect_client("SSH");
    auto second = connect_client("SSH");
    ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_start); }));
    const auto stream = ws_->sent.front().stream_id;  // the STREAM_START's (new in each session)
    ws_->push(fields(lp::message_type::data, stream, "SSH", 0), "banner");  // V2: no connection ID
    EXPECT_EQ(read_app(first, 6), "banner");
    EXPECT_TRUE(closed(second));  // each session finds the older destination and refuses the join
    EXPECT_EQ(context_->table().peer().version(), 2);
  }
  EXPECT_EQ(warnings(), 1u) << log.text();
}
