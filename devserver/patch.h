// The three PATCH flavours kube-apiserver accepts for JSON objects.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace devserver {

// RFC 7386 JSON merge patch: objects merge, null deletes, everything else replaces.
nlohmann::json ApplyMergePatch(const nlohmann::json& target, const nlohmann::json& patch);

// RFC 6902 JSON patch. InvalidArgument names the failing operation (bad path, failed test).
waop::Result<nlohmann::json> ApplyJsonPatch(const nlohmann::json& target,
                                            const nlohmann::json& patch);

// Strategic merge patch, as far as our kinds need it: a merge patch where lists of objects
// merge by their patch merge key (ownerReferences by uid, conditions by type, anything with a
// `name`), `finalizers` merge as a set, and the directives kubectl sends are honoured
// (`$patch: replace|delete`, `$deleteFromPrimitiveList/<field>`) or dropped
// (`$setElementOrder/<field>`, `$retainKeys`). InvalidArgument on malformed directives.
waop::Result<nlohmann::json> ApplyStrategicMergePatch(const nlohmann::json& target,
                                                      const nlohmann::json& patch);

}  // namespace devserver
