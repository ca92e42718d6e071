#pragma once
// Dialing a local or remote TCP address, or a Unix socket, without blocking the event loop.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/generic/stream_protocol.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/system/error_code.hpp>

namespace localproxy::transport {

// What host names resolved to, kept for a short time: a burst of connections to one service then
// costs one lookup (each is a hand-off to asio's resolver thread and a read of /etc/hosts, or a DNS
// query) instead of one per connection. An entry is dropped when no address of it connects, so a
// moved service is looked up again at once. Used by one event loop; not thread-safe.
class resolve_cache {
 public:
  using clock = std::chrono::steady_clock;
  explicit resolve_cache(clock::duration ttl = std::chrono::seconds(5)) : ttl_(ttl) {}

  [[nodiscard]] const boost::asio::ip::tcp::resolver::results_type* find(const std::string& host, std::uint16_t port,
                                                                        clock::time_point now);
  void store(const std::string& host, std::uint16_t port, boost::asio::ip::tcp::resolver::results_type results,
             clock::time_point now);
  void forget(const std::string& host, std::uint16_t port);
  [[nodiscard]] std::size_t lookups() const noexcept { return lookups_; }  // how many went to the resolver

 private:
  struct entry {
    boost::asio::ip::tcp::resolver::results_type results;
    clock::time_point expires;
  };
  clock::duration ttl_;
  std::map<std::pair<std::string, std::uint16_t>, entry> entries_;
  std::size_t lookups_ = 0;
};

// Resolves host (not at all when it is a numeric address or localhost, which is 127.0.0.1 then ::1;
// through `cache` when one is given) and tries every address in turn until one connects, each
// attempt bounded by timeout. Sets TCP_NODELAY on success. Socket: a tcp::socket, or a generic stream socket (which then needs no
// conversion to be handed on).
template <class Socket>
boost::asio::awaitable<boost::system::error_code> connect_tcp(Socket& socket, const std::string& host,
                                                              std::uint16_t port, std::chrono::milliseconds timeout,
                                                              resolve_cache* cache = nullptr);

extern template boost::asio::awaitable<boost::system::error_code> connect_tcp(
    boost::asio::ip::tcp::socket&, const std::string&, std::uint16_t, std::chrono::milliseconds, resolve_cache*);
extern template boost::asio::awaitable<boost::system::error_code> connect_tcp(
    boost::asio::generic::stream_protocol::socket&, const std::string&, std::uint16_t, std::chrono::milliseconds,
    resolve_cache*);

boost::asio::awaitable<boost::system::error_code> connect_unix(boost::asio::local::stream_protocol::socket& socket,
                                                               const std::string& path,
                                                               std::chrono::milliseconds timeout);

}  // namespace localproxy::transport
