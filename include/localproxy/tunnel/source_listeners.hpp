#pragma once
// Source mode: one listening socket per service. They outlive WebSocket reconnects, so a client
// that connects during an outage is accepted and waits for the tunnel.
#include <functional>
#include <utility>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "localproxy/tunnel/local_connection.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/stream_table.hpp"

namespace localproxy::tunnel {

class source_listeners {
 public:
  using accept_handler = std::function<void(const std::string& service_id, local_connection::socket_type, const std::string& peer)>;

  source_listeners(const boost::asio::any_io_executor& ex, accept_handler on_accept)
      : executor_(ex), on_accept_(std::move(on_accept)) {}
  ~source_listeners() { close_all(); }

  // Listens for every service not listened for yet (a port 0 mapping gets a free port, logged)
  // and stops listening for services no longer in the list. Throws std::runtime_error when a
  // port cannot be bound.
  void apply(const std::vector<service_entry>& services, const std::string& default_bind_address);
  void close_all();

  // Before the first handshake: binds every mapping with a fixed port (not socket-activated), so
  // that a port in use or a bad bind address is found before the single-use token is spent.
  // apply() takes these over (they accept only from then on; clients wait in the backlog) and
  // closes the ones no service takes. Throws std::runtime_error, as apply().
  void open_early(const std::vector<config::service_mapping>& mappings, const std::string& default_bind_address);

  // Socket activation: listeners to use instead of binding. A service takes the one whose name is
  // its service ID; the single unnamed mapping (`-s 5555`) takes a single socket whatever its
  // name. Sockets no service takes are closed at the first apply().
  void set_inherited(std::vector<service_manager::inherited_listener> sockets) { inherited_ = std::move(sockets); }

 private:
  struct listener {
    boost::asio::ip::tcp::acceptor acceptor;
    bool open = true;
  };
  boost::asio::awaitable<void> accept_loop(std::shared_ptr<listener> l, std::string service_id, std::uint16_t port);
  std::shared_ptr<listener> open(const service_entry& s, const std::string& default_bind_address);
  std::shared_ptr<listener> take_inherited(const service_entry& s, bool single_service);
  std::shared_ptr<listener> take_early(const service_entry& s);
  void close_unused_inherited();

  boost::asio::any_io_executor executor_;
  accept_handler on_accept_;
  std::map<std::string, std::shared_ptr<listener>> listeners_;
  std::vector<service_manager::inherited_listener> inherited_;
  std::vector<std::pair<config::service_mapping, std::shared_ptr<listener>>> early_;
};

}  // namespace localproxy::tunnel
