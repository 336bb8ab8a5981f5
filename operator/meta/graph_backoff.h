// When to refresh the WABA's phone numbers again: a pure, clock-free policy for the quality
// refresher. Given how the last refresh ended, how many refreshes in a row failed, and the
// usage Meta last reported, it returns the delay before the next attempt.
//
//   outcome                              delay (before jitter)
//   OK                                   interval; ×2 when usage >= 75%, ×4 when >= 90%
//   kUnavailable, kDeadlineExceeded,     5 s × 2^(failures-1), at most the interval
//     kInternal (transient)
//   kResourceExhausted (rate limit)      60 s × 2^(failures-1), at most 15 min; never less
//                                        than the usage-stretched delay an OK would get
//   kUnauthenticated, kPermissionDenied  interval (no retry storm; a credentials change
//                                        wakes the refresher anyway)
//   anything else (kNotFound, ...)       interval
//
// Jitter: the caller passes a uniform random fraction in [0, 1); the delay is multiplied by
// 1 + jitter × (2·fraction − 1), i.e. ±10% by default, so the function stays deterministic.
// The result is never below 1 s.
//
// Thread-safety: pure functions on values.
#pragma once

#include <chrono>

#include "common/status.h"
#include "meta/graph.h"

namespace waop::meta {

struct RefreshBackoffPolicy {
  std::chrono::milliseconds interval = std::chrono::minutes(5);  // --quality-refresh-interval
  std::chrono::milliseconds transient_base = std::chrono::seconds(5);
  std::chrono::milliseconds rate_limit_base = std::chrono::seconds(60);
  std::chrono::milliseconds rate_limit_cap = std::chrono::minutes(15);
  int high_usage_percent = 75;       // OK delay ×2 from here
  int very_high_usage_percent = 90;  // OK delay ×4 from here
  double jitter = 0.1;               // ±10%
};

// How a refresh ended, as the policy sees it.
enum class RefreshOutcome { kOk, kTransient, kRateLimited, kBadCredentials, kOther };
RefreshOutcome OutcomeOf(StatusCode code);

// `consecutive_failures` counts the failures in a row including this one (0 after an OK);
// `random_fraction` is in [0, 1) (clamped).
std::chrono::milliseconds NextRefreshDelay(const RefreshBackoffPolicy& policy,
                                           RefreshOutcome outcome, int consecutive_failures,
                                           const AppUsage& usage, double random_fraction);

}  // namespace waop::meta
