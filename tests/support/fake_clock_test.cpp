#include "support/fake_clock.h"

#include <gtest/gtest.h>

namespace waop {
namespace {

TEST(FakeClockTest, AdvancesBothTimes) {
  FakeClock clock;
  auto w = clock.Now();
  auto m = clock.Mono();
  clock.Advance(std::chrono::seconds(15));
  EXPECT_EQ(clock.Now() - w, std::chrono::seconds(15));
  EXPECT_EQ(clock.Mono() - m, std::chrono::seconds(15));
}

}  // namespace
}  // namespace waop
