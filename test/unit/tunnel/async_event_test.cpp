// async_event: a wait with a deadline whose deadline passes in the same io_context batch as a
// notify() (found by fuzzing: the deadline's handler wrote into the freed coroutine frame; run
// under scripts/test-sanitized.sh, this test is what catches it).
#include "localproxy/tunnel/async_event.hpp"

#include <gtest/gtest.h>

#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace asio = boost::asio;
using localproxy::tunnel::async_event;
using namespace std::chrono_literals;

TEST(AsyncEvent, DeadlineAndNotifyInOneBatch) {
  for (int i = 0; i < 50; ++i) {
    asio::io_context ioc;
    async_event event(ioc.get_executor());
    int done = 0;
    asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
      (void)co_await event.wait_until(std::chrono::steady_clock::now() + 2ms);
      ++done;
    }, asio::detached);
    ioc.poll();
    std::this_thread::sleep_for(3ms);
    event.notify();
    ioc.poll();
    ioc.run();
    EXPECT_EQ(done, 1);
  }
}

TEST(AsyncEvent, WaitUntilTellsNotifyFromTheDeadline) {
  asio::io_context ioc;
  async_event event(ioc.get_executor());
  std::vector<bool> results;
  asio::co_spawn(ioc, [&]() -> asio::awaitable<void> {
    results.push_back(co_await event.wait_until(std::chrono::steady_clock::now() + 10ms));  // nobody notifies
    results.push_back(co_await event.wait_until(std::chrono::steady_clock::now() + 10s));   // notified
  }, asio::detached);
  ioc.run_for(50ms);
  event.notify();
  ioc.run_for(50ms);
  EXPECT_EQ(results, (std::vector<bool>{false, true}));
}
