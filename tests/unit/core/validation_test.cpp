#include "core/validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace waop::core {
namespace {

api::Assignment Valid() {
  api::Assignment a;
  a.metadata.name = "panaderia-san-juan";
  a.metadata.ns = "bakery-ia";
  a.spec.tenant_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  a.spec.tenant_name = "Panadería San Juan";
  a.spec.phone_number_id = "123456789012345";
  a.spec.display_phone_number = "+34 612 345 678";
  return a;
}

std::vector<std::string> Lines(const api::FieldErrors& errors) {
  std::vector<std::string> out;
  for (const api::FieldError& e : errors) out.push_back(e.ToString());
  return out;
}

// Repeats a UTF-8 string n times.
std::string Repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ValidationTest, ValidAssignmentHasNoErrors) {
  EXPECT_TRUE(ValidateAssignment(Valid()).empty()) << ValidateAssignment(Valid()).ToString();
}

TEST(ValidationTest, RequiredFields) {
  api::Assignment a = Valid();
  a.spec.tenant_id = "";
  a.spec.phone_number_id = "";
  EXPECT_EQ(Lines(ValidateAssignment(a)),
            (std::vector<std::string>{"spec.tenantId: required value",
                                      "spec.phoneNumberId: required value"}));
  EXPECT_EQ(ValidateAssignment(a)[0].type, api::FieldErrorType::kRequired);
}

TEST(ValidationTest, PhoneNumberId) {
  api::Assignment a = Valid();
  a.spec.phone_number_id = "+34 612";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.phoneNumberId: expected 1-32 digits, got \"+34 612\"");
  a.spec.phone_number_id = std::string(33, '1');
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.phoneNumberId: expected 1-32 digits, got \"" + std::string(33, '1') + "\"");
  a.spec.phone_number_id = std::string(32, '9');
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.spec.phone_number_id = "1";
  EXPECT_TRUE(ValidateAssignment(a).empty());
}

TEST(ValidationTest, TenantIdIsALabelValue) {
  api::Assignment a = Valid();
  a.spec.tenant_id = "-abc";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.tenantId: expected a label value: letters, digits, '-', '_' or '.', starting "
            "and ending with a letter or digit, got \"-abc\"");
  a.spec.tenant_id = "tenant one";
  EXPECT_EQ(ValidateAssignment(a).size(), 1u);
  a.spec.tenant_id = std::string(64, 'a');
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.tenantId: must be no more than 63 characters (it is used as a label value), "
            "got 64 characters");
  EXPECT_EQ(ValidateAssignment(a)[0].type, api::FieldErrorType::kTooLong);
  a.spec.tenant_id = std::string(63, 'a');
  EXPECT_TRUE(ValidateAssignment(a).empty());
  for (const char* ok : {"a", "A.b_c-9", "7c9e6679-7425-40de-944b-e07fc1f90ae7"}) {
    a.spec.tenant_id = ok;
    EXPECT_TRUE(ValidateAssignment(a).empty()) << ok;
  }
  for (const char* bad : {"a-", "_a", "a/b", "ñ"}) {
    a.spec.tenant_id = bad;
    EXPECT_FALSE(ValidateAssignment(a).empty()) << bad;
  }
}

TEST(ValidationTest, TenantNameCountsCodePointsNotBytes) {
  api::Assignment a = Valid();
  a.spec.tenant_name = "Panadería Goiko";
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.spec.tenant_name = "Pastelería 🥐🍞";
  EXPECT_TRUE(ValidateAssignment(a).empty());
  // 200 four-byte emoji are 800 bytes but 200 characters.
  a.spec.tenant_name = Repeat("🥐", 200);
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.spec.tenant_name = Repeat("🥐", 201);
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.tenantName: must be no more than 200 characters, got 201 characters");
  a.spec.tenant_name = Repeat("ñ", 200);
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.spec.tenant_name = Repeat("a", 201);
  EXPECT_FALSE(ValidateAssignment(a).empty());
}

TEST(ValidationTest, TenantNameTextRules) {
  api::Assignment a = Valid();
  a.spec.tenant_name = "Bad\xff name";
  EXPECT_EQ(ValidateAssignment(a).ToString(), "spec.tenantName: expected valid UTF-8 text");
  a.spec.tenant_name = "Tab\there";
  EXPECT_EQ(ValidateAssignment(a).size(), 1u);
  a.spec.tenant_name = "Del\x7f";
  EXPECT_EQ(ValidateAssignment(a).size(), 1u);
  // C1 controls (the schema's pattern does not refuse them): NEL U+0085, U+0080, U+009F.
  for (const char* c1 : {"Next\xc2\x85line", "\xc2\x80x", "x\xc2\x9f"}) {
    a.spec.tenant_name = c1;
    EXPECT_EQ(ValidateAssignment(a).size(), 1u) << c1;
  }
  // Their neighbours are ordinary text: U+00A0 (no-break space), U+00A9, and "í" (0xC3 0xAD).
  a.spec.tenant_name =
      "Panader\xc3\xad"
      "a\xc2\xa0\xc2\xa9";
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.spec.tenant_name = "Two\nlines";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.tenantName: must not contain control characters (newline, tab, ...), got "
            "\"Two\\nlines\"");
}

TEST(ValidationTest, CountCodePoints) {
  EXPECT_EQ(CountCodePoints(""), 0u);
  EXPECT_EQ(CountCodePoints("abc"), 3u);
  EXPECT_EQ(CountCodePoints("Panadería"), 9u);
  EXPECT_EQ(CountCodePoints("🥐"), 1u);
  EXPECT_EQ(CountCodePoints("\xc3"), std::nullopt);              // truncated
  EXPECT_EQ(CountCodePoints("\xc0\xaf"), std::nullopt);          // overlong '/'
  EXPECT_EQ(CountCodePoints("\xed\xa0\x80"), std::nullopt);      // surrogate
  EXPECT_EQ(CountCodePoints("\xf4\x90\x80\x80"), std::nullopt);  // above U+10FFFF
  EXPECT_EQ(CountCodePoints("\x80"), std::nullopt);              // lone continuation
}

TEST(ValidationTest, DisplayPhoneNumber) {
  for (const char* ok : {"+34 612 345 678", "+34612345678", "+1 555 0100", "+1234567",
                         "+123456789012345", "+1 2 3 4 5 6 7 8 9 0 1 2 3 4 5"}) {
    EXPECT_TRUE(IsDisplayPhoneNumber(ok)) << ok;
  }
  for (const char* bad :
       {"", "+", "34612345678", "+0 612 345 678", "+34  612345678", "+34 612 345 678 ",
        "+ 34612345678", "+123456", "+1234567890123456", "+34-612-345-678", "+34 612 345 67a"}) {
    EXPECT_FALSE(IsDisplayPhoneNumber(bad)) << bad;
  }
  api::Assignment a = Valid();
  a.spec.display_phone_number = "0034 612";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.displayPhoneNumber: expected an E.164 number (\"+\", country code, 7-15 digits "
            "in all, single spaces allowed between digits) such as \"+34 612 345 678\", got "
            "\"0034 612\"");
  a.spec.display_phone_number = "";
  EXPECT_TRUE(ValidateAssignment(a).empty());
}

TEST(ValidationTest, DefaultLanguage) {
  for (const char* ok : {"es", "en_US", "pt_BR", "fil", "eu"}) EXPECT_TRUE(IsLanguageCode(ok));
  for (const char* bad : {"", "e", "ES", "en-US", "en_us", "engl", "en_USA", "en_"}) {
    EXPECT_FALSE(IsLanguageCode(bad)) << bad;
  }
  api::Assignment a = Valid();
  a.spec.default_language = "ES";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "spec.defaultLanguage: expected a WhatsApp language code such as \"es\", \"en_US\" "
            "or \"pt_BR\", got \"ES\"");
}

// A valid subdomain of n characters: DNS labels of 49 'a's joined by dots.
std::string LongName(size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += (i % 50 == 49) ? '.' : 'a';
  return out;
}

TEST(ValidationTest, MetadataName) {
  api::Assignment a = Valid();
  a.metadata.name = "Panaderia";
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "metadata.name: expected a DNS-1123 subdomain: lowercase letters, digits, '-' and "
            "'.', starting and ending with a letter or digit, got \"Panaderia\"");
  a.metadata.name = std::string(64, 'a');  // one DNS label is at most 63
  EXPECT_EQ(ValidateAssignment(a).size(), 1u);
  a.metadata.name = LongName(235);
  EXPECT_TRUE(ValidateAssignment(a).empty());
  a.metadata.name = LongName(236);
  EXPECT_EQ(ValidateAssignment(a).ToString(),
            "metadata.name: must be no more than 235 characters so that the settings ConfigMap "
            "name \"whatsapp-settings-<name>\" stays within 253, got 236 characters");
  a.metadata.name = "";  // generateName: the API server fills it in
  EXPECT_TRUE(ValidateAssignment(a).empty());
  EXPECT_TRUE(IsDns1123Subdomain("a.b-c.d"));
  EXPECT_FALSE(IsDns1123Subdomain("a..b"));
  EXPECT_FALSE(IsDns1123Subdomain("a_b"));
  EXPECT_FALSE(IsDns1123Subdomain(std::string(254, 'a')));
}

TEST(ValidationTest, ReportsEveryErrorAtOnce) {
  api::Assignment a = Valid();
  a.metadata.name = "Bad";
  a.spec.tenant_id = "";
  a.spec.phone_number_id = "x";
  a.spec.display_phone_number = "x";
  a.spec.default_language = "x";
  std::vector<std::string> lines = Lines(ValidateAssignment(a));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("metadata.name:", 0), 0u);
  EXPECT_EQ(lines[1], "spec.tenantId: required value");
  EXPECT_EQ(lines[2].rfind("spec.phoneNumberId:", 0), 0u);
  EXPECT_EQ(lines[3].rfind("spec.displayPhoneNumber:", 0), 0u);
  EXPECT_EQ(lines[4].rfind("spec.defaultLanguage:", 0), 0u);
}

TEST(ValidationTest, TenantIdIsImmutable) {
  api::Assignment old_a = Valid();
  api::Assignment updated = old_a;
  updated.spec.phone_number_id = "999";
  updated.spec.tenant_name = "Renamed";
  EXPECT_TRUE(ValidateAssignmentUpdate(old_a, updated).empty());
  updated.spec.tenant_id = "other-tenant";
  EXPECT_EQ(ValidateAssignmentUpdate(old_a, updated).ToString(),
            "spec.tenantId: field is immutable (delete this assignment and create a new one to "
            "change the tenant)");
  // Update also applies the create rules.
  updated.spec.tenant_id = old_a.spec.tenant_id;
  updated.spec.phone_number_id = "abc";
  EXPECT_EQ(ValidateAssignmentUpdate(old_a, updated).ToString(),
            "spec.phoneNumberId: expected 1-32 digits, got \"abc\"");
}

}  // namespace
}  // namespace waop::core
