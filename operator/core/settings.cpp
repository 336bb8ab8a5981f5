#include "core/settings.h"

#include "api/json.h"

namespace waop::core {
namespace {

using nlohmann::json;

const json* Member(const json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

const json* Path(const json& j, std::string_view a, std::string_view b) {
  const json* first = Member(j, a);
  return first == nullptr ? nullptr : Member(*first, b);
}

bool SameOwner(const json& live_ref, const json& desired_ref) {
  if (!live_ref.is_object()) return false;
  for (const char* key : {"apiVersion", "kind", "name", "uid", "controller"}) {
    const json* l = Member(live_ref, key);
    const json* d = Member(desired_ref, key);
    if (d == nullptr) continue;
    if (l == nullptr || *l != *d) return false;
  }
  return true;
}

}  // namespace

std::string SettingsConfigMapName(std::string_view assignment_name) {
  return std::string(kSettingsConfigMapPrefix) + std::string(assignment_name);
}

std::string EffectiveDisplayPhoneNumber(const api::AssignmentSpec& spec,
                                        const std::optional<std::string>& meta_display) {
  if (meta_display && !meta_display->empty()) return *meta_display;
  return spec.display_phone_number;
}

std::string NotificationSettingsJson(const api::AssignmentSpec& spec,
                                     const std::optional<std::string>& meta_display) {
  // ordered_json keeps insertion order; plain json would sort keys alphabetically.
  nlohmann::ordered_json j;
  j["whatsapp_enabled"] = spec.enabled;
  j["whatsapp_phone_number_id"] = spec.phone_number_id;
  j["whatsapp_display_phone_number"] = EffectiveDisplayPhoneNumber(spec, meta_display);
  j["whatsapp_default_language"] = spec.default_language;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

api::OwnerReference AssignmentOwnerReference(const api::Assignment& assignment) {
  return api::OwnerReference{
      .api_version = std::string(api::kApiVersion),
      .kind = std::string(api::kAssignmentKind),
      .name = assignment.metadata.name,
      .uid = assignment.metadata.uid,
      .controller = true,
      .block_owner_deletion = true,
  };
}

json DesiredConfigMap(const api::Assignment& assignment,
                      const std::optional<std::string>& meta_display) {
  json labels = {{std::string(kManagedByLabel), std::string(kOperatorName)},
                 {std::string(kNameLabel), std::string(kOperatorName)},
                 {std::string(kTenantIdLabel), assignment.spec.tenant_id}};
  return json{
      {"apiVersion", "v1"},
      {"kind", "ConfigMap"},
      {"metadata",
       {{"name", SettingsConfigMapName(assignment.metadata.name)},
        {"namespace", assignment.metadata.ns},
        {"labels", std::move(labels)},
        {"ownerReferences", json::array({api::ToJson(AssignmentOwnerReference(assignment))})}}},
      {"data",
       {{std::string(kSettingsDataKey), NotificationSettingsJson(assignment.spec, meta_display)}}},
  };
}

bool ConfigMapMatches(const json& live, const json& desired) {
  if (const json* want = Path(desired, "metadata", "labels")) {
    const json* have = Path(live, "metadata", "labels");
    for (auto it = want->begin(); it != want->end(); ++it) {
      const json* value = have == nullptr ? nullptr : Member(*have, it.key());
      if (value == nullptr || *value != *it) return false;
    }
  }
  if (const json* want = Path(desired, "metadata", "ownerReferences")) {
    const json* have = Path(live, "metadata", "ownerReferences");
    for (const json& ref : *want) {
      bool found = false;
      if (have != nullptr && have->is_array()) {
        for (const json& l : *have) found = found || SameOwner(l, ref);
      }
      if (!found) return false;
    }
  }
  const json* want_data = Member(desired, "data");
  const json* have_data = Member(live, "data");
  json empty = json::object();
  return (want_data ? *want_data : empty) == (have_data ? *have_data : empty);
}

json ConfigMapPatch(const json& live, const json& desired) {
  json meta = json::object();
  if (const json* rv = Path(live, "metadata", "resourceVersion"); rv != nullptr) {
    meta["resourceVersion"] = *rv;
  }
  if (const json* want = Path(desired, "metadata", "labels")) meta["labels"] = *want;
  if (const json* want = Path(desired, "metadata", "ownerReferences")) {
    const json* have = Path(live, "metadata", "ownerReferences");
    json refs = have != nullptr && have->is_array() ? *have : json::array();
    for (const json& ref : *want) {
      bool replaced = false;
      for (json& l : refs) {
        // Same owner uid: bring its fields in line with ours.
        if (l.is_object() && l.value("uid", "") == ref.value("uid", "")) {
          l = ref;
          replaced = true;
        }
      }
      if (!replaced) refs.push_back(ref);
    }
    // A merge patch replaces a list whole: send it only when it changes, with others' entries.
    if (have == nullptr || *have != refs) meta["ownerReferences"] = std::move(refs);
  }
  json patch = {{"metadata", std::move(meta)}};
  const json* want_data = Member(desired, "data");
  json data = want_data != nullptr ? *want_data : json::object();
  if (const json* have_data = Member(live, "data");
      have_data != nullptr && have_data->is_object()) {
    for (auto it = have_data->begin(); it != have_data->end(); ++it) {
      if (!data.contains(it.key())) data[it.key()] = nullptr;  // null removes the key
    }
  }
  if (!data.empty()) patch["data"] = std::move(data);
  return patch;
}

}  // namespace waop::core
