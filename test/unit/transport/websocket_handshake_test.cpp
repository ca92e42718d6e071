// The WebSocket upgrade: what the request carries, the subprotocol check, and which failure kind
// each kind of answer is reported as (4xx: do not retry; 5xx and the rest: retry).
#include "transport_fixture.hpp"

#include <string_view>

namespace transport_test {
namespace {

using transport::failure_kind;

class WebSocketHandshake : public TransportTest {};

std::string canned(std::string_view status_line, std::string_view extra_fields, std::string_view body) {
  return std::string(status_line) + "\r\n" + std::string(extra_fields) + "Content-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
}

TEST_F(WebSocketHandshake, RequestCarriesPathHeadersAndTheOfferedSubprotocol) {
  websocket_server service(io, tls_service(certs().localhost));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(out.connection->subprotocol(), v3_protocol);
  EXPECT_EQ(out.connection->channel_id(), "test-channel-0001");
  ASSERT_EQ(service.requests().size(), 1u);
  const auto& request = service.requests()[0];
  EXPECT_TRUE(request.starts_with("GET /tunnel?local-proxy-mode=source HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find("\r\naccess-token: test-access-token\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nSec-WebSocket-Protocol: aws.iot.securetunneling-3.0\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nUser-Agent: localproxy-transport-test\r\n"), std::string::npos) << request;
  EXPECT_NE(request.find("\r\nHost: localhost:" + std::to_string(service.port()) + "\r\n"), std::string::npos)
      << request;
  EXPECT_LT(request.size(), 4096u);
  const std::string big(60000, 'x');
  EXPECT_EQ(echo(*out.connection, big), big);
}

TEST_F(WebSocketHandshake, PlainWebSocketForALocalTestService) {  // ws://
  websocket_server service(io, websocket_server_options{});
  auto out = connect(service_target(service.port(), false));
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "plain"), "plain");
}

TEST_F(WebSocketHandshake, AnotherSubprotocolIsABadResponse) {
  auto options = tls_service(certs().localhost);
  options.protocol = websocket_server_options::reply_protocol::fixed;
  options.fixed_protocol = "aws.iot.securetunneling-2.0";
  websocket_server service(io, options);
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::bad_response) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 101);
  EXPECT_EQ(out.failure.channel_id, "test-channel-0001");
  EXPECT_TRUE(out.failure.message.starts_with("the service answered 101 but selected subprotocol ")) << out.failure.message;
  EXPECT_NE(out.failure.message.find("aws.iot.securetunneling-2.0"), std::string::npos) << out.failure.message;
  EXPECT_NE(out.failure.message.find(v3_protocol), std::string::npos) << out.failure.message;
}

// A 101 that Beast refuses is the service accepting the upgrade with a malformed reply: a bad
// response (retried), reported as a 101, never as "the service answered 101" like a server error.
TEST_F(WebSocketHandshake, RejectedSwitchingProtocolsIsABadResponseNamedAsSuch) {
  const std::string upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const std::string accept = "Sec-WebSocket-Accept: bm90IHRoZSByaWdodCBrZXkgYXQgYWxsIQ==\r\n";
  const std::string protocol = std::string("Sec-WebSocket-Protocol: ") + v3_protocol + "\r\n";
  const struct {
    std::string fields;
    std::string names;  // in the message: what Beast found wrong
  } cases[] = {
      {upgrade + accept + protocol + "channel-id: chan-101\r\n", "Sec-WebSocket-Accept"},
      {upgrade + protocol + "channel-id: chan-101\r\n", "Sec-WebSocket-Accept"},
      {"Connection: Upgrade\r\n" + accept + protocol + "channel-id: chan-101\r\n", "Upgrade"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.fields);
    raw_server service(io, raw_server::mode::reply_to_request, "HTTP/1.1 101 Switching Protocols\r\n" + c.fields + "\r\n");
    auto out = connect(service_target(service.port(), false));
    ASSERT_TRUE(out.finished);
    EXPECT_FALSE(out.connection);
    EXPECT_EQ(out.failure.kind, failure_kind::bad_response) << out.failure.message;
    EXPECT_TRUE(out.failure.retryable());
    EXPECT_EQ(out.failure.http_status, 101);
    EXPECT_EQ(out.failure.channel_id, "chan-101");
    EXPECT_TRUE(out.failure.message.starts_with("the service answered 101 but its upgrade reply fails the WebSocket checks: "))
        << out.failure.message;
    EXPECT_NE(out.failure.message.find(c.names), std::string::npos) << out.failure.message;
  }
}

TEST_F(WebSocketHandshake, NoSubprotocolIsABadResponse) {
  auto options = tls_service(certs().localhost);
  options.protocol = websocket_server_options::reply_protocol::none;
  websocket_server service(io, options);
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::bad_response) << out.failure.message;
}

TEST_F(WebSocketHandshake, ClientErrorsAreRejectedAndNotRetried) {
  for (const int status : {400, 401, 403, 404, 429}) {
    SCOPED_TRACE(status);
    raw_server service(io, raw_server::mode::reply_to_request,
                       canned("HTTP/1.1 " + std::to_string(status) + " Rejected", "channel-id: chan-4xx\r\n",
                              "token used\r\nalready"));
    auto out = connect(service_target(service.port(), false));
    ASSERT_TRUE(out.finished);
    EXPECT_FALSE(out.connection);
    EXPECT_EQ(out.failure.kind, failure_kind::http_rejected) << out.failure.message;
    EXPECT_FALSE(out.failure.retryable());
    EXPECT_EQ(out.failure.http_status, status);
    EXPECT_EQ(out.failure.channel_id, "chan-4xx");
    // The body is quoted on one line.
    EXPECT_NE(out.failure.message.find("token used  already"), std::string::npos) << out.failure.message;
    EXPECT_EQ(service.requests().size(), 1u);
  }
}

TEST_F(WebSocketHandshake, ServerErrorsAreRetried) {
  for (const int status : {500, 502, 503, 504}) {
    SCOPED_TRACE(status);
    raw_server service(io, raw_server::mode::reply_to_request,
                       canned("HTTP/1.1 " + std::to_string(status) + " Trouble", "channel-id: chan-5xx\r\n", "later"));
    auto out = connect(service_target(service.port(), false));
    ASSERT_TRUE(out.finished);
    EXPECT_FALSE(out.connection);
    EXPECT_EQ(out.failure.kind, failure_kind::http_server) << out.failure.message;
    EXPECT_TRUE(out.failure.retryable());
    EXPECT_EQ(out.failure.http_status, status);
    EXPECT_EQ(out.failure.channel_id, "chan-5xx");
  }
}

TEST_F(WebSocketHandshake, OtherUnexpectedStatusIsRetried) {  // a 200 is not an upgrade
  raw_server service(io, raw_server::mode::reply_to_request, canned("HTTP/1.1 200 OK", "", "hello"));
  auto out = connect(service_target(service.port(), false));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::http_server) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 200);
}

TEST_F(WebSocketHandshake, LongBodyIsCutInTheMessage) {
  raw_server service(io, raw_server::mode::reply_to_request, canned("HTTP/1.1 403 Forbidden", "", std::string(5000, 'b')));
  auto out = connect(service_target(service.port(), false));
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::http_rejected) << out.failure.message;
  EXPECT_LT(out.failure.message.size(), 300u);
}

// Beast sets the response's status to 500 before the handshake: a reply that is not HTTP must not
// be reported as "the service answered 500". websocket.hpp says garbage is bad_response.
TEST_F(WebSocketHandshake, GarbageReplyIsABadResponse) {
  raw_server service(io, raw_server::mode::reply_to_request, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
  auto out = connect(service_target(service.port(), false));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::bad_response) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 0) << "no status was received";
}

// Likewise a service that closes without answering: no status was received, it is a network failure.
TEST_F(WebSocketHandshake, ServerClosingDuringTheUpgradeIsANetworkFailure) {
  raw_server service(io, raw_server::mode::close_after_request);
  auto out = connect(service_target(service.port(), false));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::network) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 0) << "no status was received";
  EXPECT_EQ(out.failure.message.find("answered"), std::string::npos) << out.failure.message;
}

TEST_F(WebSocketHandshake, SilentServerTimesOutInTheUpgrade) {
  raw_server silent(io, raw_server::mode::silent);
  auto t = service_target(silent.port(), false);
  t.step_timeout = 300ms;
  auto out = connect(t, 10s);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::timeout) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_LT(out.elapsed, 5s);
}

TEST_F(WebSocketHandshake, UnansweredTcpConnectTimesOut) {
  const auto port = unanswered_port();
  ASSERT_NE(port, 0) << "could not fill a listener's accept queue";
  auto t = service_target(port);
  t.step_timeout = 300ms;
  auto out = connect(t, 10s);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::timeout) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_LT(out.elapsed, 5s);
}

TEST_F(WebSocketHandshake, NothingListeningIsANetworkFailure) {
  auto out = connect(service_target(unused_port(io), false));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::network) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
}

// RFC 2606: .invalid never resolves. Offline the lookup fails too (EAI_AGAIN): a DNS failure either way.
TEST_F(WebSocketHandshake, AHostNameThatDoesNotResolveIsADnsFailure) {
  auto t = service_target(unused_port(io), false);
  t.host = "nonexistent.invalid";
  auto out = connect(t, 30s);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::dns) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_NE(out.failure.message.find("nonexistent.invalid"), std::string::npos) << out.failure.message;
}

TEST_F(WebSocketHandshake, TextMessageFromTheServiceIsAnError) {
  auto options = tls_service(certs().localhost);
  options.send_text_first = true;
  websocket_server service(io, options);
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_TRUE(echo(*out.connection, "x").starts_with("error: read:"));
}

}  // namespace
}  // namespace transport_test
