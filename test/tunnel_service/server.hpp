#pragma once
// The tunnel endpoint: accepts proxies (TLS or plain), checks the upgrade request and the tokens,
// and hands each accepted WebSocket to the relay.
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "registry.hpp"
#include "relay.hpp"

namespace tunnel_service {

class server {
 public:
  server(registry& tunnels, std::shared_ptr<boost::asio::ssl::context> tls, relay_settings settings)
      : tunnels_(tunnels), tls_(std::move(tls)), settings_(settings) {}
  boost::asio::awaitable<void> accept_loop(boost::asio::ip::tcp::acceptor& acceptor);

  // API actions.
  void close_tunnel(tunnel& t);

 private:
  boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
  template <class Stream>
  boost::asio::awaitable<void> upgrade(Stream stream);

  registry& tunnels_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  relay_settings settings_;
};

}  // namespace tunnel_service
