// The WhatsAppAssignment reconciler: level-based, like kube-rs's `reconcile(object, ctx)`. It
// reads only the informers' caches (ClusterView), lets the pure core decide (binding, desired
// ConfigMap, desired status), and writes only what differs:
//   - the settings ConfigMap of a bound assignment (create, or a merge patch of the fields we
//     own, with the resourceVersion read as a precondition);
//   - deletion of a loser's own settings ConfigMap (a loser writes no settings);
//   - the status, through /status with the cached resourceVersion (a 409 requeues);
//   - an Event when the Ready condition changes (aggregated by EventRecorder);
//   - WhatsAppPhoneNumber.status.assignment, kept in step with the binding.
// A reconcile with nothing to do makes no request at all.
//
// Requests (request.h) name an assignment or an inventory object; the work queue carries their
// keys.
//
// Thread-safety: Reconcile may run on several workers at once (never for one key at once, the
// work queue guarantees it). Borrows view, client, recorder and clock; they must outlive it.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "api/types.h"
#include "common/clock.h"
#include "controller/cluster_view.h"
#include "controller/event_recorder.h"
#include "controller/meta_inventory.h"
#include "controller/own_writes.h"
#include "controller/request.h"
#include "controller/tenant_sink.h"
#include "controller/workqueue.h"
#include "core/binding.h"
#include "kube/client.h"

namespace waop::controller {

struct ReconcilerOptions {
  // A sink with external effects to undo (the tenant service) needs the finalizer. Without
  // one, no finalizer is added and a stale one of ours is removed.
  bool use_finalizer = false;
  // The tenant-service sink (--tenant-service-url). Null: off. When set, a bound assignment's
  // tenant row is made to show its number after its settings are written (a failure is Ready=False
  // TenantServiceError, retried with back-off), an unbound one releases a number this process
  // gave, and a deleted one (with use_finalizer) keeps its finalizer until the tenant is
  // unassigned (Ready=False Releasing while it waits).
  TenantSink* tenant = nullptr;
  // Meta's side (quality, presence, templates). Null: not read; no QualitySynced or
  // TemplateApproved conditions, and WhatsAppPhoneNumber objects are neither created nor deleted.
  const MetaInventory* meta = nullptr;
  // The time a steady rating was confirmed (qualityCheckedAt, lastSyncTime) is rewritten at most
  // this often; a change of any Meta field is written at once.
  std::chrono::seconds quality_heartbeat{std::chrono::hours(1)};
};

// Reconcile writes, counted for tests and metrics.
struct ReconcileCounters {
  std::atomic<int64_t> config_map_writes{0};
  std::atomic<int64_t> status_writes{0};
  std::atomic<int64_t> finalizer_writes{0};
  std::atomic<int64_t> inventory_writes{0};  // WhatsAppPhoneNumber creations and deletions
};

class AssignmentReconciler {
 public:
  AssignmentReconciler(const ClusterView& view, kube::Client& client, EventRecorder& events,
                       const Clock& clock, ReconcilerOptions options = {});

  ReconcileResult Reconcile(const Request& request);
  // The requests an assignment change must wake: the assignment itself and, when its claim changed
  // (created, deleted or being deleted, number, tenant or validity changed; see
  // core::ClaimOf), every assignment in the connected components of its old and new claim,
  // transitively, with the inventory keys of their numbers: whoever's outcome can change is
  // resolved again, so at rest every status equals a from-scratch resolution. `old_obj` null on
  // add, `new_obj` null on delete. Reads the view, which already holds the new state. The echo
  // of our own status write wakes nothing (unless a reconcile waited for it).
  std::vector<Request> RequestsForAssignmentChange(const nlohmann::json* old_obj,
                                                   const nlohmann::json* new_obj);
  // The requests an assignment seen in the cache's first list must wake: itself and the
  // inventory key of its number. The first list wakes every assignment it holds, so the
  // components RequestsForAssignmentChange would resolve for each add are already woken by the
  // adds of their members; together both give the same requests, without walking a component
  // per assignment (at 10,000 assignments a fifth of the first list's cost). Only for the
  // first list: a relist wakes just what changed.
  std::vector<Request> RequestsForListedAssignment(const nlohmann::json& obj);
  // The owning assignment of a settings ConfigMap, or nullopt when it has none.
  static std::optional<Request> OwnerOfConfigMap(const nlohmann::json& config_map);
  // A settings ConfigMap was deleted: forgets our writes of it and returns its owner (nullopt
  // if none), for the caller to reconcile (after a pause: see run.cpp).
  std::optional<Request> OwnerOfDeletedConfigMap(const nlohmann::json& config_map);
  // The requests an added or changed settings ConfigMap must wake: its owner, unless the event is
  // the echo of our own write.
  std::vector<Request> RequestsForConfigMap(const nlohmann::json& config_map);
  // The inventory object and every assignment using the number (none for the echo of
  // our own status write).
  std::vector<Request> RequestsForPhoneNumber(const nlohmann::json& phone_number);

  const ReconcileCounters& counters() const { return counters_; }

 private:
  ReconcileResult ReconcileAssignment(const nlohmann::json& object);
  ReconcileResult ReconcilePhoneNumber(std::string_view id);
  ReconcileResult Finalize(const nlohmann::json& object, const api::Assignment& assignment);
  // Whether an assignment other than `self` is bound to `tenant_id` now.
  bool TenantHeldByOther(std::string_view tenant_id, const api::ObjectMeta& self) const;
  // Releases the tenant-service number of an assignment that holds nothing now (a loser, an
  // invalid one): only one this process gave, and only when no one else holds the tenant.
  Status ReleaseUnbound(const api::Assignment& assignment);
  // Writes `desired` through /status unless it equals the live status; records an Event when the
  // Ready condition changed in a way a person acts on, and logs the change.
  Status WriteStatus(const nlohmann::json& object, const api::Assignment& assignment,
                     const api::AssignmentStatus& desired);
  // Returns the settings outcome: OK, a conflict worth retrying, or the failure.
  Status SyncConfigMap(const api::Assignment& assignment,
                       const std::optional<std::string>& meta_display);
  Status DeleteLoserConfigMap(const api::Assignment& assignment);
  // Creates the inventory object of number `id` (Meta listed it; the cache has none yet).
  Result<nlohmann::json> CreatePhoneNumber(std::string_view id);
  // What is known of the assignment's number: the snapshot's (with a steady checked-at), else the
  // inventory object's last known values.
  std::optional<core::PhoneInfo> PhoneInfoFor(const api::Assignment& assignment,
                                              const MetaSnapshot* snapshot) const;
  std::vector<core::AssignmentSummary> Component(const core::AssignmentSummary& seed) const;
  Status SetFinalizers(const api::Assignment& assignment, std::vector<std::string> finalizers);

  // Our own writes, until the informer shows them (see OwnWrites): `cached` is the object the
  // cache holds (null when absent); `written` is what the API server returned.
  std::optional<OwnWrites::Write> PendingWrite(const std::string& key, const ObjectPtr& cached,
                                               bool await = false);
  void RememberWrite(const std::string& key, std::string replaced_resource_version,
                     const nlohmann::json& written, std::size_t content = 0);
  // A write of an assignment's status or settings, from before its request is sent until its
  // answer (OwnWrites::Begin / Finish): an event held meanwhile that was someone else's change
  // makes the assignment `wake` reconcile again. Finished as failed unless Done is called.
  class InFlightWrite {
   public:
    InFlightWrite(AssignmentReconciler& r, std::string key, std::string wake,
                  std::string replaced_resource_version);
    ~InFlightWrite();
    InFlightWrite(const InFlightWrite&) = delete;
    InFlightWrite& operator=(const InFlightWrite&) = delete;
    void Done(const nlohmann::json& written, std::size_t content = 0);

   private:
    void Finish(std::string written_resource_version, std::size_t content);
    AssignmentReconciler& r_;
    const std::string key_, wake_;
    bool finished_ = false;
  };
  // Whether an in-flight write of assignment `key` held someone else's change (and forgets it).
  bool TakeWake(const std::string& key);

  const ClusterView& view_;
  kube::Client& client_;
  EventRecorder& events_;
  const Clock& clock_;
  const ReconcilerOptions options_;
  ReconcileCounters counters_;
  OwnWrites own_writes_;
  std::mutex wake_mu_;
  std::unordered_set<std::string> wake_;  // guarded by wake_mu_
};

}  // namespace waop::controller
