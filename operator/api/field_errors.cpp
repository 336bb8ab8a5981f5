#include "api/field_errors.h"

#include <nlohmann/json.hpp>

namespace waop::api {

std::string_view FieldErrorTypeReason(FieldErrorType type) {
  switch (type) {
    case FieldErrorType::kRequired:
      return "FieldValueRequired";
    case FieldErrorType::kInvalid:
      return "FieldValueInvalid";
    case FieldErrorType::kTypeError:
      return "FieldValueTypeInvalid";
    case FieldErrorType::kTooLong:
      return "FieldValueTooLong";
    case FieldErrorType::kForbidden:
      return "FieldValueForbidden";
  }
  return "FieldValueInvalid";
}

std::string FieldError::ToString() const { return path + ": " + detail; }

void FieldErrors::Add(FieldErrorType type, std::string path, std::string detail) {
  errors_.push_back(FieldError{type, std::move(path), std::move(detail)});
}

void FieldErrors::Append(const FieldErrors& other) {
  errors_.insert(errors_.end(), other.errors_.begin(), other.errors_.end());
}

std::string FieldErrors::ToString() const {
  std::string out;
  for (const FieldError& e : errors_) {
    if (!out.empty()) out += "; ";
    out += e.ToString();
  }
  return out;
}

Status FieldErrors::ToStatus() const {
  if (errors_.empty()) return Status::Ok();
  return Status::InvalidArgument(ToString());
}

std::string QuoteForMessage(std::string_view value, size_t max_chars) {
  bool cut = value.size() > max_chars;
  if (cut) {
    size_t n = max_chars;
    // Do not split a UTF-8 sequence: back up over continuation bytes.
    while (n > 0 && (static_cast<unsigned char>(value[n]) & 0xC0) == 0x80) --n;
    value = value.substr(0, n);
  }
  // `replace` keeps invalid UTF-8 from throwing; a message must never fail to build.
  std::string quoted = nlohmann::json(std::string(value))
                           .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (cut) quoted.insert(quoted.size() - 1, "...");
  return quoted;
}

}  // namespace waop::api
