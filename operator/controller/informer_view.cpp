#include "controller/informer_view.h"

#include <string>
#include <utility>

namespace waop::controller {
namespace {

using json = nlohmann::json;

std::vector<std::string> SpecIndex(const json& obj, const char* field) {
  auto spec = obj.find("spec");
  if (spec == obj.end() || !spec->is_object()) return {};
  auto v = spec->find(field);
  if (v == spec->end() || !v->is_string()) return {};
  return {v->get<std::string>()};
}

}  // namespace

Status AddAssignmentIndexes(kube::Informer& assignments) {
  for (auto [index, field] :
       {std::pair{kPhoneIndex, "phoneNumberId"}, std::pair{kTenantIndex, "tenantId"}}) {
    WAOP_RETURN_IF_ERROR(
        assignments.AddIndex(index, [f = field](const json& obj) { return SpecIndex(obj, f); }));
  }
  return Status::Ok();
}

ObjectPtr InformerView::GetAssignment(std::string_view key) const {
  return assignments_.store().Get(key);
}

std::vector<ObjectPtr> InformerView::AssignmentsByPhone(std::string_view id) const {
  auto r = assignments_.store().ByIndex(kPhoneIndex, id);
  return r.ok() ? std::move(*r) : std::vector<ObjectPtr>{};
}

std::vector<ObjectPtr> InformerView::AssignmentsByTenant(std::string_view id) const {
  auto r = assignments_.store().ByIndex(kTenantIndex, id);
  return r.ok() ? std::move(*r) : std::vector<ObjectPtr>{};
}

ObjectPtr InformerView::GetConfigMap(std::string_view ns, std::string_view name) const {
  return config_maps_.store().Get(ns, name);
}

ObjectPtr InformerView::GetPhoneNumber(std::string_view id) const {
  return phone_numbers_.store().Get(id);
}

}  // namespace waop::controller
