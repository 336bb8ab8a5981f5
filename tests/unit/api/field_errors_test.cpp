#include "api/field_errors.h"

#include <gtest/gtest.h>

namespace waop::api {
namespace {

TEST(FieldErrorsTest, EmptyIsOk) {
  FieldErrors errors;
  EXPECT_TRUE(errors.empty());
  EXPECT_EQ(errors.ToString(), "");
  EXPECT_TRUE(errors.ToStatus().ok());
}

TEST(FieldErrorsTest, JoinsAllErrorsInOrder) {
  FieldErrors errors;
  errors.Required("spec.tenantId");
  errors.Invalid("spec.phoneNumberId", "expected 1-32 digits, got \"+34 612\"");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0].type, FieldErrorType::kRequired);
  EXPECT_EQ(errors.ToString(),
            "spec.tenantId: required value; spec.phoneNumberId: expected 1-32 digits, got "
            "\"+34 612\"");
  Status s = errors.ToStatus();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), errors.ToString());
}

TEST(FieldErrorsTest, ReasonsMatchKubernetesCauseTypes) {
  EXPECT_EQ(FieldErrorTypeReason(FieldErrorType::kRequired), "FieldValueRequired");
  EXPECT_EQ(FieldErrorTypeReason(FieldErrorType::kInvalid), "FieldValueInvalid");
  EXPECT_EQ(FieldErrorTypeReason(FieldErrorType::kTooLong), "FieldValueTooLong");
}

TEST(QuoteForMessageTest, EscapesAndKeepsUtf8) {
  EXPECT_EQ(QuoteForMessage("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(QuoteForMessage("Panadería"), "\"Panadería\"");
  EXPECT_EQ(QuoteForMessage("line\nbreak"), "\"line\\nbreak\"");
}

TEST(QuoteForMessageTest, CutsLongValuesWithoutSplittingCharacters) {
  EXPECT_EQ(QuoteForMessage("abcdef", 3), "\"abc...\"");
  // "ñ" is two bytes; a cut at byte 2 would split it, so it backs up to byte 1.
  EXPECT_EQ(QuoteForMessage("añb", 2), "\"a...\"");
}

TEST(QuoteForMessageTest, InvalidUtf8DoesNotThrow) {
  std::string bad = "ab\xff";
  std::string quoted = QuoteForMessage(bad);
  EXPECT_EQ(quoted.front(), '"');
  EXPECT_EQ(quoted.back(), '"');
  EXPECT_NE(quoted.find("ab"), std::string::npos);
}

}  // namespace
}  // namespace waop::api
