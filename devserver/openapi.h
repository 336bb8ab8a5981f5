// /openapi/v3: the index of group-version documents and each OpenAPI v3 document, with the
// CRD schemas as components carrying x-kubernetes-group-version-kind (what `kubectl explain`
// reads) and a PATCH operation per kind that declares the fieldValidation query parameter
// (what kubectl's QueryParamVerifierV3 looks for before trusting server-side validation).
//
// Thread-safety: pure functions over a Registry (which is itself thread-safe).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "resources.h"

namespace devserver {

// {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."},...}}
nlohmann::json OpenApiIndex(const Registry& registry);
// The document for "api/v1" or "apis/<group>/<version>"; null json when not served.
nlohmann::json OpenApiDocument(const Registry& registry, const std::string& gv_path);

}  // namespace devserver
