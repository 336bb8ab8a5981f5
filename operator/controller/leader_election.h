// Leader election on a coordination.k8s.io/v1 Lease, with client-go leaderelection semantics,
// so that of several operator replicas exactly one runs the controllers.
//
// The algorithm (client-go tryAcquireOrRenew):
//   - Get the Lease; create it with us as holder if it does not exist.
//   - Whenever the observed record changes (holder, renewTime, ...), note the *local* monotonic
//     time. Another holder's lease counts as expired only when leaseDurationSeconds have passed
//     on our clock since we last saw it change: the remote renewTime is never compared with our
//     clock, so clock skew between nodes cannot cause two leaders.
//   - Take the lease when it is free (empty holder), expired, or already ours, by an Update that
//     carries the observed resourceVersion; a Conflict means someone else wrote first and we
//     simply retry later.
//   - A candidate retries every retry_period * (1 + jitter_factor * r); a leader renews every
//     retry_period and stops leading when no renew has succeeded for renew_deadline. That is
//     stricter than client-go (which starts counting at the first failed attempt) and still
//     leaves lease_duration - renew_deadline of margin before a standby may take over.
//     A renew that hung and succeeds only after the deadline also ends the term (IsLeader()
//     turned false at the deadline, and writers were fenced off); the next step, the Lease
//     still ours, begins a new one.
//   - Release() writes an empty holder with leaseDurationSeconds=1, so a standby takes over at
//     its next retry instead of waiting out the lease (SIGTERM handover), or at once when
//     something watching the Lease calls Poke().
//
// Use: Create(), Start() (own thread), IsLeader(); on shutdown, stop the controllers first,
// then Release(). Tests drive it without a thread: advance a FakeClock and call TickForTesting().
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the elector's thread (or
// the thread calling TickForTesting/Stop/Release), never under its lock; they must return promptly
// (start or signal work elsewhere) and must not call Stop() or Release().
// Ownership: borrows the LeaseClient and Clock, which must outlive the elector.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "common/clock.h"
#include "common/status.h"
#include "controller/rate_limiter.h"

namespace waop::controller {

// The fields of a Lease the election reads and writes (spec of coordination.k8s.io/v1 Lease,
// plus metadata.resourceVersion).
struct LeaseRecord {
  std::string holder_identity;  // empty = free
  int lease_duration_seconds = 0;
  std::optional<WallTime> acquire_time;  // MicroTime on the wire
  std::optional<WallTime> renew_time;    // MicroTime on the wire
  int lease_transitions = 0;
  std::string resource_version;  // set by the server; sent back on Update

  friend bool operator==(const LeaseRecord&, const LeaseRecord&) = default;
};

// A whole coordination.k8s.io/v1 Lease object for `record` (for a kube-client adapter's
// Create/Update bodies): metadata.name/namespace, metadata.resourceVersion when set, and the spec
// with times as MicroTime ("2026-11-26T10:00:00.123456Z").
nlohmann::json LeaseToJson(const std::string& ns, const std::string& name,
                           const LeaseRecord& record);
// The record in a Lease object as the API server returns it. Absent spec fields take their zero
// values. InvalidArgument naming the field when one has the wrong type or a bad time.
Result<LeaseRecord> LeaseFromJson(const nlohmann::json& lease);

// The few Lease operations the election needs; the kube layer adapts its client to this.
// Implementations should bound each call (a request timeout well under renew_deadline).
class LeaseClient {
 public:
  virtual ~LeaseClient() = default;
  // NotFound when the Lease does not exist; other errors are transient.
  virtual Result<LeaseRecord> Get(const std::string& ns, const std::string& name) = 0;
  // AlreadyExists when someone created it first.
  virtual Result<LeaseRecord> Create(const std::string& ns, const std::string& name,
                                     const LeaseRecord& record) = 0;
  // Replaces the spec if record.resource_version is current; Conflict when it is stale.
  virtual Result<LeaseRecord> Update(const std::string& ns, const std::string& name,
                                     const LeaseRecord& record) = 0;
};

struct LeaderElectionConfig {
  std::string lease_namespace;
  std::string lease_name;
  std::string identity;  // unique per replica: the pod name (plus a random suffix)
  std::chrono::milliseconds lease_duration = std::chrono::seconds(15);
  std::chrono::milliseconds renew_deadline = std::chrono::seconds(10);
  std::chrono::milliseconds retry_period = std::chrono::seconds(2);
  // A candidate waits retry_period * (1 + jitter_factor * r), r uniform in [0, 1), between
  // tries, so replicas do not poll in lockstep. client-go uses 1.2, but with a 2 s retry period
  // that allows waits of up to 4.4 s after a Release(), which breaks the SIGTERM handover
  // within 3 s that SPEC section 6 asks for; 0.5 still spreads replicas over 2-3 s and bounds
  // the handover at 3 s plus one API round trip.
  double jitter_factor = 0.5;
  // Seed for retry jitter; 0 = random.
  std::uint64_t jitter_seed = 0;
};

struct LeaderCallbacks {
  std::function<void()> on_started_leading;
  std::function<void()> on_stopped_leading;
  // The holder we observe changed (including to ourselves); empty identity = lease released.
  std::function<void(const std::string& identity)> on_new_leader;
  // A Lease call failed (including Conflict); for logging. Called on every failed attempt,
  // i.e. at most once per retry period.
  std::function<void(const Status& error)> on_error;
};

class LeaderElector {
 public:
  // InvalidArgument naming the field when the config is unusable: empty namespace, name or
  // identity; non-positive durations; lease_duration <= renew_deadline; renew_deadline <=
  // 1.2 * retry_period (client-go's constraints); jitter_factor outside [0, 10].
  static Result<std::unique_ptr<LeaderElector>> Create(LeaseClient& client,
                                                       LeaderElectionConfig config,
                                                       const Clock& clock,
                                                       LeaderCallbacks callbacks);
  ~LeaderElector();  // Stop()
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  // Runs the election steps on its own thread until Stop(). FailedPrecondition if already
  // started/stopped.
  Status Start();
  // Stops the thread promptly (waits at most for one in-flight LeaseClient call). If leading,
  // on_stopped_leading runs; the lease itself stays ours until it expires or Release().
  void Stop();
  // Stop(), then, if the lease is held by us, write an empty holder with leaseDurationSeconds=1.
  // Returns the Update's error, if any (the lease then simply expires).
  Status Release();

  // A hint that the lease was released or deleted (from a watch on it): a candidate tries at
  // once instead of at its next retry, so a handover takes a round trip, not a retry period.
  // Ignored while leading. Thread-safe; never blocks on the API server.
  void Poke();

  // True while we hold the lease and have renewed it within renew_deadline.
  bool IsLeader() const;
  // The holder we last observed ("" if none or unknown).
  std::string CurrentLeader() const;

  // One step of the election if one is due by the clock: acquire, renew or give up. Returns
  // the clock time of the next due step. Public for tests that drive a FakeClock; do not mix
  // with Start().
  MonoTime TickForTesting();

 private:
  // TickForTesting, but a candidate steps now when `candidate_now`, whatever the clock says.
  MonoTime Step(bool candidate_now);
  LeaderElector(LeaseClient& client, LeaderElectionConfig config, const Clock& clock,
                LeaderCallbacks callbacks);
  // One Get/Create/Update round. OK if we hold the lease afterwards; FailedPrecondition if
  // another live holder has it; otherwise the LeaseClient's error. Called with op_mu_.
  Status TryAcquireOrRenew();
  void Observe(const LeaseRecord& record, MonoTime now);
  MonoTime::duration Jittered(std::chrono::milliseconds period);
  void Loop();

  LeaseClient& client_;
  const LeaderElectionConfig config_;
  const Clock& clock_;
  const LeaderCallbacks callbacks_;
  RandomSource random_;

  // Serialises election steps (Step, Release) with each other; held during LeaseClient calls.
  std::mutex op_mu_;
  std::optional<LeaseRecord> observed_;  // guarded by op_mu_
  MonoTime observed_time_{};             // guarded by op_mu_
  MonoTime next_step_{};                 // guarded by op_mu_

  // Read by IsLeader() without op_mu_, so it never waits on a slow API call.
  mutable std::mutex state_mu_;
  bool leading_ = false;        // guarded by state_mu_
  MonoTime last_renew_{};       // guarded by state_mu_
  std::string current_leader_;  // guarded by state_mu_

  std::mutex thread_mu_;  // guards thread_, started_, stop_, poked_
  std::condition_variable stop_cv_;
  bool started_ = false;
  bool stop_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace waop::controller
