#include "api_error.h"

namespace devserver {

using nlohmann::json;

std::string QualifiedResource(const std::string& group, const std::string& resource) {
  return group.empty() ? resource : resource + "." + group;
}

json ApiError::ToStatus() const {
  json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", code}};
  if (!details.is_null() && !details.empty()) s["details"] = details;
  if (reason.empty()) s.erase("reason");
  return s;
}

static json Details(const std::string& group, const std::string& resource,
                    const std::string& name) {
  json d = json::object();
  if (!name.empty()) d["name"] = name;
  if (!group.empty()) d["group"] = group;
  d["kind"] = resource;
  return d;
}

ApiError ApiError::NotFound(const std::string& group, const std::string& resource,
                            const std::string& name) {
  return {404, "NotFound", QualifiedResource(group, resource) + " \"" + name + "\" not found",
          Details(group, resource, name)};
}

ApiError ApiError::AlreadyExists(const std::string& group, const std::string& resource,
                                 const std::string& name) {
  return {409, "AlreadyExists",
          QualifiedResource(group, resource) + " \"" + name + "\" already exists",
          Details(group, resource, name)};
}

ApiError ApiError::Conflict(const std::string& group, const std::string& resource,
                            const std::string& name, const std::string& why) {
  return {409, "Conflict",
          "Operation cannot be fulfilled on " + QualifiedResource(group, resource) + " \"" + name +
              "\": " + why,
          Details(group, resource, name)};
}

ApiError ApiError::Invalid(const std::string& group, const std::string& kind,
                           const std::string& name, const std::vector<ApiCause>& causes) {
  std::string qualified = group.empty() ? kind : kind + "." + group;
  // Causes carry the detail without the field (kubectl prefixes it when printing); the
  // aggregate message has "<field>: <detail>" for each, bracketed when there are several.
  std::vector<std::string> parts;
  json jc = json::array();
  for (const ApiCause& c : causes) {
    std::string detail = c.message;
    if (!c.field.empty() && detail.rfind(c.field + ": ", 0) == 0) {
      detail = detail.substr(c.field.size() + 2);
    }
    parts.push_back(c.field.empty() ? detail : c.field + ": " + detail);
    jc.push_back({{"reason", c.reason}, {"message", detail}, {"field", c.field}});
  }
  std::string msg = qualified + " \"" + name + "\" is invalid: ";
  if (parts.size() == 1) {
    msg += parts[0];
  } else {
    msg += "[";
    for (size_t i = 0; i < parts.size(); ++i) msg += (i ? ", " : "") + parts[i];
    msg += "]";
  }
  json d = Details(group, kind, name);
  d["causes"] = jc;
  return {422, "Invalid", msg, d};
}

ApiError ApiError::BadRequest(const std::string& message) {
  return {400, "BadRequest", message, {}};
}
ApiError ApiError::Gone(const std::string& message) { return {410, "Expired", message, {}}; }
ApiError ApiError::Forbidden(const std::string& message, const json& details) {
  return {403, "Forbidden", message, details};
}
ApiError ApiError::Unauthorized() { return {401, "Unauthorized", "Unauthorized", {}}; }
ApiError ApiError::MethodNotAllowed(const std::string& message) {
  return {405, "MethodNotAllowed", message, {}};
}
ApiError ApiError::UnsupportedMediaType(const std::string& content_type) {
  return {415,
          "UnsupportedMediaType",
          "the body of the request was in an unknown format - accepted media types include: "
          "application/json-patch+json, application/merge-patch+json, "
          "application/strategic-merge-patch+json" +
              (content_type.empty() ? std::string() : " (got " + content_type + ")"),
          {}};
}
ApiError ApiError::TooLarge(const std::string& message) {
  return {413, "RequestEntityTooLarge", message, {}};
}
ApiError ApiError::Internal(const std::string& message) {
  return {500, "InternalError", "Internal error occurred: " + message, {}};
}
ApiError ApiError::Unavailable(const std::string& message) {
  return {503, "ServiceUnavailable", message, {}};
}
ApiError ApiError::NotAcceptable(const std::string& message) {
  return {406, "NotAcceptable", message, {}};
}

}  // namespace devserver
