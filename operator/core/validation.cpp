#include "core/validation.h"

#include <string>

#include "core/settings.h"

namespace waop::core {
namespace {

using api::FieldErrors;
using api::FieldErrorType;
using api::QuoteForMessage;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsAlnum(char c) { return IsDigit(c) || IsLower(c) || IsUpper(c); }

// A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1-63 chars.
bool IsDns1123Label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  auto ok_end = [](char c) { return IsLower(c) || IsDigit(c); };
  if (!ok_end(s.front()) || !ok_end(s.back())) return false;
  for (char c : s) {
    if (!ok_end(c) && c != '-') return false;
  }
  return true;
}

std::string Chars(size_t n) { return std::to_string(n) + (n == 1 ? " character" : " characters"); }

// C0 controls and DEL (what the CRD's pattern ^[^\x00-\x1F\x7F]*$ refuses) and C1 controls,
// U+0080 to U+009F (NEL, U+0085, breaks a line too), which the schema lets through. `utf8` is
// valid UTF-8, where a C1 control is the two bytes 0xC2 0x80..0x9F.
bool HasControlCharacter(std::string_view utf8) {
  for (size_t i = 0; i < utf8.size(); ++i) {
    auto c = static_cast<unsigned char>(utf8[i]);
    if (c < 0x20 || c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < utf8.size()) {
      auto next = static_cast<unsigned char>(utf8[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return true;
    }
  }
  return false;
}

}  // namespace

std::optional<size_t> CountCodePoints(std::string_view text) {
  size_t count = 0;
  size_t i = 0;
  const size_t n = text.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      len = 1;
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + len > n) return std::nullopt;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return std::nullopt;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kMinForLength[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinForLength[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return std::nullopt;
    }
    i += len;
    ++count;
  }
  return count;
}

bool IsLabelValue(std::string_view v) {
  if (v.empty() || v.size() > kMaxLabelValueLength) return false;
  if (!IsAlnum(v.front()) || !IsAlnum(v.back())) return false;
  for (char c : v) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

namespace {
// Dot-separated DNS-1123 labels, whatever the total length.
bool IsDns1123SubdomainFormat(std::string_view v) {
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    std::string_view label = v.substr(start, dot == std::string_view::npos ? v.npos : dot - start);
    if (!IsDns1123Label(label)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

}  // namespace

bool IsDns1123Subdomain(std::string_view v) {
  return !v.empty() && v.size() <= kMaxDns1123SubdomainLength && IsDns1123SubdomainFormat(v);
}

bool IsPhoneNumberId(std::string_view v) {
  if (v.empty() || v.size() > kMaxPhoneNumberIdDigits) return false;
  for (char c : v) {
    if (!IsDigit(c)) return false;
  }
  return true;
}

bool IsDisplayPhoneNumber(std::string_view v) {
  // ^\+[1-9]( ?[0-9]){6,14}$
  if (v.size() < 2 || v[0] != '+' || v[1] < '1' || v[1] > '9') return false;
  size_t digits = 1;
  for (size_t i = 2; i < v.size(); ++i) {
    if (v[i] == ' ') {
      // One space, followed by a digit.
      if (i + 1 >= v.size() || !IsDigit(v[i + 1])) return false;
      continue;
    }
    if (!IsDigit(v[i])) return false;
    ++digits;
  }
  return digits >= 7 && digits <= 15;
}

bool IsLanguageCode(std::string_view v) {
  // ^[a-z]{2,3}(_[A-Z]{2})?$
  size_t i = 0;
  while (i < v.size() && IsLower(v[i])) ++i;
  if (i < 2 || i > 3) return false;
  if (i == v.size()) return true;
  return v.size() == i + 3 && v[i] == '_' && IsUpper(v[i + 1]) && IsUpper(v[i + 2]);
}

FieldErrors ValidateAssignmentSpec(const api::AssignmentSpec& spec) {
  FieldErrors errors;

  if (spec.tenant_id.empty()) {
    errors.Required("spec.tenantId");
  } else if (spec.tenant_id.size() > kMaxLabelValueLength) {
    errors.Add(FieldErrorType::kTooLong, "spec.tenantId",
               "must be no more than 63 characters (it is used as a label value), got " +
                   Chars(spec.tenant_id.size()));
  } else if (!IsLabelValue(spec.tenant_id)) {
    errors.Invalid("spec.tenantId",
                   "expected a label value: letters, digits, '-', '_' or '.', starting and "
                   "ending with a letter or digit, got " +
                       QuoteForMessage(spec.tenant_id));
  }

  if (!spec.tenant_name.empty()) {
    std::optional<size_t> chars = CountCodePoints(spec.tenant_name);
    if (!chars) {
      errors.Invalid("spec.tenantName", "expected valid UTF-8 text");
    } else if (*chars > kMaxTenantNameCodePoints) {
      errors.Add(FieldErrorType::kTooLong, "spec.tenantName",
                 "must be no more than 200 characters, got " + Chars(*chars));
    } else if (HasControlCharacter(spec.tenant_name)) {
      // Names go into status messages and Events on one line; a newline would break them.
      errors.Invalid("spec.tenantName",
                     "must not contain control characters (newline, tab, ...), got " +
                         QuoteForMessage(spec.tenant_name));
    }
  }

  if (spec.phone_number_id.empty()) {
    errors.Required("spec.phoneNumberId");
  } else if (!IsPhoneNumberId(spec.phone_number_id)) {
    errors.Invalid("spec.phoneNumberId",
                   "expected 1-32 digits, got " + QuoteForMessage(spec.phone_number_id));
  }

  if (!spec.display_phone_number.empty() && !IsDisplayPhoneNumber(spec.display_phone_number)) {
    errors.Invalid("spec.displayPhoneNumber",
                   "expected an E.164 number (\"+\", country code, 7-15 digits in all, single "
                   "spaces allowed between digits) such as \"+34 612 345 678\", got " +
                       QuoteForMessage(spec.display_phone_number));
  }

  if (!IsLanguageCode(spec.default_language)) {
    errors.Invalid("spec.defaultLanguage",
                   "expected a WhatsApp language code such as \"es\", \"en_US\" or \"pt_BR\", "
                   "got " +
                       QuoteForMessage(spec.default_language));
  }
  return errors;
}

FieldErrors ValidateAssignment(const api::Assignment& a) {
  FieldErrors errors;
  const std::string& name = a.metadata.name;
  if (!name.empty()) {
    if (!IsDns1123SubdomainFormat(name)) {
      errors.Invalid("metadata.name",
                     "expected a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', "
                     "starting and ending with a letter or digit, got " +
                         QuoteForMessage(name));
    }
    if (name.size() > kMaxAssignmentNameLength) {
      errors.Add(FieldErrorType::kTooLong, "metadata.name",
                 "must be no more than 235 characters so that the settings ConfigMap name \"" +
                     std::string(kSettingsConfigMapPrefix) + "<name>\" stays within 253, got " +
                     Chars(name.size()));
    }
  }
  errors.Append(ValidateAssignmentSpec(a.spec));
  return errors;
}

FieldErrors ValidateAssignmentUpdate(const api::Assignment& old_assignment,
                                     const api::Assignment& updated) {
  FieldErrors errors = ValidateAssignment(updated);
  if (old_assignment.spec.tenant_id != updated.spec.tenant_id) {
    errors.Add(FieldErrorType::kInvalid, "spec.tenantId",
               "field is immutable (delete this assignment and create a new one to change "
               "the tenant)");
  }
  return errors;
}

}  // namespace waop::core
