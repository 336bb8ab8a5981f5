// Retry pacing for the controller runtime, modelled on client-go's workqueue rate limiters:
//   - RateLimiter: "how long until this item may be retried", per item, with Forget() to reset
//     after success. DefaultControllerRateLimiter() is client-go's default: the max of a
//     per-item exponential backoff (5 ms doubling up to 1000 s) and an overall token bucket
//     (10 qps, burst 100) so a storm of failing items cannot hammer the API server.
// (Watch reconnects pace themselves with kube::JitteredBackoff, next to the informer.)
// Time and randomness are injected (Clock, RandomSource) so tests are deterministic.
//
// Thread-safety: every RateLimiter implementation here is internally synchronised.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace waop::controller {

using Duration = std::chrono::nanoseconds;

// Uniform doubles in [0, 1). Called from one thread at a time by its owner.
using RandomSource = std::function<double()>;

// A deterministic source from a fixed seed (tests) or, with seed 0, from std::random_device.
// The returned function is internally synchronised, so it may be shared.
RandomSource MakeRandomSource(std::uint64_t seed);

class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // How long `item` should wait before its next try. Counts as one more failure of `item`.
  virtual Duration When(const std::string& item) = 0;
  // Stop tracking `item` (it succeeded): its next When() starts from the initial delay.
  virtual void Forget(const std::string& item) = 0;
  // Failures of `item` since the last Forget().
  virtual int NumRequeues(const std::string& item) = 0;
};

// base * 2^failures, capped at max_delay (client-go ItemExponentialFailureRateLimiter).
class ItemExponentialRateLimiter final : public RateLimiter {
 public:
  ItemExponentialRateLimiter(Duration base_delay, Duration max_delay)
      : base_(base_delay), max_(max_delay) {}
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  const Duration base_;
  const Duration max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// An overall token bucket (golang.org/x/time/rate semantics): `qps` tokens per second, at most
// `burst` stored. Each When() reserves a token; the delay is how long until that token exists.
// Not per item: NumRequeues() is always 0 and Forget() does nothing.
class BucketRateLimiter final : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, const Clock& clock);
  Duration When(const std::string& item) override;
  void Forget(const std::string& /*item*/) override {}
  int NumRequeues(const std::string& /*item*/) override { return 0; }

 private:
  const double qps_;
  const double burst_;
  const Clock& clock_;
  std::mutex mu_;
  double tokens_;
  MonoTime last_;
};

// The largest delay of its parts; NumRequeues is the largest of its parts'.
class MaxOfRateLimiter final : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
      : limiters_(std::move(limiters)) {}
  Duration When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// client-go's DefaultControllerRateLimiter: max(5 ms * 2^n capped at 1000 s, 10 qps burst 100).
// `clock` must outlive the limiter.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock);

}  // namespace waop::controller
