// The process runtime, after controller-runtime's manager: the operator's parts are Runnables
// registered in groups, started in group order and stopped in reverse.
//
//   1. servers      every replica: the probes and metrics server (built from Options), later
//                   the admission webhook. Started first, so probes answer during startup.
//   2. caches       every replica: the informers (standbys keep warm caches, so a failover
//                   reconciles at once). /readyz reports "informers-synced" over them.
//   3. leader-only  controllers, the periodic resync, later the Meta Graph sync: started once
//                   this replica leads (at once without leader election) AND every cache has
//                   synced, in the order added.
//
// Leader election is the manager's: a controller::LeaderElector on a Lease (plus, when a watch
// client is given, a watch on that Lease that pokes the elector when it is released, so a
// standby takes over within a round trip). The elector starts after the caches have started,
// not after they synced: a replica may win the Lease while its caches fill, as before.
//
// Terms: each time this replica wins the Lease a term begins on the manager's leadership
// thread: wait for the caches, open the write fence (manager/write_fence.h), start the
// leader-only runnables. Losing the Lease (no renew within the renew deadline, or someone else
// holds it) ends the term without ending the process: the fence closes at once (and the
// elector's clock check already refuses writes from the renew deadline on), the leader-only
// runnables stop in reverse (in-flight reconciles finish; their writes are refused), a
// controller's queue is dropped, and the replica stands by with its caches warm (never
// re-listed), contending again. The next term starts the same runnables afresh (a resync
// refills the queue). A kubelet never restarts the pod for an API server blip.
//
// Shutdown (stop requested or a runnable failed): leader-only runnables stop in reverse (a
// controller's in-flight reconciles finish), the Lease watch stops and the Lease is released (a
// standby takes over at once), then caches and servers stop, each in reverse.
//
// Adding a part is one call before Run: AddServer, AddCache or AddLeaderOnly.
//
// Thread-safety: Add* and Add*zCheck before Run, from one thread. Run once. RequestStop,
// IsLeader, Terms and CachesSynced are thread-safe.
// Ownership: owns the runnables added and the elector; borrows what Options point to (Registry,
// LeaseClient, kube Client, Clock, WriteFence), which must outlive the Manager.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "controller/leader_election.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "manager/runnable.h"
#include "manager/write_fence.h"
#include "server/http_server.h"
#include "server/metrics.h"

namespace waop::manager {

struct LeaderElectionOptions {
  controller::LeaderElectionConfig config;
  // Where the Lease is read and written. Required.
  controller::LeaseClient* lease_client = nullptr;
  // When set, the Lease is also watched through this client (see above). Without it the
  // election still works, at the retry period.
  kube::Client* watch_client = nullptr;
};

struct ManagerOptions {
  // Where /metrics and /healthz, /readyz are served; with both disabled no server is started.
  server::HttpServerOptions probes;
  // Served on /metrics; null: no /metrics.
  const server::Registry* registry = nullptr;
  // Absent: no election, this replica leads as soon as the caches have synced.
  std::optional<LeaderElectionOptions> leader_election;
  // For the elector; null = RealClock.
  const Clock* clock = nullptr;
  // How often the wait for caches looks at a stop request.
  std::chrono::milliseconds cache_sync_poll{200};
  // Opened for each term, closed when it ends; give leader-only writers a FencedClient over it.
  // Null: the manager keeps one of its own (nobody writes through it).
  WriteFence* fence = nullptr;
};

class Manager {
 public:
  explicit Manager(ManagerOptions options);
  // Joins what Run left running; Run must have returned (or never been called).
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Registration, before Run. Runnables start in the order added within their group.
  void AddServer(std::unique_ptr<Runnable> runnable);
  void AddCache(std::unique_ptr<Cache> cache);
  void AddLeaderOnly(std::unique_ptr<Runnable> runnable);
  // Checks served on /healthz and /readyz (quick and non-blocking; see server::HealthChecks).
  // The manager adds "ping" (healthz) and "informers-synced" (readyz) itself.
  void AddHealthzCheck(const std::string& name, server::HealthChecks::Check check);
  void AddReadyzCheck(const std::string& name, server::HealthChecks::Check check);
  const server::HealthChecks& health_checks() const { return checks_; }

  // Starts the groups, blocks until `stop` is requested, RequestStop() is called or a runnable
  // fails to start, then shuts down as described above. Losing the Lease does not return (see
  // Terms above). Returns OK for a requested stop; the failed runnable's error with its name
  // ("cannot start <name>: ..."), or InvalidArgument for bad leader election settings.
  // FailedPrecondition when called twice.
  [[nodiscard]] Status Run(std::stop_token stop);
  // Makes Run shut down and return. Thread-safe; any time, also before Run.
  void RequestStop();

  // True during a term: from winning the Lease (at once without election) until the term's
  // leader-only runnables have stopped; they are then started, or waiting for the caches.
  bool IsLeader() const { return leading_.load(); }
  // Terms begun so far (1 after the first win; +1 for each re-acquisition after a step-down).
  int Terms() const { return terms_.load(); }
  const WriteFence& fence() const { return *fence_; }
  // True when every cache has synced (the "informers-synced" readiness check).
  bool CachesSynced() const;

 private:
  // Records the first error and requests a stop.
  void Fail(Status error);
  bool Stopping() const;
  // The leadership thread: runs a term each time this replica wins the Lease, until stop.
  void LeadershipLoop();
  // One term: waits for the caches, opens the fence, starts the leader-only runnables, waits
  // until the term is over (stop, or the Lease lost), stops them in reverse, closes the fence.
  void RunTerm();
  // Called (from the elector's callbacks) when the Lease was won / lost.
  void OnWon();
  void OnLost();
  Status StartElection();
  void Shutdown();

  const ManagerOptions options_;
  const Clock& clock_;
  server::HealthChecks checks_;
  std::vector<std::unique_ptr<Runnable>> servers_;
  std::vector<std::unique_ptr<Cache>> caches_;
  std::vector<std::unique_ptr<Runnable>> leader_only_;
  // How many of each group started (a prefix).
  size_t servers_started_ = 0;
  size_t caches_started_ = 0;
  bool ran_ = false;

  std::unique_ptr<controller::LeaderElector> elector_;
  std::unique_ptr<kube::Informer> lease_watch_;
  WriteFence own_fence_;
  WriteFence* const fence_;
  std::atomic<bool> leading_{false};
  std::atomic<int> terms_{0};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;              // guarded by mu_
  Status result_;                  // guarded by mu_; the first error
  std::string reason_;             // guarded by mu_; why shutdown began, for the log
  bool want_lead_ = false;         // guarded by mu_; the elector holds the Lease (or no election)
  uint64_t lost_count_ = 0;        // guarded by mu_; times the Lease was lost
  std::thread leadership_thread_;  // guarded by mu_ until Shutdown joins it
};

}  // namespace waop::manager
