// Server-side rules for the state of an object: metadata validation, CRD schemas (prune,
// default, validate), kind-specific rules (namespaces, secrets, CRDs), namespace lifecycle
// checks, and what an update may change (immutable metadata, status subresource, generation,
// finalizers).
#include <algorithm>

#include "api_server.h"
#include "api_server_internal.h"
#include "base64.h"
#include "schema/crd_schema.h"

namespace devserver {

using nlohmann::json;

namespace {

// Hand-written matchers for the apiserver's name regexes (std::regex costs microseconds per
// call, which showed in the write benchmark).
bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsAlnumLower(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool IsRfc1123Label(std::string_view s) {
  if (s.empty() || !IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

// Labels joined by dots.
bool IsRfc1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsRfc1123Label(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?
bool IsLabelValue(std::string_view s) {
  if (s.empty()) return true;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Optional DNS subdomain prefix and "/", then a label-value-like name.
bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    if (!IsRfc1123Subdomain(s.substr(0, slash))) return false;
    s = s.substr(slash + 1);
  }
  return !s.empty() && IsLabelValue(s);
}

// The parts of an object that, when changed, move metadata.generation.
json GenerationRelevant(const json& obj, bool has_status) {
  json o = obj;
  o.erase("metadata");
  if (has_status) o.erase("status");
  return o;
}

}  // namespace

std::optional<ApiError> ApiServer::ValidateMetadata(const ResourceInfo& r, const json& obj) {
  const json& md = obj["metadata"];
  std::string name = MetaString(obj, "name");
  std::vector<ApiCause> causes;
  if (r.resource == "namespaces") {
    if (name.size() > 63 || !IsRfc1123Label(name)) {
      causes.push_back({"FieldValueInvalid",
                        "metadata.name: Invalid value: \"" + name +
                            "\": a lowercase RFC 1123 label must consist of lower case "
                            "alphanumeric characters or '-', and must start and end with an "
                            "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                            "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                        "metadata.name"});
    }
  } else if (name.size() > 253 || !IsRfc1123Subdomain(name)) {
    causes.push_back({"FieldValueInvalid",
                      "metadata.name: Invalid value: \"" + name +
                          "\": a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.', and must start and end with an "
                          "alphanumeric character (e.g. 'example.com', regex used for validation "
                          "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                      "metadata.name"});
  }
  auto check_map = [&](const char* field, bool label_values) {
    auto it = md.find(field);
    if (it == md.end() || it->is_null()) return;
    if (!it->is_object()) {
      causes.push_back({"FieldValueTypeInvalid",
                        std::string("metadata.") + field + ": Invalid value: \"" + it->type_name() +
                            "\": must be an object",
                        std::string("metadata.") + field});
      return;
    }
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      std::string path = std::string("metadata.") + field;
      std::string key = kv.key();
      std::string key_name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
      if (!IsQualifiedName(key) || key_name.size() > 63) {
        causes.push_back({"FieldValueInvalid",
                          path + ": Invalid value: \"" + key +
                              "\": name part must consist of alphanumeric characters, '-', '_' or "
                              "'.', and must start and end with an alphanumeric character",
                          path});
      }
      if (!kv->is_string()) {
        causes.push_back({"FieldValueTypeInvalid",
                          path + "." + key + ": Invalid value: must be a string", path});
        continue;
      }
      const std::string& v = kv->get_ref<const std::string&>();
      if (label_values && (v.size() > 63 || !IsLabelValue(v))) {
        causes.push_back({"FieldValueInvalid",
                          path + ": Invalid value: \"" + v +
                              "\": a valid label must be an empty string or consist of "
                              "alphanumeric characters, '-', '_' or '.', and must start and end "
                              "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
                              "or '12345', regex used for validation is "
                              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                          path});
      }
    }
  };
  check_map("labels", true);
  check_map("annotations", false);
  if (md.contains("finalizers") && !md["finalizers"].is_null()) {
    const json& f = md["finalizers"];
    bool ok = f.is_array();
    if (ok) {
      for (const json& e : f) ok = ok && e.is_string() && IsQualifiedName(e.get<std::string>());
    }
    if (!ok) {
      causes.push_back({"FieldValueInvalid",
                        "metadata.finalizers: Invalid value: " + f.dump() +
                            ": must be a list of qualified names",
                        "metadata.finalizers"});
    }
  }
  if (md.contains("ownerReferences") && !md["ownerReferences"].is_null()) {
    const json& o = md["ownerReferences"];
    if (!o.is_array()) {
      causes.push_back({"FieldValueTypeInvalid", "metadata.ownerReferences: must be a list",
                        "metadata.ownerReferences"});
    } else {
      int controllers = 0;
      for (size_t i = 0; i < o.size(); ++i) {
        std::string path = "metadata.ownerReferences[" + std::to_string(i) + "]";
        const json& e = o[i];
        if (!e.is_object()) {
          causes.push_back({"FieldValueTypeInvalid", path + ": must be an object", path});
          continue;
        }
        for (const char* k : {"apiVersion", "kind", "name", "uid"}) {
          if (!e.contains(k) || !e[k].is_string() || e[k].get<std::string>().empty()) {
            causes.push_back(
                {"FieldValueRequired", path + "." + k + ": Required value", path + "." + k});
          }
        }
        if (e.value("controller", false)) ++controllers;
      }
      if (controllers > 1) {
        causes.push_back({"FieldValueInvalid",
                          "metadata.ownerReferences: Invalid value: []v1.OwnerReference{...}: "
                          "Only one reference can have Controller set to true",
                          "metadata.ownerReferences"});
      }
    }
  }
  if (causes.empty()) return std::nullopt;
  return ApiError::Invalid(r.group, r.kind, name, causes);
}

std::optional<ApiError> ApiServer::ApplySchema(const ResourceInfo& r, json* obj, const json* old,
                                               const std::string& field_validation,
                                               std::vector<std::string>* warnings) {
  if (!r.custom || !r.schema) return std::nullopt;
  if (field_validation != "Ignore") {
    std::vector<std::string> unknown = r.schema->UnknownFields(*obj);
    if (!unknown.empty()) {
      std::string list;
      for (std::string f : unknown) {
        if (!f.empty() && f[0] == '.') f = f.substr(1);
        list += (list.empty() ? "" : ", ") + std::string("unknown field \"") + f + "\"";
        if (field_validation != "Strict") warnings->push_back("unknown field \"" + f + "\"");
      }
      if (field_validation == "Strict") {
        return ApiError::BadRequest(r.kind + " in version \"" + r.version +
                                    "\" cannot be handled as a " + r.kind +
                                    ": strict decoding error: " + list);
      }
    }
  }
  r.schema->Prune(*obj);
  r.schema->ApplyDefaults(*obj);
  std::vector<FieldCause> causes =
      old ? r.schema->ValidateUpdate(*obj, *old) : r.schema->Validate(*obj);
  if (causes.empty()) return std::nullopt;
  std::vector<ApiCause> api;
  for (const FieldCause& c : causes) {
    // kube-apiserver's aggregate message is "<field>: <detail>" per cause.
    api.push_back({c.reason, c.message, c.field});
  }
  return ApiError::Invalid(r.group, r.kind, MetaString(*obj, "name"), api);
}

std::optional<ApiError> ApiServer::PrepareKind(const Target& t, json* obj, const json* old) {
  const std::string& res = t.r->resource;
  json& o = *obj;
  if (res == "namespaces" && t.r->group.empty()) {
    if (!o.contains("spec") || !o["spec"].is_object()) o["spec"] = json::object();
    if (!o["spec"].contains("finalizers")) o["spec"]["finalizers"] = {"kubernetes"};
    if (!o["metadata"].contains("labels") || !o["metadata"]["labels"].is_object()) {
      o["metadata"]["labels"] = json::object();
    }
    o["metadata"]["labels"]["kubernetes.io/metadata.name"] = MetaString(o, "name");
    if (!old) o["status"] = {{"phase", "Active"}};
  } else if (res == "secrets" && t.r->group.empty()) {
    if (o.contains("stringData") && o["stringData"].is_object()) {
      if (!o.contains("data") || !o["data"].is_object()) o["data"] = json::object();
      for (auto it = o["stringData"].begin(); it != o["stringData"].end(); ++it) {
        if (!it->is_string()) {
          return ApiError::BadRequest("stringData." + it.key() + ": expected a string");
        }
        o["data"][it.key()] = Base64Encode(it->get<std::string>());
      }
      o.erase("stringData");
    }
    if (!o.contains("type")) o["type"] = "Opaque";
    if (o.contains("data") && o["data"].is_object()) {
      for (auto it = o["data"].begin(); it != o["data"].end(); ++it) {
        std::string decoded;
        const bool ok = it->is_string() && Base64Decode(it->get<std::string>(), &decoded);
        if (!ok) {
          return ApiError::BadRequest(
              "Secret in version \"v1\" cannot be handled as a Secret: "
              "illegal base64 data in data." +
              it.key());
        }
      }
    }
  } else if (res == "customresourcedefinitions") {
    std::vector<CrdProblem> problems = CheckCrd(o);
    std::vector<ApiCause> causes;
    for (const CrdProblem& p : problems) {
      causes.push_back({"FieldValueInvalid", p.field + ": " + p.message, p.field});
    }
    if (causes.empty()) {
      for (const json& v : o["spec"]["versions"]) {
        if (v.contains("schema") && v["schema"].is_object() &&
            v["schema"].contains("openAPIV3Schema")) {
          auto s = CrdSchema::FromJson(v["schema"]["openAPIV3Schema"]);
          if (!s.ok()) {
            std::string f = "spec.versions[" + v.value("name", "") + "].schema.openAPIV3Schema";
            causes.push_back({"FieldValueInvalid", f + ": " + s.status().message(), f});
          }
        }
      }
    }
    if (!causes.empty()) {
      return ApiError::Invalid(t.r->group, t.r->kind, MetaString(o, "name"), causes);
    }
    // The apiextensions controllers would set these a moment later; doing it in the same write
    // lets `kubectl wait --for condition=established` and clients see them at once.
    std::string now = NowRfc3339();
    json names = o["spec"]["names"];
    if (!names.contains("singular")) {
      std::string s = names.value("kind", "");
      std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      names["singular"] = s;
    }
    if (!names.contains("listKind")) names["listKind"] = names.value("kind", "") + "List";
    json stored = json::array();
    if (old && old->contains("status") && (*old)["status"].contains("storedVersions")) {
      stored = (*old)["status"]["storedVersions"];
    }
    for (const json& v : o["spec"]["versions"]) {
      if (v.value("storage", false) &&
          std::find(stored.begin(), stored.end(), v["name"]) == stored.end()) {
        stored.push_back(v["name"]);
      }
    }
    o["status"] = {{"acceptedNames", names},
                   {"storedVersions", stored},
                   {"conditions",
                    {{{"type", "NamesAccepted"},
                      {"status", "True"},
                      {"reason", "NoConflicts"},
                      {"message", "no conflicts found"},
                      {"lastTransitionTime", now}},
                     {{"type", "Established"},
                      {"status", "True"},
                      {"reason", "InitialNamesAccepted"},
                      {"message", "the initial names have been accepted"},
                      {"lastTransitionTime", now}}}}};
    if (old && old->contains("status") && (*old)["status"].contains("conditions")) {
      // Keep transition times stable across updates.
      o["status"]["conditions"] = (*old)["status"]["conditions"];
    }
  }
  return std::nullopt;
}

bool ApiServer::NamespaceUsable(const std::string& ns, std::optional<ApiError>* err,
                                const Target& t) {
  auto so = store_.Get({"/namespaces", "", ns});
  if (!so) {
    *err = ApiError::NotFound("", "namespaces", ns);
    return false;
  }
  if (BeingDeleted(*so->obj)) {
    std::string msg =
        "unable to create new content in namespace " + ns + " because it is being terminated";
    *err = ApiError::Forbidden(
        QualifiedResource(t.r->group, t.r->resource) + " \"" + t.name + "\" is forbidden: " + msg,
        {{"name", t.name},
         {"kind", t.r->resource},
         {"causes",
          {{{"reason", "NamespaceTerminating"},
            {"message", msg},
            {"field", "metadata.namespace"}}}}});
    return false;
  }
  return true;
}

std::optional<ApiError> ApiServer::PrepareUpdate(const Target& t, const json& cur, json* objp,
                                                 const std::string& field_validation,
                                                 std::vector<std::string>* warnings,
                                                 bool internal) {
  const ResourceInfo& r = *t.r;
  json& obj = *objp;
  if (!obj.is_object()) return ApiError::BadRequest("the object provided must be a JSON object");
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = json::object();
  if (!obj["metadata"].is_object()) {
    return ApiError::BadRequest("the object provided is unrecognized (must be of type " + r.kind +
                                "): metadata: expected an object, got " +
                                obj["metadata"].type_name());
  }
  if (obj.contains("kind") && obj["kind"] != r.kind) {
    return ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                ") does not match the expected kind (" + r.kind + ")");
  }
  const json& cmd = cur["metadata"];
  json& md = obj["metadata"];
  for (const char* k : {"uid", "creationTimestamp", "generation", "name", "namespace"}) {
    if (cmd.contains(k)) {
      md[k] = cmd[k];
    } else {
      md.erase(k);
    }
  }
  if (!internal) {
    for (const char* k : {"deletionTimestamp", "deletionGracePeriodSeconds"}) {
      if (cmd.contains(k)) {
        md[k] = cmd[k];
      } else {
        md.erase(k);
      }
    }
  }
  md["resourceVersion"] = cmd["resourceVersion"];
  obj["apiVersion"] = cur["apiVersion"];
  obj["kind"] = r.kind;
  if (t.subresource == "status") {
    json next = cur;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    obj = std::move(next);
  } else if (t.subresource == "finalize") {
    json next = cur;
    next["spec"]["finalizers"] = obj.contains("spec") && obj["spec"].contains("finalizers")
                                     ? obj["spec"]["finalizers"]
                                     : json::array();
    obj = std::move(next);
  } else if (r.has_status && !internal) {
    if (cur.contains("status")) {
      obj["status"] = cur["status"];
    } else {
      obj.erase("status");
    }
  }
  if (auto e = ValidateMetadata(r, obj)) return e;
  if (auto e = PrepareKind(t, &obj, &cur)) return e;
  if (auto e = ApplySchema(r, &obj, &cur, field_validation, warnings)) return e;
  // `md` may dangle from here on: the subresource branches above replace `obj` whole.
  json& new_md = obj["metadata"];
  if (!internal && BeingDeleted(cur) && new_md.contains("finalizers") &&
      new_md["finalizers"].is_array()) {
    std::vector<std::string> added;
    const json empty = json::array();
    const json& old_f = cmd.contains("finalizers") ? cmd["finalizers"] : empty;
    for (const json& f : new_md["finalizers"]) {
      if (std::find(old_f.begin(), old_f.end(), f) == old_f.end()) added.push_back(f.dump());
    }
    if (!added.empty()) {
      std::string list;
      for (const auto& a : added) list += (list.empty() ? "" : ", ") + a;
      return ApiError::Invalid(r.group, r.kind, t.name,
                               {{"FieldValueForbidden",
                                 "metadata.finalizers: Forbidden: no new finalizers can be added "
                                 "if the object is being deleted, found new finalizers []string{" +
                                     list + "}",
                                 "metadata.finalizers"}});
    }
  }
  if (r.has_generation &&
      GenerationRelevant(obj, r.has_status) != GenerationRelevant(cur, r.has_status)) {
    new_md["generation"] = cmd.value("generation", 0) + 1;
  }
  return std::nullopt;
}

}  // namespace devserver
