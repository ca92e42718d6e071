#include "localproxy/tunnel/backoff.hpp"

#include <gtest/gtest.h>

#include <set>

using localproxy::tunnel::backoff;
using std::chrono::milliseconds;

TEST(Backoff, GrowsExponentiallyUpToTheCapWithJitterInsideTheWindow) {
  backoff b(milliseconds(1000), milliseconds(8000), -1);
  EXPECT_EQ(b.ceiling(0), milliseconds(1000));
  EXPECT_EQ(b.ceiling(1), milliseconds(2000));
  EXPECT_EQ(b.ceiling(3), milliseconds(8000));
  EXPECT_EQ(b.ceiling(50), milliseconds(8000));
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200; ++i) {
    auto d = b.next(rng);
    ASSERT_TRUE(d);
    EXPECT_GE(*d, milliseconds(100));
    EXPECT_LE(*d, b.ceiling(i));
  }
}

TEST(Backoff, RetryCountIsHonouredExactly) {
  std::mt19937_64 rng(1);
  backoff none(milliseconds(10), milliseconds(100), 0);
  EXPECT_FALSE(none.next(rng));
  backoff three(milliseconds(10), milliseconds(100), 3);
  EXPECT_TRUE(three.next(rng));
  EXPECT_TRUE(three.next(rng));
  EXPECT_TRUE(three.next(rng));
  EXPECT_FALSE(three.next(rng));
  three.reset();
  EXPECT_TRUE(three.next(rng));
}

TEST(Backoff, JitterIsSpreadOut) {
  backoff b(milliseconds(1000), milliseconds(60000), -1);
  std::mt19937_64 rng(7);
  std::set<long> seen;
  for (int i = 0; i < 20; ++i) {
    b.reset();
    seen.insert(static_cast<long>(b.next(rng)->count()));
  }
  EXPECT_GT(seen.size(), 15u);
}
