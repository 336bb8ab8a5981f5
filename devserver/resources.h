// The resource registry: which group/version/resources the devserver serves (the built-in
// kinds plus every resource of an established CRD), and the discovery documents built from it
// (/api, /api/v1, /apis, /apis/<g>/<v>).
//
// Thread-safety: Registry is internally synchronised; ResourceInfo objects are immutable and
// shared by pointer, so a lookup stays valid after its CRD is removed.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "schema/crd_schema.h"

namespace devserver {

struct ResourceInfo {
  std::string group;            // "" for the core group
  std::string version;          // the served version this info describes
  std::string storage_version;  // the version objects are stored in (== version for built-ins)
  std::string resource;         // plural, lower case
  std::string kind;
  std::string singular;
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  bool has_status = false;                 // has a /status subresource
  bool has_generation = false;             // metadata.generation is maintained
  bool allow_unconditional_update = true;  // PUT without resourceVersion allowed
  bool custom = false;                     // served from a CRD
  std::string crd_name;
  nlohmann::json printer_columns = nlohmann::json::array();  // CRD additionalPrinterColumns
  std::shared_ptr<const CrdSchema> schema;                   // CRs with a schema
  nlohmann::json open_api_schema;  // the CRD's openAPIV3Schema, for /openapi/v3

  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // Objects of one group/resource share storage whatever the version they are read in.
  std::string StorageKey() const { return group + "/" + resource; }
};

using ResourcePtr = std::shared_ptr<const ResourceInfo>;

class Registry {
 public:
  Registry();  // registers the built-in kinds

  // nullptr when not served.
  ResourcePtr Find(const std::string& group, const std::string& version,
                   const std::string& resource) const;
  // By apiVersion ("v1", "g/v") and kind; nullptr when not served.
  ResourcePtr FindKind(const std::string& api_version, const std::string& kind) const;
  // Every served version of group/resource.
  std::vector<ResourcePtr> Versions(const std::string& group, const std::string& resource) const;
  std::vector<ResourcePtr> All() const;

  // Registers (or replaces) the resources of a CRD (apiextensions.k8s.io/v1 JSON). Returns
  // InvalidArgument naming the field when the CRD is unusable (e.g. a schema that does not
  // compile).
  waop::Status AddCrd(const nlohmann::json& crd);
  void RemoveCrd(const std::string& crd_name);

  nlohmann::json ApiVersions() const;   // /api
  nlohmann::json ApiGroupList() const;  // /apis
  // nullptr-equivalent (null json) when the group/version is not served.
  nlohmann::json ResourceList(const std::string& group, const std::string& version) const;
  // /apis and /api as apidiscovery.k8s.io/v2 APIGroupDiscoveryList.
  nlohmann::json AggregatedDiscovery(bool core) const;

 private:
  void AddLocked(ResourceInfo info);
  static std::string Key(const std::string& g, const std::string& v, const std::string& r) {
    return g + "/" + v + "/" + r;
  }

  mutable std::shared_mutex mu_;
  std::map<std::string, ResourcePtr> by_gvr_;
  // group -> ordered versions (preferred first)
  std::map<std::string, std::vector<std::string>> group_versions_;
};

// Validates the parts of a CRD the server relies on. Returns the causes (empty when fine).
struct CrdProblem {
  std::string field;
  std::string message;
};
std::vector<CrdProblem> CheckCrd(const nlohmann::json& crd);

}  // namespace devserver
