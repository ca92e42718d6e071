#pragma once
// One connected proxy: a WebSocket with a bounded outgoing queue and a writer coroutine. The
// relay reads from it and queues what the other side sent.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>

#include "localproxy/tunnel/async_event.hpp"

namespace tunnel_service {

class peer {
 public:
  virtual ~peer() = default;
  // `message` views the message read until the next read.
  virtual boost::asio::awaitable<boost::system::error_code> read(std::span<const std::uint8_t>& message) = 0;
  virtual void start_writer(std::shared_ptr<peer> self) = 0;
  // Queues bytes to send (tunnel frames; WebSocket message boundaries are the writer's choice).
  virtual void send(std::span<const std::uint8_t> bytes) = 0;
  [[nodiscard]] virtual std::size_t queued() const = 0;
  [[nodiscard]] virtual localproxy::tunnel::async_event& drained() = 0;
  // Sends what is queued, then a close frame with this code.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  // Drops the TCP connection without a close frame.
  virtual void abort() noexcept = 0;
  [[nodiscard]] virtual bool open() const = 0;
  // When set and not 0, the size of the next WebSocket message (reframing); else messages hold as
  // many whole frames as fit.
  std::function<std::size_t(std::size_t)> chunker;
};

}  // namespace tunnel_service
