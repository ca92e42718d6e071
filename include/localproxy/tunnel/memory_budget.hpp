#pragma once
// One budget for the payload the whole process buffers (tcp.total_buffer_size): every local
// connection's frame buffers and its queue towards the application draw on it. Reads from
// local applications wait for it; what the tunnel delivers cannot be refused (the protocol has
// no flow control), so it may go over, and then the session pauses the WebSocket reader until
// the connections holding the most drain or are reset.
#include <algorithm>
#include <cstddef>

#include "localproxy/tunnel/async_event.hpp"

namespace localproxy::tunnel {

class memory_budget {
 public:
  memory_budget(const boost::asio::any_io_executor& ex, std::size_t limit) : limit_(limit), freed_(ex) {}

  // Reads from local applications may fill three quarters: the rest is kept for what the tunnel
  // delivers, so that a flood of reads cannot pause the tunnel.
  [[nodiscard]] bool try_charge_reads(std::size_t n) noexcept {
    if (used_ + n > limit_ - limit_ / 4) return false;
    used_ += n;
    return true;
  }
  void charge(std::size_t n) noexcept { used_ += n; }
  void release(std::size_t n) noexcept {
    used_ -= std::min(n, used_);
    if (waiters_ > 0) freed_.notify();
  }

  [[nodiscard]] bool over() const noexcept { return used_ > limit_; }
  [[nodiscard]] std::size_t used() const noexcept { return used_; }
  [[nodiscard]] std::size_t limit() const noexcept { return limit_; }

  // Waits until something is released (callers re-check what they need).
  boost::asio::awaitable<void> wait_for_release() {
    ++waiters_;
    co_await freed_.wait();
    --waiters_;
  }

 private:
  std::size_t limit_;
  std::size_t used_ = 0;
  int waiters_ = 0;
  async_event freed_;
};

}  // namespace localproxy::tunnel
