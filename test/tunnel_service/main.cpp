// tunnel-service: options -> TLS -> listen -> serve until SIGINT/SIGTERM.
#include <iostream>
#include <optional>
#include <stdexcept>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>

#include "api.hpp"
#include "localproxy/build_info.hpp"
#include "localproxy/log/log.hpp"
#include "self_signed.hpp"
#include "server.hpp"
#include "service_options.hpp"

namespace asio = boost::asio;
using namespace tunnel_service;

namespace {

// A problem with what the command line names (a port in use, a directory that cannot be written):
// one line that names the option, exit status 2.
struct setup_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::shared_ptr<asio::ssl::context> server_tls(const service_options& o) {
  if (o.plain) return nullptr;
  std::string cert = o.tls_cert, key = o.tls_key, what = "--tls-cert " + o.tls_cert;
  if (!o.self_signed_dir.empty()) {
    what = "--self-signed " + o.self_signed_dir;
    try {
      ensure_self_signed(o.self_signed_dir);
    } catch (const std::exception& e) {
      throw setup_error(what + ": " + e.what());
    }
    cert = o.self_signed_dir + "/server.pem";
    key = o.self_signed_dir + "/server.key";
  }
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (ctx->use_certificate_chain_file(cert, ec); ec)
    throw setup_error(what + ": cannot load the certificate " + cert + " (" + ec.message() + ")");
  if (ctx->use_private_key_file(key, asio::ssl::context::pem, ec); ec)
    throw setup_error(what + ": cannot load the key " + key + " (" + ec.message() + ")");
  return ctx;
}

std::string shown(const std::string& host, unsigned short port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Binds and listens; a failure is one line naming the option and the address (no Boost source
// locations: error_code messages only).
asio::ip::tcp::acceptor listen(asio::io_context& ioc, const char* option, const std::string& host,
                               unsigned short port, int receive_buffer = 0) {
  const auto where = std::string(option) + " " + shown(host, port) + ": ";
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) throw setup_error(where + "expected an IP address (e.g. 127.0.0.1 or ::1)");
  const asio::ip::tcp::endpoint endpoint(address, port);
  asio::ip::tcp::acceptor acceptor(ioc);
  if (acceptor.open(endpoint.protocol(), ec); ec) throw setup_error(where + "cannot open a socket (" + ec.message() + ")");
  acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  // Set before listen(), so that each accepted connection has it from the handshake on and
  // announces a window to match.
  if (receive_buffer > 0) acceptor.set_option(asio::socket_base::receive_buffer_size(receive_buffer), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    throw setup_error(where + (ec == asio::error::address_in_use ? std::string("the address is already in use")
                                                                  : "cannot listen (" + ec.message() + ")"));
  }
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec)
    throw setup_error(where + "cannot listen (" + ec.message() + ")");
  return acceptor;
}

int run(const service_options& o) {
  localproxy::log::init(o.verbosity);
  asio::io_context ioc(1);
  registry tunnels;
  for (const auto& t : o.tunnels) tunnels.open(t.services, t.id, t.source_token, t.destination_token);
  relay_settings settings;
  settings.bandwidth = o.bandwidth;
  server relay_server(tunnels, server_tls(o), settings);
  // Both ports are bound before anything is printed: a script that waits for the lines can use them.
  auto acceptor = listen(ioc, "--listen", o.listen_host, o.listen_port, o.receive_buffer);
  std::optional<asio::ip::tcp::acceptor> api;
  if (o.api) api.emplace(listen(ioc, "--api", o.api->first, o.api->second));
  asio::co_spawn(ioc, relay_server.accept_loop(acceptor), asio::detached);
  if (api) asio::co_spawn(ioc, api_loop(*api, tunnels, relay_server), asio::detached);
  std::cout << "tunnel-service listening on " << (o.plain ? "ws://" : "wss://")
            << shown(o.listen_host, acceptor.local_endpoint().port()) << std::endl;
  if (api) std::cout << "api on http://" << shown(o.api->first, api->local_endpoint().port()) << std::endl;
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
    if (o.version) {
      std::cout << localproxy::version_text("tunnel-service");
      return 0;
    }
    return run(o);
  } catch (const usage_error& e) {
    std::cerr << "tunnel-service: " << e.what() << "\n";
    return 2;
  } catch (const setup_error& e) {
    std::cerr << "tunnel-service: " << e.what() << "\n";
    return 2;
  } catch (const boost::system::system_error& e) {
    std::cerr << "tunnel-service: " << e.code().message() << "\n";  // what() names Boost's source lines
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "tunnel-service: " << e.what() << "\n";
    return 1;
  }
}
