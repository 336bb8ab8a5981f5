#include "resources.h"

#include <algorithm>

namespace devserver {

using nlohmann::json;
using waop::Status;

namespace {

ResourceInfo Builtin(std::string group, std::string version, std::string resource, std::string kind,
                     std::string singular, bool namespaced, std::vector<std::string> short_names) {
  ResourceInfo r;
  r.group = std::move(group);
  r.version = std::move(version);
  r.storage_version = r.version;
  r.resource = std::move(resource);
  r.kind = std::move(kind);
  r.singular = std::move(singular);
  r.namespaced = namespaced;
  r.short_names = std::move(short_names);
  return r;
}

const std::vector<std::string>& Verbs() {
  static const std::vector<std::string> kVerbs = {"create", "delete", "deletecollection", "get",
                                                  "list",   "patch",  "update",           "watch"};
  return kVerbs;
}

json ResourceEntry(const ResourceInfo& r) {
  json e = {{"name", r.resource}, {"singularName", r.singular}, {"namespaced", r.namespaced},
            {"kind", r.kind},     {"verbs", Verbs()},           {"storageVersionHash", ""}};
  if (!r.short_names.empty()) e["shortNames"] = r.short_names;
  if (!r.categories.empty()) e["categories"] = r.categories;
  e.erase("storageVersionHash");
  return e;
}

}  // namespace

Registry::Registry() {
  std::unique_lock lock(mu_);
  auto ns = Builtin("", "v1", "namespaces", "Namespace", "namespace", false, {"ns"});
  ns.has_status = true;
  AddLocked(ns);
  auto cm = Builtin("", "v1", "configmaps", "ConfigMap", "configmap", true, {"cm"});
  AddLocked(cm);
  AddLocked(Builtin("", "v1", "secrets", "Secret", "secret", true, {}));
  AddLocked(Builtin("", "v1", "events", "Event", "event", true, {"ev"}));
  auto sa = Builtin("", "v1", "serviceaccounts", "ServiceAccount", "serviceaccount", true, {"sa"});
  sa.categories = {"all"};
  sa.categories.clear();  // not in "all" on a real server either
  AddLocked(sa);
  AddLocked(Builtin("events.k8s.io", "v1", "events", "Event", "event", true, {"ev"}));
  AddLocked(Builtin("coordination.k8s.io", "v1", "leases", "Lease", "lease", true, {}));
  auto crd =
      Builtin("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
              "customresourcedefinition", false, {"crd", "crds"});
  crd.has_status = true;
  crd.has_generation = true;
  crd.categories = {"api-extensions"};
  AddLocked(crd);
  auto vwc = Builtin("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
                     "ValidatingWebhookConfiguration", "validatingwebhookconfiguration", false, {});
  vwc.has_generation = true;
  vwc.categories = {"api-extensions"};
  AddLocked(vwc);
}

void Registry::AddLocked(ResourceInfo info) {
  auto& versions = group_versions_[info.group];
  if (std::find(versions.begin(), versions.end(), info.version) == versions.end()) {
    versions.push_back(info.version);
  }
  std::string key = Key(info.group, info.version, info.resource);
  by_gvr_[key] = std::make_shared<const ResourceInfo>(std::move(info));
}

ResourcePtr Registry::Find(const std::string& group, const std::string& version,
                           const std::string& resource) const {
  std::shared_lock lock(mu_);
  auto it = by_gvr_.find(Key(group, version, resource));
  return it == by_gvr_.end() ? nullptr : it->second;
}

ResourcePtr Registry::FindKind(const std::string& api_version, const std::string& kind) const {
  std::shared_lock lock(mu_);
  for (const auto& [k, r] : by_gvr_) {
    if (r->ApiVersion() == api_version && r->kind == kind) return r;
  }
  return nullptr;
}

std::vector<ResourcePtr> Registry::Versions(const std::string& group,
                                            const std::string& resource) const {
  std::shared_lock lock(mu_);
  std::vector<ResourcePtr> out;
  for (const auto& [k, r] : by_gvr_) {
    if (r->group == group && r->resource == resource) out.push_back(r);
  }
  return out;
}

std::vector<ResourcePtr> Registry::All() const {
  std::shared_lock lock(mu_);
  std::vector<ResourcePtr> out;
  for (const auto& [k, r] : by_gvr_) out.push_back(r);
  return out;
}

std::vector<CrdProblem> CheckCrd(const json& crd) {
  std::vector<CrdProblem> p;
  const json& spec = crd.contains("spec") ? crd["spec"] : json();
  if (!spec.is_object()) {
    p.push_back({"spec", "Required value"});
    return p;
  }
  auto str = [&](const json& o, const char* k) -> std::string {
    return o.is_object() && o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : "";
  };
  std::string group = str(spec, "group");
  const json& names = spec.contains("names") ? spec["names"] : json();
  std::string plural = str(names, "plural");
  if (group.empty()) p.push_back({"spec.group", "Required value"});
  if (plural.empty()) p.push_back({"spec.names.plural", "Required value"});
  if (str(names, "kind").empty()) p.push_back({"spec.names.kind", "Required value"});
  std::string scope = str(spec, "scope");
  if (scope != "Namespaced" && scope != "Cluster") {
    p.push_back({"spec.scope", "Unsupported value: \"" + scope +
                                   "\": supported values: \"Cluster\", \"Namespaced\""});
  }
  std::string name =
      crd.contains("metadata") && crd["metadata"].is_object() ? str(crd["metadata"], "name") : "";
  if (!group.empty() && !plural.empty() && name != plural + "." + group) {
    p.push_back({"metadata.name",
                 "Invalid value: \"" + name + "\": must be spec.names.plural+\".\"+spec.group"});
  }
  const json& versions = spec.contains("versions") ? spec["versions"] : json();
  if (!versions.is_array() || versions.empty()) {
    p.push_back({"spec.versions",
                 "Invalid value: null: must have exactly one version marked as "
                 "storage version"});
    return p;
  }
  int storage = 0;
  for (size_t i = 0; i < versions.size(); ++i) {
    const json& v = versions[i];
    if (str(v, "name").empty()) {
      p.push_back({"spec.versions[" + std::to_string(i) + "].name", "Required value"});
    }
    if (v.is_object() && v.value("storage", false)) ++storage;
  }
  if (storage != 1) {
    p.push_back({"spec.versions",
                 "Invalid value: must have exactly one version marked as "
                 "storage version"});
  }
  return p;
}

Status Registry::AddCrd(const json& crd) {
  const json& spec = crd["spec"];
  const json& names = spec["names"];
  std::vector<ResourceInfo> infos;
  for (const json& v : spec["versions"]) {
    if (!v.value("served", true)) continue;
    ResourceInfo r;
    r.group = spec["group"].get<std::string>();
    r.version = v["name"].get<std::string>();
    for (const json& sv : spec["versions"]) {
      if (sv.value("storage", false)) r.storage_version = sv.value("name", "");
    }
    r.resource = names["plural"].get<std::string>();
    r.kind = names["kind"].get<std::string>();
    r.singular = names.value("singular", "");
    if (r.singular.empty()) {
      r.singular = r.kind;
      std::transform(r.singular.begin(), r.singular.end(), r.singular.begin(), ::tolower);
    }
    r.namespaced = spec.value("scope", "Namespaced") == "Namespaced";
    if (names.contains("shortNames")) r.short_names = names["shortNames"];
    if (names.contains("categories")) r.categories = names["categories"];
    r.has_status = v.contains("subresources") && v["subresources"].is_object() &&
                   v["subresources"].contains("status");
    r.has_generation = true;
    r.allow_unconditional_update = false;
    r.custom = true;
    r.crd_name = crd["metadata"]["name"].get<std::string>();
    if (v.contains("additionalPrinterColumns") && v["additionalPrinterColumns"].is_array()) {
      r.printer_columns = v["additionalPrinterColumns"];
    } else {
      r.printer_columns = json::array(
          {{{"name", "Age"}, {"type", "date"}, {"jsonPath", ".metadata.creationTimestamp"}}});
    }
    if (v.contains("schema") && v["schema"].is_object() &&
        v["schema"].contains("openAPIV3Schema")) {
      r.open_api_schema = v["schema"]["openAPIV3Schema"];
      auto schema = CrdSchema::FromJson(r.open_api_schema);
      if (!schema.ok()) {
        return schema.status().WithPrefix("spec.versions[" + r.version +
                                          "].schema.openAPIV3Schema");
      }
      r.schema = std::make_shared<const CrdSchema>(std::move(*schema));
    }
    infos.push_back(std::move(r));
  }
  std::unique_lock lock(mu_);
  std::string crd_name = crd["metadata"]["name"].get<std::string>();
  // Drop the previous registration (versions may have been removed).
  for (auto it = by_gvr_.begin(); it != by_gvr_.end();) {
    if (it->second->crd_name == crd_name) {
      it = by_gvr_.erase(it);
    } else {
      ++it;
    }
  }
  std::string group = spec["group"].get<std::string>();
  group_versions_[group].clear();
  // Storage version preferred: kube orders by version priority; storage first is close.
  for (const json& v : spec["versions"]) {
    if (v.value("storage", false)) group_versions_[group].push_back(v["name"]);
  }
  for (auto& info : infos) AddLocked(std::move(info));
  // Other CRDs of the same group keep their versions.
  for (const auto& [k, r] : by_gvr_) {
    auto& vs = group_versions_[r->group];
    if (std::find(vs.begin(), vs.end(), r->version) == vs.end()) vs.push_back(r->version);
  }
  return Status::Ok();
}

void Registry::RemoveCrd(const std::string& crd_name) {
  std::unique_lock lock(mu_);
  std::string group;
  for (auto it = by_gvr_.begin(); it != by_gvr_.end();) {
    if (it->second->crd_name == crd_name) {
      group = it->second->group;
      it = by_gvr_.erase(it);
    } else {
      ++it;
    }
  }
  if (group.empty()) return;
  std::vector<std::string> still;
  for (const auto& [k, r] : by_gvr_) {
    if (r->group == group && std::find(still.begin(), still.end(), r->version) == still.end()) {
      still.push_back(r->version);
    }
  }
  if (still.empty()) {
    group_versions_.erase(group);
  } else {
    auto& vs = group_versions_[group];
    std::erase_if(vs, [&](const std::string& v) {
      return std::find(still.begin(), still.end(), v) == still.end();
    });
  }
}

json Registry::ApiVersions() const {
  return {{"kind", "APIVersions"},
          {"versions", {"v1"}},
          {"serverAddressByClientCIDRs",
           json::array({{{"clientCIDR", "0.0.0.0/0"}, {"serverAddress", "127.0.0.1"}}})}};
}

json Registry::ApiGroupList() const {
  std::shared_lock lock(mu_);
  json groups = json::array();
  for (const auto& [group, versions] : group_versions_) {
    if (group.empty() || versions.empty()) continue;
    json g = {{"name", group}, {"versions", json::array()}};
    for (const auto& v : versions) {
      g["versions"].push_back({{"groupVersion", group + "/" + v}, {"version", v}});
    }
    g["preferredVersion"] = g["versions"][0];
    groups.push_back(g);
  }
  return {{"kind", "APIGroupList"}, {"apiVersion", "v1"}, {"groups", groups}};
}

json Registry::ResourceList(const std::string& group, const std::string& version) const {
  std::shared_lock lock(mu_);
  json resources = json::array();
  for (const auto& [k, r] : by_gvr_) {
    if (r->group != group || r->version != version) continue;
    resources.push_back(ResourceEntry(*r));
    if (r->has_status) {
      resources.push_back({{"name", r->resource + "/status"},
                           {"singularName", ""},
                           {"namespaced", r->namespaced},
                           {"kind", r->kind},
                           {"verbs", {"get", "patch", "update"}}});
    }
  }
  if (resources.empty()) return json();
  return {{"kind", "APIResourceList"},
          {"apiVersion", "v1"},
          {"groupVersion", group.empty() ? version : group + "/" + version},
          {"resources", resources}};
}

json Registry::AggregatedDiscovery(bool core) const {
  std::shared_lock lock(mu_);
  json items = json::array();
  for (const auto& [group, versions] : group_versions_) {
    if (core != group.empty() || versions.empty()) continue;
    json item = {{"metadata", {{"name", group}, {"creationTimestamp", nullptr}}},
                 {"versions", json::array()}};
    for (const auto& v : versions) {
      json res = json::array();
      for (const auto& [k, r] : by_gvr_) {
        if (r->group != group || r->version != v) continue;
        json e = {
            {"resource", r->resource},
            {"responseKind", {{"group", r->group}, {"version", r->version}, {"kind", r->kind}}},
            {"scope", r->namespaced ? "Namespaced" : "Cluster"},
            {"singularResource", r->singular},
            {"verbs", Verbs()}};
        if (!r->short_names.empty()) e["shortNames"] = r->short_names;
        if (!r->categories.empty()) e["categories"] = r->categories;
        if (r->has_status) {
          e["subresources"] = json::array(
              {{{"subresource", "status"},
                {"responseKind", {{"group", r->group}, {"version", r->version}, {"kind", r->kind}}},
                {"verbs", {"get", "patch", "update"}}}});
        }
        res.push_back(e);
      }
      item["versions"].push_back({{"version", v}, {"resources", res}, {"freshness", "Current"}});
    }
    items.push_back(item);
  }
  return {{"kind", "APIGroupDiscoveryList"},
          {"apiVersion", "apidiscovery.k8s.io/v2"},
          {"metadata", json::object()},
          {"items", items}};
}

}  // namespace devserver
