// Time as a dependency: everything that waits, expires or stamps a time takes a Clock, so tests
// drive time with a FakeClock (tests/support/fake_clock.h) instead of sleeping. Also RFC 3339
// formatting as Kubernetes writes timestamps ("2026-11-26T10:00:00Z", second precision, UTC).
//
// Thread-safety: RealClock is stateless.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/status.h"

namespace waop {

using WallTime = std::chrono::system_clock::time_point;
using MonoTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, for timestamps written to objects.
  virtual WallTime Now() const = 0;
  // Monotonic time, for timeouts, backoff and leases' local bookkeeping.
  virtual MonoTime Mono() const = 0;
};

class RealClock final : public Clock {
 public:
  WallTime Now() const override { return std::chrono::system_clock::now(); }
  MonoTime Mono() const override { return std::chrono::steady_clock::now(); }
  // A process-wide instance.
  static const RealClock& Get();
};

// "2026-11-26T10:00:00Z" (UTC, whole seconds), as metav1.Time serialises.
std::string FormatRfc3339(WallTime t);
// "2026-11-26T10:00:00.123456Z" (UTC, microseconds), as metav1.MicroTime serialises (Leases).
std::string FormatRfc3339Micro(WallTime t);
// Accepts "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)". InvalidArgument names what was wrong.
// A WallTime holds 1677-09-21 to 2262-04-11 (64-bit nanoseconds); times before 1678-01-01 or
// after 2262-04-10T23:59:59Z (UTC) are InvalidArgument ("out of range"), never wrapped.
Result<WallTime> ParseRfc3339(std::string_view text);

}  // namespace waop
