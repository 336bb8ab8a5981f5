// OwnWrites: a write is trusted over a cache that does not show it yet, for a while; its echo
// wakes nobody unless a reconcile waited for it.
#include "controller/own_writes.h"

#include <gtest/gtest.h>

#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using std::chrono::seconds;

TEST(OwnWritesTest, PendingWhileTheCacheShowsTheReplacedVersion) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Remember("ns/a", "10", "11");
  auto pending = writes.Pending("ns/a", "10");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->replaced_resource_version, "10");
  EXPECT_EQ(pending->written_resource_version, "11");
  EXPECT_FALSE(writes.Pending("ns/b", "10")) << "another key";
  // The cache moved on (to our write or past it): trusted again, and the entry is gone.
  EXPECT_FALSE(writes.Pending("ns/a", "11"));
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(OwnWritesTest, ACreateIsPendingWhileTheObjectIsNotCached) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Remember("configmap:ns/x", "", "20", /*content=*/42);
  auto pending = writes.Pending("configmap:ns/x", "");
  ASSERT_TRUE(pending);
  EXPECT_EQ(pending->content, 42u);
}

TEST(OwnWritesTest, TrustedOnlyForTheTtl) {
  FakeClock clock;
  OwnWrites writes(clock, seconds(30));
  writes.Remember("ns/a", "10", "11");
  clock.Advance(seconds(29));
  EXPECT_TRUE(writes.Pending("ns/a", "10"));
  clock.Advance(seconds(1));
  EXPECT_FALSE(writes.Pending("ns/a", "10")) << "a watch that lags 30 s is down";
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(OwnWritesTest, TheEchoOfAWriteWakesNobodyOnce) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Remember("ns/a", "10", "11");
  EXPECT_FALSE(writes.IsQuietEcho("ns/a", "")) << "no version to recognise";
  EXPECT_FALSE(writes.IsQuietEcho("ns/a", "10")) << "the replaced version, repeated";
  EXPECT_TRUE(writes.Pending("ns/a", "10")) << "still awaited after a repeat";
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "11"));
  EXPECT_FALSE(writes.IsQuietEcho("ns/a", "11")) << "forgotten once its echo arrived";
}

TEST(OwnWritesTest, AnotherVersionOnTheWatchEndsTheEntry) {
  FakeClock clock;
  OwnWrites writes(clock);
  // Our create's echo came before we recorded it; the next event is someone else's version.
  writes.Remember("configmap:ns/x", "", "20");
  EXPECT_FALSE(writes.IsQuietEcho("configmap:ns/x", "25")) << "someone else's version";
  EXPECT_EQ(writes.Size(), 0u);
  // Had it stayed, the object's deletion (cache: absent, the create's replaced version) would
  // make a deleted create look in place.
  EXPECT_FALSE(writes.Pending("configmap:ns/x", ""));
}

TEST(OwnWritesTest, AnAwaitedEchoWakes) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Remember("ns/a", "10", "11");
  ASSERT_TRUE(writes.Pending("ns/a", "10", /*await=*/true));
  EXPECT_FALSE(writes.IsQuietEcho("ns/a", "11"));
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(OwnWritesTest, AWriteWithoutAVersionIsNotRemembered) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Remember("ns/a", "10", "");
  EXPECT_FALSE(writes.Pending("ns/a", "10"));
  writes.Remember("ns/a", "10", "11");
  writes.Forget("ns/a");
  EXPECT_EQ(writes.Size(), 0u);
}

// The API server sends a write's watch event before its answer, so the echo usually reaches the
// informer while the write is in flight: held, then judged when the answer is in.
TEST(OwnWritesTest, AnEchoThatBeatsTheAnswerIsHeldAndPassesQuietly) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Begin("ns/a", "10");
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "11")) << "held while in flight";
  EXPECT_FALSE(writes.IsQuietEcho("ns/a", "")) << "no version: nothing to hold";
  EXPECT_FALSE(writes.Pending("ns/a", "10")) << "nothing is pending before the answer";
  EXPECT_FALSE(writes.Finish("ns/a", "11")) << "the held event was our echo: no wake";
  EXPECT_EQ(writes.Size(), 0u) << "the cache already shows the write";
  EXPECT_FALSE(writes.Pending("ns/a", "10"));
}

TEST(OwnWritesTest, AnEchoAfterTheAnswerPassesAsBefore) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Begin("configmap:ns/x", "");
  EXPECT_FALSE(writes.Finish("configmap:ns/x", "20", /*content=*/7));
  auto pending = writes.Pending("configmap:ns/x", "");
  ASSERT_TRUE(pending) << "recorded as Remember would";
  EXPECT_EQ(pending->written_resource_version, "20");
  EXPECT_EQ(pending->content, 7u);
  EXPECT_TRUE(writes.IsQuietEcho("configmap:ns/x", "20"));
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(OwnWritesTest, SomeoneElsesChangeHeldInFlightAsksForAnotherLook) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Begin("ns/a", "10");
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "10")) << "a repeat of the replaced version";
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "11"));
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "12"));
  EXPECT_TRUE(writes.Finish("ns/a", "11")) << "12 is neither before nor ours";
  EXPECT_EQ(writes.Size(), 0u);

  // Only the replaced version repeated: nothing new.
  writes.Begin("ns/b", "10");
  EXPECT_TRUE(writes.IsQuietEcho("ns/b", "10"));
  EXPECT_FALSE(writes.Finish("ns/b", "11"));
  EXPECT_TRUE(writes.Pending("ns/b", "10")) << "the echo is still ahead";
}

TEST(OwnWritesTest, AFailedWriteHoldsNothingBack) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Begin("ns/a", "10");
  EXPECT_FALSE(writes.Finish("ns/a", "")) << "failed, nothing seen: the caller retries anyway";
  EXPECT_EQ(writes.Size(), 0u);
  writes.Begin("ns/a", "10");
  EXPECT_TRUE(writes.IsQuietEcho("ns/a", "12"));
  EXPECT_TRUE(writes.Finish("ns/a", "")) << "someone else's change held while it failed";
  EXPECT_EQ(writes.Size(), 0u);
}

TEST(OwnWritesTest, ForgottenInFlightAsksForAnotherLook) {
  FakeClock clock;
  OwnWrites writes(clock);
  writes.Begin("configmap:ns/x", "");
  writes.Forget("configmap:ns/x");  // its deletion event arrived meanwhile
  EXPECT_TRUE(writes.Finish("configmap:ns/x", "20"));
  EXPECT_EQ(writes.Size(), 0u) << "a deleted object's create is not recorded";
}

}  // namespace
}  // namespace waop::controller
