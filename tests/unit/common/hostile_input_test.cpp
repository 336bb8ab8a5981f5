// Regression tests for issue 14 at the bottom layer: times outside what a WallTime holds, and
// JSON nested deep enough to overflow the stack when copied or serialised.
#include <gtest/gtest.h>

#include <random>

#include "common/clock.h"
#include "common/json.h"

namespace waop {
namespace {

TEST(HostileTimeTest, YearsTheApiServerAcceptsButWeCannotHoldAreErrors) {
  for (const char* t : {"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1677-09-21T00:12:44Z",
                        "1677-12-31T23:59:59Z", "2262-04-11T23:47:16Z", "2262-04-11T00:00:00Z",
                        "9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999999999-23:59",
                        "1678-01-01T00:00:00+00:01"}) {
    auto parsed = ParseRfc3339(t);
    ASSERT_FALSE(parsed.ok()) << t;
    EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find("out of range"), std::string::npos) << t;
  }
}

TEST(HostileTimeTest, TheEdgesOfTheRangeRoundTrip) {
  for (const char* t : {"1678-01-01T00:00:00Z", "2262-04-10T23:59:59Z", "1970-01-01T00:00:00Z",
                        "2026-11-26T10:00:00Z"}) {
    auto parsed = ParseRfc3339(t);
    ASSERT_TRUE(parsed.ok()) << t << ": " << parsed.status().ToString();
    EXPECT_EQ(FormatRfc3339(*parsed), t);
  }
  auto last = ParseRfc3339("2262-04-10T23:59:59.999999999Z");
  ASSERT_TRUE(last.ok());
  EXPECT_EQ(FormatRfc3339Micro(*last), "2262-04-10T23:59:59.999999Z");
  auto offset = ParseRfc3339("2262-04-11T00:59:59+01:00");
  ASSERT_TRUE(offset.ok());
  EXPECT_EQ(FormatRfc3339(*offset), "2262-04-10T23:59:59Z");
}

// The depth scan skips strings with memchr; it must agree with a plain byte-by-byte scan on
// any text, however quotes, backslashes and brackets mix.
TEST(HostileJsonTest, DepthScanAgreesWithAByteByByteScan) {
  auto reference = [](std::string_view text, std::size_t limit) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
      if (in_string) {
        if (escaped) {
          escaped = false;
        } else if (c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = false;
        }
        continue;
      }
      if (c == '"') in_string = true;
      if (c == '{' || c == '[') {
        if (++depth > deepest && (deepest = depth) > limit) return deepest;
      }
      if ((c == '}' || c == ']') && depth > 0) --depth;
    }
    return deepest;
  };
  const std::uint64_t base = std::random_device{}();
  for (std::uint64_t i = 0; i < 5000; ++i) {
    const std::uint64_t seed = base + i;
    std::mt19937_64 rng(seed);
    static const char kAlphabet[] = "\"\\{}[]a:,";
    std::string text(rng() % 40, ' ');
    for (char& c : text) c = kAlphabet[rng() % (sizeof kAlphabet - 1)];
    const std::size_t limit = rng() % 6;
    ASSERT_EQ(JsonNestingDepth(text, limit), reference(text, limit))
        << "seed " << seed << ": " << text << " (limit " << limit << ")";
  }
}

TEST(HostileJsonTest, DepthIsBoundedBeforeParsing) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_GT(JsonNestingDepth(deep), kMaxJsonDepth);
  auto parsed = ParseJsonBounded(deep);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nested deeper than 128"), std::string::npos);
  // Brackets inside strings do not count; escaped quotes do not end a string.
  const std::string in_string = "{\"a\":\"" + std::string(1000, '[') + "\\\"" + "\"}";
  EXPECT_EQ(JsonNestingDepth(in_string), 1u);
  EXPECT_TRUE(ParseJsonBounded(in_string).ok());
  const std::string at_limit = std::string(128, '[') + std::string(128, ']');
  EXPECT_TRUE(ParseJsonBounded(at_limit).ok());
  EXPECT_FALSE(ParseJsonBounded("[" + at_limit + "]").ok());
  auto garbage = ParseJsonBounded("{\"a\":");
  ASSERT_FALSE(garbage.ok());
  EXPECT_NE(garbage.status().message().find("not valid JSON"), std::string::npos);
}

TEST(HostileJsonTest, AccessorsNeverThrow) {
  const auto j = nlohmann::json::parse(R"({"s":"x","n":1,"o":{"a":1},"b":true,"a":[1]})");
  EXPECT_EQ(JsonString(j, "s"), "x");
  EXPECT_EQ(JsonString(j, "n"), "");
  EXPECT_EQ(JsonString(j, "missing"), "");
  EXPECT_EQ(JsonString(nlohmann::json(5), "s"), "");
  EXPECT_TRUE(JsonBool(j, "b"));
  EXPECT_FALSE(JsonBool(j, "n"));
  EXPECT_TRUE(JsonBool(j, "n", true));
  EXPECT_NE(JsonObject(j, "o"), nullptr);
  EXPECT_EQ(JsonObject(j, "a"), nullptr);
  EXPECT_EQ(JsonObject(nlohmann::json::array(), "o"), nullptr);
}

}  // namespace
}  // namespace waop
