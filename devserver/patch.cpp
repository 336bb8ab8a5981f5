#include "patch.h"

#include <string>

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

json ApplyMergePatch(const json& target, const json& patch) {
  if (!patch.is_object()) return patch;
  json result = target.is_object() ? target : json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it->is_null()) {
      result.erase(it.key());
    } else {
      auto cur = result.find(it.key());
      result[it.key()] = ApplyMergePatch(cur == result.end() ? json() : *cur, *it);
    }
  }
  return result;
}

Result<json> ApplyJsonPatch(const json& target, const json& patch) {
  if (!patch.is_array()) {
    return Status::InvalidArgument("json patch must be an array of operations");
  }
  try {
    return target.patch(patch);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("the server rejected our request due to an error "
                                               "in our request: ") +
                                   e.what());
  }
}

namespace {

// The merge key for a list field, or "" to replace the list wholesale.
std::string MergeKeyFor(const std::string& field, const json& items) {
  if (field == "ownerReferences") return "uid";
  if (field == "conditions") return "type";
  if (field == "finalizers") return "";  // primitive set; handled separately
  for (const json& e : items) {
    if (e.is_object() && e.contains("name")) return "name";
  }
  return "";
}

Result<json> Smp(const json& target, const json& patch);

Result<json> MergeList(const std::string& field, const json& target, const json& patch) {
  // `$patch: replace` inside a list replaces the list with the other elements.
  json items = json::array();
  bool replace = false;
  for (const json& e : patch) {
    if (e.is_object() && e.contains("$patch") && e["$patch"] == "replace" && e.size() == 1) {
      replace = true;
    } else {
      items.push_back(e);
    }
  }
  if (replace || !target.is_array()) return items;
  if (field == "finalizers") {
    json out = target;
    for (const json& e : items) {
      bool present = false;
      for (const json& t : out) present = present || t == e;
      if (!present) out.push_back(e);
    }
    return out;
  }
  std::string key = MergeKeyFor(field, items);
  if (key.empty()) return items;
  json out = target;
  for (const json& e : items) {
    if (!e.is_object() || !e.contains(key)) {
      return Status::InvalidArgument("map: " + e.dump() +
                                     " does not contain declared merge key: " + key);
    }
    bool del = e.contains("$patch") && e["$patch"] == "delete";
    bool found = false;
    for (size_t i = 0; i < out.size(); ++i) {
      if (out[i].is_object() && out[i].contains(key) && out[i][key] == e[key]) {
        found = true;
        if (del) {
          out.erase(i);
        } else {
          auto merged = Smp(out[i], e);
          if (!merged.ok()) return merged.status();
          out[i] = std::move(*merged);
        }
        break;
      }
    }
    if (!found && !del) {
      json clean = e;
      clean.erase("$patch");
      out.push_back(clean);
    }
  }
  return out;
}

Result<json> Smp(const json& target, const json& patch) {
  if (!patch.is_object()) return patch;
  if (patch.contains("$patch")) {
    const json& d = patch["$patch"];
    if (d == "replace") {
      json r = patch;
      r.erase("$patch");
      return r;
    }
    if (d == "delete") return json();  // caller removes
    if (d != "merge") {
      return Status::InvalidArgument("unknown patch type: " + d.dump() +
                                     " in map: " + patch.dump());
    }
  }
  json result = target.is_object() ? target : json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0) continue;
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field = k.substr(std::string("$deleteFromPrimitiveList/").size());
      if (result.contains(field) && result[field].is_array() && it->is_array()) {
        json kept = json::array();
        for (const json& e : result[field]) {
          bool drop = false;
          for (const json& d : *it) drop = drop || d == e;
          if (!drop) kept.push_back(e);
        }
        result[field] = kept;
      }
      continue;
    }
    if (it->is_null()) {
      result.erase(k);
      continue;
    }
    json cur = result.contains(k) ? result[k] : json();
    if (it->is_array()) {
      auto merged = MergeList(k, cur, *it);
      if (!merged.ok()) return merged.status();
      result[k] = std::move(*merged);
    } else if (it->is_object()) {
      if (it->contains("$patch") && (*it)["$patch"] == "delete") {
        result.erase(k);
        continue;
      }
      auto merged = Smp(cur, *it);
      if (!merged.ok()) return merged.status();
      result[k] = std::move(*merged);
    } else {
      result[k] = *it;
    }
  }
  return result;
}

}  // namespace

Result<json> ApplyStrategicMergePatch(const json& target, const json& patch) {
  if (!patch.is_object()) {
    return Status::InvalidArgument("strategic merge patch must be a JSON object");
  }
  return Smp(target, patch);
}

}  // namespace devserver
