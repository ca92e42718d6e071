#pragma once
// Relaying one side's frames to the other: validation by the protocol rules, stream tracking for
// replacements, bandwidth, backpressure.
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "registry.hpp"

namespace tunnel_service {

struct relay_settings {
  double bandwidth = 0;  // bytes per second per tunnel (both directions together); 0 = unlimited
  std::size_t queue_limit = 1 << 20;
};

// Reads from `self` until it closes; forwards to the tunnel's other side.
boost::asio::awaitable<void> relay(std::shared_ptr<peer> self, std::shared_ptr<tunnel> t, role r, relay_settings settings);

// Messages the service itself sends.
void send_service_ids(peer& p, const tunnel& t);
void send_session_reset(peer& p);
// The other side's peer was replaced: its active streams are over.
void reset_streams(tunnel& t, peer& to);

}  // namespace tunnel_service
