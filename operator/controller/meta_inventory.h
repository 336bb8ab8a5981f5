// Meta's side of the inventory, as the operator last read it: a snapshot the reconciler reads
// (like an informer cache, but of the Graph API), and the refresher that keeps it current.
//
// The refresher is the only code that calls Meta for the inventory. It lists the WABA's phone
// numbers every `interval` (and at once when asked: the Meta webhook, a credentials change),
// lists the required message template, publishes a new snapshot, and hands the requests whose
// outcome can change to `enqueue`: the numbers that were added, changed or removed and the
// assignments that use them; every assignment and number when the inventory's health or the
// templates changed. The reconciler then writes WhatsAppPhoneNumber objects and statuses, so
// every write goes through the work queue (retries, back-off, one writer per key).
//
// Outages: a failed or partial listing changes no number (the last complete one stays in the
// snapshot: last known ratings are kept, nothing is deleted); only the health changes, which the
// QualitySynced conditions show. The delay before the next attempt comes from `next_delay` (see
// meta/graph_backoff.h), so a bad token or a rate limit never becomes a retry storm.
//
// Thread-safety: MetaInventory is safe for concurrent use (readers get immutable snapshots).
// InventoryRefresher: Start/Stop from one thread; RefreshNow / RefreshNumber from any thread.
// Ownership: the refresher borrows the inventory, Graph client, credentials source, clock and
// view, which must outlive it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "controller/cluster_view.h"
#include "controller/request.h"
#include "core/quality.h"
#include "core/status.h"
#include "meta/credentials.h"
#include "meta/graph.h"

namespace waop::controller {

struct MetaSnapshot {
  core::MetaHealth health;
  // A complete listing has been read (since the operator started). `numbers` is the last complete
  // listing, with single numbers refreshed since (webhook); it is empty until one was read.
  bool listed = false;
  std::map<std::string, core::PhoneInfo, std::less<>> numbers;  // by phone number id
  // The required template in every language Meta listed; nullopt while unknown.
  std::optional<std::vector<core::TemplateInfo>> templates;
  std::string required_template;  // "" = no template check

  // Whether the WABA is known to have the number: kUnknown until a complete listing was read.
  core::PhoneNumberPresence Presence(std::string_view id) const;
  const core::PhoneInfo* Find(std::string_view id) const;
};

class MetaInventory {
 public:
  MetaInventory();
  std::shared_ptr<const MetaSnapshot> Get() const;
  void Set(std::shared_ptr<const MetaSnapshot> snapshot);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const MetaSnapshot> snapshot_;  // guarded by mu_
};

// What a refresh changed: the requests to enqueue.
std::vector<Request> RequestsForSnapshotChange(const MetaSnapshot& before,
                                               const MetaSnapshot& after, const ClusterView& view,
                                               const std::vector<std::string>& all_assignments,
                                               const std::vector<std::string>& all_phone_numbers);

struct RefresherStats {
  int64_t refreshes = 0;           // full refreshes attempted
  int64_t failures = 0;            // full refreshes that failed
  int64_t number_refreshes = 0;    // single-number refreshes (webhook)
  int64_t graph_calls = 0;         // HTTP requests to the Graph API
  int64_t last_refresh_calls = 0;  // requests the last full refresh took
};

struct RefresherOptions {
  std::chrono::milliseconds interval{std::chrono::minutes(5)};
  std::string required_template = "po_notification";  // "" = no template check
  // The delay before the next full refresh, from the last outcome (OK or its error), the number
  // of consecutive failures, and Meta's last reported usage. Default: `interval` after success,
  // 30 s after a failure.
  std::function<std::chrono::milliseconds(const Status&, int failures, const meta::AppUsage&)>
      next_delay;
  // Called with the requests a refresh made stale.
  std::function<void(const std::vector<Request>&)> enqueue;
  // Every assignment key ("ns/name") and phone number id the caches hold.
  std::function<std::vector<std::string>()> all_assignments;
  std::function<std::vector<std::string>()> all_phone_numbers;
  // Called (on the refresher's thread) when the health changed, with the old and new health and
  // the error that caused it (OK when synced or not configured): the place for the one log line
  // and Event per change.
  std::function<void(const core::MetaHealth& before, const core::MetaHealth& after,
                     const Status& cause)>
      on_health_change;
};

class InventoryRefresher {
 public:
  InventoryRefresher(MetaInventory& inventory, meta::GraphClient& graph,
                     const meta::CredentialsSource& credentials, const ClusterView& view,
                     const Clock& clock, RefresherOptions options);
  ~InventoryRefresher();
  InventoryRefresher(const InventoryRefresher&) = delete;
  InventoryRefresher& operator=(const InventoryRefresher&) = delete;

  // Starts the refresh thread: a first refresh at once, then as `next_delay` says.
  Status Start();
  // Stops and joins the thread (a Graph call in progress finishes first). Idempotent.
  void Stop();
  bool running() const;

  // Asks for a full refresh as soon as possible (credentials changed). Coalesced.
  void RefreshNow();
  // Asks for a refresh of the number Meta's webhook named by its display number (any format).
  // Returns false when the refresher is not running (this replica does not lead), so the
  // webhook can answer 503 and Meta redelivers. A number the snapshot does not know triggers a
  // full refresh.
  bool RefreshNumber(std::string display_phone_number);

  // One full refresh, synchronously (the thread calls it; tests call it directly). Returns the
  // Graph error, if any.
  Status RefreshOnce();
  // Refreshes the numbers queued by RefreshNumber, synchronously.
  void RefreshQueuedNumbers();

  RefresherStats Stats() const;

  // Waits until a full refresh attempt finished (success, failure or "not configured") since
  // Start, or `timeout` passed; true in the first case. The controller waits for it, as for a
  // cache sync, so first statuses show what Meta says rather than "pending" and a rewrite.
  bool WaitForFirstRefresh(std::chrono::milliseconds timeout) const;

 private:
  void Loop();
  void Publish(std::shared_ptr<const MetaSnapshot> next, const Status& cause);
  void FinishAttempt();

  MetaInventory& inventory_;
  meta::GraphClient& graph_;
  const meta::CredentialsSource& credentials_;
  const ClusterView& view_;
  const Clock& clock_;
  const RefresherOptions options_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool running_ = false;                  // guarded by mu_
  bool stop_ = false;                     // guarded by mu_
  bool refresh_requested_ = false;        // guarded by mu_
  std::set<std::string> queued_numbers_;  // digits; guarded by mu_
  RefresherStats stats_;                  // guarded by mu_
  int64_t attempts_ = 0;                  // RefreshOnce calls finished; guarded by mu_
  int failures_ = 0;                      // refresh thread only
  std::thread thread_;
};

}  // namespace waop::controller
