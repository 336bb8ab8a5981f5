#include "meta/graph_backoff.h"

#include <algorithm>
#include <cmath>

namespace waop::meta {

namespace {

using std::chrono::milliseconds;

// base × 2^(n-1), saturating at `cap` (no overflow for any n).
milliseconds Exponential(milliseconds base, int failures, milliseconds cap) {
  milliseconds d = base;
  for (int i = 1; i < failures && d < cap; ++i) d *= 2;
  return std::min(d, cap);
}

milliseconds UsageStretched(const RefreshBackoffPolicy& p, const AppUsage& usage) {
  if (!usage.seen) return p.interval;
  if (usage.percent >= p.very_high_usage_percent) return p.interval * 4;
  if (usage.percent >= p.high_usage_percent) return p.interval * 2;
  return p.interval;
}

}  // namespace

RefreshOutcome OutcomeOf(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return RefreshOutcome::kOk;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kInternal:
      return RefreshOutcome::kTransient;
    case StatusCode::kResourceExhausted:
      return RefreshOutcome::kRateLimited;
    case StatusCode::kUnauthenticated:
    case StatusCode::kPermissionDenied:
      return RefreshOutcome::kBadCredentials;
    default:
      return RefreshOutcome::kOther;
  }
}

milliseconds NextRefreshDelay(const RefreshBackoffPolicy& policy, RefreshOutcome outcome,
                              int consecutive_failures, const AppUsage& usage,
                              double random_fraction) {
  const int failures = std::max(1, consecutive_failures);
  const milliseconds interval = std::max(policy.interval, milliseconds(1000));
  RefreshBackoffPolicy p = policy;
  p.interval = interval;
  milliseconds d = interval;
  switch (outcome) {
    case RefreshOutcome::kOk:
      d = UsageStretched(p, usage);
      break;
    case RefreshOutcome::kTransient:
      d = Exponential(p.transient_base, failures, interval);
      break;
    case RefreshOutcome::kRateLimited:
      d = std::max(Exponential(p.rate_limit_base, failures, p.rate_limit_cap),
                   usage.seen && usage.percent >= p.high_usage_percent ? UsageStretched(p, usage)
                                                                       : milliseconds(0));
      break;
    case RefreshOutcome::kBadCredentials:
    case RefreshOutcome::kOther:
      d = interval;
      break;
  }
  const double f = std::clamp(random_fraction, 0.0, 1.0);
  const double j = std::clamp(policy.jitter, 0.0, 1.0);
  const double scaled = static_cast<double>(d.count()) * (1.0 + j * (2.0 * f - 1.0));
  return std::max(milliseconds(1000), milliseconds(static_cast<int64_t>(std::llround(scaled))));
}

}  // namespace waop::meta
