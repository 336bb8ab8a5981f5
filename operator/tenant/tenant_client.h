// The platform's tenant service (SPEC section 4, "Tenant service sink"): a narrow client for its
// admin API, the operator's second settings sink.
//
//   GET    {base}/api/v1/admin/whatsapp/tenants                       ListTenants
//   POST   {base}/api/v1/admin/whatsapp/tenants/{id}/assign-phone     AssignPhone
//   DELETE {base}/api/v1/admin/whatsapp/tenants/{id}/unassign-phone   UnassignPhone
//
// An optional bearer token (TENANT_SERVICE_TOKEN in --credentials-dir) goes in the
// Authorization header. Errors (tenant_parse.h TenantErrorStatus):
//   connection refused, timeout, HTTP 5xx      kUnavailable
//   HTTP 401 / 403                             kUnauthenticated / kPermissionDenied
//   HTTP 404                                   kNotFound
//   HTTP 409                                   kAlreadyExists (the caller decides whether it
//                                               means "already so")
//   another 4xx                                kFailedPrecondition
// each with the service's own message ("detail", "message" or "error" of its JSON answer).
//
// Thread-safety: implementations are safe for concurrent calls.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/proxy.h"
#include "common/status.h"
#include "core/tenant.h"

namespace waop::tenant {

inline constexpr std::string_view kTenantsPath = "/api/v1/admin/whatsapp/tenants";

class TenantServiceClient {
 public:
  virtual ~TenantServiceClient() = default;
  virtual Result<std::vector<core::TenantRow>> ListTenants() = 0;
  virtual Status AssignPhone(std::string_view tenant_id, std::string_view phone_number_id,
                             std::string_view display_phone_number) = 0;
  virtual Status UnassignPhone(std::string_view tenant_id) = 0;
};

// What one request was, for metrics: "list", "assign" or "unassign".
using TenantRequestCallback = std::function<void(std::string_view method, const Status& outcome)>;

struct TenantClientOptions {
  std::string base_url;  // http(s)://host[:port][/prefix], no query
  // The bearer token, read at every request so a rotated Secret applies at once ("" or no
  // function = no Authorization header). Secret: never logged.
  std::function<std::string()> token;
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // per request, body included
  std::string ca_file;  // PEM bundle trusted for https instead of the system roots
  std::string user_agent = "whatsapp-operator";
  // The proxy requests go through (common/proxy.h's ProxyFor); nullopt = direct.
  std::optional<Proxy> proxy;
  // Called after every request; must be thread-safe and must not block.
  TenantRequestCallback on_request;
};

// InvalidArgument for a base URL that is not http(s)://host[:port][/path] or a CA file that
// cannot be read.
Result<std::unique_ptr<TenantServiceClient>> NewTenantServiceClient(TenantClientOptions options);

// A tenant id safe to put into a URL path segment: a Kubernetes label value (what spec.tenantId
// is). InvalidArgument otherwise.
Status CheckTenantId(std::string_view tenant_id);

}  // namespace waop::tenant
