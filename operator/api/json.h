// Reading the two resources from the JSON the API server sends, and writing their status back.
//
// Parsing checks JSON types only (a string where a string belongs); value rules (patterns,
// lengths, immutability) are core/validation.h's job. Every type error is reported, not just the
// first, with its field path: `spec.enabled: expected boolean, got string "yes"`. Unknown fields
// are ignored, as the API server's pruning would drop them anyway. JSON null counts as absent,
// as it does for Kubernetes optional fields. Defaults (enabled=true, defaultLanguage="es") are
// applied when a field is absent, so objects created before the CRD had defaults still work.
//
// Thread-safety: free functions over values; safe to call from any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "api/field_errors.h"
#include "api/types.h"
#include "common/status.h"

namespace waop::api {

// Parses text as JSON. InvalidArgument (with nlohmann's position) when it is not JSON.
Result<nlohmann::json> ParseJsonText(std::string_view text);

// Fills `out` from a WhatsAppAssignment object and returns every type error found (empty: OK).
// Fields that failed keep their defaults in `out`. Without `with_status`, status is not read
// (a claim needs only metadata and spec; status is most of an assignment's fields).
FieldErrors ParseAssignmentInto(const nlohmann::json& object, Assignment* out,
                                bool with_status = true);
// InvalidArgument carrying FieldErrors::ToString() when any field has the wrong type.
Result<Assignment> ParseAssignment(const nlohmann::json& object);

FieldErrors ParsePhoneNumberInto(const nlohmann::json& object, PhoneNumber* out);
// InvalidArgument carrying FieldErrors::ToString() when any field has the wrong type.
Result<PhoneNumber> ParsePhoneNumber(const nlohmann::json& object);

// Reads the `metadata` of any object; `path` prefixes error paths (normally "metadata").
FieldErrors ParseObjectMetaInto(const nlohmann::json& metadata, std::string_view path,
                                ObjectMeta* out);

// Serialisation. Empty strings and unset optionals are omitted; times are RFC 3339 seconds.
nlohmann::json ToJson(const Condition& condition);
// Conditions in the stable order Ready, Reconciling, Stalled, then the rest by type.
nlohmann::json ToJson(const AssignmentStatus& status);
nlohmann::json ToJson(const PhoneNumberStatus& status);
nlohmann::json ToJson(const AssignmentSpec& spec);
// name, namespace, uid, resourceVersion, generation, labels, annotations, finalizers,
// ownerReferences, timestamps: whatever is set.
nlohmann::json ToJson(const ObjectMeta& meta);
nlohmann::json ToJson(const OwnerReference& ref);
// A whole object with apiVersion and kind, for tests, fixtures and the dev server.
nlohmann::json ToJson(const Assignment& assignment);
nlohmann::json ToJson(const PhoneNumber& phone);

// A copy of `conditions` in the stable order above.
std::vector<Condition> SortedConditions(std::vector<Condition> conditions);

}  // namespace waop::api
