#pragma once
// Base64 for the devserver: continue tokens, Secret data, protobuf bytes fields, the kubeconfig's
// certificate-authority-data.

#include <string>
#include <string_view>

namespace devserver {

// Standard alphabet, padded (RFC 4648 section 4).
std::string Base64Encode(std::string_view in);

// Accepts the standard and the URL-safe alphabet and stops at the first '='. False (and `out`
// left empty) on any other character.
bool Base64Decode(std::string_view in, std::string* out);

}  // namespace devserver
