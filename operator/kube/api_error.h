// Turns an API server error answer into a typed Status, the way client-go's apierrors does:
// the `Status` object in the body (kind: Status) gives reason, message and causes; the HTTP
// code decides the StatusCode; bodies that are not a Status (proxies, load balancers) still
// map by HTTP code.
//
// Thread-safety: pure functions over values.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kube/http.h"

namespace waop::kube {

// One entry of status.details.causes (422 Invalid names the bad fields here).
struct ApiErrorCause {
  std::string reason;   // "FieldValueInvalid", "FieldValueRequired", ...
  std::string message;  // "Invalid value: ..."
  std::string field;    // "spec.tenantId"
};

struct ApiError {
  int http_code = 0;
  std::string reason;   // metav1.StatusReason: "NotFound", "Conflict", "Invalid", "Expired"...
  std::string message;  // the server's message, or a summary of a non-Status body
  std::vector<ApiErrorCause> causes;
  std::optional<std::chrono::seconds> retry_after;  // Retry-After header or details

  // The Status for this error, its message prefixed with `context` ("update configmaps x/y").
  // 404 NotFound, 409 AlreadyExists (reason AlreadyExists) or Conflict, 410 Gone (and reason
  // Expired), 422 InvalidArgument (causes listed), 400 InvalidArgument, 401 Unauthenticated,
  // 403 PermissionDenied, 429 ResourceExhausted ("retry after Ns" when known), 5xx and
  // anything else Unavailable, 504/408 DeadlineExceeded.
  Status ToStatus(std::string_view context) const;
};

// Decodes an HTTP error response.
ApiError ParseApiError(int http_code, const HttpHeaders& headers, std::string_view body);
inline ApiError ParseApiError(const HttpResponse& response) {
  return ParseApiError(response.status, response.headers, response.body);
}

// Decodes a metav1.Status object (as in a watch ERROR event) given as JSON text or object.
// Never throws: members of the wrong type are ignored, text nested too deep is not parsed.
ApiError ApiErrorFromStatusJson(std::string_view status_json);
ApiError ApiErrorFromStatus(const nlohmann::json& status);

// The longest retry hint taken from a server (Retry-After, details.retryAfterSeconds); larger
// hints are clamped to it, negative ones ignored.
inline constexpr std::chrono::seconds kMaxRetryAfter{3600};

// The retry hint of a ResourceExhausted Status made by ApiError::ToStatus, if any.
std::optional<std::chrono::seconds> RetryAfterHint(const Status& status);

}  // namespace waop::kube
