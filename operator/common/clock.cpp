#include "common/clock.h"

#include <cstdio>
#include <ctime>

namespace waop {
namespace {

std::string FormatBase(WallTime t, std::tm* tm_out) {
  std::time_t secs =
      std::chrono::system_clock::to_time_t(std::chrono::time_point_cast<std::chrono::seconds>(t));
  if (t < std::chrono::time_point_cast<std::chrono::seconds>(t)) --secs;  // floor for negatives
  gmtime_r(&secs, tm_out);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", tm_out->tm_year + 1900,
                tm_out->tm_mon + 1, tm_out->tm_mday, tm_out->tm_hour, tm_out->tm_min,
                tm_out->tm_sec);
  return buf;
}

// 1678-01-01T00:00:00Z and 2262-04-10T23:59:59Z: whole days inside what a WallTime holds, with
// room for a fraction of a second.
constexpr long long kMinRfc3339Seconds = -9'214'560'000LL;
constexpr long long kMaxRfc3339Seconds = 9'223'286'399LL;

bool ParseDigits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

}  // namespace

const RealClock& RealClock::Get() {
  static const RealClock clock;
  return clock;
}

std::string FormatRfc3339(WallTime t) {
  std::tm tm{};
  return FormatBase(t, &tm) + "Z";
}

std::string FormatRfc3339Micro(WallTime t) {
  std::tm tm{};
  std::string base = FormatBase(t, &tm);
  auto since = t.time_since_epoch();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(since).count() % 1'000'000;
  if (micros < 0) micros += 1'000'000;
  char buf[16];
  std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(micros));
  return base + buf + "Z";
}

Result<WallTime> ParseRfc3339(std::string_view s) {
  auto bad = [&](const char* what) {
    return Status::InvalidArgument("invalid RFC 3339 time \"" + std::string(s) + "\": " + what);
  };
  int year, mon, day, hour, min, sec;
  if (!ParseDigits(s, 0, 4, &year) || s.size() < 19 || s[4] != '-' || !ParseDigits(s, 5, 2, &mon) ||
      s[7] != '-' || !ParseDigits(s, 8, 2, &day) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !ParseDigits(s, 11, 2, &hour) ||
      s[13] != ':' || !ParseDigits(s, 14, 2, &min) || s[16] != ':' ||
      !ParseDigits(s, 17, 2, &sec)) {
    return bad("expected YYYY-MM-DDTHH:MM:SSZ");
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return bad("field out of range");
  }
  size_t pos = 19;
  long long nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return bad("empty fraction");
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_secs = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!ParseDigits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !ParseDigits(s, pos + 4, 2, &om)) {
      return bad("bad zone offset");
    }
    offset_secs = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return bad("missing zone (Z or +hh:mm)");
  }
  if (pos != s.size()) return bad("trailing characters");
  std::chrono::year_month_day ymd{std::chrono::year(year), std::chrono::month(mon),
                                  std::chrono::day(day)};
  if (!ymd.ok()) return bad("no such date");
  // WallTime counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11. The API server accepts
  // years 0000-9999, so a time outside what fits is an error here, not an overflow.
  const long long secs = static_cast<long long>(std::chrono::sys_days(ymd).time_since_epoch() /
                                                std::chrono::seconds(1)) +
                         hour * 3600LL + min * 60LL + sec - offset_secs;
  if (secs < kMinRfc3339Seconds || secs > kMaxRfc3339Seconds) {
    return bad("out of range (the operator handles times from 1678-01-01 to 2262-04-10)");
  }
  auto t = WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs))) +
           std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
  return t;
}

}  // namespace waop
