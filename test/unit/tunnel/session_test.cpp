// The session driven through a scripted in-memory WebSocket, with a real local application on
// loopback: what the tunnel delivers reaches the app, what the app sends comes back as frames.
#include "session_fixture.hpp"

#include <unistd.h>

#include <algorithm>

#include <boost/asio/local/stream_protocol.hpp>

using namespace session_test;

TEST_F(SessionTest, DataReachesTheAppAndItsReplyComesBackAsFrames) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  ws_->push(fields(lp::message_type::data, 5), "hello");
  EXPECT_EQ(read_app(app, 5), "hello");
  write_app(app, "world");
  ASSERT_TRUE(run_until([&] { return sent_payload(lp::message_type::data) == "world"; }));
  const auto& data = ws_->sent.back();
  EXPECT_EQ(data.stream_id, 5);
  EXPECT_EQ(data.service_id, "SSH");
  EXPECT_EQ(data.connection_id, 1u);
  session_->stop();
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(end_->what, lt::session_end::kind::stopped);
}

TEST_F(SessionTest, ConnectionResetFlushesThenClosesAndIsNotEchoed) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  ws_->push(fields(lp::message_type::data, 5), "last words");
  ws_->push(fields(lp::message_type::connection_reset, 5));
  auto [got, ec] = read_app_to_end(app);
  EXPECT_EQ(got, "last words");
  EXPECT_EQ(ec, asio::error::eof);
  run_until([] { return false; }, std::chrono::milliseconds(100));
  EXPECT_FALSE(sent_any(lp::message_type::connection_reset));
  EXPECT_FALSE(sent_any(lp::message_type::stream_reset));
}

TEST_F(SessionTest, LocalCloseSendsItsDataThenConnectionReset) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  write_app(app, "bye");
  app.shutdown(tcp::socket::shutdown_both);
  app.close();
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_reset); }));
  ASSERT_GE(ws_->sent.size(), 2u);
  EXPECT_EQ(ws_->sent[ws_->sent.size() - 2].type, lp::message_type::data);
  EXPECT_EQ(ws_->sent.back().type, lp::message_type::connection_reset);
  EXPECT_EQ(sent_payload(lp::message_type::data), "bye");
}

TEST_F(SessionTest, StaleDataIsDropped) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  ws_->push(fields(lp::message_type::data, 4), "stale");
  ws_->push(fields(lp::message_type::data, 5, "SSH", 9), "unknown connection");
  ws_->push(fields(lp::message_type::data, 5), "fresh");
  EXPECT_EQ(read_app(app, 5), "fresh");
}

TEST_F(SessionTest, AppThatStopsReadingIsResetAndTheTunnelReadsOn) {
  opts_.tunables.connection_buffer_size = 65536;
  opts_.tunables.stall_timeout_ms = 300;
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  app.set_option(asio::socket_base::receive_buffer_size(4096));
  const std::string chunk(60000, 'x');
  for (int i = 0; i < 200; ++i) ws_->push(fields(lp::message_type::data, 5), chunk);  // 12 MB, never read
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_reset); }));
  // after the reset the reader goes on: every message is consumed
  ASSERT_TRUE(run_until([&] { return ws_->inbound.empty(); }));
  EXPECT_GE(ws_->reads, 200);
}

TEST_F(SessionTest, ProtocolViolationEndsTheSession) {
  opts_.mode = lc::proxy_mode::source;
  opts_.mappings[0].port = 0;
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));  // a source never receives a start
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(end_->what, lt::session_end::kind::protocol_error);
}

TEST_F(SessionTest, MissingMappingIsAConfigurationError) {
  start();
  std::vector<std::string> ids{"SSH", "WEB"};
  lp::message_fields f;
  f.type = lp::message_type::service_ids;
  f.available_service_ids = ids;
  ws_->push(f);
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(end_->what, lt::session_end::kind::mapping_error);
  EXPECT_NE(end_->detail.find("WEB"), std::string::npos);
}

TEST_F(SessionTest, AStartThatCannotBeHonouredIsAnsweredEvenAfterABurstOfJunk) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  for (std::uint32_t c = 100; c < 200; ++c) ws_->push(fields(lp::message_type::data, 5, "SSH", c), "junk");
  ws_->push(fields(lp::message_type::connection_start, 4, "SSH", 7));  // a stale stream: refused
  auto refused = [&] {
    return std::any_of(ws_->sent.begin(), ws_->sent.end(), [](const auto& m) {
      return m.type == lp::message_type::connection_reset && m.stream_id == 4 && m.connection_id == 7;
    });
  };
  ASSERT_TRUE(run_until(refused));
  const auto answers = std::count_if(ws_->sent.begin(), ws_->sent.end(), [](const auto& m) {
    return m.type == lp::message_type::connection_reset && m.stream_id == 5;
  });
  EXPECT_GT(answers, 0);
  EXPECT_LE(answers, 32);  // junk gets a bounded number of answers a second
}

TEST_F(SessionTest, StopClosesTheWebSocketOnlyAfterTheResetInTheWriteUnderWay) {
  start();
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  ws_->set_blocked(true);  // a slow service: the next write waits
  app.close();
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_reset); }));
  ASSERT_TRUE(ws_->writing);
  session_->stop();
  run_until([] { return false; }, std::chrono::milliseconds(200));
  EXPECT_EQ(ws_->closes, 0);
  EXPECT_FALSE(end_.has_value());
  ws_->set_blocked(false);
  ASSERT_TRUE(run_until([&] { return end_.has_value(); }));
  EXPECT_EQ(ws_->closes, 1);
  EXPECT_EQ(end_->what, lt::session_end::kind::stopped);
}

TEST_F(SessionTest, ANewListOfServicesEndsTheLiveConnectionsAndTellsThePeer) {
  auto web = opts_.mappings.front();
  web.service_id = "WEB";
  opts_.mappings.push_back(web);
  start({"SSH"});
  ws_->push(fields(lp::message_type::stream_start, 5));
  auto app = accept_app();
  ws_->push(fields(lp::message_type::data, 5), "hi");
  EXPECT_EQ(read_app(app, 2), "hi");
  const std::vector<std::string> both{"SSH", "WEB"};
  lp::message_fields list;
  list.type = lp::message_type::service_ids;
  list.available_service_ids = both;
  ws_->push(list);
  auto [got, ec] = read_app_to_end(app);  // the app's connection ends
  EXPECT_EQ(got, "");
  EXPECT_TRUE(ec);
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_reset); }));
  const auto& reset = ws_->sent.back();
  EXPECT_EQ(reset.type, lp::message_type::connection_reset);
  EXPECT_EQ(reset.stream_id, 5);
  EXPECT_EQ(reset.service_id, "SSH");
  EXPECT_EQ(reset.connection_id, 1u);
  EXPECT_EQ(context_->table().live_connections(), 0u);
}

// A SERVICE_IDS that changes the services while a write to the application waits for room: the
// session ends the connection and replaces the services' entries. The write, cancelled by that
// end, must not report the connection's end again: the session knows, and the entry it would go
// through is gone (AddressSanitizer: heap-use-after-free in the sanitized run).
TEST_F(SessionTest, ANewListOfServicesWhileAWriteToTheApplicationWaitsEndsItOnce) {
  const std::string path = "/tmp/lp-session-test-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  struct unlink_at_end {
    std::string path;
    ~unlink_at_end() { ::unlink(path.c_str()); }
  } cleanup{path};  // also when an assertion ends the test early
  asio::local::stream_protocol::acceptor unix_acceptor(ioc_, asio::local::stream_protocol::endpoint(path));
  auto& ssh = opts_.mappings.front();
  ssh.host.clear();
  ssh.port = 0;
  ssh.unix_path = path;
  auto web = ssh;
  web.service_id = "WEB";
  opts_.mappings.push_back(web);
  start({"SSH"});
  asio::local::stream_protocol::socket app(ioc_);  // never reads
  bool accepted = false;
  unix_acceptor.async_accept(app, [&](boost::system::error_code ec) {
    EXPECT_FALSE(ec);
    accepted = true;
  });
  ws_->push(fields(lp::message_type::stream_start, 5));
  ASSERT_TRUE(run_until([&] { return accepted; }));
  auto waiting_bytes = [&] {
    std::size_t n = 0;
    for (auto& s : context_->table().services())
      for (auto& [id, c] : s.connections) n += c ? c->pending_bytes() : 0;
    return n;
  };
  // Until the socket takes no more and bytes wait in the connection (within its queue's limit).
  const std::string chunk(16000, 'x');
  for (int i = 0; i < 400 && waiting_bytes() == 0; ++i) {
    ws_->push(fields(lp::message_type::data, 5), chunk);
    run_until([] { return false; }, std::chrono::milliseconds(5));
  }
  run_until([] { return false; }, std::chrono::milliseconds(50));
  ASSERT_GT(waiting_bytes(), 0u) << "the application's socket took 6.4 MB: the write never waited";
  const std::vector<std::string> both{"SSH", "WEB"};
  lp::message_fields list;
  list.type = lp::message_type::service_ids;
  list.available_service_ids = both;
  ws_->push(list);
  ASSERT_TRUE(run_until([&] { return sent_any(lp::message_type::connection_reset); }));
  run_until([] { return false; }, std::chrono::milliseconds(100));  // the cancelled write completes
  EXPECT_EQ(std::count_if(ws_->sent.begin(), ws_->sent.end(),
                          [](const auto& m) { return m.type == lp::message_type::connection_reset; }),
            1);
  EXPECT_EQ(context_->table().live_connections(), 0u);
}

// A client that writes as soon as it is connected (an HTTP request, ssh's banner exchange). A
// connection after the stream's first starts with CONNECTION_START, and its first bytes leave in
// the same WebSocket message. The stream's first connection starts with STREAM_START, which ends
// its message: the reference destination reads no further in a message after a STREAM_START, so
// the request would wait there (and the client for its answer) until something else came.
TEST_F(SessionTest, AClientsFirstBytesLeaveWithAConnectionStartButAfterAStreamStart) {
  opts_.mode = lc::proxy_mode::source;
  for (auto& m : opts_.mappings) m.port = 0;  // clients are adopted, the listener is not used
  start();
  auto first_of = [&](lp::message_type type, std::size_t from) {
    return std::find_if(ws_->sent.begin() + static_cast<std::ptrdiff_t>(from), ws_->sent.end(),
                        [type](const auto& m) { return m.type == type; });
  };
  auto first = connect_client("SSH", "GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(run_until([&] { return sent_payload(lp::message_type::data) == "GET / HTTP/1.1\r\n\r\n"; }));
  const auto stream_start = first_of(lp::message_type::stream_start, 0);
  ASSERT_NE(stream_start, ws_->sent.end());
  const auto data = first_of(lp::message_type::data, 0);
  EXPECT_LT(stream_start - ws_->sent.begin(), data - ws_->sent.begin());  // the start first
  EXPECT_GT(data->message, stream_start->message);
  EXPECT_EQ(std::count_if(ws_->sent.begin(), ws_->sent.end(),
                          [&](const auto& m) { return m.message == stream_start->message; }),
            1);  // nothing after the STREAM_START in its message
  const std::size_t before_second = ws_->sent.size();

  auto second = connect_client("SSH", "PING\r\n");
  ASSERT_TRUE(run_until([&] { return first_of(lp::message_type::data, before_second) != ws_->sent.end(); }));
  const auto connection_start = first_of(lp::message_type::connection_start, before_second);
  ASSERT_NE(connection_start, ws_->sent.end());
  const auto second_data = first_of(lp::message_type::data, before_second);
  EXPECT_EQ(std::string(second_data->payload), "PING\r\n");
  EXPECT_LT(connection_start - ws_->sent.begin(), second_data - ws_->sent.begin());
  EXPECT_EQ(connection_start->message, second_data->message);
  const auto second_message = second_data->message;  // `sent` grows below: its iterators do not last

  // Later bytes are read as they come, in messages of their own.
  asio::write(second, asio::buffer(std::string("more")));
  ASSERT_TRUE(run_until([&] { return ws_->sent.back().type == lp::message_type::data &&
                                     std::string(ws_->sent.back().payload) == "more"; }));
  EXPECT_GT(ws_->sent.back().message, second_message);
}
