#pragma once
// Source mode: one listening socket per service (TCP, or a Unix socket for a mapping with a path).
// They outlive WebSocket reconnects, so a client that connects during an outage is accepted and
// waits for the tunnel. With --stdio there is no listener: stdin/stdout are handed on as the one
// connection once the tunnel's services are known.
#include <sys/types.h>

#include <functional>
#include <utility>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

class source_listeners {
 public:
  using accept_handler = std::function<void(const std::string& service_id, local_stream, const std::string& peer)>;

  source_listeners(const boost::asio::any_io_executor& ex, accept_handler on_accept)
      : executor_(ex), on_accept_(std::move(on_accept)) {}
  ~source_listeners() { close_all(); }

  // Listens for every service not listened for yet (a port 0 mapping gets a free port, logged)
  // and stops listening for services no longer in the list; hands stdin/stdout on (posted, once)
  // for a --stdio service. Throws std::runtime_error when a port cannot be bound.
  void apply(const std::vector<service_entry>& services, const std::string& default_bind_address);
  void close_all();

  // Before the first handshake: binds every mapping with a fixed port or a socket path (not
  // socket-activated), and takes stdin/stdout for --stdio, so that a port or socket in use, a bad
  // bind address or a closed stdin is found before the single-use token is spent. apply() takes
  // these over (they accept only from then on; clients wait in the backlog) and closes the ones
  // no service takes. Throws std::runtime_error, as apply().
  void open_early(const std::vector<config::service_mapping>& mappings, const std::string& default_bind_address);

  // Socket activation: listeners to use instead of binding. A service takes the one whose name is
  // its service ID; the single unnamed mapping (`-s 5555`) takes a single socket whatever its
  // name. Sockets no service takes are closed at the first apply().
  void set_inherited(std::vector<service_manager::inherited_listener> sockets) { inherited_ = std::move(sockets); }
  // The mode of the Unix sockets this process makes (setting unix_socket_mode).
  void set_unix_socket_mode(mode_t mode) noexcept { unix_socket_mode_ = mode; }
  // --stdio: runs once the stdin/stdout connection is over (given back by its local_connection).
  void set_stdio_end(std::function<void()> on_end) { on_stdio_end_ = std::move(on_end); }
  // --stdio: stdin/stdout went to a session. A connection that ended cannot be made again.
  [[nodiscard]] bool stdio_handed_over() const noexcept { return stdio_handed_over_; }

 private:
  // A TCP listener, or a Unix socket one (unix_acceptor set: made only then, so that a TCP-only
  // proxy never sets up Asio's Unix socket service).
  struct listener {
    explicit listener(const boost::asio::any_io_executor& ex) : acceptor(ex) {}
    ~listener() { close(); }
    listener(const listener&) = delete;
    listener& operator=(const listener&) = delete;
    // Stops accepting; removes the socket file this process made (if it is still that one).
    void close() noexcept;
    boost::asio::ip::tcp::acceptor acceptor;
    std::optional<boost::asio::local::stream_protocol::acceptor> unix_acceptor;
    std::string unix_path;  // for log lines
    std::optional<std::pair<dev_t, ino_t>> made_file;  // the socket file bind() made
    bool open = true;
  };
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<listener> l, std::string service_id, std::uint16_t port);
  boost::asio::awaitable<void> unix_accept_loop(std::shared_ptr<listener> l, std::string service_id);
  std::shared_ptr<listener> open(const service_entry& s, const std::string& default_bind_address);
  std::shared_ptr<listener> open_unix(const service_entry& s);
  void hand_over_stdio(const service_entry& s);
  std::shared_ptr<listener> take_inherited(const service_entry& s, bool single_service);
  std::shared_ptr<listener> take_early(const service_entry& s);
  void close_unused_inherited();

  boost::asio::any_io_executor executor_;
  accept_handler on_accept_;
  std::map<std::string, std::shared_ptr<listener>> listeners_;
  std::vector<service_manager::inherited_listener> inherited_;
  std::vector<std::pair<config::service_mapping, std::shared_ptr<listener>>> early_;
  mode_t unix_socket_mode_ = 0600;
  std::optional<local_stream> stdio_;  // taken by open_early, handed on by apply
  bool stdio_handed_over_ = false;
  std::function<void()> on_stdio_end_;
};

}  // namespace localproxy::tunnel
