#include "localproxy/tunnel/backoff.hpp"

#include <algorithm>

namespace localproxy::tunnel {

std::chrono::milliseconds backoff::ceiling(int retry) const noexcept {
  auto ceiling = base_;
  for (int i = 0; i < retry && ceiling < cap_; ++i) ceiling *= 2;
  return std::min(ceiling, cap_);
}

std::optional<std::chrono::milliseconds> backoff::next(std::mt19937_64& rng) {
  if (retry_limit_ >= 0 && retries_ >= retry_limit_) return std::nullopt;
  const auto top = ceiling(retries_++);
  // Full jitter spreads reconnecting devices out; the floor keeps a tight loop impossible.
  const auto floor = std::min<std::chrono::milliseconds::rep>(100, top.count());
  std::uniform_int_distribution<std::chrono::milliseconds::rep> pick(floor, top.count());
  return std::chrono::milliseconds(pick(rng));
}

}  // namespace localproxy::tunnel
