// A part of the operator process with a lifetime (an HTTP server, an informer, a controller's
// workers, a periodic job), as the Manager starts and stops it. After controller-runtime's
// manager.Runnable, but split into Start() and Stop() because our parts already run on their own
// threads: Start() returns once the part is running, Stop() once it has ended.
//
// Contract the Manager keeps: Stop() is called exactly once after each Start() that returned
// OK, and never after one that failed (a failed Start() must leave nothing running). Servers and
// caches are started at most once; a leader-only runnable is started once per term (after a
// step-down, Start() again after Stop()), so it must be restartable and begin afresh. Both are
// called from the Manager's threads, never concurrently with each other for the same runnable.
// Parts that run on every replica or only on the leader do not say so themselves: the group they
// are added to decides (Manager::Add).
//
// Thread-safety: implementations need not be thread-safe for Start/Stop; Name() and
// Cache::HasSynced/WaitForSync are called from any thread (the readiness probe, the manager's
// leader thread) and must be.
// Ownership: the Manager owns the runnables added to it; a runnable may borrow what it wraps
// (an Informer, a Controller), which must then outlive the Manager.
#pragma once

#include <chrono>
#include <string>

#include "common/status.h"

namespace waop::manager {

class Runnable {
 public:
  virtual ~Runnable() = default;
  // For logs ("cannot start <name>").
  virtual std::string Name() const = 0;
  // Starts the part and returns promptly; it keeps running on its own threads. An error (for
  // example a port that cannot be bound) stops the whole manager, which then returns it.
  [[nodiscard]] virtual Status Start() = 0;
  // Ends the part and waits for its threads; work in flight finishes first (a controller's
  // reconciles). Must return in bounded time.
  virtual void Stop() = 0;
};

// A runnable holding a cache (an informer): leader-only runnables start only after every cache
// has synced, so a reconcile never reads an empty cache as "nothing exists".
class Cache : public Runnable {
 public:
  // True once the first full list is in the cache.
  virtual bool HasSynced() const = 0;
  // Waits until HasSynced() or `timeout`; returns HasSynced().
  virtual bool WaitForSync(std::chrono::milliseconds timeout) const = 0;
};

}  // namespace waop::manager
