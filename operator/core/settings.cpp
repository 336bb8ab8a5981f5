#include "core/settings.h"

#include <vector>

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

namespace {

std::string RefString(const json& ref, std::string_view key) {
  const json* v = Member(ref, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

bool IsController(const json& ref) {
  const json* c = Member(ref, "controller");
  return c != nullptr && c->is_boolean() && c->get<bool>();
}

bool IsAssignmentRef(const json& ref) {
  return RefString(ref, "kind") == api::kAssignmentKind &&
         RefString(ref, "apiVersion").rfind(std::string(api::kGroup) + "/", 0) == 0;
}

}  // namespace

ConfigMapOwnership ClassifyConfigMap(const json& live, const api::Assignment& assignment,
                                     std::string* holder) {
  const json* managed_by = Path(live, "metadata", "labels");
  managed_by = managed_by == nullptr ? nullptr : Member(*managed_by, kManagedByLabel);
  if (managed_by == nullptr || !managed_by->is_string() ||
      managed_by->get<std::string>() != kOperatorName) {
    if (holder != nullptr)
      *holder =
          "it lacks the label " + std::string(kManagedByLabel) + "=" + std::string(kOperatorName);
    return ConfigMapOwnership::kForeign;
  }
  const json* refs = Path(live, "metadata", "ownerReferences");
  ConfigMapOwnership result = ConfigMapOwnership::kOurs;
  if (refs != nullptr && refs->is_array()) {
    for (const json& ref : *refs) {
      if (!ref.is_object() || !IsController(ref)) continue;
      if (RefString(ref, "uid") == assignment.metadata.uid) continue;
      if (IsAssignmentRef(ref) && RefString(ref, "name") == assignment.metadata.name) {
        // Names are unique in a namespace: another uid under our name is a deleted predecessor.
        result = ConfigMapOwnership::kStale;
        continue;
      }
      if (holder != nullptr) {
        *holder = "it is controlled by " + RefString(ref, "kind") + " " + RefString(ref, "name");
      }
      return ConfigMapOwnership::kForeign;
    }
  }
  return result;
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
        for (const json& l : *have) {
          found = found || SameOwner(l, ref);
          // A second controller (a stale one) must go: the API server allows one.
          if (IsController(l) && RefString(l, "uid") != RefString(ref, "uid")) return false;
        }
      }
      if (!found) return false;
    }
  }
  // Only our key counts: keys others add to the data stay and never cause a write.
  const json* want = Path(desired, "data", kSettingsDataKey);
  const json* have = Path(live, "data", kSettingsDataKey);
  return want == nullptr ? have == nullptr : have != nullptr && *have == *want;
}

json ConfigMapPatch(const json& live, const json& desired) {
  json meta = json::object();
  if (const json* rv = Path(live, "metadata", "resourceVersion"); rv != nullptr) {
    meta["resourceVersion"] = *rv;
  }
  if (const json* want = Path(desired, "metadata", "labels")) meta["labels"] = *want;
  if (const json* want = Path(desired, "metadata", "ownerReferences")) {
    const json* have = Path(live, "metadata", "ownerReferences");
    // Ours replaced in place (so an unchanged list compares equal and is not sent); another
    // controller reference (a deleted predecessor's) dropped, not joined: the API server
    // refuses two controllers; everything else kept.
    json refs = json::array();
    std::vector<bool> placed(want->size(), false);
    if (have != nullptr && have->is_array()) {
      for (const json& l : *have) {
        bool ours = false;
        for (size_t i = 0; i < want->size(); ++i) {
          if (!placed[i] && RefString(l, "uid") == RefString((*want)[i], "uid")) {
            refs.push_back((*want)[i]);
            placed[i] = ours = true;
            break;
          }
        }
        if (!ours && !(l.is_object() && IsController(l))) refs.push_back(l);
      }
    }
    for (size_t i = 0; i < want->size(); ++i) {
      if (!placed[i]) refs.push_back((*want)[i]);
    }
    // A merge patch replaces a list whole: send it only when it changes, with others' entries.
    if (have == nullptr || *have != refs) meta["ownerReferences"] = std::move(refs);
  }
  json patch = {{"metadata", std::move(meta)}};
  // Only our key: a merge patch of data leaves the keys others wrote as they are.
  if (const json* want = Path(desired, "data", kSettingsDataKey)) {
    patch["data"] = {{std::string(kSettingsDataKey), *want}};
  }
  return patch;
}

}  // namespace waop::core
