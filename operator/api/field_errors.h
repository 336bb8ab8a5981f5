// Field-level validation and parse errors, collected rather than stopped at the first one, so an
// admin fixing a manifest sees every problem in one `kubectl apply`. Each error names the field
// path as Kubernetes does ("spec.tenantId", "metadata.labels[app]", "status.conditions[0].type")
// and says what was expected and what was given.
//
// Thread-safety: value types; safe to copy between threads, not to mutate concurrently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace waop::api {

// Kinds mirror apimachinery's field.ErrorType, so the webhook can map them to a
// metav1.StatusCause type (FieldValueRequired, FieldValueInvalid, ...).
enum class FieldErrorType {
  kRequired,   // "spec.tenantId: required value"
  kInvalid,    // value present but breaks a rule (pattern, range, immutability)
  kTypeError,  // JSON type is wrong ("expected boolean, got string \"yes\"")
  kTooLong,    // string longer than allowed
  kForbidden,  // change or value not allowed in this context
};

// The StatusCause.reason Kubernetes uses for this type, e.g. "FieldValueRequired".
std::string_view FieldErrorTypeReason(FieldErrorType type);

struct FieldError {
  FieldErrorType type = FieldErrorType::kInvalid;
  std::string path;    // "spec.phoneNumberId"
  std::string detail;  // "expected 1-32 digits, got \"+34 612\""

  // "<path>: <detail>", the line an admin reads.
  std::string ToString() const;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

// An ordered list of field errors. Empty means valid.
class FieldErrors {
 public:
  void Add(FieldErrorType type, std::string path, std::string detail);
  void Required(std::string path) {
    Add(FieldErrorType::kRequired, std::move(path), "required value");
  }
  void Invalid(std::string path, std::string detail) {
    Add(FieldErrorType::kInvalid, std::move(path), std::move(detail));
  }
  void Append(const FieldErrors& other);

  bool empty() const { return errors_.empty(); }
  size_t size() const { return errors_.size(); }
  const std::vector<FieldError>& errors() const { return errors_; }
  const FieldError& operator[](size_t i) const { return errors_[i]; }
  auto begin() const { return errors_.begin(); }
  auto end() const { return errors_.end(); }

  // Every error's ToString() joined with "; " (a semicolon, because details contain commas).
  // Empty string when there are none.
  std::string ToString() const;
  // OK when empty, else InvalidArgument carrying ToString().
  Status ToStatus() const;

 private:
  std::vector<FieldError> errors_;
};

// Quotes a user-supplied string for an error message as JSON would ("a\"b"), keeping UTF-8, and
// cuts it to `max_chars` bytes (plus "...") so a huge value cannot flood a log line.
std::string QuoteForMessage(std::string_view value, size_t max_chars = 100);

}  // namespace waop::api
