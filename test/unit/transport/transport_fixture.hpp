#pragma once
// What every transport test shares: certificates made once per process, an io_context that the
// servers and the client under test share, and bounded ways to run the client on it.
#include <chrono>
#include <cstdint>
#include <functional>
#include <iterator>
#include <ostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "localproxy/transport/websocket.hpp"
#include "test_pki.hpp"
#include "test_servers.hpp"

namespace localproxy::transport {
// So that a failed EXPECT_EQ on a failure kind names it.
inline void PrintTo(failure_kind kind, std::ostream* os) {
  static constexpr const char* names[] = {"network",      "dns",         "timeout",        "tls",
                                          "certificate",  "http_rejected", "http_server",  "bad_response",
                                          "proxy_rejected", "proxy_failed"};
  static_assert(std::size(names) == static_cast<std::size_t>(failure_kind::proxy_failed) + 1);
  const auto i = static_cast<std::size_t>(kind);
  *os << (i < std::size(names) ? names[i] : "?");
}
}  // namespace localproxy::transport

namespace transport_test {

using namespace std::chrono_literals;
namespace transport = localproxy::transport;

struct test_certificates {
  temp_dir dir;
  test_ca trusted{"transport-test trusted CA"};
  test_ca other{"transport-test other CA"};
  std::string trusted_capath;      // hashed directory holding `trusted`
  std::string other_capath;        // hashed directory holding `other`
  issued_cert localhost;           // DNS:localhost, by `trusted`
  issued_cert localhost_and_ip;    // DNS:localhost, IP:127.0.0.1, by `trusted`
  issued_cert wrong_host;          // DNS:wrong.example, by `trusted`
  issued_cert untrusted;           // DNS:localhost, by `other`
  issued_cert expired;             // DNS:localhost, by `trusted`, expired an hour ago

  test_certificates();
  static const test_certificates& get();
};

struct connect_outcome {
  std::unique_ptr<transport::websocket_connection> connection;
  transport::connect_failure failure;
  std::chrono::milliseconds elapsed{0};
  bool finished = false;
};

inline constexpr const char* v3_protocol = "aws.iot.securetunneling-3.0";

class TransportTest : public ::testing::Test {
 protected:
  static const test_certificates& certs() { return test_certificates::get(); }

  // The target the proxy itself would build: localhost, wss, the tunnel path, an access token, the
  // V3 subprotocol, trust in the test CA through capath, a 5 s step timeout.
  [[nodiscard]] static transport::websocket_target service_target(std::uint16_t port, bool tls = true);
  // Runs connect_websocket on io; a test failure when it has not returned within `deadline`.
  connect_outcome connect(const transport::websocket_target& target, std::chrono::milliseconds deadline = 20s);
  // Writes one binary message and returns the reply's bytes, or "error: ..." (bounded).
  std::string echo(transport::websocket_connection& connection, const std::string& payload);
  // Runs `body` on io until it returns or `deadline` passes; true when it returned.
  bool run_bounded(std::function<boost::asio::awaitable<void>()> body, std::chrono::milliseconds deadline);

  // A loopback port whose listener (backlog 0, never accepting) has a full accept queue, checked
  // by a connect that went unanswered: a further connect gets no answer either. 0 on failure.
  std::uint16_t unanswered_port();

  // One loopback connection to `listener`: its client end, then the end the listener accepted;
  // nothing, and `problem` says why, when it failed.
  boost::asio::awaitable<std::optional<std::pair<boost::asio::ip::tcp::socket, boost::asio::ip::tcp::socket>>>
  loopback_connection(boost::asio::ip::tcp::acceptor& listener, std::string& problem);

  // Declared first: destroyed last, after everything that uses it.
  boost::asio::io_context io;

 private:
  std::vector<std::shared_ptr<void>> held_;  // the listener and sockets of unanswered_port()
};

// A websocket_server with TLS presenting `cert`, answering with the offered subprotocol.
[[nodiscard]] websocket_server_options tls_service(const issued_cert& cert);

}  // namespace transport_test
