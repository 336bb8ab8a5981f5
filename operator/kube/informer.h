// A shared informer for one resource type, after client-go's reflector + shared informer:
// lists (paged), then watches from the list's resourceVersion with bookmarks, keeps a Store
// current and calls event handlers. Each watch asks the server to end it after a random 5-10
// minutes so that load spreads; a broken watch is resumed from the last seen resourceVersion
// after a jittered exponential backoff (0.8 s doubling to 30 s, reset by a watch that lasted
// a minute or delivered an event or bookmark);
// 410 Gone leads to a relist, and the relist is delivered as a diff, including deletes of
// objects that went away while the watch was down. ConfigMaps and Secrets should be watched
// through a label selector so the cache holds only the operator's objects.
//
// Thread-safety: configure (AddIndex, AddEventHandler) before Start; after that every method
// is thread-safe. Handlers run on the informer's own thread, one at a time, after the store
// has been updated; they must not block for long. The Client passed in must outlive the
// informer. Stop() (or the destructor) cancels the open watch and joins the thread; a list
// request in flight is waited for (bounded by the client's request timeout).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "kube/client.h"
#include "kube/store.h"

namespace waop::kube {

// The default transform: drops metadata.managedFields and the
// kubectl.kubernetes.io/last-applied-configuration annotation, which the operator never
// reads and which are often most of an object's size.
void StripForCache(nlohmann::json& object);

// Exponential backoff with jitter: the n-th delay is initial * 2^n, capped at `max`, then
// multiplied by a random factor in [1 - jitter, 1 + jitter) and capped at `max` again.
// Not thread-safe (owned by one loop).
class JitteredBackoff {
 public:
  JitteredBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter,
                  uint64_t seed);
  std::chrono::milliseconds Next();
  void Reset();

 private:
  std::chrono::milliseconds initial_, max_;
  double jitter_;
  std::chrono::milliseconds current_;
  std::mt19937_64 rng_;
};

struct InformerOptions {
  ResourceType type;
  std::string namespace_name;  // "" = all namespaces
  std::string label_selector;
  std::string field_selector;
  int64_t page_size = 500;
  std::chrono::seconds min_watch_timeout{300};
  std::chrono::seconds max_watch_timeout{600};
  std::chrono::milliseconds initial_backoff{800};
  std::chrono::milliseconds max_backoff{30'000};
  double backoff_jitter = 0.2;
  // A watch that lasted this long (by `clock`) resets the backoff; so does one that delivered an
  // event or a bookmark.
  std::chrono::milliseconds backoff_reset_after{60'000};
  // Applied to every object before it is stored; may drop fields the operator never reads.
  std::function<void(nlohmann::json&)> transform = StripForCache;
  const Clock* clock = nullptr;  // null = RealClock
  uint64_t seed = 0;             // 0 = from std::random_device
  // Called with each backoff delay before the informer waits it out (tests, logs).
  std::function<void(std::chrono::milliseconds)> on_backoff;
  // Called on the informer's thread with each list / watch failure (for logs). Messages carry
  // no secrets.
  std::function<void(const Status&)> on_error;
  // Called on the informer's thread with each object skipped because its metadata cannot be
  // read (name, namespace or resourceVersion not a string, no name); the message names the
  // object's key as far as it can be read. Unset: on_error is called instead.
  std::function<void(const Status&)> on_bad_object;
};

struct EventHandler {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  std::function<void(const ObjectPtr& last_state)> on_delete;
};

// Counters for the metrics layer; monotonic.
struct InformerStats {
  uint64_t lists = 0;           // complete (all pages) lists
  uint64_t relists = 0;         // lists after 410 Gone
  uint64_t watch_starts = 0;    // watches opened
  uint64_t watch_restarts = 0;  // watches that ended, for any reason, and were reopened
  uint64_t watch_errors = 0;    // watches or lists that failed (not a clean end)
  uint64_t events = 0;          // ADDED / MODIFIED / DELETED events applied
  uint64_t bookmarks = 0;
  uint64_t skipped_objects = 0;  // list items and watch events skipped as unreadable
};

class Informer {
 public:
  Informer(Client& client, InformerOptions options);
  ~Informer();
  Informer(const Informer&) = delete;
  Informer& operator=(const Informer&) = delete;

  // Before Start. See Store::AddIndex.
  Status AddIndex(const std::string& name, IndexFunc fn);
  // Before Start.
  void AddEventHandler(EventHandler handler);
  // Starts the thread. FailedPrecondition when already started; InvalidArgument for a bad
  // option (watch timeouts, page size).
  Status Start();
  // Ends the thread promptly (cancels the open watch). Idempotent.
  void Stop();

  // True once the first list has been stored and its handlers called.
  bool HasSynced() const { return synced_.load(); }
  // Waits until HasSynced or `timeout`; returns HasSynced.
  bool WaitForSync(std::chrono::milliseconds timeout) const;
  const Store& store() const { return store_; }
  InformerStats Stats() const;
  // The resourceVersion the next watch would resume from.
  std::string LastResourceVersion() const;

 private:
  // The thread: RunLoop under a catch-all that restarts it (from a list) after a backoff.
  void Run();
  void RunLoop();
  // on_error, never throwing.
  void Report(const Status& status) const;
  void SkipBadObject(const Status& why);
  // Runs one event handler; a throw is reported and the next handler runs.
  template <typename F>
  void Notify(const char* what, F&& call);
  Status ListAndReplace();
  // OK when the server ended the watch; the error otherwise (Gone means relist).
  Status WatchOnce();
  void Apply(WatchEvent event);
  ObjectPtr Prepare(nlohmann::json object) const;
  // Sleeps the next backoff delay unless stopped; returns false when stopped.
  bool BackoffWait();
  void SetResourceVersion(std::string rv);

  Client& client_;
  const InformerOptions options_;
  const Clock& clock_;
  Store store_;
  std::vector<EventHandler> handlers_;
  JitteredBackoff backoff_;
  std::mt19937_64 rng_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool started_ = false;
  bool stopping_ = false;              // guarded by mu_
  WatchStream* open_watch_ = nullptr;  // guarded by mu_; cancelled by Stop
  std::string resource_version_;       // guarded by mu_
  std::atomic<bool> synced_{false};
  std::thread thread_;

  std::atomic<uint64_t> lists_{0}, relists_{0}, watch_starts_{0}, watch_restarts_{0},
      watch_errors_{0}, events_{0}, bookmarks_{0}, skipped_{0};
};

}  // namespace waop::kube
