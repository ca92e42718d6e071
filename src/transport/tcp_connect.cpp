#include "localproxy/transport/tcp_connect.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace localproxy::transport {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using boost::system::error_code;
using tcp = asio::ip::tcp;

const tcp::resolver::results_type* resolve_cache::find(const std::string& host, std::uint16_t port,
                                                       clock::time_point now) {
  const auto it = entries_.find({host, port});
  if (it == entries_.end()) return nullptr;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return nullptr;
  }
  return &it->second.results;
}

void resolve_cache::store(const std::string& host, std::uint16_t port, tcp::resolver::results_type results,
                          clock::time_point now) {
  ++lookups_;
  // Expired entries go when they are next asked for; a proxy dials few names, so nothing piles up.
  entries_[{host, port}] = {std::move(results), now + ttl_};
}

void resolve_cache::forget(const std::string& host, std::uint16_t port) { entries_.erase({host, port}); }

namespace {
asio::awaitable<void> expire(asio::steady_timer& timer) {
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

// The outcome of a connect that the socket says has ended (writable): SO_ERROR.
error_code connect_outcome(int fd) {
  int err = 0;
  socklen_t size = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &size) != 0) err = errno;
  return {err, asio::error::get_system_category()};
}

// A connect to this machine (the usual destination: a service on the device itself) has ended by
// the time connect(2) returns, though a non-blocking one says EINPROGRESS: the kernel ran the
// handshake within the call. So the socket is asked once at once; only a connect still under way
// waits, for the socket to become writable, bounded by timeout. That spares the common case a
// timer, a turn of the event loop and the reactor's registration for it (asio's async_connect
// always waits).
template <class Socket, class Endpoint>
asio::awaitable<error_code> connect_one(Socket& socket, const Endpoint& endpoint, std::chrono::milliseconds timeout) {
  error_code ec;
  socket.close(ec);
  socket.open(endpoint.protocol(), ec);
  if (!ec) socket.non_blocking(true, ec);
  if (ec) co_return ec;
  const int fd = socket.native_handle();
  if (::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0) co_return error_code{};
  // EAGAIN: a Unix socket's listener with a full queue; asio's async_connect waits for it too.
  if (errno != EINPROGRESS && errno != EAGAIN && errno != EINTR)
    co_return error_code(errno, asio::error::get_system_category());
  pollfd ready{fd, POLLOUT, 0};
  if (::poll(&ready, 1, 0) == 1) co_return connect_outcome(fd);
  asio::steady_timer timer(socket.get_executor(), timeout);
  auto result = co_await (socket.async_wait(Socket::wait_write, asio::as_tuple(asio::use_awaitable)) || expire(timer));
  if (result.index() == 1) {
    socket.close(ec);
    co_return asio::error::timed_out;
  }
  if (const auto [wait_ec] = std::get<0>(result); wait_ec) co_return wait_ec;
  co_return connect_outcome(fd);
}

bool is_localhost(std::string_view host) {
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host.size() == 9 && std::equal(host.begin(), host.end(), "localhost", [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == b;
         });
}

// The addresses to try for host: itself when it is numeric, the loopback addresses for localhost,
// else what the resolver (or the cache) says. Fills `addresses`, or returns why it cannot.
template <class Executor>
asio::awaitable<error_code> addresses_of(Executor ex, const std::string& host, std::uint16_t port,
                                         std::chrono::milliseconds timeout, resolve_cache* cache,
                                         std::vector<tcp::endpoint>& addresses) {
  error_code ec;
  if (const auto address = asio::ip::make_address(host, ec); !ec) {
    addresses.emplace_back(address, port);
    co_return error_code{};
  }
  if (is_localhost(host)) {
    // RFC 6761 6.3: localhost is the loopback address, whatever a resolver would say. IPv4 first,
    // the usual listener; a service on ::1 only is reached at the second try.
    addresses.emplace_back(asio::ip::address_v4::loopback(), port);
    addresses.emplace_back(asio::ip::address_v6::loopback(), port);
    co_return error_code{};
  }
  const auto now = resolve_cache::clock::now();
  if (const auto* known = cache ? cache->find(host, port, now) : nullptr) {
    for (const auto& entry : *known) addresses.push_back(entry.endpoint());
    co_return error_code{};
  }
  tcp::resolver resolver(ex);
  asio::steady_timer timer(ex, timeout);
  auto resolved = co_await (resolver.async_resolve(host, std::to_string(port), asio::as_tuple(asio::use_awaitable)) ||
                            expire(timer));
  if (resolved.index() == 1) co_return asio::error::timed_out;
  auto [rec, results] = std::get<0>(resolved);
  if (rec) co_return rec;
  for (const auto& entry : results) addresses.push_back(entry.endpoint());
  if (cache) cache->store(host, port, std::move(results), now);
  co_return error_code{};
}
}  // namespace

template <class Socket>
asio::awaitable<error_code> connect_tcp(Socket& socket, const std::string& host, std::uint16_t port,
                                        std::chrono::milliseconds timeout, resolve_cache* cache) {
  std::vector<tcp::endpoint> addresses;
  if (auto ec = co_await addresses_of(socket.get_executor(), host, port, timeout, cache, addresses)) co_return ec;
  // When every address fails, the first one's error is the one reported: later addresses are
  // fallbacks (localhost's ::1), and their "refused" would hide the first one's timeout.
  error_code first = asio::error::host_not_found;
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const auto ec = co_await connect_one(socket, typename Socket::endpoint_type(addresses[i]), timeout);
    if (!ec) {
      error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      co_return error_code{};
    }
    if (i == 0) first = ec;
  }
  if (cache) cache->forget(host, port);
  co_return first;
}

template asio::awaitable<error_code> connect_tcp(tcp::socket&, const std::string&, std::uint16_t,
                                                 std::chrono::milliseconds, resolve_cache*);
template asio::awaitable<error_code> connect_tcp(asio::generic::stream_protocol::socket&, const std::string&,
                                                 std::uint16_t, std::chrono::milliseconds, resolve_cache*);

asio::awaitable<error_code> connect_unix(asio::local::stream_protocol::socket& socket, const std::string& path,
                                         std::chrono::milliseconds timeout) {
  co_return co_await connect_one(socket, asio::local::stream_protocol::endpoint(path), timeout);
}

}  // namespace localproxy::transport
