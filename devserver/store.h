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

struct ListResult {
  std::vector<StoredObject> items;
  uint64_t rv = 0;
  std::string last_key;  // set when truncated by limit: key of the last item returned
  int64_t remaining = 0;
};

class Store {
 public:
  explicit Store(WatchHub* hub) : hub_(hub), rng_(std::random_device{}()) {}

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

  WatchHub* hub_;
  mutable std::mutex mu_;
  uint64_t rv_ = 1;
  std::unordered_map<std::string, Bucket> buckets_;
  std::unordered_map<std::string, std::set<ObjectRef>> dependents_;  // owner uid -> objects
  std::unordered_map<std::string, ObjectRef> uids_;
  std::unordered_map<std::string, std::set<ObjectRef>> by_ns_;
  std::mt19937_64 rng_;
};

}  // namespace devserver
