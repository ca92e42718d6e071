// tunnel-service driven by raw WebSocket clients: handshake rules, SERVICE_IDS, relay, rule
// violations, token rules, replacement, API close, bandwidth, the self-signed chain.
#include <chrono>
#include <filesystem>
#include <thread>
#include <fcntl.h>

#include <boost/asio/ssl.hpp>

#include "service_fixture.hpp"

using namespace service_test;
using lp::message_type;

namespace {
struct tokens {
  std::string id, source, destination;
};
}  // namespace

class Service : public ServiceTest {
 protected:
  struct connected_pair {
    tokens t;
    upgrade_result source;
    upgrade_result destination;
  };
  // Opens a tunnel and connects both sides, past their SERVICE_IDS.
  connected_pair connect_both() {
    connected_pair p;
    p.t = open();
    p.destination = connect("destination", p.t.destination);
    p.source = connect("source", p.t.source);
    EXPECT_TRUE(p.destination.ws && p.source.ws);
    if (p.destination.ws) read_messages(*p.destination.ws, 1);
    if (p.source.ws) read_messages(*p.source.ws, 1);
    return p;
  }

  tokens open(const std::string& services = R"(["SSH","WEB"])") {
    auto [status, body] = api(http::verb::post, "/tunnels", R"({"services":)" + services + "}");
    EXPECT_EQ(status, 200) << body;
    return {field(body, "tunnelId"), field(body, "sourceAccessToken"), field(body, "destinationAccessToken")};
  }
};

TEST_F(Service, HandshakeSelectsSubprotocolAndSendsServiceIds) {
  start();
  auto t = open();
  auto dst = connect("destination", t.destination, "aws.iot.securetunneling-2.0");
  ASSERT_EQ(dst.status, 101);
  EXPECT_EQ(dst.subprotocol, "aws.iot.securetunneling-2.0");
  EXPECT_EQ(dst.channel_id.size(), 32u);
  auto got = read_messages(*dst.ws, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, message_type::service_ids);
  EXPECT_EQ(got[0].ids, (std::vector<std::string>{"SSH", "WEB"}));
}

TEST_F(Service, RejectionStatuses) {
  start();
  auto t = open();
  EXPECT_EQ(connect("source", t.source, "aws.iot.securetunneling-3.0", {}, "/other").status, 400);
  EXPECT_EQ(connect("", t.source).status, 400);
  EXPECT_EQ(connect("sideways", t.source).status, 400);
  EXPECT_EQ(connect("source", t.source, "chat").status, 400);
  EXPECT_EQ(connect("source", "no-such-token").status, 401);
  EXPECT_EQ(connect("destination", t.source).status, 403);  // the token is for the other mode
  auto first = connect("source", t.source);
  ASSERT_EQ(first.status, 101);
  auto again = connect("source", t.source);
  EXPECT_EQ(again.status, 403);  // single use without a client token
  EXPECT_FALSE(again.channel_id.empty());
}

TEST_F(Service, ClientTokenAllowsReconnectAndMustMatch) {
  start();
  auto t = open();
  const std::string ct = "0123456789abcdef0123456789abcdef";
  ASSERT_EQ(connect("source", t.source, "aws.iot.securetunneling-3.0", ct).status, 101);
  EXPECT_EQ(connect("source", t.source, "aws.iot.securetunneling-3.0", ct).status, 101);
  EXPECT_EQ(connect("source", t.source, "aws.iot.securetunneling-3.0", ct + "x").status, 403);
}

TEST_F(Service, RelaysFramesInOrderAlsoWhenReframed) {
  start();
  auto [t, src, dst] = connect_both();
  for (int round = 0; round < 2; ++round) {
    if (round == 1) {
      ASSERT_EQ(api(http::verb::post, "/tunnels/" + t.id + "/reframe?on=1").first, 200);
    }
    std::vector<std::uint8_t> batch;
    std::vector<std::string> sent;
    for (int i = 0; i < 300; ++i) {
      sent.push_back(std::to_string(round) + ":" + std::string(static_cast<std::size_t>(i * 97 % 5000), 'a' + i % 26));
      auto f = frame(message_type::data, 1, "SSH", sent.back());
      batch.insert(batch.end(), f.begin(), f.end());
      if (batch.size() > 100000 || i == 299) {
        src.ws->write(asio::buffer(batch));
        batch.clear();
      }
    }
    auto got = read_messages(*dst.ws, sent.size());
    ASSERT_EQ(got.size(), sent.size());
    for (std::size_t i = 0; i < sent.size(); ++i) EXPECT_EQ(got[i].payload, sent[i]) << i;
  }
}

TEST_F(Service, RuleViolationsCloseTheViolatorWithProtocolError) {
  start();
  struct violation {
    const char* side;
    std::vector<std::uint8_t> bytes;
  };
  std::vector<violation> cases = {
      {"destination", frame(message_type::stream_start, 1)},        // destinations never start streams
      {"source", frame(message_type::data, 0)},                     // stream messages need a stream ID
      {"source", frame(message_type::session_reset, 0, "")},        // service-only type
      {"source", frame(message_type::data, 1, "NOT-A-SERVICE", "x")},
      {"source", {0x00, 0x03, 0xff, 0xff, 0xff}},                   // unparseable
  };
  for (auto& c : cases) {
    auto t = open();
    auto peer = connect(c.side, std::string(c.side) == "source" ? t.source : t.destination);
    ASSERT_EQ(peer.status, 101);
    read_messages(*peer.ws, 1);
    peer.ws->write(asio::buffer(c.bytes));
    beast::error_code ec;
    read_messages(*peer.ws, 1, &ec);
    EXPECT_EQ(ec, websocket::error::closed) << c.side;
    EXPECT_EQ(peer.ws->reason().code, websocket::close_code::protocol_error) << c.side;
  }
}

TEST_F(Service, ReplacingASideResetsThePeersStreams) {
  start();
  auto t = open();
  const std::string ct = "0123456789abcdef0123456789abcdef";
  auto dst = connect("destination", t.destination);
  auto src = connect("source", t.source, "aws.iot.securetunneling-3.0", ct);
  read_messages(*dst.ws, 1);
  auto start_frame = frame(message_type::stream_start, 7, "WEB");
  src.ws->write(asio::buffer(start_frame));
  ASSERT_EQ(read_messages(*dst.ws, 1).at(0).type, message_type::stream_start);
  auto replacement = connect("source", t.source, "aws.iot.securetunneling-3.0", ct);
  ASSERT_EQ(replacement.status, 101);
  auto got = read_messages(*dst.ws, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, message_type::stream_reset);
  EXPECT_EQ(got[0].stream, 7);
  EXPECT_EQ(got[0].service, "WEB");
}

// A side that drops and connects again (not a replacement): with reset-on-connect, as the recorded
// AWS service does, the other side gets a STREAM_RESET for the stream on record; without, nothing
// (the next message it gets is what the new side sends).
TEST_F(Service, ResetOnConnectResetsThePeersStreamsWhenASideComesBack) {
  start();
  const std::string ct = "0123456789abcdef0123456789abcdef";
  for (const bool on : {true, false}) {
    SCOPED_TRACE(on ? "reset-on-connect" : "default");
    auto t = open();
    ASSERT_EQ(api(http::verb::post, "/tunnels/" + t.id + "/reset-on-connect?on=" + (on ? "1" : "0")).first, 200);
    auto src = connect("source", t.source);
    auto dst = connect("destination", t.destination, "aws.iot.securetunneling-3.0", ct);
    read_messages(*src.ws, 1);
    read_messages(*dst.ws, 1);
    auto start_frame = frame(message_type::stream_start, 7, "WEB");
    src.ws->write(asio::buffer(start_frame));
    ASSERT_EQ(read_messages(*dst.ws, 1).at(0).type, message_type::stream_start);
    dst.ws->next_layer().close();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (api(http::verb::get, "/tunnels/" + t.id).second.find(R"("destination":{"connected":false)") == std::string::npos) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the service did not see the destination go";
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto again = connect("destination", t.destination, "aws.iot.securetunneling-3.0", ct);
    ASSERT_EQ(again.status, 101);
    read_messages(*again.ws, 1);  // SERVICE_IDS
    auto data = frame(message_type::data, 7, "WEB", "after");
    again.ws->write(asio::buffer(data));
    auto got = read_messages(*src.ws, 1);  // one at a time: a missing reset fails, not hangs
    ASSERT_EQ(got.size(), 1u);
    if (on) {
      ASSERT_EQ(got[0].type, message_type::stream_reset);
      EXPECT_EQ(got[0].stream, 7);
      EXPECT_EQ(got[0].service, "WEB");
      got = read_messages(*src.ws, 1);
      ASSERT_EQ(got.size(), 1u);
    }
    EXPECT_EQ(got[0].type, message_type::data);
    EXPECT_EQ(got[0].payload, "after");
  }
}

TEST_F(Service, DeleteClosesBothSidesNormallyAndLaterHandshakesFail) {
  start();
  auto [t, src, dst] = connect_both();
  EXPECT_EQ(api(http::verb::delete_, "/tunnels/" + t.id).first, 200);
  for (auto* ws : {dst.ws.get(), src.ws.get()}) {
    beast::error_code ec;
    read_messages(*ws, 1, &ec);
    EXPECT_EQ(ec, websocket::error::closed);
    EXPECT_EQ(ws->reason().code, websocket::close_code::normal);
  }
  EXPECT_EQ(connect("source", t.source).status, 403);
  EXPECT_EQ(api(http::verb::get, "/tunnels/nope").first, 404);
}

TEST_F(Service, SessionResetReachesBothSides) {
  start();
  auto [t, src, dst] = connect_both();
  EXPECT_EQ(api(http::verb::post, "/tunnels/" + t.id + "/session-reset").first, 200);
  EXPECT_EQ(read_messages(*dst.ws, 1).at(0).type, message_type::session_reset);
  EXPECT_EQ(read_messages(*src.ws, 1).at(0).type, message_type::session_reset);
}

TEST_F(Service, BandwidthCapHoldsWithinTenPercent) {
  const double rate = 1'000'000;
  start({"--bandwidth", "1000000"});
  auto [t, src, dst] = connect_both();
  (void)t;
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    auto f = frame(message_type::data, 1, "SSH", std::string(60000, 'x'));
    std::vector<std::uint8_t> batch;
    for (int i = 0; i < 2; ++i) batch.insert(batch.end(), f.begin(), f.end());
    beast::error_code ec;
    while (!stop && !ec) src.ws->write(asio::buffer(batch), ec);
  });
  read_messages(*dst.ws, 3);  // let the bucket's first second of credit drain
  const auto t0 = std::chrono::steady_clock::now();
  std::size_t bytes = 0;
  beast::flat_buffer b;
  while (std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2)) {
    b.clear();
    dst.ws->read(b);
    bytes += b.size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  src.ws->next_layer().close();
  writer.join();
  EXPECT_NEAR(static_cast<double>(bytes) / seconds, rate, rate * 0.1);
}

TEST_F(Service, SelfSignedChainVerifiesForLocalhost) {
  const auto certs = temp_dir();
  start({"--self-signed", certs});
  auto t = open();
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ASSERT_EQ(SSL_CTX_load_verify_locations(ctx.native_handle(), nullptr, (certs + "/ca").c_str()), 1);
  ctx.set_verify_mode(asio::ssl::verify_peer);
  asio::ssl::stream<tcp::socket> tls(ioc_, ctx);
  tls.next_layer().connect({asio::ip::make_address("127.0.0.1"), port_});
  SSL_set_tlsext_host_name(tls.native_handle(), "localhost");
  tls.set_verify_callback(asio::ssl::host_name_verification("localhost"));
  beast::error_code ec;
  tls.handshake(asio::ssl::stream_base::client, ec);
  EXPECT_FALSE(ec) << ec.message();
  std::filesystem::remove_all(certs);
}

TEST_F(Service, TlsClientsThatStallAreDroppedAndFailedHandshakesLogged) {
  const auto certs = temp_dir();
  start({"--self-signed", certs, "-v", "4"});  // info: the lines about failed handshakes
  const tcp::endpoint service{asio::ip::make_address("127.0.0.1"), port_};
  // Speaks HTTP to the TLS port: its handshake fails at once.
  tcp::socket plain(ioc_);
  plain.connect(service);
  asio::write(plain, asio::buffer(std::string("GET /tunnel HTTP/1.1\r\nHost: localhost\r\n\r\n")));
  // Sends nothing: the handshake's deadline ends it.
  tcp::socket silent(ioc_);
  silent.connect(service);
  // Completes TLS and never sends the upgrade request: the request's deadline ends it.
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  asio::ssl::stream<tcp::socket> stalled(ioc_, ctx);
  stalled.next_layer().connect(service);
  beast::error_code ec;
  stalled.handshake(asio::ssl::stream_base::client, ec);
  ASSERT_FALSE(ec) << ec.message();

  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::duration<double> plain_closed{-1}, silent_closed{-1}, stalled_closed{-1};
  char byte[3];
  auto closed_at = [&](std::chrono::duration<double>& at) {
    return [&at, t0](beast::error_code e, std::size_t) {
      if (e) at = std::chrono::steady_clock::now() - t0;
    };
  };
  plain.async_read_some(asio::buffer(&byte[0], 1), closed_at(plain_closed));
  silent.async_read_some(asio::buffer(&byte[1], 1), closed_at(silent_closed));
  stalled.async_read_some(asio::buffer(&byte[2], 1), closed_at(stalled_closed));
  ioc_.run_for(std::chrono::seconds(20));
  EXPECT_GE(plain_closed.count(), 0);
  EXPECT_LT(plain_closed.count(), 3);
  EXPECT_GT(silent_closed.count(), 8);
  EXPECT_LT(silent_closed.count(), 14);
  EXPECT_GT(stalled_closed.count(), 8);
  EXPECT_LT(stalled_closed.count(), 14);
  // One line each for the two that never got through TLS.
  const auto log = log_text();
  const std::string line = "TLS handshake failed: ";
  std::size_t failed = 0;
  for (auto at = log.find(line); at != std::string::npos; at = log.find(line, at + 1)) ++failed;
  EXPECT_EQ(failed, 2u) << log;
  EXPECT_NE(log.find("TLS handshake failed: The socket was closed due to a timeout"), std::string::npos) << log;
  std::filesystem::remove_all(certs);
}
