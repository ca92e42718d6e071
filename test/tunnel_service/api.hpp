#pragma once
// The management API: JSON over HTTP on loopback, like OpenTunnel/CloseTunnel/RotateTunnelAccessToken,
// plus fault injection for tests.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "registry.hpp"
#include "server.hpp"

namespace tunnel_service {

boost::asio::awaitable<void> api_loop(boost::asio::ip::tcp::acceptor& acceptor, registry& tunnels, server& relay_server);

}  // namespace tunnel_service
