// Errors as values for the whole operator: Status says whether an operation worked and, if not,
// what kind of failure it was and a message a person can act on. Result<T> carries either a
// value or a non-OK Status. No exceptions cross a library boundary; adapters around throwing
// libraries (cpprestsdk, yaml-cpp, nlohmann::json parsing) turn them into a Status.
//
// Thread-safety: value types; safe to copy between threads, not to mutate concurrently.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace waop {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // Bad input; retrying the same input will not help.
  kNotFound,            // The object does not exist.
  kAlreadyExists,       // Create of an object that exists.
  kConflict,            // Optimistic concurrency failed (stale resourceVersion).
  kGone,                // A watch or list resourceVersion is too old (HTTP 410).
  kUnauthenticated,     // Credentials missing or rejected (HTTP 401).
  kPermissionDenied,    // Authenticated but not allowed (HTTP 403).
  kResourceExhausted,   // Rate limited (HTTP 429, Meta rate-limit codes).
  kUnavailable,         // Transient: server down, 5xx, connection refused. Retry with backoff.
  kDeadlineExceeded,    // Timed out.
  kFailedPrecondition,  // The world is not in a state where the operation can proceed.
  kCancelled,           // Shutdown or caller cancelled.
  kInternal,            // A bug or an unexpected answer.
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status InvalidArgument(std::string m) {
    return {StatusCode::kInvalidArgument, std::move(m)};
  }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Conflict(std::string m) { return {StatusCode::kConflict, std::move(m)}; }
  static Status Gone(std::string m) { return {StatusCode::kGone, std::move(m)}; }
  static Status Unauthenticated(std::string m) {
    return {StatusCode::kUnauthenticated, std::move(m)};
  }
  static Status PermissionDenied(std::string m) {
    return {StatusCode::kPermissionDenied, std::move(m)};
  }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) {
    return {StatusCode::kDeadlineExceeded, std::move(m)};
  }
  static Status FailedPrecondition(std::string m) {
    return {StatusCode::kFailedPrecondition, std::move(m)};
  }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: message", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>"; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// Either a T or a non-OK Status. Constructing a Result from an OK Status is a bug.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result constructed from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // OK when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace waop

// Returns early from the enclosing function when `expr` yields a non-OK Status.
#define WAOP_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::waop::Status waop_status_ = (expr);        \
    if (!waop_status_.ok()) return waop_status_; \
  } while (0)

// NOLINTBEGIN(bugprone-macro-parentheses): `lhs` is a declaration, it cannot be parenthesised.
// Declares `lhs` from a Result-valued `expr`, or returns its Status from the enclosing function:
// WAOP_ASSIGN_OR_RETURN(auto conn, Connect(...));
#define WAOP_ASSIGN_OR_RETURN(lhs, expr) \
  WAOP_ASSIGN_OR_RETURN_IMPL_(WAOP_STATUS_CONCAT_(waop_result_, __LINE__), lhs, expr)
#define WAOP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(*tmp)
#define WAOP_STATUS_CONCAT_(a, b) WAOP_STATUS_CONCAT_INNER_(a, b)
#define WAOP_STATUS_CONCAT_INNER_(a, b) a##b
// NOLINTEND(bugprone-macro-parentheses)
