#include "localproxy/tunnel/source_listeners.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using asio::ip::tcp;
using unix_socket = asio::local::stream_protocol;

namespace {
std::string service_name(const service_entry& s) { return s.id.empty() ? std::string("the service") : "service " + s.id; }

// A socket file left by a process that is gone is replaced (nothing accepts on it: the connect is
// refused). One that still accepts is in use, like a port; a file that is no socket is not ours.
void remove_stale_socket(const std::string& path, const std::string& what) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
  if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(what + ": the file exists and is not a socket");
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int connected = probe < 0 ? -1 : ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = errno;
  if (probe >= 0) ::close(probe);
  if (connected == 0 || error == EAGAIN)
    throw std::runtime_error(what + ": another process listens on it (a stale socket file would refuse connections)");
  if (error != ECONNREFUSED) throw std::runtime_error(what + ": cannot probe the socket file there: " + std::strerror(error));
  if (::unlink(path.c_str()) != 0) throw std::runtime_error(what + ": cannot remove the stale socket file: " + std::strerror(errno));
  LP_LOG(info) << "Replaced the stale socket file " << path << " (nothing listened on it)";
}

// "pid 4242 (uid 1000)": who connected to a Unix socket, for the log.
std::string peer_of(unix_socket::socket& socket) {
  ucred credentials{};
  socklen_t length = sizeof credentials;
  if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return "unknown";
  return "pid " + std::to_string(credentials.pid) + " (uid " + std::to_string(credentials.uid) + ")";
}

tcp::endpoint resolve_bind(const asio::any_io_executor& ex, const std::string& host, std::uint16_t port) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (!ec) return {address, port};
  // A name (usually "localhost"): resolved once at start-up; IPv4 first, as clients try it first.
  tcp::resolver resolver(ex);
  auto results = resolver.resolve(host, std::to_string(port), tcp::resolver::passive, ec);
  if (ec || results.empty()) throw std::runtime_error("cannot resolve bind address " + host + ": " + ec.message());
  for (const auto& r : results)
    if (r.endpoint().address().is_v4()) return r.endpoint();
  return results.begin()->endpoint();
}
}  // namespace

void source_listeners::listener::close() noexcept {
  open = false;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  if (unix_acceptor) unix_acceptor->close(ignored);
  struct stat st {};
  if (made_file && ::lstat(unix_path.c_str(), &st) == 0 && std::pair(st.st_dev, st.st_ino) == *made_file)
    ::unlink(unix_path.c_str());
  made_file.reset();
}

std::shared_ptr<source_listeners::listener> source_listeners::open_unix(const service_entry& s) {
  const auto& path = s.mapping.unix_path;
  const auto what = "cannot listen on " + path + " for " + service_name(s);
  remove_stale_socket(path, what);
  auto l = std::make_shared<listener>(executor_);
  l->unix_path = path;
  boost::system::error_code ec;
  l->unix_acceptor.emplace(executor_);
  l->unix_acceptor->open(unix_socket(), ec);
  if (!ec) {
    // Made with its final mode: there is no moment when others may connect.
    const auto old_mask = ::umask(~unix_socket_mode_ & 0777);
    l->unix_acceptor->bind(unix_socket::endpoint(path), ec);
    ::umask(old_mask);
  }
  struct stat st {};
  if (!ec && ::lstat(path.c_str(), &st) == 0) l->made_file = std::pair(st.st_dev, st.st_ino);
  if (!ec) l->unix_acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(what + ": " + ec.message());
  return l;
}

std::shared_ptr<source_listeners::listener> source_listeners::open(const service_entry& s,
                                                                  const std::string& default_bind_address) {
  if (!s.mapping.unix_path.empty()) return open_unix(s);
  const auto& host = s.mapping.host.empty() ? default_bind_address : s.mapping.host;
  const auto endpoint = resolve_bind(executor_, host, s.mapping.port);
  auto l = std::make_shared<listener>(executor_);
  boost::system::error_code ec;
  l->acceptor.open(endpoint.protocol(), ec);
  if (!ec) l->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) l->acceptor.bind(endpoint, ec);
  if (!ec) l->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    throw std::runtime_error("cannot listen on " + host + " port " + std::to_string(s.mapping.port) + " for " +
                             service_name(s) + ": " + ec.message());
  return l;
}

std::shared_ptr<source_listeners::listener> source_listeners::take_inherited(const service_entry& s, bool single_service) {
  auto it = std::find_if(inherited_.begin(), inherited_.end(), [&](const auto& l) {
    return !l.name.empty() && (l.name == s.id || l.name == s.mapping.service_id);
  });
  if (it == inherited_.end() && single_service && s.mapping.service_id.empty() && inherited_.size() == 1)
    it = inherited_.begin();
  if (it == inherited_.end()) return nullptr;
  const auto fd = *it;
  inherited_.erase(it);
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  if (::getsockname(fd.fd, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("socket activation: fd " + std::to_string(fd.fd) + ": " + std::strerror(errno));
  auto l = std::make_shared<listener>(executor_);
  boost::system::error_code ec;
  if (address.ss_family == AF_UNIX) {
    // The service manager made the file and removes it: it is not made_file.
    l->unix_path = reinterpret_cast<const sockaddr_un&>(address).sun_path;
    l->unix_acceptor.emplace(executor_);
    l->unix_acceptor->assign(unix_socket(), fd.fd, ec);
  } else {
    l->acceptor.assign(address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), fd.fd, ec);
  }
  if (ec) throw std::runtime_error("socket activation: fd " + std::to_string(fd.fd) + ": " + ec.message());
  LP_LOG(info) << "Using the socket-activated listener " << (fd.name.empty() ? std::string("(unnamed)") : fd.name)
               << " for " << service_name(s);
  return l;
}

void source_listeners::close_unused_inherited() {
  for (const auto& l : inherited_) {
    LP_LOG(warning) << "Socket-activated listener " << (l.name.empty() ? std::string("(unnamed)") : l.name) << " (fd "
                    << l.fd << ") matches no service (FileDescriptorName= must be a service ID); closing it";
    ::close(l.fd);
  }
  inherited_.clear();
}

void source_listeners::apply(const std::vector<service_entry>& services, const std::string& default_bind_address) {
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    const bool kept = std::any_of(services.begin(), services.end(), [&](const service_entry& s) { return s.id == it->first; });
    if (kept) {
      ++it;
      continue;
    }
    LP_LOG(info) << "No longer listening for service " << it->first;
    it->second->close();
    it = listeners_.erase(it);
  }
  for (const auto& s : services) {
    if (s.mapping.stdio) {
      hand_over_stdio(s);
      continue;
    }
    if (listeners_.contains(s.id)) continue;
    auto l = take_inherited(s, services.size() == 1);
    const bool activated = l != nullptr;
    if (!l) l = take_early(s);
    if (!l) l = open(s, default_bind_address);
    if (l->unix_acceptor) {
      LP_LOG(info) << "Listening for new connection on " << l->unix_path << " for " << service_name(s);
      listeners_[s.id] = l;
      asio::co_spawn(executor_, unix_accept_loop(l, s.id), asio::detached);
      continue;
    }
    const auto port = l->acceptor.local_endpoint().port();
    if (s.mapping.port == 0 && !activated)
      LP_LOG(info) << "Listen port assigned for service id " << s.id << ". New port mapping: " << s.id << " = " << port;
    LP_LOG(info) << "Listening for new connection on port " << port;
    listeners_[s.id] = l;
    asio::co_spawn(executor_, accept_loop(l, s.id, port), asio::detached);
  }
  close_unused_inherited();
  for (auto& [mapping, l] : early_) {
    LP_LOG(info) << "Not listening on "
                 << (mapping.unix_path.empty() ? "port " + std::to_string(mapping.port) : mapping.unix_path)
                 << " after all: no service of the tunnel takes it";
    l->close();
  }
  early_.clear();
}

void source_listeners::hand_over_stdio(const service_entry& s) {
  if (!stdio_) return;  // it carries one connection in the life of the process
  LP_LOG(info) << "Carrying one connection for " << service_name(s) << " over stdin/stdout";
  stdio_handed_over_ = true;
  // Posted: the session adopts connections once it has applied the services, which it is doing now.
  asio::post(executor_, [this, id = s.id, stream = std::move(*stdio_)]() mutable {
    on_accept_(id, std::move(stream), "stdin/stdout");
  });
  stdio_.reset();
}

void source_listeners::open_early(const std::vector<config::service_mapping>& mappings,
                                  const std::string& default_bind_address) {
  for (const auto& m : mappings) {
    if (m.stdio) {
      stdio_ = local_stream::standard_io(executor_, on_stdio_end_);
      continue;
    }
    if (m.port == 0 && m.unix_path.empty()) continue;
    const bool activated = std::any_of(inherited_.begin(), inherited_.end(), [&](const auto& l) {
      return l.name == m.service_id || (m.service_id.empty() && mappings.size() == 1 && inherited_.size() == 1);
    });
    if (activated) continue;
    service_entry e;
    e.id = m.service_id;
    e.mapping = m;
    early_.emplace_back(m, open(e, default_bind_address));
  }
}

std::shared_ptr<source_listeners::listener> source_listeners::take_early(const service_entry& s) {
  auto it = std::find_if(early_.begin(), early_.end(), [&](const auto& e) {
    return e.first.port == s.mapping.port && e.first.host == s.mapping.host && e.first.unix_path == s.mapping.unix_path;
  });
  if (it == early_.end()) return nullptr;
  auto l = std::move(it->second);
  early_.erase(it);
  return l;
}

void source_listeners::close_all() {
  for (auto& [mapping, l] : early_) l->close();
  early_.clear();
  for (const auto& l : inherited_) ::close(l.fd);
  inherited_.clear();
  for (auto& [id, l] : listeners_) l->close();
  listeners_.clear();
  stdio_.reset();
}

asio::awaitable<void> source_listeners::accept_loop(std::shared_ptr<listener> l, std::string service_id, std::uint16_t port) {
  constexpr auto first_pause = std::chrono::milliseconds(100);
  constexpr auto longest_pause = std::chrono::milliseconds(1000);
  auto pause = first_pause;
  int failures = 0;  // in the current burst
  asio::steady_timer timer(executor_);
  while (l->open) {
    // Accepted straight into the socket type a connection keeps: converting a tcp::socket would
    // take it out of epoll and put it back, two system calls per connection.
    local_connection::socket_type socket(executor_);
    auto [ec] = co_await l->acceptor.async_accept(socket, asio::as_tuple(asio::use_awaitable));
    if (!l->open) break;
    if (ec) {
      // e.g. EMFILE/ENFILE: the client waits in the backlog. Back off instead of spinning, keep
      // listening, and log once per burst rather than once per failed accept.
      if (failures++ == 0)
        LP_LOG(error) << "Accept failed on port " << port << ": " << ec.message() << "; retrying from "
                      << first_pause.count() << " ms up to every " << longest_pause.count() << " ms until it succeeds";
      timer.expires_after(pause);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      pause = std::min(pause * 2, longest_pause);
      continue;
    }
    if (failures > 0)
      LP_LOG(warning) << "Accepting again on port " << port << " after " << failures << " failed attempts";
    failures = 0;
    pause = first_pause;
    boost::system::error_code peer_ec;
    const auto peer = socket.remote_endpoint(peer_ec);
    tcp::endpoint address;
    const bool known = !peer_ec && peer.size() <= address.capacity();
    if (known) {
      std::memcpy(address.data(), peer.data(), peer.size());
      address.resize(peer.size());
    }
    const auto peer_text = known ? address.address().to_string() + ":" + std::to_string(address.port()) : std::string("unknown");
    LP_LOG(info) << "Accepted tcp connection on port " << port << " from " << peer_text;
    socket.set_option(tcp::no_delay(true), peer_ec);
    on_accept_(service_id, std::move(socket), peer_text);
  }
}

asio::awaitable<void> source_listeners::unix_accept_loop(std::shared_ptr<listener> l, std::string service_id) {
  asio::steady_timer timer(executor_);
  while (l->open) {
    auto [ec, socket] = co_await l->unix_acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
    if (!l->open) break;
    if (ec) {
      // e.g. too many open files: wait instead of spinning, and keep listening.
      LP_LOG(error) << "Accept failed on " << l->unix_path << ": " << ec.message() << "; retrying in 1 s";
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    const auto peer = peer_of(socket);
    LP_LOG(info) << "Accepted connection on " << l->unix_path << " from " << peer;
    on_accept_(service_id, local_stream::socket_type(executor_, asio::generic::stream_protocol(AF_UNIX, 0), socket.release()),
               peer);
  }
}

}  // namespace localproxy::tunnel
