#include "localproxy/metrics/metrics_server.hpp"

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "localproxy/log/log.hpp"

namespace localproxy::metrics {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

std::string describe(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return "--metrics " + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}
}  // namespace

std::shared_ptr<metrics_server> metrics_server::open(const asio::any_io_executor& ex, const std::string& host,
                                                     std::uint16_t port, reader read, server_limits limits) {
  boost::system::error_code ec;
  tcp::resolver resolver(ex);
  auto found = resolver.resolve(host, std::to_string(port), tcp::resolver::numeric_service, ec);
  if (ec || found.empty())
    throw std::runtime_error(describe(host, port) + ": cannot resolve " + host + ": " + ec.message());
  const tcp::endpoint endpoint = found.begin()->endpoint();
  tcp::acceptor acceptor(ex);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);  // a listener still refuses a second bind
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(describe(host, port) + ": cannot listen: " + ec.message());
  if (!endpoint.address().is_loopback())
    LP_LOG(warning) << describe(host, port)
                    << " is not a loopback address: anyone who can reach it sees the tunnel's services and traffic figures";
  const auto bound = acceptor.local_endpoint(ec);
  LP_LOG(info) << "Serving metrics on http://" << describe(host, bound.port()).substr(10) << "/metrics";
  auto server = std::make_shared<metrics_server>(std::move(acceptor), std::move(read), limits);
  asio::co_spawn(ex, server->accept_loop(server), asio::detached);
  return server;
}

metrics_server::metrics_server(tcp::acceptor acceptor, reader read, server_limits limits)
    : acceptor_(std::move(acceptor)), read_(std::move(read)), limits_(limits) {}

asio::awaitable<void> metrics_server::accept_loop(std::shared_ptr<metrics_server> self) {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_tuple);
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
    if (ec) continue;  // e.g. out of descriptors: the next accept may work
    if (clients_ >= limits_.max_clients) {
      LP_LOG(debug) << "Metrics: refusing a client, " << clients_ << " are connected";
      continue;  // the socket closes here
    }
    asio::co_spawn(acceptor_.get_executor(), serve(self, std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> metrics_server::serve(std::shared_ptr<metrics_server> self, tcp::socket socket) {
  ++clients_;
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer(limits_.max_request);
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits_.max_request));
    parser.body_limit(0);
    stream.expires_after(limits_.idle);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, use_tuple);
    if (ec) break;  // closed, idle for too long, too large or malformed: the client is gone
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(request.keep_alive());
    const auto target = request.target();
    const auto path = target.substr(0, target.find('?'));
    if (path != "/metrics") {
      response.result(http::status::not_found);
      response.set(http::field::content_type, "text/plain; charset=utf-8");
      response.body() = "not found: the metrics are at /metrics\n";
    } else if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response.result(http::status::method_not_allowed);
      response.set(http::field::allow, "GET, HEAD");
    } else {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = render(read_());
    }
    response.prepare_payload();
    if (request.method() == http::verb::head) response.body().clear();
    stream.expires_after(limits_.idle);
    auto [write_ec, written] = co_await http::async_write(stream, response, use_tuple);
    if (write_ec || !response.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  --clients_;
  (void)self;
}

}  // namespace localproxy::metrics
