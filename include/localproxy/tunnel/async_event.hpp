#pragma once
// A wake-up signal for coroutines on one thread: notify() wakes every current waiter. Waiters
// re-check their condition in a loop, so a notify with nobody waiting is simply not needed.
#include <chrono>
#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace localproxy::tunnel {

class async_event {
 public:
  explicit async_event(const boost::asio::any_io_executor& ex)
      : timer_(ex, boost::asio::steady_timer::time_point::max()) {}

  void notify() { timer_.cancel(); }

  boost::asio::awaitable<void> wait() {
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  // Returns false when the deadline passed first. The deadline's handler may already be queued
  // when the waiter resumes for another reason: it then touches nothing (the frame is gone).
  boost::asio::awaitable<bool> wait_until(std::chrono::steady_clock::time_point deadline) {
    struct shared_state {
      bool resumed = false;
      bool timed_out = false;
    };
    auto state = std::make_shared<shared_state>();
    boost::asio::steady_timer limit(timer_.get_executor(), deadline);
    limit.async_wait([this, state](boost::system::error_code ec) {
      if (ec || state->resumed) return;
      state->timed_out = true;
      timer_.cancel();
    });
    co_await wait();
    state->resumed = true;
    limit.cancel();
    co_return !state->timed_out;
  }

 private:
  boost::asio::steady_timer timer_;
};

}  // namespace localproxy::tunnel
