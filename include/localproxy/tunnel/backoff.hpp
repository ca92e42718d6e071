#pragma once
// Reconnect delays: exponential growth from the base delay up to a cap, with full jitter, and
// the connect_retry_count budget (-1 = forever, 0 = no retry).
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

namespace localproxy::tunnel {

class backoff {
 public:
  backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap, int retry_limit)
      : base_(base), cap_(std::max(cap, base)), retry_limit_(retry_limit) {}

  // The delay before the next retry, or nullopt when the retry budget is spent.
  [[nodiscard]] std::optional<std::chrono::milliseconds> next(std::mt19937_64& rng);
  // After a connection that worked: the next failure starts from the base delay again.
  void reset() noexcept { retries_ = 0; }

  // The upper bound of the jitter window for a given retry number (0-based).
  [[nodiscard]] std::chrono::milliseconds ceiling(int retry) const noexcept;

 private:
  std::chrono::milliseconds base_;
  std::chrono::milliseconds cap_;
  int retry_limit_;
  int retries_ = 0;
};

}  // namespace localproxy::tunnel
