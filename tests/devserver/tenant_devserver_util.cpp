#include "tenant_devserver_util.h"

namespace devserver::testing {

using nlohmann::json;

std::string TenantDevserverBinary() { return WAOP_TENANT_DEVSERVER_BINARY; }

TenantDevserver::TenantDevserver(const std::string& data_yaml, const std::string& token)
    : token_(token) {
  waop::testing::WriteFile(dir_.File("data.yaml"), data_yaml);
  std::vector<std::string> argv = {
      TenantDevserverBinary(), "--data",      dir_.File("data.yaml"), "--listen",
      "127.0.0.1:0",           "--port-file", dir_.File("port")};
  if (!token.empty()) {
    argv.emplace_back("--token");
    argv.push_back(token);
  }
  proc_ = std::make_unique<waop::testing::Process>("tenant-devserver", argv, dir_.path());
  const std::string port_file = dir_.File("port");
  waop::testing::WaitFor(
      [&] {
        std::string text = waop::testing::ReadFile(port_file);
        if (!text.empty() && text.back() == '\n') port_ = std::atoi(text.c_str());
        return port_ > 0 || !proc_->Running();
      },
      std::chrono::seconds(30));
}

TenantDevserver::~TenantDevserver() = default;

HttpResult TenantDevserver::Api(const std::string& method, const std::string& path,
                                const json& body) {
  std::map<std::string, std::string> h;
  if (!token_.empty()) h["Authorization"] = "Bearer " + token_;
  return Http(port_, method, path, body.is_null() ? "" : body.dump(), h);
}

HttpResult TenantDevserver::Control(const std::string& method, const std::string& path,
                                    const json& body) {
  return Http(port_, method, path, body.is_null() ? "" : body.dump());
}

json TenantDevserver::Rows() { return Control("GET", "/_control/tenants").Json(); }

json TenantDevserver::Row(const std::string& tenant_id) {
  auto r = Control("GET", "/_control/tenants/" + tenant_id);
  return r.status == 200 ? r.Json() : json();
}

json TenantDevserver::Requests() { return Control("GET", "/_control/requests").Json(); }

void TenantDevserver::ResetRequests() { Control("DELETE", "/_control/requests"); }

}  // namespace devserver::testing
