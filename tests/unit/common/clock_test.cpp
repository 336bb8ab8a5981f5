#include "common/clock.h"

#include <gtest/gtest.h>

namespace waop {
namespace {

TEST(ClockTest, FormatsAndParsesRfc3339) {
  auto t = ParseRfc3339("2026-11-26T10:00:00Z");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(FormatRfc3339(*t), "2026-11-26T10:00:00Z");
  auto with_offset = ParseRfc3339("2026-11-26T11:30:00+01:30");
  ASSERT_TRUE(with_offset.ok());
  EXPECT_EQ(*with_offset, *t);
  auto micro = ParseRfc3339("2026-11-26T10:00:00.123456Z");
  ASSERT_TRUE(micro.ok());
  EXPECT_EQ(FormatRfc3339Micro(*micro), "2026-11-26T10:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339(*micro), "2026-11-26T10:00:00Z");
}

TEST(ClockTest, RejectsMalformedTimesWithReason) {
  EXPECT_NE(ParseRfc3339("2026-11-26").status().message().find("expected YYYY-MM-DDTHH:MM:SSZ"),
            std::string::npos);
  EXPECT_NE(ParseRfc3339("2026-11-26T10:00:00").status().message().find("missing zone"),
            std::string::npos);
  EXPECT_NE(ParseRfc3339("2026-02-30T10:00:00Z").status().message().find("no such date"),
            std::string::npos);
  EXPECT_FALSE(ParseRfc3339("2026-11-26T10:00:00Zjunk").ok());
}

}  // namespace
}  // namespace waop
