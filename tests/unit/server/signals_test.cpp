#include "server/signals.h"

#include <gtest/gtest.h>

#include <atomic>

namespace waop::server {
namespace {

constexpr auto kLongWait = std::chrono::seconds(30);

TEST(SignalHandlerTest, SigtermRequestsStopAndRunsCallbacks) {
  auto handler = SignalHandler::Install();
  ASSERT_TRUE(handler.ok()) << handler.status().ToString();
  std::atomic<int> seen{-1};
  (*handler)->OnStop([&](int sig) { seen = sig; });
  EXPECT_FALSE((*handler)->StopRequested());
  ASSERT_EQ(raise(SIGTERM), 0);
  ASSERT_TRUE((*handler)->WaitFor(kLongWait));
  EXPECT_TRUE((*handler)->StopRequested());
  EXPECT_EQ((*handler)->ReceivedSignal(), SIGTERM);
  EXPECT_EQ(seen.load(), SIGTERM);
  // A callback added after the stop runs at once.
  int late = -1;
  (*handler)->OnStop([&](int sig) { late = sig; });
  EXPECT_EQ(late, SIGTERM);
}

TEST(SignalHandlerTest, SigintAndRequestStop) {
  {
    auto handler = SignalHandler::Install();
    ASSERT_TRUE(handler.ok());
    ASSERT_EQ(raise(SIGINT), 0);
    ASSERT_TRUE((*handler)->WaitFor(kLongWait));
    EXPECT_EQ((*handler)->ReceivedSignal(), SIGINT);
  }
  auto handler = SignalHandler::Install();
  ASSERT_TRUE(handler.ok()) << "a new handler can be installed after the old one is gone";
  EXPECT_FALSE((*handler)->WaitFor(std::chrono::milliseconds(1)));
  (*handler)->RequestStop();
  (*handler)->Wait();
  EXPECT_EQ((*handler)->ReceivedSignal(), 0);
}

TEST(SignalHandlerTest, OnlyOneAtATime) {
  auto first = SignalHandler::Install();
  ASSERT_TRUE(first.ok());
  auto second = SignalHandler::Install();
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

TEST(SignalHandlerDeathTest, SecondSignalExitsAtOnce) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        auto handler = SignalHandler::Install();
        if (!handler.ok()) std::_Exit(3);
        raise(SIGTERM);
        if (!(*handler)->WaitFor(kLongWait)) std::_Exit(4);
        raise(SIGTERM);
        std::_Exit(5);  // not reached
      },
      ::testing::ExitedWithCode(1), "");
}

}  // namespace
}  // namespace waop::server
