#include "app/ready_reasons.h"

#include "api/types.h"
#include "common/json.h"

namespace waop::app {

std::string ReadyReason(const nlohmann::json& assignment) {
  std::string reason = "Unknown";
  auto status = assignment.find("status");
  if (status == assignment.end() || !status->is_object()) return reason;
  auto conditions = status->find("conditions");
  if (conditions == status->end() || !conditions->is_array()) return reason;
  for (const auto& c : *conditions) {
    if (!c.is_object() || JsonString(c, "type") != api::kConditionReady) continue;
    auto r = c.find("reason");
    if (r != c.end() && r->is_string() && !r->get_ref<const std::string&>().empty()) {
      reason = r->get<std::string>();
    }
  }
  return reason;
}

void ReadyReasonCounts::Added(const nlohmann::json& obj) {
  std::string reason = ReadyReason(obj);
  std::lock_guard lock(mu_);
  ++counts_[reason];
}

void ReadyReasonCounts::Updated(const nlohmann::json& old_obj, const nlohmann::json& new_obj) {
  std::string before = ReadyReason(old_obj);
  std::string after = ReadyReason(new_obj);
  if (before == after) return;
  std::lock_guard lock(mu_);
  --counts_[before];
  ++counts_[after];
}

void ReadyReasonCounts::Deleted(const nlohmann::json& obj) {
  std::string reason = ReadyReason(obj);
  std::lock_guard lock(mu_);
  --counts_[reason];
}

std::map<std::string, std::int64_t> ReadyReasonCounts::Snapshot() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace waop::app
