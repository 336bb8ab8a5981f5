// YAML (multi-document, as manifests are written) to nlohmann::json, for --crd and --load.
// Scalars are typed like the YAML 1.2 core schema (plain true/false/null/numbers typed, quoted
// scalars always strings), which is what kubectl's YAML decoding does.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace devserver {

// Every non-empty document of `text`. InvalidArgument with yaml-cpp's message (line, column)
// when it does not parse.
waop::Result<std::vector<nlohmann::json>> ParseYamlDocuments(const std::string& text);

// Reads `path` and parses it. NotFound when it cannot be read.
waop::Result<std::vector<nlohmann::json>> LoadYamlDocuments(const std::string& path);

}  // namespace devserver
