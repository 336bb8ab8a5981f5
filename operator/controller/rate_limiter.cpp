#include "controller/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <random>

namespace waop::controller {
namespace {

// Multiplies without overflowing: durations beyond ~292 years saturate at `cap`.
Duration ScaledCapped(Duration base, double factor_power, Duration cap) {
  const double scaled = static_cast<double>(base.count()) * factor_power;
  if (!std::isfinite(scaled) || scaled >= static_cast<double>(cap.count())) return cap;
  return Duration(static_cast<Duration::rep>(scaled));
}

}  // namespace

RandomSource MakeRandomSource(std::uint64_t seed) {
  if (seed == 0)
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  struct State {
    std::mutex mu;
    std::mt19937_64 engine;
    std::uniform_real_distribution<double> dist{0.0, 1.0};
  };
  auto state = std::make_shared<State>();
  state->engine.seed(seed);
  return [state]() {
    std::lock_guard lock(state->mu);
    return state->dist(state->engine);
  };
}

Duration ItemExponentialRateLimiter::When(const std::string& item) {
  std::lock_guard lock(mu_);
  const int exp = failures_[item]++;
  // 2^exp overflows a double only past exp ~1000; ScaledCapped handles infinity anyway.
  return ScaledCapped(base_, std::pow(2.0, std::min(exp, 1023)), max_);
}

void ItemExponentialRateLimiter::Forget(const std::string& item) {
  std::lock_guard lock(mu_);
  failures_.erase(item);
}

int ItemExponentialRateLimiter::NumRequeues(const std::string& item) {
  std::lock_guard lock(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, const Clock& clock)
    : qps_(qps), burst_(burst), clock_(clock), tokens_(burst), last_(clock.Mono()) {}

Duration BucketRateLimiter::When(const std::string& /*item*/) {
  std::lock_guard lock(mu_);
  const MonoTime now = clock_.Mono();
  if (now > last_) {
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(burst_, tokens_ + elapsed * qps_);
    last_ = now;
  }
  // Reserve a token even if it does not exist yet (tokens go negative): the caller is told
  // when its token will exist, and later callers queue up behind it.
  tokens_ -= 1.0;
  if (tokens_ >= 0.0 || qps_ <= 0.0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(-tokens_ / qps_));
}

Duration MaxOfRateLimiter::When(const std::string& item) {
  Duration longest = Duration::zero();
  // Every part must see the failure, so no short-circuit.
  for (auto& limiter : limiters_) longest = std::max(longest, limiter->When(item));
  return longest;
}

void MaxOfRateLimiter::Forget(const std::string& item) {
  for (auto& limiter : limiters_) limiter->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(const std::string& item) {
  int most = 0;
  for (auto& limiter : limiters_) most = std::max(most, limiter->NumRequeues(item));
  return most;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> parts;
  parts.push_back(std::make_unique<ItemExponentialRateLimiter>(std::chrono::milliseconds(5),
                                                               std::chrono::seconds(1000)));
  parts.push_back(std::make_unique<BucketRateLimiter>(10.0, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(parts));
}

}  // namespace waop::controller
