// The informer's cache: objects keyed "namespace/name" (or "name" when cluster-scoped), with
// secondary indexes. Objects are kept packed (kube/pack.h: dictionary words, timestamps and UIDs
// in short forms; 10,000 assignments with their ConfigMaps take ~9 MB instead of ~18 MB as
// MessagePack and ~105 MB as parsed nlohmann::json), in buffers of exactly their size, and
// unpacked on read, which costs a few microseconds for an assignment. A
// reader gets an immutable document, so it keeps a consistent object after the cache moves on.
// While any reader still holds the document of a stored version, further reads of that version
// share it instead of unpacking again (a reconcile reads its assignment, then finds it again
// through both indexes); the store itself keeps only a weak reference, so memory stays packed.
//
// Thread-safety: one writer (the informer that owns the store) and any number of readers,
// under a shared mutex. Readers get a `const Store&`; the writer methods are non-const.
// Indexes are registered before the first write.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
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
  // Whether any object is in namespace `ns`, without unpacking one.
  bool AnyInNamespace(std::string_view ns) const;
  // The objects whose index function returned `value`, sorted by key. NotFound for an
  // unknown index.
  Result<std::vector<ObjectPtr>> ByIndex(std::string_view index, std::string_view value) const;
  std::vector<std::string> Keys() const;
  // The cached object's metadata.resourceVersion without unpacking it; nullopt when absent.
  std::optional<std::string> ResourceVersionOf(std::string_view key) const;
  std::size_t Size() const;

  // Bytes held by the packed objects (not counting keys and indexes).
  std::size_t PackedBytesForTesting() const;

  // --- The writer. Each returns the previous object under the key (nullptr if none).
  ObjectPtr Upsert(const ObjectPtr& object);
  ObjectPtr Remove(const std::string& key);

 private:
  // One stored version: its bytes, and the document unpacked from them while a reader holds it.
  struct PackedObject {
    std::vector<std::uint8_t> bytes;
    mutable std::atomic<std::weak_ptr<const nlohmann::json>> unpacked;
  };
  using Packed = std::shared_ptr<const PackedObject>;
  struct Item {
    Packed packed;
    std::string resource_version;
  };
  struct Index {
    IndexFunc fn;
    // Views of the keys in items_ (node keys never move): no second copy of each key. An
    // object's index values are not kept either: they are computed again from the replaced or
    // removed version, which the writer unpacks anyway to hand to the handlers.
    std::map<std::string, std::set<std::string_view>, std::less<>> keys_by_value;
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  static ObjectPtr Unpack(const Packed& packed);
  static std::string_view NamespaceOf(std::string_view key);
  static std::vector<ObjectPtr> UnpackSorted(std::vector<std::pair<std::string, Packed>> items);
  // The stored version under `key` (null if none) and its document, unpacked outside the lock
  // (there is one writer, so it stays current until the writer changes it).
  std::pair<Packed, ObjectPtr> Current(std::string_view key) const;
  // The values each index (in indexes_ order) files `object` under.
  std::vector<std::vector<std::string>> IndexValuesLocked(const nlohmann::json& object) const;
  // `key` must be the key stored in items_: the indexes keep views of it.
  void FileLocked(const std::string& key, std::vector<std::vector<std::string>> values);
  void UnfileLocked(const std::string& key, const std::vector<std::vector<std::string>>& values);

  mutable std::shared_mutex mu_;
  std::unordered_map<std::string, Item, KeyHash, std::equal_to<>> items_;
  std::map<std::string, Index, std::less<>> indexes_;
  std::size_t packed_bytes_ = 0;
  bool written_ = false;
};

}  // namespace waop::kube
