#include "kube/store.h"

#include <algorithm>
#include <mutex>

#include "kube/client.h"
#include "kube/pack.h"

namespace waop::kube {

Status Store::AddIndex(const std::string& name, IndexFunc fn) {
  std::unique_lock lock(mu_);
  if (written_) {
    return Status::FailedPrecondition("index \"" + name +
                                      "\" added after the store was filled; add indexes before "
                                      "starting the informer");
  }
  if (indexes_.count(name)) return Status::AlreadyExists("index \"" + name + "\" already exists");
  indexes_[name].fn = std::move(fn);
  return Status::Ok();
}

ObjectPtr Store::Unpack(const Packed& packed) {
  if (!packed) return nullptr;
  if (ObjectPtr shared = packed->unpacked.load(std::memory_order_acquire).lock()) return shared;
  // Two readers racing here both unpack; either document is the same version.
  ObjectPtr obj(new const nlohmann::json(UnpackJson(packed->bytes)));
  packed->unpacked.store(obj, std::memory_order_release);
  return obj;
}

std::vector<ObjectPtr> Store::UnpackSorted(std::vector<std::pair<std::string, Packed>> items) {
  std::sort(items.begin(), items.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ObjectPtr> out;
  out.reserve(items.size());
  for (const auto& [key, packed] : items) out.push_back(Unpack(packed));
  return out;
}

ObjectPtr Store::Get(std::string_view key) const {
  Packed packed;
  {
    std::shared_lock lock(mu_);
    auto it = items_.find(key);
    if (it == items_.end()) return nullptr;
    packed = it->second.packed;
  }
  return Unpack(packed);  // outside the lock: readers never hold up the writer for long
}

ObjectPtr Store::Get(std::string_view ns, std::string_view name) const {
  if (ns.empty()) return Get(name);
  return Get(std::string(ns) + "/" + std::string(name));
}

std::vector<ObjectPtr> Store::List() const {
  std::vector<std::pair<std::string, Packed>> items;
  {
    std::shared_lock lock(mu_);
    items.reserve(items_.size());
    for (const auto& [k, v] : items_) items.emplace_back(k, v.packed);
  }
  return UnpackSorted(std::move(items));
}

std::vector<ObjectPtr> Store::ListNamespace(std::string_view ns) const {
  std::vector<std::pair<std::string, Packed>> items;
  {
    std::shared_lock lock(mu_);
    for (const auto& [k, v] : items_) {
      if (NamespaceOf(k) == ns) items.emplace_back(k, v.packed);
    }
  }
  return UnpackSorted(std::move(items));
}

bool Store::AnyInNamespace(std::string_view ns) const {
  std::shared_lock lock(mu_);
  return std::any_of(items_.begin(), items_.end(),
                     [ns](const auto& item) { return NamespaceOf(item.first) == ns; });
}

std::string_view Store::NamespaceOf(std::string_view key) {
  // Keys are "namespace/name"; cluster-scoped keys have no slash.
  auto slash = key.find('/');
  return slash == std::string_view::npos ? std::string_view() : key.substr(0, slash);
}

Result<std::vector<ObjectPtr>> Store::ByIndex(std::string_view index,
                                              std::string_view value) const {
  std::vector<Packed> found;
  {
    std::shared_lock lock(mu_);
    auto it = indexes_.find(index);
    if (it == indexes_.end()) return Status::NotFound("no index \"" + std::string(index) + "\"");
    auto keys = it->second.keys_by_value.find(value);
    if (keys == it->second.keys_by_value.end()) return std::vector<ObjectPtr>{};
    for (const auto& k : keys->second) {  // std::set iteration: sorted by key
      auto obj = items_.find(k);
      if (obj != items_.end()) found.push_back(obj->second.packed);
    }
  }
  std::vector<ObjectPtr> out;
  out.reserve(found.size());
  for (const auto& p : found) out.push_back(Unpack(p));
  return out;
}

std::vector<std::string> Store::Keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> Store::ResourceVersionOf(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return std::nullopt;
  return it->second.resource_version;
}

std::size_t Store::Size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

std::size_t Store::PackedBytesForTesting() const {
  std::shared_lock lock(mu_);
  return packed_bytes_;
}

std::pair<Store::Packed, ObjectPtr> Store::Current(std::string_view key) const {
  Packed packed;
  {
    std::shared_lock lock(mu_);
    auto it = items_.find(key);
    if (it != items_.end()) packed = it->second.packed;
  }
  return {packed, Unpack(packed)};
}

std::vector<std::vector<std::string>> Store::IndexValuesLocked(const nlohmann::json& object) const {
  std::vector<std::vector<std::string>> values;
  values.reserve(indexes_.size());
  for (const auto& [name, index] : indexes_) values.push_back(index.fn(object));
  return values;
}

void Store::FileLocked(const std::string& key, std::vector<std::vector<std::string>> values) {
  std::size_t i = 0;
  for (auto& [name, index] : indexes_) {
    for (auto& value : values[i++]) index.keys_by_value[std::move(value)].insert(key);
  }
}

void Store::UnfileLocked(const std::string& key,
                         const std::vector<std::vector<std::string>>& values) {
  std::size_t i = 0;
  for (auto& [name, index] : indexes_) {
    for (const auto& value : values[i++]) {
      auto it = index.keys_by_value.find(value);
      if (it == index.keys_by_value.end()) continue;
      it->second.erase(key);
      if (it->second.empty()) index.keys_by_value.erase(it);
    }
  }
}

ObjectPtr Store::Upsert(const ObjectPtr& object) {
  const std::string key = ObjectKey(*object);
  // Pack before taking the lock.
  Item item;
  {
    // Packed into a reused buffer, then copied at its exact size: a vector grown by doubling
    // would hold up to twice the bytes for as long as the object stays cached.
    thread_local std::vector<std::uint8_t> scratch;
    scratch.clear();
    PackJson(*object, scratch);
    auto packed = std::make_shared<PackedObject>();
    packed->bytes.assign(scratch.begin(), scratch.end());
    // The document being stored is the one the caller (the informer's handlers) reads next.
    packed->unpacked.store(object, std::memory_order_relaxed);
    if (scratch.capacity() > (std::size_t{1} << 20)) scratch = {};  // keep no huge buffer
    item.packed = std::move(packed);
  }
  item.resource_version = ObjectResourceVersion(*object);
  auto [old_packed, old] = Current(key);
  std::unique_lock lock(mu_);
  written_ = true;
  auto it = items_.find(key);
  // Another writer got in between (not supported; stay correct anyway).
  if (it != items_.end() && it->second.packed != old_packed) old = Unpack(it->second.packed);
  if (it == items_.end()) old = nullptr;
  // Index functions run before anything changes: one that throws leaves the store as it was.
  auto values = IndexValuesLocked(*object);
  if (old) UnfileLocked(key, IndexValuesLocked(*old));
  if (it == items_.end()) {
    it = items_.emplace(key, std::move(item)).first;
  } else {
    packed_bytes_ -= it->second.packed->bytes.size();
    it->second = std::move(item);
  }
  packed_bytes_ += it->second.packed->bytes.size();
  FileLocked(it->first, std::move(values));
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  auto [old_packed, old] = Current(key);
  std::unique_lock lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  if (it->second.packed != old_packed) old = Unpack(it->second.packed);
  UnfileLocked(it->first, IndexValuesLocked(*old));
  packed_bytes_ -= it->second.packed->bytes.size();
  items_.erase(it);
  return old;
}

}  // namespace waop::kube
