// The refresh backoff policy as a table: outcome × failures × usage -> delay, with jitter.
#include "meta/graph_backoff.h"

#include <gtest/gtest.h>

namespace waop::meta {
namespace {

using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr double kNoJitter = 0.5;  // the middle of [0, 1): factor 1

struct Row {
  RefreshOutcome outcome;
  int failures;
  AppUsage usage;
  milliseconds want;
};

TEST(GraphBackoffTest, Table) {
  RefreshBackoffPolicy p;  // interval 5 min
  const AppUsage none{};
  const AppUsage low{40, true}, high{75, true}, very_high{95, true};
  const std::vector<Row> rows = {
      {RefreshOutcome::kOk, 0, none, minutes(5)},
      {RefreshOutcome::kOk, 0, low, minutes(5)},
      {RefreshOutcome::kOk, 0, high, minutes(10)},
      {RefreshOutcome::kOk, 0, very_high, minutes(20)},
      {RefreshOutcome::kOk, 0, AppUsage{95, false}, minutes(5)},  // not seen: ignored
      {RefreshOutcome::kTransient, 1, none, seconds(5)},
      {RefreshOutcome::kTransient, 2, none, seconds(10)},
      {RefreshOutcome::kTransient, 3, none, seconds(20)},
      {RefreshOutcome::kTransient, 6, none, seconds(160)},
      {RefreshOutcome::kTransient, 7, none, minutes(5)},  // capped at the interval
      {RefreshOutcome::kTransient, 1000000, none, minutes(5)},
      {RefreshOutcome::kRateLimited, 1, none, seconds(60)},
      {RefreshOutcome::kRateLimited, 2, none, seconds(120)},
      {RefreshOutcome::kRateLimited, 4, none, seconds(480)},
      {RefreshOutcome::kRateLimited, 5, none, minutes(15)},  // capped
      {RefreshOutcome::kRateLimited, 99, none, minutes(15)},
      {RefreshOutcome::kRateLimited, 1, very_high, minutes(20)},  // usage says slower still
      {RefreshOutcome::kBadCredentials, 1, none, minutes(5)},
      {RefreshOutcome::kBadCredentials, 50, none, minutes(5)},  // no retry storm, no growth
      {RefreshOutcome::kOther, 3, none, minutes(5)},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(NextRefreshDelay(p, r.outcome, r.failures, r.usage, kNoJitter), r.want)
        << "outcome " << static_cast<int>(r.outcome) << " failures " << r.failures << " usage "
        << r.usage.percent;
  }
}

TEST(GraphBackoffTest, JitterIsPlusMinusTenPercentFromTheCallersFraction) {
  RefreshBackoffPolicy p;
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, 0.0), seconds(270));
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, 1.0), seconds(330));
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, 0.75), seconds(315));
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, -3.0), seconds(270));  // clamped
  p.jitter = 0;
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, 0.0), minutes(5));
}

TEST(GraphBackoffTest, ShortIntervalsAndTheOneSecondFloor) {
  RefreshBackoffPolicy p;
  p.interval = seconds(30);
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kTransient, 4, {}, kNoJitter), seconds(30));
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kRateLimited, 1, {}, kNoJitter), seconds(60));
  p.interval = milliseconds(10);
  EXPECT_EQ(NextRefreshDelay(p, RefreshOutcome::kOk, 0, {}, 0.0), seconds(1));
}

TEST(GraphBackoffTest, OutcomeOfStatusCodes) {
  EXPECT_EQ(OutcomeOf(StatusCode::kOk), RefreshOutcome::kOk);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnavailable), RefreshOutcome::kTransient);
  EXPECT_EQ(OutcomeOf(StatusCode::kDeadlineExceeded), RefreshOutcome::kTransient);
  EXPECT_EQ(OutcomeOf(StatusCode::kInternal), RefreshOutcome::kTransient);
  EXPECT_EQ(OutcomeOf(StatusCode::kResourceExhausted), RefreshOutcome::kRateLimited);
  EXPECT_EQ(OutcomeOf(StatusCode::kUnauthenticated), RefreshOutcome::kBadCredentials);
  EXPECT_EQ(OutcomeOf(StatusCode::kPermissionDenied), RefreshOutcome::kBadCredentials);
  EXPECT_EQ(OutcomeOf(StatusCode::kNotFound), RefreshOutcome::kOther);
  EXPECT_EQ(OutcomeOf(StatusCode::kInvalidArgument), RefreshOutcome::kOther);
}

}  // namespace
}  // namespace waop::meta
