// tunnel::async_event, the wake-up signal behind backpressure and stall timeouts, driven by a
// script of waiters with deadlines, notifications, real sleeps and io_context steps. (Added after
// the session target found a use-after-free in wait_until that depends on timing; here the timing
// is the input, so the crash reproduces.) Ops, one byte each plus an argument byte where noted:
// 0 N: a waiter with a deadline N % 8 ms ahead; 1: notify; 2 N: sleep N % 4 ms; 3: poll; 4: run one.
// Checks: no sanitizer report; every waiter ends once notified; false only after its deadline.
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "fuzz_common.hpp"
#include "localproxy/tunnel/async_event.hpp"

namespace {
namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

struct waiter {
  clock_type::time_point deadline;
  bool done = false;
};
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::cursor in(data, size);
  asio::io_context ioc;
  auto event = std::make_unique<localproxy::tunnel::async_event>(ioc.get_executor());
  std::vector<std::unique_ptr<waiter>> waiters;
  int slept_ms = 0;
  for (int step = 0; step < 64 && !in.empty(); ++step) {
    switch (in.byte() % 5) {
      case 0: {
        const int ahead = in.byte() % 8;
        if (waiters.size() >= 4) break;
        auto& w = *waiters.emplace_back(std::make_unique<waiter>());
        w.deadline = clock_type::now() + std::chrono::milliseconds(ahead);
        asio::co_spawn(ioc, [&event, &w]() -> asio::awaitable<void> {
          const bool woken = co_await event->wait_until(w.deadline);
          fuzz::check(woken || clock_type::now() >= w.deadline, "wait_until gave up before its deadline");
          w.done = true;
        }, [](std::exception_ptr e) { if (e) std::rethrow_exception(e); });
        break;
      }
      case 1: event->notify(); break;
      case 2: {
        const int ms = in.byte() % 4;
        if (slept_ms + ms > 20) break;
        slept_ms += ms;
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        break;
      }
      case 3: ioc.restart(); ioc.poll(); break;
      default: ioc.restart(); ioc.run_one_for(std::chrono::milliseconds(1)); break;
    }
  }
  // Everyone is woken; then nothing may be left.
  const auto give_up = clock_type::now() + std::chrono::seconds(1);
  for (;;) {
    bool all = true;
    for (const auto& w : waiters) all = all && w->done;
    if (all || clock_type::now() > give_up) break;
    event->notify();
    ioc.restart();
    ioc.run_one_for(std::chrono::milliseconds(1));
  }
  for (const auto& w : waiters) fuzz::check(w->done, "a notified waiter did not end");
  event.reset();
  ioc.restart();
  ioc.run_for(std::chrono::milliseconds(10));  // any handler still queued runs now, after the event is gone
  return 0;
}
