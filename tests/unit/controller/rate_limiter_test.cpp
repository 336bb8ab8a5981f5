#include "controller/rate_limiter.h"

#include <gtest/gtest.h>

#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ItemExponentialRateLimiterTest, DoublesFromBaseAndCapsAtMax) {
  ItemExponentialRateLimiter limiter(milliseconds(5), seconds(1000));
  Duration expected = milliseconds(5);
  for (int i = 0; i < 30; ++i) {
    const Duration capped = std::min<Duration>(expected, seconds(1000));
    EXPECT_EQ(limiter.When("a"), capped) << "failure " << i;
    expected *= 2;
  }
  EXPECT_EQ(limiter.NumRequeues("a"), 30);
  // 5 ms * 2^17 = 655 s, 2^18 -> 1310 s is capped.
  EXPECT_EQ(limiter.When("a"), seconds(1000));
  EXPECT_EQ(limiter.NumRequeues("b"), 0);
}

TEST(ItemExponentialRateLimiterTest, ForgetResetsOnlyThatItem) {
  ItemExponentialRateLimiter limiter(milliseconds(5), seconds(1000));
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
  EXPECT_EQ(limiter.When("a"), milliseconds(10));
  EXPECT_EQ(limiter.When("b"), milliseconds(5));
  limiter.Forget("a");
  EXPECT_EQ(limiter.NumRequeues("a"), 0);
  EXPECT_EQ(limiter.NumRequeues("b"), 1);
  EXPECT_EQ(limiter.When("a"), milliseconds(5));
  EXPECT_EQ(limiter.When("b"), milliseconds(10));
}

TEST(ItemExponentialRateLimiterTest, VeryManyFailuresStayAtCap) {
  ItemExponentialRateLimiter limiter(milliseconds(5), seconds(1000));
  Duration last{};
  for (int i = 0; i < 2000; ++i) last = limiter.When("a");
  EXPECT_EQ(last, seconds(1000));
}

TEST(BucketRateLimiterTest, BurstThenQps) {
  FakeClock clock;
  BucketRateLimiter limiter(10.0, 100, clock);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(limiter.When("x"), Duration::zero()) << i;
  // Tokens are exhausted: each further reservation waits one more 1/10 s.
  EXPECT_EQ(limiter.When("x"), milliseconds(100));
  EXPECT_EQ(limiter.When("x"), milliseconds(200));
  // After 1 s, 10 tokens were refilled, 2 of them already promised: 8 free.
  clock.Advance(seconds(1));
  for (int i = 0; i < 8; ++i) ASSERT_EQ(limiter.When("x"), Duration::zero()) << i;
  EXPECT_EQ(limiter.When("x"), milliseconds(100));
  // The bucket never holds more than `burst`.
  clock.Advance(seconds(3600));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(limiter.When("x"), Duration::zero()) << i;
  EXPECT_GT(limiter.When("x"), Duration::zero());
}

TEST(DefaultControllerRateLimiterTest, MaxOfItemBackoffAndBucket) {
  FakeClock clock;
  auto limiter = DefaultControllerRateLimiter(clock);
  EXPECT_EQ(limiter->When("a"), milliseconds(5));
  EXPECT_EQ(limiter->When("a"), milliseconds(10));
  EXPECT_EQ(limiter->When("a"), milliseconds(20));
  EXPECT_EQ(limiter->NumRequeues("a"), 3);
  limiter->Forget("a");
  EXPECT_EQ(limiter->NumRequeues("a"), 0);
  // Exhaust the bucket with distinct items: the bucket delay then dominates the 5 ms backoff.
  for (int i = 0; i < 97; ++i) limiter->When("item-" + std::to_string(i));
  EXPECT_EQ(limiter->When("fresh"), milliseconds(100));
}

}  // namespace
}  // namespace waop::controller
