// Safe reading of JSON that comes from outside the process (API server answers, watch lines,
// objects in caches): parsing with a nesting bound, and member accessors that never throw.
//
// nlohmann::json's value() and get<T>() throw a type_error when a member has another type
// ({"name": 1}); an exception escaping an informer thread ends the process. Every reader of
// outside input goes through these instead. Parsing is bounded because a value nested 100,000
// levels deep parses (nlohmann's parser is iterative) but then overflows the stack when it is
// copied, compared or serialised (those recurse).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace waop {

// Deepest nesting of arrays and objects accepted from outside. Kubernetes objects (with their
// managedFields) stay well below 30; the API server itself accepts up to 10,000, which no
// object we read comes near.
inline constexpr std::size_t kMaxJsonDepth = 128;

// The deepest nesting of `text` (outside strings), counted without parsing and stopping as
// soon as it passes `limit`. Not a validator: only brackets and quotes are looked at.
std::size_t JsonNestingDepth(std::string_view text, std::size_t limit = kMaxJsonDepth);

// Parses `text`. InvalidArgument when it is not JSON ("at byte N: ...") or nested deeper than
// `max_depth`. Never throws.
Result<nlohmann::json> ParseJsonBounded(std::string_view text,
                                        std::size_t max_depth = kMaxJsonDepth);

// The member `key` of `object` when `object` is an object and the member a string, else "".
// Never throws.
std::string JsonString(const nlohmann::json& object, std::string_view key);
// The member when it is a boolean, else `fallback`.
bool JsonBool(const nlohmann::json& object, std::string_view key, bool fallback = false);
// The member `key` when `object` is an object and the member is one too, else nullptr.
const nlohmann::json* JsonObject(const nlohmann::json& object, std::string_view key);

}  // namespace waop
