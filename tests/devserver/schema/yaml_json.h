// Test helper: YAML (as CRDs are written) to nlohmann::json, with YAML 1.2 core-schema scalar
// typing (plain true/false/null/numbers typed, quoted scalars always strings).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace devserver::testing {

// The first document of `yaml`. InvalidArgument with yaml-cpp's message when it does not parse.
waop::Result<nlohmann::json> YamlToJson(const std::string& yaml);

// Reads and converts a file. NotFound when it cannot be read.
waop::Result<nlohmann::json> LoadYamlFile(const std::string& path);

// spec.versions[name == version].schema.openAPIV3Schema of a CRD document.
// NotFound when the version is absent.
waop::Result<nlohmann::json> CrdVersionSchema(const nlohmann::json& crd,
                                              const std::string& version);

}  // namespace devserver::testing
