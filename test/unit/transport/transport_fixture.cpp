#include "transport_fixture.hpp"

#include <exception>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/transport/tcp_connect.hpp"

namespace transport_test {

namespace asio = boost::asio;

test_certificates::test_certificates()
    : localhost(trusted.issue("localhost", "DNS:localhost")),
      localhost_and_ip(trusted.issue("localhost", "DNS:localhost,IP:127.0.0.1")),
      wrong_host(trusted.issue("wrong.example", "DNS:wrong.example")),
      untrusted(other.issue("localhost", "DNS:localhost")),
      expired(trusted.issue("localhost", "DNS:localhost", -7200, -3600)) {
  trusted_capath = (dir.path() / "trusted").string();
  other_capath = (dir.path() / "other").string();
  trusted.write_capath(trusted_capath);
  other.write_capath(other_capath);
}

const test_certificates& test_certificates::get() {
  static const test_certificates instance;
  return instance;
}

websocket_server_options tls_service(const issued_cert& cert) {
  websocket_server_options options;
  options.tls = server_tls(cert);
  return options;
}

transport::websocket_target TransportTest::service_target(std::uint16_t port, bool tls) {
  transport::websocket_target t;
  t.host = "localhost";
  t.port = port;
  t.tls = tls;
  t.target = "/tunnel?local-proxy-mode=source";
  t.headers = {{"access-token", "test-access-token"}};
  t.subprotocol = v3_protocol;
  t.user_agent = "localproxy-transport-test";
  t.step_timeout = 5s;
  t.tls_settings.capath = certs().trusted_capath;
  return t;
}

asio::awaitable<std::optional<std::pair<asio::ip::tcp::socket, asio::ip::tcp::socket>>> TransportTest::loopback_connection(
    asio::ip::tcp::acceptor& listener, std::string& problem) {
  constexpr auto tuple_awaitable = asio::as_tuple(asio::use_awaitable);
  asio::ip::tcp::socket client(io);
  auto accept = listener.async_accept(tuple_awaitable);
  auto [cec] = co_await client.async_connect(listener.local_endpoint(), tuple_awaitable);
  auto [aec, server] = co_await std::move(accept);
  if (cec || aec) {
    problem = "connect: " + (cec ? cec : aec).message();
    co_return std::nullopt;
  }
  co_return std::make_pair(std::move(client), std::move(server));
}

bool TransportTest::run_bounded(std::function<asio::awaitable<void>()> body, std::chrono::milliseconds deadline) {
  // Shared with the completion handler, which may outlive this call when the deadline passes.
  struct outcome {
    bool done = false;
    std::exception_ptr error;
  };
  auto result = std::make_shared<outcome>();
  io.restart();
  asio::co_spawn(io, std::move(body), [this, result](std::exception_ptr e) {
    result->done = true;
    result->error = e;
    io.stop();
  });
  io.run_for(deadline);
  if (result->error) std::rethrow_exception(result->error);
  return result->done;
}

connect_outcome TransportTest::connect(const transport::websocket_target& target, std::chrono::milliseconds deadline) {
  connect_outcome out;
  const bool done = run_bounded(
      [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        out.connection = co_await transport::connect_websocket(target, out.failure);
        out.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
        out.finished = true;
      },
      deadline);
  if (!done) ADD_FAILURE() << "connect_websocket did not return within " << deadline.count() << " ms";
  return out;
}

std::string TransportTest::echo(transport::websocket_connection& connection, const std::string& payload) {
  std::string reply = "error: no reply within the deadline";
  run_bounded(
      [&]() -> asio::awaitable<void> {
        const std::vector<asio::const_buffer> buffers{asio::buffer(payload)};
        if (auto ec = co_await connection.write(buffers)) {
          reply = "error: write: " + ec.message();
          co_return;
        }
        std::span<const std::uint8_t> message;
        if (auto ec = co_await connection.read(message)) {
          reply = "error: read: " + ec.message();
          co_return;
        }
        reply.assign(message.begin(), message.end());
      },
      10s);
  return reply;
}

std::uint16_t TransportTest::unanswered_port() {
  using tcp = asio::ip::tcp;
  auto listener = std::make_shared<tcp::acceptor>(io);
  listener->open(tcp::v4());
  listener->bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  listener->listen(0);
  held_.push_back(listener);
  const auto port = listener->local_endpoint().port();
  bool full = false;
  run_bounded(
      [&]() -> asio::awaitable<void> {
        for (int i = 0; i < 8 && !full; ++i) {
          auto socket = std::make_shared<tcp::socket>(io);
          full = co_await transport::connect_tcp(*socket, "127.0.0.1", port, 200ms) == asio::error::timed_out;
          held_.push_back(socket);
        }
      },
      10s);
  return full ? port : 0;
}

}  // namespace transport_test
