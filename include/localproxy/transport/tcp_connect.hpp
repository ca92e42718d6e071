#pragma once
// Dialing a local or remote TCP address, or a Unix socket, without blocking the event loop.
#include <chrono>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

namespace localproxy::transport {

// Resolves host and tries every address in turn until one connects, each attempt bounded by
// timeout. Sets TCP_NODELAY on success.
boost::asio::awaitable<boost::system::error_code> connect_tcp(boost::asio::ip::tcp::socket& socket,
                                                              const std::string& host, std::uint16_t port,
                                                              std::chrono::milliseconds timeout);

boost::asio::awaitable<boost::system::error_code> connect_unix(boost::asio::local::stream_protocol::socket& socket,
                                                               const std::string& path,
                                                               std::chrono::milliseconds timeout);

}  // namespace localproxy::transport
