// The informer's cache: objects keyed "namespace/name" (or "name" when cluster-scoped), with
// secondary indexes. Objects are immutable shared JSON documents, so a reader keeps a
// consistent object after the cache moves on, and handing one out costs a reference count.
//
// Thread-safety: one writer (the informer that owns the store) and any number of readers,
// under a shared mutex. Readers get a `const Store&`; the writer methods are non-const.
// Indexes are registered before the first write.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace waop::kube {

using ObjectPtr = std::shared_ptr<const nlohmann::json>;
// Maps an object to the index values it is found under (none is fine).
using IndexFunc = std::function<std::vector<std::string>(const nlohmann::json& object)>;

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Registers an index. AlreadyExists for a taken name; FailedPrecondition once objects have
  // been stored (an index must see every object).
  Status AddIndex(const std::string& name, IndexFunc fn);

  // --- Readers.
  // nullptr when absent.
  ObjectPtr Get(std::string_view key) const;
  ObjectPtr Get(std::string_view ns, std::string_view name) const;
  std::vector<ObjectPtr> List() const;
  std::vector<ObjectPtr> ListNamespace(std::string_view ns) const;
  // The objects whose index function returned `value`, sorted by key. NotFound for an
  // unknown index.
  Result<std::vector<ObjectPtr>> ByIndex(std::string_view index, std::string_view value) const;
  std::vector<std::string> Keys() const;
  std::size_t Size() const;

  // --- The writer. Each returns the previous object under the key (nullptr if none).
  ObjectPtr Upsert(ObjectPtr object);
  ObjectPtr Remove(const std::string& key);

 private:
  struct Index {
    IndexFunc fn;
    std::map<std::string, std::set<std::string>> keys_by_value;
  };
  void IndexLocked(const std::string& key, const ObjectPtr& object, bool add);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, ObjectPtr> items_;
  std::map<std::string, Index, std::less<>> indexes_;
  bool written_ = false;
};

}  // namespace waop::kube
