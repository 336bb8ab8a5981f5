#include "kube/api_error.h"

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "common/json.h"

namespace waop::kube {
namespace {

constexpr std::string_view kRetryMarker = " (retry after ";

// A retry hint is taken when it is a whole number of seconds >= 0; hints above kMaxRetryAfter
// are clamped to it (an hour is already longer than any server means; larger values would
// only overflow later arithmetic). Negative, fractional-overflowing or non-numeric hints are
// ignored.
std::optional<std::chrono::seconds> ClampRetryAfter(long double v) {
  if (!std::isfinite(v) || v < 0) return std::nullopt;
  if (v > static_cast<long double>(kMaxRetryAfter.count())) return kMaxRetryAfter;
  return std::chrono::seconds(static_cast<long long>(v));
}

std::optional<std::chrono::seconds> ParseSeconds(std::string_view s) {
  long long v = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec == std::errc::result_out_of_range && ptr == end && !s.empty() && s[0] != '-') {
    return kMaxRetryAfter;  // all digits, just too many of them
  }
  if (ec != std::errc() || ptr != end || v < 0) return std::nullopt;
  return ClampRetryAfter(static_cast<long double>(v));
}

std::string Summarize(std::string_view body) {
  // Non-Status bodies can be HTML from a proxy; keep the message short and on one line.
  std::string out;
  for (char c : body.substr(0, 200)) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  if (body.size() > 200) out += "...";
  return out;
}

void FillFromStatus(const nlohmann::json& j, ApiError& error) {
  if (!j.is_object()) return;
  if (auto it = j.find("reason"); it != j.end() && it->is_string()) error.reason = *it;
  if (auto it = j.find("message"); it != j.end() && it->is_string()) error.message = *it;
  if (auto it = j.find("code"); it != j.end() && error.http_code == 0) {
    // An HTTP status code: 100-599; anything else is not one and is ignored.
    if (it->is_number_integer() && it->get<int64_t>() >= 100 && it->get<int64_t>() <= 599) {
      error.http_code = static_cast<int>(it->get<int64_t>());
    }
  }
  const nlohmann::json* details = JsonObject(j, "details");
  if (details == nullptr) return;
  if (auto ra = details->find("retryAfterSeconds"); ra != details->end() && !error.retry_after) {
    if (ra->is_number_unsigned()) {
      error.retry_after = ClampRetryAfter(static_cast<long double>(ra->get<uint64_t>()));
    } else if (ra->is_number_integer()) {
      error.retry_after = ClampRetryAfter(static_cast<long double>(ra->get<int64_t>()));
    } else if (ra->is_number_float()) {
      error.retry_after = ClampRetryAfter(static_cast<long double>(ra->get<double>()));
    }
  }
  auto causes = details->find("causes");
  if (causes == details->end() || !causes->is_array()) return;
  for (const auto& c : *causes) {
    if (!c.is_object()) continue;
    ApiErrorCause cause;
    cause.reason = JsonString(c, "reason");
    cause.message = JsonString(c, "message");
    cause.field = JsonString(c, "field");
    error.causes.push_back(std::move(cause));
  }
}

}  // namespace

ApiError ParseApiError(int http_code, const HttpHeaders& headers, std::string_view body) {
  ApiError error;
  error.http_code = http_code;
  if (auto ra = FindHeader(headers, "Retry-After")) error.retry_after = ParseSeconds(*ra);
  auto j = ParseJsonBounded(body);
  if (j.ok() && JsonString(*j, "kind") == "Status") {
    FillFromStatus(*j, error);
  } else if (!body.empty()) {
    error.message = Summarize(body);
  }
  if (error.message.empty()) error.message = "HTTP " + std::to_string(http_code);
  return error;
}

ApiError ApiErrorFromStatus(const nlohmann::json& status) {
  ApiError error;
  FillFromStatus(status, error);
  if (error.message.empty()) {
    // Never the whole value: it came from outside and may be huge; a type and size will do.
    error.message = status.is_object()
                        ? "a Status without a message"
                        : std::string("not a Status object (") + status.type_name() + ")";
  }
  return error;
}

ApiError ApiErrorFromStatusJson(std::string_view status_json) {
  auto j = ParseJsonBounded(status_json);
  if (!j.ok()) {
    ApiError error;
    error.message = Summarize(status_json);
    return error;
  }
  ApiError error;
  FillFromStatus(*j, error);
  if (error.message.empty()) error.message = Summarize(status_json);
  return error;
}

Status ApiError::ToStatus(std::string_view context) const {
  std::string m(context);
  if (!m.empty()) m += ": ";
  m += message;
  if (http_code == 422 || reason == "Invalid") {
    // The server's message already lists the causes in most cases; add the fields so a
    // terse message still says what to fix.
    for (const auto& c : causes) {
      if (!c.field.empty() && m.find(c.field) == std::string::npos) {
        m += "; " + c.field + ": " + c.message;
      }
    }
    return Status::InvalidArgument(m);
  }
  switch (http_code) {
    case 400:
      return Status::InvalidArgument(m);
    case 401:
      return Status::Unauthenticated(m);
    case 403:
      return Status::PermissionDenied(m);
    case 404:
      return Status::NotFound(m);
    case 408:
    case 504:
      return Status::DeadlineExceeded(m);
    case 409:
      if (reason == "AlreadyExists") return Status::AlreadyExists(m);
      return Status::Conflict(m);
    case 410:
      return Status::Gone(m);
    case 429:
      if (retry_after) m += std::string(kRetryMarker) + std::to_string(retry_after->count()) + "s)";
      return Status::ResourceExhausted(m);
    default:
      break;
  }
  if (reason == "Expired" || reason == "Gone") return Status::Gone(m);
  if (reason == "NotFound") return Status::NotFound(m);
  if (reason == "Conflict") return Status::Conflict(m);
  if (reason == "AlreadyExists") return Status::AlreadyExists(m);
  if (reason == "Timeout") return Status::DeadlineExceeded(m);
  return Status::Unavailable(m);
}

std::optional<std::chrono::seconds> RetryAfterHint(const Status& status) {
  if (status.code() != StatusCode::kResourceExhausted) return std::nullopt;
  const std::string& m = status.message();
  const auto pos = m.rfind(kRetryMarker);
  if (pos == std::string::npos) return std::nullopt;
  std::string_view rest(m);
  rest.remove_prefix(pos + kRetryMarker.size());
  if (rest.size() < 3 || rest.substr(rest.size() - 2) != "s)") return std::nullopt;
  return ParseSeconds(rest.substr(0, rest.size() - 2));
}

}  // namespace waop::kube
