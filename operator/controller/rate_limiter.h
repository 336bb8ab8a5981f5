// Retry pacing for the controller runtime, modelled on client-go's workqueue rate limiters and
// wait.Backoff:
//   - RateLimiter: "how long until this item may be retried", per item, with Forget() to reset
//     after success. DefaultControllerRateLimiter() is client-go's default: the max of a
//     per-item exponential backoff (5 ms doubling up to 1000 s) and an overall token bucket
//     (10 qps, burst 100) so a storm of failing items cannot hammer the API server.
//   - Backoff: a jittered exponential sequence for one retrying loop (watch reconnects: 0.8 s
//     doubling to 30 s; Graph API retries).
// Time and randomness are injected (Clock, RandomSource) so tests are deterministic.
//
// Thread-safety: every RateLimiter implementation here is internally synchronised. Backoff is
// a value owned by one loop and is not synchronised.
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

// A jittered exponential backoff for one retry loop, like client-go's wait.Backoff:
// the n-th Next() (from 0) returns min(initial * factor^n, cap) * (1 + jitter * r), r in [0,1).
// The cap bounds the un-jittered delay, so the real delay is at most cap * (1 + jitter).
// Reset() after a success starts again from `initial`.
class Backoff {
 public:
  struct Options {
    Duration initial = std::chrono::milliseconds(800);
    double factor = 2.0;
    Duration cap = std::chrono::seconds(30);
    double jitter = 1.0;  // fraction of the delay added at random; 0 = none
  };
  // Watch reconnects as client-go's reflector paces them: 0.8 s doubling to 30 s, jitter 1.0.
  static Options WatchReconnect() { return Options{}; }

  // `random` may be empty when jitter is 0; otherwise it must be set.
  Backoff(Options options, RandomSource random);

  Duration Next();
  void Reset() { current_ = options_.initial; }
  // The un-jittered delay the next Next() will be based on.
  Duration Peek() const { return current_; }

 private:
  Options options_;
  RandomSource random_;
  Duration current_;
};

}  // namespace waop::controller
