// Test support for tenant-devserver: starts the binary with a data file on a free port (read
// back from --port-file) and calls its API and control API.
//
// Thread-safety: each object is used by one test thread.
// Ownership: TenantDevserver owns the child process and stops it (SIGTERM) on destruction.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "devserver_test_util.h"
#include "harness.h"

namespace devserver::testing {

inline constexpr const char* kTenantToken = "tenant-service-token-5f1c";
inline constexpr const char* kTenantsPath = "/api/v1/admin/whatsapp/tenants";

class TenantDevserver {
 public:
  // Starts tenant-devserver with `data_yaml` as its --data file (and --token kTenantToken unless
  // `token` is empty); waits (up to 30 s) until it listens. ok() is false when it exited.
  explicit TenantDevserver(const std::string& data_yaml = "tenants: []\n",
                           const std::string& token = kTenantToken);
  ~TenantDevserver();
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  waop::testing::Process& process() { return *proc_; }

  // An API call with the bearer token.
  HttpResult Api(const std::string& method, const std::string& path,
                 const nlohmann::json& body = nullptr);
  // A control call: method, /_control/... path, JSON body (null = none).
  HttpResult Control(const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr);
  // The rows as the service holds them now.
  nlohmann::json Rows();
  // The row of `tenant_id`, or null.
  nlohmann::json Row(const std::string& tenant_id);
  // {"total","list","assign","unassign","other"} since the last ResetRequests.
  nlohmann::json Requests();
  void ResetRequests();

 private:
  waop::testing::TempDir dir_;
  std::string token_;
  std::unique_ptr<waop::testing::Process> proc_;
  int port_ = 0;
};

std::string TenantDevserverBinary();

}  // namespace devserver::testing
