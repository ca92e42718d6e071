// tunnel-service: options -> TLS -> listen -> serve until SIGINT/SIGTERM.
#include <iostream>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api.hpp"
#include "localproxy/log/log.hpp"
#include "self_signed.hpp"
#include "server.hpp"
#include "service_options.hpp"

namespace asio = boost::asio;
using namespace tunnel_service;

namespace {

std::shared_ptr<asio::ssl::context> server_tls(const service_options& o) {
  if (o.plain) return nullptr;
  std::string cert = o.tls_cert, key = o.tls_key;
  if (!o.self_signed_dir.empty()) {
    ensure_self_signed(o.self_signed_dir);
    cert = o.self_signed_dir + "/server.pem";
    key = o.self_signed_dir + "/server.key";
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->use_certificate_chain_file(cert);
  ctx->use_private_key_file(key, asio::ssl::context::pem);
  return ctx;
}

asio::ip::tcp::acceptor listen(asio::io_context& ioc, const std::string& host, unsigned short port) {
  asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  asio::ip::tcp::acceptor acceptor(ioc);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint);
  acceptor.listen();
  return acceptor;
}

std::string shown(const std::string& host, unsigned short port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

int run(const service_options& o) {
  localproxy::log::init(o.verbosity);
  asio::io_context ioc(1);
  registry tunnels;
  for (const auto& t : o.tunnels) tunnels.open(t.services, t.id, t.source_token, t.destination_token);
  relay_settings settings;
  settings.bandwidth = o.bandwidth;
  server relay_server(tunnels, server_tls(o), settings);
  auto acceptor = listen(ioc, o.listen_host, o.listen_port);
  asio::co_spawn(ioc, relay_server.accept_loop(acceptor), asio::detached);
  std::cout << "tunnel-service listening on " << (o.plain ? "ws://" : "wss://")
            << shown(o.listen_host, acceptor.local_endpoint().port()) << std::endl;
  std::optional<asio::ip::tcp::acceptor> api;
  if (o.api) {
    api.emplace(listen(ioc, o.api->first, o.api->second));
    asio::co_spawn(ioc, api_loop(*api, tunnels, relay_server), asio::detached);
    std::cout << "api on http://" << shown(o.api->first, api->local_endpoint().port()) << std::endl;
  }
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code, int) { ioc.stop(); });
  ioc.run();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    auto o = parse_service_options(argc, argv);
    if (o.help) {
      std::cout << service_usage();
      return 0;
    }
    return run(o);
  } catch (const usage_error& e) {
    std::cerr << "tunnel-service: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "tunnel-service: " << e.what() << "\n";
    return 1;
  }
}
