#include "openapi.h"

#include <cstdio>
#include <functional>
#include <set>

namespace devserver {

using nlohmann::json;

namespace {

const char* kObjectMetaRef = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

// "whatsapp.bakery-ia.io" -> "io.bakery-ia.whatsapp", as kube names definitions.
std::string ReverseGroup(const std::string& group) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= group.size()) {
    size_t dot = group.find('.', start);
    if (dot == std::string::npos) dot = group.size();
    parts.push_back(group.substr(start, dot - start));
    start = dot + 1;
  }
  std::string out;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) out += (out.empty() ? "" : ".") + *it;
  return out;
}

std::string DefinitionName(const ResourceInfo& r) {
  if (!r.custom) {
    std::string g = r.group.empty() ? "core" : r.group.substr(0, r.group.find('.'));
    return "io.k8s.api." + g + "." + r.version + "." + r.kind;
  }
  return ReverseGroup(r.group) + "." + r.version + "." + r.kind;
}

json ObjectMetaSchema() {
  json str = {{"type", "string"}};
  json map = {{"type", "object"}, {"additionalProperties", {{"type", "string"}, {"default", ""}}}};
  return {
      {"description",
       "ObjectMeta is metadata that all persisted resources must have, which includes all "
       "objects users must create."},
      {"type", "object"},
      {"properties",
       {{"name", {{"type", "string"}, {"description", "Name must be unique within a namespace."}}},
        {"generateName",
         {{"type", "string"},
          {"description",
           "GenerateName is an optional prefix, used by the server, to generate "
           "a unique name ONLY IF the Name field has not been provided."}}},
        {"namespace",
         {{"type", "string"},
          {"description", "Namespace defines the space within which each name must be unique."}}},
        {"labels",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}},
          {"description",
           "Map of string keys and values that can be used to organize "
           "and categorize (scope and select) objects."}}},
        {"annotations",
         {{"type", "object"},
          {"additionalProperties", {{"type", "string"}, {"default", ""}}},
          {"description",
           "Annotations is an unstructured key value map stored "
           "with a resource."}}},
        {"uid", str},
        {"resourceVersion", str},
        {"generation", {{"type", "integer"}, {"format", "int64"}}},
        {"creationTimestamp", {{"type", "string"}, {"format", "date-time"}}},
        {"deletionTimestamp", {{"type", "string"}, {"format", "date-time"}}},
        {"deletionGracePeriodSeconds", {{"type", "integer"}, {"format", "int64"}}},
        {"finalizers",
         {{"type", "array"},
          {"items", {{"type", "string"}, {"default", ""}}},
          {"x-kubernetes-list-type", "set"}}},
        {"ownerReferences",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"required", {"apiVersion", "kind", "name", "uid"}},
            {"properties",
             {{"apiVersion", str},
              {"kind", str},
              {"name", str},
              {"uid", str},
              {"controller", {{"type", "boolean"}}},
              {"blockOwnerDeletion", {{"type", "boolean"}}}}}}},
          {"x-kubernetes-list-type", "map"},
          {"x-kubernetes-list-map-keys", {"uid"}}}},
        {"managedFields",
         {{"type", "array"},
          {"items", {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}};
  (void)map;
}

json BuiltinSchema(const ResourceInfo& r) {
  json props = {{"apiVersion",
                 {{"type", "string"},
                  {"description",
                   "APIVersion defines the "
                   "versioned schema of this "
                   "representation of an object."}}},
                {"kind",
                 {{"type", "string"},
                  {"description",
                   "Kind is a string value "
                   "representing the REST resource "
                   "this object represents."}}},
                {"metadata",
                 {{"allOf", {{{"$ref", kObjectMetaRef}}}},
                  {"default", json::object()},
                  {"description", "Standard object's metadata."}}}};
  json str_map = {{"type", "object"},
                  {"additionalProperties", {{"type", "string"}, {"default", ""}}}};
  json any = {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  if (r.resource == "configmaps") {
    props["data"] = str_map;
    props["binaryData"] = {{"type", "object"},
                           {"additionalProperties", {{"type", "string"}, {"format", "byte"}}}};
    props["immutable"] = {{"type", "boolean"}};
  } else if (r.resource == "secrets") {
    props["data"] = {{"type", "object"},
                     {"additionalProperties", {{"type", "string"}, {"format", "byte"}}}};
    props["stringData"] = str_map;
    props["type"] = {{"type", "string"}};
    props["immutable"] = {{"type", "boolean"}};
  } else if (r.resource == "events") {
    for (const char* k :
         {"involvedObject", "source", "related", "series", "regarding", "deprecatedSource"}) {
      props[k] = any;
    }
    for (const char* k :
         {"reason", "message", "type", "action", "reportingComponent", "reportingInstance",
          "reportingController", "note", "firstTimestamp", "lastTimestamp", "eventTime",
          "deprecatedFirstTimestamp", "deprecatedLastTimestamp"}) {
      props[k] = {{"type", "string"}};
    }
    props["count"] = {{"type", "integer"}, {"format", "int32"}};
    props["deprecatedCount"] = {{"type", "integer"}, {"format", "int32"}};
  } else if (r.resource == "serviceaccounts") {
    props["secrets"] = {{"type", "array"}, {"items", any}};
    props["imagePullSecrets"] = {{"type", "array"}, {"items", any}};
    props["automountServiceAccountToken"] = {{"type", "boolean"}};
  } else if (r.resource == "validatingwebhookconfigurations") {
    props["webhooks"] = {{"type", "array"}, {"items", any}};
  } else {
    props["spec"] = any;
    props["status"] = any;
  }
  return {{"description", r.kind + " (kube-devserver minimal schema)."},
          {"type", "object"},
          {"properties", props},
          {"x-kubernetes-group-version-kind",
           json::array({{{"group", r.group}, {"kind", r.kind}, {"version", r.version}}})}};
}

json CustomSchema(const ResourceInfo& r) {
  json s = r.open_api_schema.is_object()
               ? r.open_api_schema
               : json{{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}};
  if (!s.contains("properties")) s["properties"] = json::object();
  s["properties"]["apiVersion"] = {{"type", "string"},
                                   {"description",
                                    "APIVersion defines the versioned schema of "
                                    "this representation of an object."}};
  s["properties"]["kind"] = {{"type", "string"},
                             {"description",
                              "Kind is a string value representing the REST "
                              "resource this object represents."}};
  s["properties"]["metadata"] = {{"allOf", {{{"$ref", kObjectMetaRef}}}},
                                 {"description",
                                  "Standard object's metadata. More info: "
                                  "https://git.k8s.io/community/contributors/devel/"
                                  "sig-architecture/api-conventions.md#metadata"}};
  s["x-kubernetes-group-version-kind"] =
      json::array({{{"group", r.group}, {"kind", r.kind}, {"version", r.version}}});
  return s;
}

json Operation(const ResourceInfo& r, const std::string& verb, const std::string& def) {
  json params = json::array(
      {{{"name", "dryRun"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
       {{"name", "fieldManager"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
       {{"name", "fieldValidation"}, {"in", "query"}, {"schema", {{"type", "string"}}}}});
  json ok = {
      {"description", "OK"},
      {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/" + def}}}}}}}};
  json op = {{"operationId", verb + r.kind},
             {"responses", {{"200", ok}}},
             {"x-kubernetes-action", verb},
             {"x-kubernetes-group-version-kind",
              {{"group", r.group}, {"version", r.version}, {"kind", r.kind}}}};
  if (verb != "get") op["parameters"] = params;
  if (verb == "patch" || verb == "put") {
    json body_schema = {{"$ref", "#/components/schemas/" + def}};
    op["requestBody"] = {
        {"content",
         {{verb == "patch" ? "application/merge-patch+json" : "application/json",
           {{"schema", verb == "patch" ? json{{"type", "object"}} : body_schema}}}}},
        {"required", true}};
  }
  return op;
}

}  // namespace

json OpenApiDocument(const Registry& registry, const std::string& gv_path) {
  std::string group, version;
  if (gv_path == "api/v1") {
    version = "v1";
  } else if (gv_path.rfind("apis/", 0) == 0) {
    std::string rest = gv_path.substr(5);
    size_t slash = rest.find('/');
    if (slash == std::string::npos) return json();
    group = rest.substr(0, slash);
    version = rest.substr(slash + 1);
  } else {
    return json();
  }
  json schemas = {{"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", ObjectMetaSchema()}};
  json paths = json::object();
  bool any = false;
  for (const ResourcePtr& r : registry.All()) {
    if (r->group != group || r->version != version) continue;
    any = true;
    std::string def = DefinitionName(*r);
    schemas[def] = r->custom ? CustomSchema(*r) : BuiltinSchema(*r);
    std::string base = (group.empty() ? "/api/" + version : "/apis/" + group + "/" + version) +
                       (r->namespaced ? "/namespaces/{namespace}/" : "/") + r->resource;
    json item = {{"get", Operation(*r, "get", def)},
                 {"put", Operation(*r, "put", def)},
                 {"patch", Operation(*r, "patch", def)},
                 {"delete", Operation(*r, "delete", def)}};
    paths[base + "/{name}"] = item;
    if (r->has_status) {
      paths[base + "/{name}/status"] = {{"get", Operation(*r, "get", def)},
                                        {"put", Operation(*r, "put", def)},
                                        {"patch", Operation(*r, "patch", def)}};
    }
  }
  if (!any) return json();
  return {{"openapi", "3.0.0"},
          {"info", {{"title", "Kubernetes"}, {"version", "v1.32.0"}}},
          {"paths", paths},
          {"components", {{"schemas", schemas}}}};
}

json OpenApiIndex(const Registry& registry) {
  json paths = json::object();
  std::set<std::string> gvs;
  for (const ResourcePtr& r : registry.All()) {
    gvs.insert(r->group.empty() ? "api/" + r->version : "apis/" + r->group + "/" + r->version);
  }
  for (const std::string& gv : gvs) {
    std::string doc = OpenApiDocument(registry, gv).dump();
    char hash[32];
    std::snprintf(hash, sizeof(hash), "%016zX", std::hash<std::string>{}(doc));
    paths[gv] = {{"serverRelativeURL", "/openapi/v3/" + gv + "?hash=" + hash}};
  }
  return {{"paths", paths}};
}

}  // namespace devserver
