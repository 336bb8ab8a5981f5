// The outputs an assignment produces (SPEC section 4): the tenant's notification_settings JSON
// and the ConfigMap that carries it. Desired objects are computed here, from the assignment
// alone, so the controller only has to compare and write.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/types.h"

namespace waop::core {

inline constexpr std::string_view kSettingsConfigMapPrefix = "whatsapp-settings-";
inline constexpr std::string_view kSettingsDataKey = "notification_settings.json";
inline constexpr std::string_view kManagedByLabel = "app.kubernetes.io/managed-by";
inline constexpr std::string_view kNameLabel = "app.kubernetes.io/name";
inline constexpr std::string_view kOperatorName = "whatsapp-operator";
inline constexpr std::string_view kTenantIdLabel = "whatsapp.bakery-ia.io/tenant-id";

// "whatsapp-settings-<assignment name>".
std::string SettingsConfigMapName(std::string_view assignment_name);

// The display number the outputs show: Meta's when known and non-empty, else the spec's, else "".
std::string EffectiveDisplayPhoneNumber(const api::AssignmentSpec& spec,
                                        const std::optional<std::string>& meta_display);

// The notification_settings object, serialised compactly with exactly the four keys in SPEC's
// order: whatsapp_enabled, whatsapp_phone_number_id, whatsapp_display_phone_number,
// whatsapp_default_language. Byte-identical for identical inputs, so comparing strings is a
// valid "did it change" test.
std::string NotificationSettingsJson(const api::AssignmentSpec& spec,
                                     const std::optional<std::string>& meta_display = {});

// The controller ownerReference to `assignment` (controller and blockOwnerDeletion true), which
// makes the garbage collector delete the ConfigMap with the assignment.
api::OwnerReference AssignmentOwnerReference(const api::Assignment& assignment);

// The full desired ConfigMap (apiVersion, kind, metadata{name, namespace, labels,
// ownerReferences}, data{notification_settings.json}), ready to create.
nlohmann::json DesiredConfigMap(const api::Assignment& assignment,
                                const std::optional<std::string>& meta_display = {});

// Whether the ConfigMap named like an assignment's settings may be written by it:
//   kOurs     it carries our managed-by label and no controller reference but this assignment's
//   kStale    ours, except that a deleted predecessor of the same name is its controller: the
//             patch replaces that reference
//   kForeign  someone else's (no managed-by label, or another controller): never touched;
//             `holder` (may be null) receives why, for the SettingsSyncFailed message
enum class ConfigMapOwnership { kOurs, kStale, kForeign };
ConfigMapOwnership ClassifyConfigMap(const nlohmann::json& live, const api::Assignment& assignment,
                                     std::string* holder = nullptr);

// True when `live` already has everything `desired` owns: each desired label with its value,
// the desired ownerReference (by uid, with controller=true) and no other controller, and an
// equal notification_settings.json. Labels, annotations, data keys and (non-controller)
// ownerReferences others add are ignored, so they never cause a write.
bool ConfigMapMatches(const nlohmann::json& live, const nlohmann::json& desired);

// A JSON merge patch (RFC 7386) that puts back on `live` what `desired` owns: our labels set,
// our ownerReference added or fixed and any other controller reference dropped (the list is
// sent whole when it changes, since a merge patch replaces lists), our data key set (others'
// keys stay), and live's
// resourceVersion as a precondition (409 if the object moved on). The server keeps everything
// else, including what our cache never holds (managedFields, the last-applied annotation),
// which a PUT of the cached object would drop.
nlohmann::json ConfigMapPatch(const nlohmann::json& live, const nlohmann::json& desired);

}  // namespace waop::core
