// The work queue that feeds reconcilers, with client-go's workqueue semantics
// (RateLimitingInterface = Interface + DelayingInterface + rate limiting), and the worker loop
// that drains it (controller-runtime's Controller.processNextWorkItem).
//
// Queue guarantees:
//   - Dedup: a key added many times before a worker takes it is handed out once.
//   - Exclusive: a key is never held by two workers at once; a key added while a worker holds
//     it is handed out again after that worker calls Done().
//   - Delays (AddAfter / AddRateLimited) are measured with the injected Clock. A waiting key
//     keeps its earliest due time. Due keys become ready when a worker waits in Get() (which
//     sleeps on a condition variable until the next due time), or when PollForTesting() is
//     called: tests with a fake clock advance it and call PollForTesting() instead of sleeping.
//   - Shutdown: after ShutDown() Add is ignored, waiting keys are dropped, and Get() returns
//     nullopt at once, even when ready keys remain. That differs from client-go (which hands out
//     the remaining ready keys): our reconcilers are level-based and the next leader relists,
//     so finishing the backlog would only delay a SIGTERM handover. ShutDownWithDrain() also
//     waits until every handed-out key is Done.
//   - Reopen: after a drained shutdown, Reopen() makes the queue usable again, empty (a leader
//     that stepped down dropped its queue; its next term starts from a full resync).
//
// Thread-safety: WorkQueue and Controller are fully thread-safe. The Clock, RateLimiter (owned)
// and metrics hooks (borrowed, must outlive the queue) are used under the queue's lock or from
// worker threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "controller/rate_limiter.h"

namespace waop::controller {

// Hooks a metrics layer implements to observe one named queue (see server/runtime_metrics.h for
// the Prometheus names). Called with the queue's lock held: implementations must be quick and
// must not call back into the queue.
class WorkQueueMetrics {
 public:
  virtual ~WorkQueueMetrics() = default;
  virtual void SetDepth(std::int64_t depth) = 0;
  virtual void IncAdds() = 0;
  virtual void IncRetries() = 0;
  // Seconds a key waited in the ready queue before a worker took it.
  virtual void ObserveQueueDuration(double seconds) = 0;
  // Seconds between Get() and Done() for one key.
  virtual void ObserveWorkDuration(double seconds) = 0;
};

// Counters the queue keeps itself, for tests and for gauges computed at scrape time.
struct WorkQueueStats {
  std::int64_t depth = 0;                        // ready keys
  std::int64_t waiting = 0;                      // delayed keys not yet due
  std::int64_t processing = 0;                   // keys held by workers
  std::uint64_t adds = 0;                        // keys that entered the ready queue
  std::uint64_t retries = 0;                     // AddRateLimited calls
  double unfinished_work_seconds = 0;            // sum of how long held keys have been held
  double longest_running_processor_seconds = 0;  // the longest of those
};

class WorkQueue {
 public:
  // `clock` must outlive the queue. `limiter` may be null: DefaultControllerRateLimiter(clock).
  // `metrics` may be null.
  WorkQueue(const Clock& clock, std::unique_ptr<RateLimiter> limiter,
            WorkQueueMetrics* metrics = nullptr);
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  void Add(const std::string& key);
  // Add once `delay` has passed; a delay <= 0 adds at once.
  void AddAfter(const std::string& key, Duration delay);
  // AddAfter(key, limiter.When(key)): the retry path after a failed reconcile.
  void AddRateLimited(const std::string& key);
  // Resets the key's backoff (after a successful reconcile). Does not remove it from the queue.
  void Forget(const std::string& key);
  int NumRequeues(const std::string& key);

  // Blocks until a key is ready (returned; the caller must call Done(key)) or until shutdown
  // (nullopt).
  std::optional<std::string> Get();
  // Like Get() but gives up after `timeout` of real time (nullopt); for tests and pollers.
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  void Done(const std::string& key);

  // Moves waiting keys whose due time has come (by the Clock) into the ready queue and wakes
  // waiting workers. Returns how many became ready. Only tests need it: workers waiting in Get()
  // promote due keys themselves.
  int PollForTesting();

  // Ready keys (not waiting, not processing).
  int Len() const;
  WorkQueueStats Stats() const;

  void ShutDown();
  // ShutDown, then block until every handed-out key is Done.
  void ShutDownWithDrain();
  bool ShuttingDown() const;
  // Makes a shut-down queue accept keys again, empty. FailedPrecondition while a handed-out
  // key is not Done yet (drain first). A queue that is not shut down is left as it is.
  Status Reopen();

 private:
  using Lock = std::unique_lock<std::mutex>;
  void AddLocked(const std::string& key);
  int PromoteDueLocked();
  std::optional<std::string> GetUntil(std::optional<std::chrono::steady_clock::time_point> end);
  void UpdateDepthLocked();

  const Clock& clock_;
  std::unique_ptr<RateLimiter> limiter_;
  WorkQueueMetrics* metrics_;

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;    // a key became ready, or shutdown
  std::condition_variable drained_cv_;  // processing_ became empty
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;                  // needs processing
  std::unordered_map<std::string, MonoTime> processing_;   // key -> Get() time
  std::unordered_map<std::string, MonoTime> enqueued_at_;  // key -> time it became ready
  std::set<std::pair<MonoTime, std::string>> waiting_;     // (due, key), earliest first
  std::unordered_map<std::string, MonoTime> waiting_due_;  // key -> due
  std::uint64_t adds_ = 0;
  std::uint64_t retries_ = 0;
  bool shutting_down_ = false;
};

// What a reconcile asks the worker loop to do next (controller-runtime's Result + error).
struct ReconcileResult {
  enum class Kind {
    kOk,            // done; reset the key's backoff
    kRequeueAfter,  // done for now; look again after `after` (backoff reset)
    kError,         // failed; retry with the rate limiter's backoff
    kTerminal,      // failed in a way retrying cannot fix; no retry until the key is added again
  };
  Kind kind = Kind::kOk;
  Duration after{0};
  Status error;

  static ReconcileResult Ok() { return {}; }
  static ReconcileResult RequeueAfter(Duration d) { return {Kind::kRequeueAfter, d, {}}; }
  static ReconcileResult Error(Status s) { return {Kind::kError, {}, std::move(s)}; }
  static ReconcileResult Terminal(Status s) { return {Kind::kTerminal, {}, std::move(s)}; }
};

// Hooks for reconcile outcomes. `result` is controller-runtime's label value: "success",
// "requeue_after" or "error". Called from worker threads concurrently.
class ReconcileMetrics {
 public:
  virtual ~ReconcileMetrics() = default;
  virtual void ObserveReconcile(const std::string& result, double seconds) = 0;
  // Every failed reconcile (kError and kTerminal); `terminal` for kTerminal.
  virtual void IncErrors(bool terminal) = 0;
  virtual void SetActiveWorkers(int workers) = 0;
};

using ReconcileFunc = std::function<ReconcileResult(const std::string& key)>;

// Runs `--max-concurrent-reconciles` workers over one queue. Workers take a key, reconcile it,
// apply the result (Forget / AddAfter / AddRateLimited), record metrics and call Done.
// A reconcile that throws is treated as kError (the exception must not end the process).
//
// Ownership: borrows the queue, clock and metrics; they must outlive the Controller.
class Controller {
 public:
  Controller(std::string name, WorkQueue& queue, const Clock& clock,
             ReconcileMetrics* metrics = nullptr);
  // Calls Stop().
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts `workers` threads. After a Stop() it may be called again: the queue, dropped by
  // Stop(), is reopened empty and fresh workers start (a leader's next term).
  // FailedPrecondition while running; InvalidArgument if workers < 1 or fn is empty.
  Status RunWorkers(int workers, ReconcileFunc fn);
  // Shuts the queue down with drain: reconciles in progress finish, then the workers exit.
  // Idempotent.
  void Stop();
  const std::string& name() const { return name_; }

 private:
  void Worker();
  void ProcessOne(const std::string& key);

  const std::string name_;
  WorkQueue& queue_;
  const Clock& clock_;
  ReconcileMetrics* metrics_;
  ReconcileFunc fn_;
  std::mutex mu_;  // guards threads_ / running_
  bool running_ = false;
  std::vector<std::thread> threads_;
  std::atomic<int> active_{0};
};

}  // namespace waop::controller
