// A Clock for tests: time stands still until the test advances it, so code that waits, expires
// or stamps a time is driven without sleeping. Wall and monotonic time move together.
//
// Thread-safety: internally synchronised; one thread may Advance() while others read.
// Ownership: a value; code under test holds it by `const Clock&`, so it must outlive that code.
#pragma once

#include <chrono>
#include <mutex>

#include "common/clock.h"

namespace waop {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(WallTime start = WallTime(std::chrono::seconds(1'790'000'000)))
      : wall_(start), mono_(MonoTime(std::chrono::seconds(1000))) {}
  WallTime Now() const override {
    std::lock_guard lock(mu_);
    return wall_;
  }
  MonoTime Mono() const override {
    std::lock_guard lock(mu_);
    return mono_;
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard lock(mu_);
    wall_ += std::chrono::duration_cast<WallTime::duration>(d);
    mono_ += std::chrono::duration_cast<MonoTime::duration>(d);
  }

 private:
  mutable std::mutex mu_;
  WallTime wall_;
  MonoTime mono_;
};

}  // namespace waop
