// The tenant-service sink at the edge (SPEC section 4): executes the calls core/tenant.h decides
// against the platform's admin API (tenant/tenant_client.h), and keeps the rows as last seen, so
// a reconcile that changes nothing makes no call.
//
//   TenantSink    the last-seen rows (a snapshot, like an informer cache of the tenant service)
//                 and the calls: Ensure (bind, move), Release (unbind, delete), Unassign
//                 (prune). Our own successful calls update the snapshot, so they are never
//                 repeated; a listing replaces it. A 409 is verified with one fresh listing:
//                 success when the row already shows what was asked ("already so"), else the
//                 service's message.
//   TenantSyncer  one drift pass (SyncOnce): lists the rows, compares them with every binding
//                 (core::DiffTenants), hands the assignments whose rows differ to `enqueue` (the
//                 reconciler then corrects them), reports rows holding a number no assignment
//                 gives (once per tenant and number: log line, Event on an assignment of the
//                 tenant where there is one, or as soon as there is one) and rows still holding
//                 legacy per-tenant keys (once per tenant, by key name only, likewise), and
//                 unassigns the unexpected rows with `prune`.
//
// Calls are serialized (one at a time, listings included), so a listing never overwrites the
// effect of a call that ran meanwhile, and two reconciles never race on one tenant.
//
// Thread-safety: TenantSink is safe for concurrent use; TenantSyncer::SyncOnce from one thread
// at a time. Ownership: both borrow what they are given, which must outlive them.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controller/cluster_view.h"
#include "controller/event_recorder.h"
#include "controller/request.h"
#include "core/tenant.h"
#include "tenant/tenant_client.h"

namespace waop::controller {

struct TenantSnapshot {
  bool listed = false;                                       // a listing was read since the start
  std::map<std::string, core::TenantRow, std::less<>> rows;  // by tenant id
  const core::TenantRow* Find(std::string_view tenant_id) const;
};

struct TenantSinkStats {
  int64_t lists = 0;
  int64_t assigns = 0;
  int64_t unassigns = 0;
  int64_t failures = 0;  // calls that failed (before any "already so" verification)
};

class TenantSink {
 public:
  explicit TenantSink(tenant::TenantServiceClient& client);

  std::shared_ptr<const TenantSnapshot> Rows() const;

  // Makes the tenant's row show `target`: the calls of core::CallsToShow over the last-seen row
  // (listing first when nothing was listed yet). The first failure is returned (the rest is
  // retried by the caller's next attempt) and names the call and the service's message.
  Status Ensure(const core::TenantTarget& target);
  // Unassigns `tenant_id` when its last-seen row holds `phone_number_id` (nothing to do
  // otherwise). With `only_if_given`, only when this process saw the number bound to the tenant
  // (Ensure), so a loser never unassigns a row the operator did not give.
  Status Release(std::string_view tenant_id, std::string_view phone_number_id, bool only_if_given);
  // Lists the rows and replaces the snapshot.
  Result<std::shared_ptr<const TenantSnapshot>> List();

  TenantSinkStats Stats() const;

 private:
  Status ListLocked();  // requires calls_mu_
  Status AssignLocked(const core::TenantCall& call);
  Status UnassignLocked(std::string_view tenant_id);
  void Update(std::string_view tenant_id, const std::function<void(core::TenantRow&)>& change);

  tenant::TenantServiceClient& client_;
  std::mutex calls_mu_;  // one call at a time
  mutable std::mutex mu_;
  std::shared_ptr<const TenantSnapshot> snapshot_;         // guarded by mu_
  std::map<std::string, std::string, std::less<>> given_;  // tenant -> number; guarded by mu_
  TenantSinkStats stats_;                                  // guarded by mu_
};

struct TenantSyncOptions {
  bool prune = false;
  // Every assignment key ("ns/name") the cache holds.
  std::function<std::vector<std::string>()> all_assignments;
  std::function<void(const std::vector<Request>&)> enqueue;
};

struct TenantSyncReport {
  int differing = 0;   // assignments handed to the reconciler
  int unexpected = 0;  // rows holding a number no assignment gives
  int legacy = 0;      // rows still holding legacy keys
  int pruned = 0;      // unexpected rows unassigned (--tenant-prune)
};

class TenantSyncer {
 public:
  TenantSyncer(TenantSink& sink, const ClusterView& view, EventRecorder* events,
               TenantSyncOptions options);
  // One drift pass. Returns the listing's error (nothing else happens then).
  Result<TenantSyncReport> SyncOnce();

 private:
  TenantSink& sink_;
  const ClusterView& view_;
  EventRecorder* events_;  // may be null (tests)
  const TenantSyncOptions options_;
  // What was reported, and whether the Event went too (false: no assignment of the tenant
  // existed then; the Event follows once one does).
  std::map<std::string, bool> reported_unexpected_;  // "tenant/number" -> Event recorded
  std::map<std::string, bool> reported_legacy_;      // tenant id -> Event recorded
};

// The target a bound assignment sets in the tenant service: its tenant, number, and the display
// number its status shows (Meta's where known), else the spec's.
core::TenantTarget TenantTargetOf(const api::Assignment& assignment,
                                  const std::optional<std::string>& meta_display);

}  // namespace waop::controller
