// The metrics exposition and its HTTP server's bounds, on a real loopback socket.
#include "localproxy/metrics/metrics_server.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

namespace asio = boost::asio;
namespace lm = localproxy::metrics;
namespace lt = localproxy::tunnel;
using asio::ip::tcp;

namespace {

lt::metrics_snapshot sample() {
  lt::metrics_snapshot m;
  m.connected = true;
  m.rtt = std::chrono::microseconds(1500);
  m.reconnects = 2;
  m.handshake_failures = {{0, 3}, {503, 1}};
  m.buffered_bytes = 4096;
  m.buffer_limit = 65536;
  lt::metrics_snapshot::service ssh{"SSH", 1, {}};
  ssh.counters = {5, 1, 1000, 2000};
  m.services = {ssh, {"WEB", 0, {}}};
  return m;
}

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

}  // namespace

TEST(MetricsRender, EveryFigureHasItsLine) {
  const auto text = lm::render(sample());
  for (const auto* line :
       {"localproxy_connected 1", "localproxy_reconnects_total 2", "localproxy_handshake_failures_total{status=\"0\"} 3",
        "localproxy_handshake_failures_total{status=\"503\"} 1", "localproxy_rtt_seconds 0.0015",
        "localproxy_buffered_bytes 4096", "localproxy_buffer_limit_bytes 65536",
        "localproxy_connections_active{service=\"SSH\"} 1", "localproxy_connections_opened_total{service=\"SSH\"} 5",
        "localproxy_connections_refused_total{service=\"SSH\"} 1",
        "localproxy_bytes_total{direction=\"to_tunnel\",service=\"SSH\"} 1000",
        "localproxy_bytes_total{direction=\"from_tunnel\",service=\"SSH\"} 2000",
        "localproxy_connections_opened_total{service=\"WEB\"} 0", "# TYPE localproxy_bytes_total counter",
        "# TYPE localproxy_connected gauge"})
    EXPECT_TRUE(has_line(text, line)) << line << "\n" << text;
}

TEST(MetricsRender, NoRttBeforeTheFirstPong) {
  auto m = sample();
  m.rtt.reset();
  EXPECT_EQ(lm::render(m).find("localproxy_rtt_seconds "), std::string::npos);
}

class MetricsServer : public ::testing::Test {
 protected:
  void open(lm::server_limits limits) {
    server_ = lm::metrics_server::open(ioc_.get_executor(), "127.0.0.1", 0, [] { return sample(); }, limits);
  }
  // Sends `request` and reads until the server closes (or `limit` passes); returns what came.
  std::string exchange(tcp::socket& s, const std::string& request, std::chrono::milliseconds limit = std::chrono::seconds(5)) {
    if (!request.empty()) asio::async_write(s, asio::buffer(request), [](auto, auto) {});
    std::string got;
    bool done = false;
    auto buf = std::make_shared<std::array<char, 4096>>();
    std::function<void()> next = [&] {
      s.async_read_some(asio::buffer(*buf), [&, buf](boost::system::error_code ec, std::size_t n) {
        got.append(buf->data(), n);
        if (ec) done = true;
        else next();
      });
    };
    next();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
      ioc_.restart();
      ioc_.run_for(std::chrono::milliseconds(10));
    }
    closed_ = done;
    if (!done) {  // still open: end the read before its handler's captures go
      s.cancel();
      while (!done) {
        ioc_.restart();
        ioc_.run_for(std::chrono::milliseconds(10));
      }
    }
    return got;
  }
  tcp::socket connect() {
    tcp::socket s(ioc_);
    s.connect(server_->local_endpoint());
    return s;
  }

  asio::io_context ioc_;
  std::shared_ptr<lm::metrics_server> server_;
  bool closed_ = false;
};

TEST_F(MetricsServer, ServesMetricsAndNotFoundElsewhere) {
  open({});
  auto a = connect();
  auto got = exchange(a, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK")) << got;
  EXPECT_NE(got.find("localproxy_connected 1"), std::string::npos);
  auto b = connect();
  got = exchange(b, "GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 404")) << got;
  auto c = connect();
  got = exchange(c, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 405")) << got;
}

TEST_F(MetricsServer, AnIdleClientIsClosed) {
  open({8, 8192, std::chrono::milliseconds(200)});
  auto a = connect();
  EXPECT_EQ(exchange(a, "GET /met", std::chrono::seconds(5)), "");
  EXPECT_TRUE(closed_);  // closed after the idle timeout, not left open
}

TEST_F(MetricsServer, ARequestOverTheLimitIsNotServed) {
  open({8, 512, std::chrono::seconds(5)});
  auto a = connect();
  const auto got = exchange(a, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(closed_);
  EXPECT_EQ(got.find("200 OK"), std::string::npos) << got;
}

TEST_F(MetricsServer, ClientsOverTheLimitAreClosedAndTheOthersServed) {
  open({2, 8192, std::chrono::seconds(5)});
  auto a = connect();
  auto b = connect();
  exchange(a, "", std::chrono::milliseconds(100));  // let the server accept both
  auto c = connect();
  EXPECT_EQ(exchange(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), "");
  EXPECT_TRUE(closed_);
  const auto got = exchange(a, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(got.starts_with("HTTP/1.1 200 OK")) << got;
}

TEST_F(MetricsServer, APortInUseIsOneLine) {
  open({});
  try {
    (void)lm::metrics_server::open(ioc_.get_executor(), "127.0.0.1", server_->local_endpoint().port(),
                                   [] { return sample(); });
    FAIL() << "bound twice";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--metrics 127.0.0.1:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot listen"), std::string::npos) << e.what();
  }
}
