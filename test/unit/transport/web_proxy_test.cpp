// HTTP CONNECT through a web proxy on 127.0.0.1 that answers one byte at a time: 200 and a relay
// to the service, 401/407 (credentials), 403, 502, a silent or closing proxy, an https proxy.
#include "transport_fixture.hpp"

namespace transport_test {
namespace {

using transport::failure_kind;

class WebProxy : public TransportTest {
 protected:
  static transport::http_proxy proxy_at(std::uint16_t port, bool tls = false) {
    transport::http_proxy proxy;
    proxy.host = "127.0.0.1";
    proxy.port = port;
    proxy.tls = tls;
    return proxy;
  }
  static std::string reply(const std::string& status_line) {
    return status_line + "\r\nContent-Length: 0\r\n\r\n";
  }
};

constexpr const char* alice_basic = "Basic YWxpY2U6czNjcmV0";  // alice:s3cret

TEST_F(WebProxy, ReplyInPiecesThenTheServiceThroughTheTunnel) {
  websocket_server service(io, tls_service(certs().localhost));
  web_proxy proxy(io, {});
  auto t = service_target(service.port());
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "through the proxy"), "through the proxy");
  EXPECT_EQ(proxy.relayed(), 1);
  ASSERT_EQ(proxy.requests().size(), 1u);
  const auto where = "localhost:" + std::to_string(service.port());
  const auto& request = proxy.requests()[0];
  EXPECT_TRUE(request.starts_with("CONNECT " + where + " HTTP/1.1\r\n")) << request;
  EXPECT_NE(request.find("\r\nHost: " + where + "\r\n"), std::string::npos) << request;
  EXPECT_EQ(request.find("Proxy-Authorization"), std::string::npos) << request;
  EXPECT_EQ(request.find("access-token"), std::string::npos) << "the token is for the service only";
  // TLS to the service goes through the tunnel, with the service's name.
  ASSERT_EQ(service.server_names().size(), 1u);
  EXPECT_EQ(service.server_names()[0], "localhost");
}

TEST_F(WebProxy, Http10ReplyWithFieldsIsAccepted) {  // tinyproxy and older squids answer HTTP/1.0
  websocket_server service(io, tls_service(certs().localhost));
  web_proxy_options options;
  options.reply = "HTTP/1.0 200 Connection established\r\nProxy-agent: tinyproxy/1.11.1\r\n\r\n";
  web_proxy proxy(io, options);
  auto t = service_target(service.port());
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "HTTP/1.0 proxy"), "HTTP/1.0 proxy");
}

TEST_F(WebProxy, PlainWebSocketThroughTheProxy) {
  websocket_server service(io, websocket_server_options{});
  web_proxy proxy(io, {});
  auto t = service_target(service.port(), false);
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "plain through the proxy"), "plain through the proxy");
}

TEST_F(WebProxy, CredentialsAreSentAsBasicAuthorization) {
  websocket_server service(io, tls_service(certs().localhost));
  web_proxy_options options;
  options.required_authorization = alice_basic;
  web_proxy proxy(io, options);
  auto t = service_target(service.port());
  t.proxy = proxy_at(proxy.port());
  t.proxy->user = "alice";
  t.proxy->password = "s3cret";
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(proxy.relayed(), 1);
}

TEST_F(WebProxy, Status407WithoutCredentialsAsksForThem) {
  web_proxy_options options;
  options.required_authorization = alice_basic;
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_rejected) << out.failure.message;
  EXPECT_FALSE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 407);
  EXPECT_NE(out.failure.message.find("credentials"), std::string::npos) << out.failure.message;
  EXPECT_NE(out.failure.message.find("127.0.0.1:" + std::to_string(proxy.port())), std::string::npos)
      << out.failure.message;
  EXPECT_EQ(proxy.relayed(), 0);
}

TEST_F(WebProxy, Status407WithWrongCredentialsSaysSoWithoutThePassword) {
  web_proxy_options options;
  options.required_authorization = alice_basic;
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  t.proxy->user = "alice";
  t.proxy->password = "Wr0ngPa55";
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_rejected) << out.failure.message;
  EXPECT_EQ(out.failure.http_status, 407);
  EXPECT_NE(out.failure.message.find("other credentials"), std::string::npos) << out.failure.message;
  EXPECT_EQ(out.failure.message.find("Wr0ngPa55"), std::string::npos) << out.failure.message;
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_NE(proxy.requests()[0].find("\r\nProxy-Authorization: Basic "), std::string::npos);
}

TEST_F(WebProxy, Status401IsACredentialsRejectionToo) {  // tinyproxy 1.11 answers a bad password so
  web_proxy_options options;
  options.reply = reply("HTTP/1.1 401 Unauthorized");
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_rejected) << out.failure.message;
  EXPECT_FALSE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 401);
  EXPECT_NE(out.failure.message.find("credentials"), std::string::npos) << out.failure.message;
}

TEST_F(WebProxy, Status403IsARejection) {
  web_proxy_options options;
  options.reply = reply("HTTP/1.1 403 Forbidden");
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_rejected) << out.failure.message;
  EXPECT_FALSE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 403);
}

TEST_F(WebProxy, Status502IsRetried) {
  web_proxy_options options;
  options.reply = reply("HTTP/1.1 502 Bad Gateway");
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_failed) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(out.failure.http_status, 502);
}

TEST_F(WebProxy, ServiceRejectionBehindTheProxyIsTheService) {
  raw_server service(io, raw_server::mode::reply_to_request, reply("HTTP/1.1 403 Forbidden"));
  web_proxy proxy(io, {});
  auto t = service_target(service.port(), false);
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::http_rejected) << out.failure.message;
  EXPECT_EQ(out.failure.http_status, 403);
}

TEST_F(WebProxy, ProxyClosingMidReplyIsAProxyFailure) {
  web_proxy_options options;
  options.close_after = 12;  // "HTTP/1.1 200"
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_failed) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
}

TEST_F(WebProxy, SilentProxyTimesOut) {
  web_proxy_options options;
  options.silent = true;
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  t.step_timeout = 300ms;
  auto out = connect(t, 10s);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::timeout) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_LT(out.elapsed, 5s);
  EXPECT_EQ(proxy.requests().size(), 1u);
}

TEST_F(WebProxy, ReplyHeaderOver8KiBIsAProxyFailure) {
  web_proxy_options options;
  options.reply = "HTTP/1.1 200 OK\r\nX-Filler: " + std::string(9000, 'f') + "\r\n\r\n";
  options.in_pieces = false;
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_failed) << out.failure.message;
  EXPECT_EQ(proxy.relayed(), 0);
}

TEST_F(WebProxy, UnreadableReplyIsAProxyFailure) {
  web_proxy_options options;
  options.reply = "SSH-2.0-OpenSSH_9.2\r\n\r\n";
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_failed) << out.failure.message;
}

TEST_F(WebProxy, Ipv6ServiceAddressIsBracketedInConnect) {
  web_proxy_options options;
  options.reply = reply("HTTP/1.1 502 Bad Gateway");  // the proxy does not dial it
  web_proxy proxy(io, options);
  auto t = service_target(443);
  t.host = "::1";
  t.proxy = proxy_at(proxy.port());
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  ASSERT_EQ(proxy.requests().size(), 1u);
  EXPECT_TRUE(proxy.requests()[0].starts_with("CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n"))
      << proxy.requests()[0];
}

TEST_F(WebProxy, NothingListeningAtTheProxyIsANetworkFailure) {
  auto t = service_target(443);
  t.proxy = proxy_at(unused_port(io));
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::network) << out.failure.message;
  EXPECT_NE(out.failure.message.find("web proxy"), std::string::npos) << out.failure.message;
}

TEST_F(WebProxy, HttpsProxyCarriesTlsToTheServiceInsideTlsToTheProxy) {
  websocket_server service(io, tls_service(certs().localhost));
  web_proxy_options options;
  options.tls = server_tls(certs().localhost);
  web_proxy proxy(io, options);
  auto t = service_target(service.port());
  t.proxy = proxy_at(proxy.port(), true);
  t.proxy->host = "localhost";
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "TLS in TLS"), "TLS in TLS");
  ASSERT_EQ(proxy.server_names().size(), 1u);
  EXPECT_EQ(proxy.server_names()[0], "localhost");
  ASSERT_EQ(service.server_names().size(), 1u);
  EXPECT_EQ(service.server_names()[0], "localhost");
}

TEST_F(WebProxy, HttpsProxyWithAnUntrustedCertificateFails) {
  web_proxy_options options;
  options.tls = server_tls(certs().untrusted);
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port(), true);
  t.proxy->host = "localhost";
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
  EXPECT_NE(out.failure.message.find("web proxy"), std::string::npos) << out.failure.message;
  EXPECT_TRUE(proxy.requests().empty());
}

TEST_F(WebProxy, SilentHttpsProxyTimesOutInTheTlsHandshake) {
  raw_server silent(io, raw_server::mode::silent);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(silent.port(), true);
  t.step_timeout = 300ms;
  auto out = connect(t, 10s);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::timeout) << out.failure.message;
  EXPECT_NE(out.failure.message.find("web proxy"), std::string::npos) << out.failure.message;
  EXPECT_LT(out.elapsed, 5s);
}

TEST_F(WebProxy, HttpsProxyAnswering407InPieces) {
  web_proxy_options options;
  options.tls = server_tls(certs().localhost);
  options.required_authorization = alice_basic;
  web_proxy proxy(io, options);
  auto t = service_target(unused_port(io));
  t.proxy = proxy_at(proxy.port(), true);
  t.proxy->host = "localhost";
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_EQ(out.failure.kind, failure_kind::proxy_rejected) << out.failure.message;
  EXPECT_EQ(out.failure.http_status, 407);
}

TEST_F(WebProxy, HttpsProxyWithNoVerifyAcceptsAnUntrustedCertificate) {  // -k covers the proxy too
  websocket_server service(io, tls_service(certs().untrusted));
  web_proxy_options options;
  options.tls = server_tls(certs().untrusted);
  web_proxy proxy(io, options);
  auto t = service_target(service.port());
  t.tls_settings.verify = false;
  t.proxy = proxy_at(proxy.port(), true);
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "unverified twice"), "unverified twice");
}

}  // namespace
}  // namespace transport_test
