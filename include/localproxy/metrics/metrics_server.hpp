#pragma once
// --metrics: the tunnel's counters in the Prometheus text format, served by a small HTTP/1.1
// server on the proxy's own event loop (GET /metrics; 404 elsewhere). Bounded: a few clients at
// once, small requests, idle clients closed.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "localproxy/tunnel/metrics.hpp"

namespace localproxy::metrics {

// The exposition text for one reading (prometheus-cpp's registry and TextSerializer).
[[nodiscard]] std::string render(const tunnel::metrics_snapshot& m);

struct server_limits {
  std::size_t max_clients = 8;
  std::size_t max_request = 8192;  // request line and headers; no body is accepted
  std::chrono::milliseconds idle{10000};
};

class metrics_server : public std::enable_shared_from_this<metrics_server> {
 public:
  using reader = std::function<tunnel::metrics_snapshot()>;

  // Listens on host:port now, so that a port in use or a bad address is found before the first
  // handshake: throws std::runtime_error with one line naming --metrics. Warns when the address
  // is not a loopback one (the metrics name the tunnel's services).
  static std::shared_ptr<metrics_server> open(const boost::asio::any_io_executor& ex, const std::string& host,
                                              std::uint16_t port, reader read, server_limits limits = {});
  metrics_server(boost::asio::ip::tcp::acceptor acceptor, reader read, server_limits limits);

  [[nodiscard]] boost::asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }

 private:
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<metrics_server> self);
  boost::asio::awaitable<void> serve(std::shared_ptr<metrics_server> self, boost::asio::ip::tcp::socket socket);

  boost::asio::ip::tcp::acceptor acceptor_;
  reader read_;
  server_limits limits_;
  std::size_t clients_ = 0;
};

}  // namespace localproxy::metrics
