// tenant-devserver's API logic, free of any HTTP library: a stand-in for the platform's tenant
// service admin API (the operator's second sink) and a JSON control API under /_control/ for
// tests and the demo. docs/devservers.md describes both.
//
//   GET    /api/v1/admin/whatsapp/tenants                      the rows, a JSON array
//   POST   /api/v1/admin/whatsapp/tenants/{id}/assign-phone    {"phone_number_id",
//                                                              "display_phone_number"}
//   DELETE /api/v1/admin/whatsapp/tenants/{id}/unassign-phone
//
// Like a strict real service: 401 without the expected bearer token (when one is set), 404 for
// an unknown tenant, 409 for a repeat ("already assigned" / "no phone number assigned"), 409
// when another tenant holds the number or the tenant holds another one (unassign it first),
// 422 for a body without phone_number_id. Errors are {"detail": "..."} (FastAPI's shape).
//
// Rows are JSON objects kept in file order; keys other than the five of the contract (such as
// the legacy whatsapp_access_token) are kept and served as they are.
//
// Thread-safety: Handle() may be called from many threads at once; all state is under mu_.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "http_types.h"

namespace tenantdev {

struct TenantData {
  std::string token;                 // "" = no Authorization needed
  std::vector<nlohmann::json> rows;  // objects with a string tenant_id
};

// Parses a data file's YAML (`tenants:` list of maps, optional `token:`); `source` names it in
// errors, which name the field (e.g. "tenants[2].tenant_id: expected a string").
waop::Result<TenantData> ParseTenantData(const std::string& yaml_text, const std::string& source);
waop::Result<TenantData> LoadTenantData(const std::string& path);

// One injected fault: applies to API requests (never /_control/) whose method matches (""
// = any) and whose path contains `path_contains`; skips the first `skip` matches, then fires on
// the next `count` (< 0: no limit).
struct Fault {
  int status = 0;  // 0 = no answer change (a delay only)
  std::string body;
  std::chrono::milliseconds delay{0};
  std::string method;
  std::string path_contains;
  int skip = 0;
  int count = 1;
};

class TenantServer {
 public:
  explicit TenantServer(TenantData data);
  TenantServer(const TenantServer&) = delete;
  TenantServer& operator=(const TenantServer&) = delete;

  devserver::HttpResponse Handle(const devserver::HttpRequest& req);

 private:
  devserver::HttpResponse HandleApi(const devserver::HttpRequest& req);
  devserver::HttpResponse HandleControl(const devserver::HttpRequest& req);
  nlohmann::json* FindRow(const std::string& tenant_id);  // under mu_

  std::mutex mu_;
  TenantData data_;                        // guarded by mu_
  std::deque<Fault> faults_;               // guarded by mu_
  std::map<std::string, int64_t> counts_;  // "list", "assign", "unassign", "other"; mu_
  int64_t total_ = 0;                      // guarded by mu_
};

}  // namespace tenantdev
