// An in-memory tenant service for the controller's unit tests: rows by tenant id, the strict
// answers of the admin API (409 for a repeat or someone else's number, 404 for an unknown
// tenant), a scripted failure for the next calls, and call counts.
//
// Thread-safety: none; one test thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tenant/tenant_client.h"

namespace waop::controller::testing {

class FakeTenantClient final : public tenant::TenantServiceClient {
 public:
  std::map<std::string, core::TenantRow> rows;
  std::optional<Status> fail_next;  // returned by the next calls (all of them while set)
  int lists = 0, assigns = 0, unassigns = 0;

  void Put(std::string id, std::string phone = "", std::string display = "") {
    core::TenantRow r;
    r.tenant_id = id;
    r.phone_number_id = std::move(phone);
    r.display_phone_number = std::move(display);
    rows[id] = std::move(r);
  }
  int Writes() const { return assigns + unassigns; }

  Result<std::vector<core::TenantRow>> ListTenants() override {
    ++lists;
    if (fail_next) return *fail_next;
    std::vector<core::TenantRow> out;
    for (const auto& [id, r] : rows) out.push_back(r);
    return out;
  }
  Status AssignPhone(std::string_view id, std::string_view phone,
                     std::string_view display) override {
    ++assigns;
    if (fail_next) return *fail_next;
    auto it = rows.find(std::string(id));
    if (it == rows.end()) return Status::NotFound("Tenant " + std::string(id) + " not found");
    for (const auto& [other, r] : rows) {
      if (other != id && r.phone_number_id == phone) {
        return Status::AlreadyExists("HTTP 409: Phone number already assigned to tenant " + other);
      }
    }
    if (!it->second.phone_number_id.empty()) {
      return Status::AlreadyExists("HTTP 409: already has a phone number");
    }
    it->second.phone_number_id = std::string(phone);
    it->second.display_phone_number = std::string(display);
    it->second.whatsapp_enabled = true;
    return Status::Ok();
  }
  Status UnassignPhone(std::string_view id) override {
    ++unassigns;
    if (fail_next) return *fail_next;
    auto it = rows.find(std::string(id));
    if (it == rows.end()) return Status::NotFound("Tenant " + std::string(id) + " not found");
    if (it->second.phone_number_id.empty()) {
      return Status::AlreadyExists("HTTP 409: no phone number assigned");
    }
    it->second.phone_number_id.clear();
    it->second.display_phone_number.clear();
    it->second.whatsapp_enabled = false;
    return Status::Ok();
  }
};

}  // namespace waop::controller::testing
