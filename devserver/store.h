// The in-memory object store: every object of every resource, one global resourceVersion
// counter, optimistic concurrency on commit, and the indexes the API semantics need (owner
// uid -> dependents for garbage collection, objects per namespace). Every commit is published
// to the WatchHub in resourceVersion order.
//
// The store knows nothing about HTTP or Kubernetes semantics beyond metadata.resourceVersion,
// uid and ownerReferences: ApiServer decides what the new object is; the store checks the
// precondition and commits atomically. Objects are immutable once stored (shared_ptr<const>),
// and serialised exactly once per write.
//
// Thread-safety: all methods are thread-safe (one mutex; critical sections do no I/O other
// than appending to watch buffers).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "selectors.h"
#include "watch_hub.h"

namespace devserver {

struct StoredObject {
  std::shared_ptr<const nlohmann::json> obj;
  std::shared_ptr<const std::string> text;
  uint64_t rv = 0;
};

struct ObjectRef {
  std::string storage_key;  // "<group>/<resource>"
  std::string ns;
  std::string name;
  auto operator<=>(const ObjectRef&) const = default;
};

struct ListOptions {
  std::string ns;  // "" = all
  const LabelSelector* labels = nullptr;
  const FieldSelector* fields = nullptr;
  int64_t limit = 0;           // 0 = no limit
  std::string continue_after;  // storage key "<ns>/<name>" to start after
};

// One committed write, in commit (resourceVersion) order: who wrote (the request's User-Agent,
// "" for the server's own bookkeeping outside a request), what, when, and for a Lease the holder
// it names afterwards. Served at /debug/writes so a test can check that two replicas never
// wrote at once.
struct WriteRecord {
  uint64_t rv = 0;
  int64_t time_us = 0;     // server wall clock, microseconds since the epoch
  std::string user_agent;  // the writing request's User-Agent
  std::string type;        // ADDED, MODIFIED, DELETED
  std::string storage_key;
  std::string ns;
  std::string name;
  std::string holder;  // leases only: spec.holderIdentity after the write ("" = none)
  nlohmann::json ToJson() const;
};

struct ListResult {
  std::vector<StoredObject> items;
  uint64_t rv = 0;
  std::string last_key;  // set when truncated by limit: key of the last item returned
  int64_t remaining = 0;
};

class Store {
 public:
  explicit Store(WatchHub* hub) : hub_(hub), rng_(std::random_device{}()) {}

  // Marks the writes this thread commits as `user_agent`'s (the request being handled) until
  // the scope ends.
  class WriterScope {
   public:
    explicit WriterScope(const std::string& user_agent);
    ~WriterScope();
    WriterScope(const WriterScope&) = delete;
    WriterScope& operator=(const WriterScope&) = delete;

   private:
    std::string previous_;
  };

  // Keeps the store in `path` (--data-file), as etcd keeps a real API server's: when the file
  // exists, everything in the store is replaced by what it holds (objects with their uids and
  // resourceVersions, the resourceVersion counter) and its write log (`path`.writes) is read
  // back; then every commit rewrites the file (temp file + rename, before the write is
  // answered) and appends to the write log. InvalidArgument naming the file and the problem
  // when it cannot be read. `loaded` is set when a file was read.
  waop::Status UsePersistence(const std::string& path, bool* loaded);
  // Every stored object of `storage_key` "<group>/<resource>" (for re-registering CRDs after a
  // load).
  std::vector<StoredObject> AllOf(const std::string& storage_key) const;
  // The write log after `after_rv` (at most the newest 100000 writes are kept).
  nlohmann::json WritesJson(uint64_t after_rv) const;

  uint64_t CurrentRv() const;
  std::string NewUid();

  std::optional<StoredObject> Get(const ObjectRef& ref) const;
  ListResult List(const std::string& storage_key, const ListOptions& opts) const;

  // Commits a new object. The store sets metadata.resourceVersion. AlreadyExists when taken.
  // With dry_run nothing is stored or published (the returned object has no resourceVersion).
  waop::Result<StoredObject> Create(const ObjectRef& ref, nlohmann::json obj, bool dry_run);
  // Replaces the object if its current resourceVersion is `expected_rv`. NotFound when gone,
  // Conflict when modified since.
  waop::Result<StoredObject> Update(const ObjectRef& ref, uint64_t expected_rv, nlohmann::json obj,
                                    bool dry_run);
  // Removes the object if its current resourceVersion is `expected_rv` (0 = any). Returns the
  // removed object with the deletion's resourceVersion. NotFound / Conflict as for Update.
  waop::Result<StoredObject> Remove(const ObjectRef& ref, uint64_t expected_rv, bool dry_run);

  // Objects whose ownerReferences name `uid`.
  std::vector<ObjectRef> DependentsOf(const std::string& uid) const;
  bool UidExists(const std::string& uid) const;
  std::optional<ObjectRef> RefOf(const std::string& uid) const;
  // Every object in namespace `ns` across all resources.
  std::vector<ObjectRef> ObjectsInNamespace(const std::string& ns) const;
  std::vector<ObjectRef> ObjectsOf(const std::string& storage_key) const;

  // Opens a watch on the hub consistently with the store (no event lost or duplicated).
  // from_rv == 0 means "from now": synthetic ADDEDs for the current matching objects first.
  // Returns false with *oldest set when from_rv is too old (410).
  bool OpenWatch(WatchSpec spec, std::shared_ptr<StreamSink> sink, uint64_t from_rv,
                 bool send_initial, bool initial_end_bookmark, uint64_t* oldest);

 private:
  using Bucket = std::map<std::string, StoredObject>;  // "<ns>/<name>" -> object
  void IndexLocked(const ObjectRef& ref, const nlohmann::json* old_obj,
                   const nlohmann::json* new_obj);
  void PublishLocked(const std::string& type, const ObjectRef& ref, const StoredObject& so,
                     std::shared_ptr<const nlohmann::json> prev);
  // The write log entry and the data file, after a commit.
  void RecordLocked(const std::string& type, const ObjectRef& ref, const StoredObject& so);
  waop::Status LoadLocked(const std::string& text);
  void PersistLocked();

  WatchHub* hub_;
  mutable std::mutex mu_;
  uint64_t rv_ = 1;
  std::unordered_map<std::string, Bucket> buckets_;
  std::unordered_map<std::string, std::set<ObjectRef>> dependents_;  // owner uid -> objects
  std::unordered_map<std::string, ObjectRef> uids_;
  std::unordered_map<std::string, std::set<ObjectRef>> by_ns_;
  std::mt19937_64 rng_;
  std::deque<WriteRecord> writes_;
  std::string data_file_;  // "" = in memory only
  bool persist_failed_ = false;
};

}  // namespace devserver
