// RFC 3339 times: whatever parses is inside the WallTime range and formats back to a time that
// parses to the same second.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/clock.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto t = waop::ParseRfc3339(in);
  if (!t.ok()) return 0;
  auto again = waop::ParseRfc3339(waop::FormatRfc3339(*t));
  if (!again.ok()) __builtin_trap();
  auto whole = std::chrono::floor<std::chrono::seconds>(*t);
  if (*again != whole) __builtin_trap();
  auto micro = waop::ParseRfc3339(waop::FormatRfc3339Micro(*t));
  if (!micro.ok()) __builtin_trap();
  return 0;
}
