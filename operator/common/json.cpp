#include "common/json.h"

#include <cstring>

namespace waop {

using nlohmann::json;

std::size_t JsonNestingDepth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  const char* p = text.data();
  const char* const end = p + text.size();
  while (p < end) {
    switch (*p++) {
      case '"':
        // Skip the string: its end is the next quote not escaped by an odd run of backslashes.
        for (;;) {
          const void* q = std::memchr(p, '"', static_cast<std::size_t>(end - p));
          if (q == nullptr) return deepest;  // unterminated: the parser will say so
          const char* quote = static_cast<const char*>(q);
          std::size_t backslashes = 0;
          while (quote - backslashes > p &&
                 quote[-1 - static_cast<std::ptrdiff_t>(backslashes)] == '\\') {
            ++backslashes;
          }
          p = quote + 1;
          if (backslashes % 2 == 0) break;
        }
        break;
      case '{':
      case '[':
        if (++depth > deepest) {
          deepest = depth;
          if (deepest > limit) return deepest;
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return deepest;
}

Result<json> ParseJsonBounded(std::string_view text, std::size_t max_depth) {
  if (JsonNestingDepth(text, max_depth) > max_depth) {
    return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) +
                                   " levels");
  }
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    // nlohmann's message names the byte offset and what was expected.
    return Status::InvalidArgument(std::string("not valid JSON: ") + e.what());
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("JSON could not be read: ") + e.what());
  }
}

std::string JsonString(const json& object, std::string_view key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get_ref<const std::string&>();
}

bool JsonBool(const json& object, std::string_view key, bool fallback) {
  if (!object.is_object()) return fallback;
  auto it = object.find(key);
  if (it == object.end() || !it->is_boolean()) return fallback;
  return it->get<bool>();
}

const json* JsonObject(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_object()) return nullptr;
  return &*it;
}

}  // namespace waop
