// Kubernetes `Status` failure bodies (meta/v1 Status), built the way kube-apiserver words them,
// so that kubectl and client-go print and classify them exactly as against a real cluster.
//
// Thread-safety: value types.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace devserver {

struct ApiCause {
  std::string reason;  // e.g. "FieldValueInvalid"
  std::string message;
  std::string field;
};

// An API error as the server answers it: HTTP code plus the Status object.
struct ApiError {
  int code = 500;
  std::string reason;  // "NotFound", "Conflict", ...
  std::string message;
  nlohmann::json details;  // {} when none

  nlohmann::json ToStatus() const;
  std::string Body() const { return ToStatus().dump(); }

  // `<resource>.<group> "<name>" not found` (group omitted for the core group).
  static ApiError NotFound(const std::string& group, const std::string& resource,
                           const std::string& name);
  static ApiError AlreadyExists(const std::string& group, const std::string& resource,
                                const std::string& name);
  // The optimistic-concurrency failure: "the object has been modified; ...".
  static ApiError Conflict(const std::string& group, const std::string& resource,
                           const std::string& name, const std::string& why);
  // 422: `<Kind>.<group> "<name>" is invalid: <cause>, <cause>`.
  static ApiError Invalid(const std::string& group, const std::string& kind,
                          const std::string& name, const std::vector<ApiCause>& causes);
  static ApiError BadRequest(const std::string& message);
  static ApiError Gone(const std::string& message);
  static ApiError Forbidden(const std::string& message, const nlohmann::json& details = {});
  static ApiError Unauthorized();
  static ApiError MethodNotAllowed(const std::string& message);
  static ApiError UnsupportedMediaType(const std::string& content_type);
  static ApiError TooLarge(const std::string& message);
  static ApiError Internal(const std::string& message);
  static ApiError Unavailable(const std::string& message);
  static ApiError NotAcceptable(const std::string& message);
};

// "configmaps" -> "configmaps", ("whatsapp.bakery-ia.io", "x") -> "x.whatsapp.bakery-ia.io".
std::string QualifiedResource(const std::string& group, const std::string& resource);

}  // namespace devserver
