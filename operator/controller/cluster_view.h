// What a reconcile may read of the cluster: the informers' caches, behind a narrow interface so
// the reconciler is tested with an in-memory view and never lists from the API server.
//
// Thread-safety: implementations are safe for concurrent reads. Returned objects are immutable
// snapshots shared with the cache.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

namespace waop::controller {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // The WhatsAppAssignment with key "namespace/name", or nullptr.
  virtual ObjectPtr GetAssignment(std::string_view key) const = 0;
  // Every cached assignment whose spec.phoneNumberId (or spec.tenantId) equals `id`.
  virtual std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const = 0;
  virtual std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const = 0;
  // The operator-labelled ConfigMap namespace/name, or nullptr.
  virtual ObjectPtr GetConfigMap(std::string_view ns, std::string_view name) const = 0;
  // The WhatsAppPhoneNumber named `id`, or nullptr.
  virtual ObjectPtr GetPhoneNumber(std::string_view id) const = 0;
};

}  // namespace waop::controller
