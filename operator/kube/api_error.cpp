#include "kube/api_error.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace waop::kube {
namespace {

constexpr std::string_view kRetryMarker = " (retry after ";

std::optional<std::chrono::seconds> ParseSeconds(std::string_view s) {
  long long v = 0;
  const auto* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data(), end, v);
  if (ec != std::errc() || ptr != end || v < 0) return std::nullopt;
  return std::chrono::seconds(v);
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
  if (auto it = j.find("code"); it != j.end() && it->is_number_integer() && error.http_code == 0) {
    error.http_code = it->get<int>();
  }
  auto details = j.find("details");
  if (details == j.end() || !details->is_object()) return;
  if (auto ra = details->find("retryAfterSeconds"); ra != details->end() && ra->is_number()) {
    if (!error.retry_after) error.retry_after = std::chrono::seconds(ra->get<long long>());
  }
  auto causes = details->find("causes");
  if (causes == details->end() || !causes->is_array()) return;
  for (const auto& c : *causes) {
    if (!c.is_object()) continue;
    ApiErrorCause cause;
    cause.reason = c.value("reason", "");
    cause.message = c.value("message", "");
    cause.field = c.value("field", "");
    error.causes.push_back(std::move(cause));
  }
}

}  // namespace

ApiError ParseApiError(int http_code, const HttpHeaders& headers, std::string_view body) {
  ApiError error;
  error.http_code = http_code;
  if (auto ra = FindHeader(headers, "Retry-After")) error.retry_after = ParseSeconds(*ra);
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.value("kind", "") == "Status") {
    FillFromStatus(j, error);
  } else if (!body.empty()) {
    error.message = Summarize(body);
  }
  if (error.message.empty()) error.message = "HTTP " + std::to_string(http_code);
  return error;
}

ApiError ApiErrorFromStatusJson(std::string_view status_json) {
  ApiError error;
  nlohmann::json j = nlohmann::json::parse(status_json, nullptr, false);
  FillFromStatus(j, error);
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
