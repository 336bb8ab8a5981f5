#include "kube/store.h"

#include <algorithm>
#include <mutex>

#include "kube/client.h"

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

ObjectPtr Store::Get(std::string_view key) const {
  std::shared_lock lock(mu_);
  auto it = items_.find(std::string(key));
  return it == items_.end() ? nullptr : it->second;
}

ObjectPtr Store::Get(std::string_view ns, std::string_view name) const {
  if (ns.empty()) return Get(name);
  return Get(std::string(ns) + "/" + std::string(name));
}

namespace {
void SortByKey(std::vector<ObjectPtr>& v) {
  std::sort(v.begin(), v.end(),
            [](const ObjectPtr& a, const ObjectPtr& b) { return ObjectKey(*a) < ObjectKey(*b); });
}
}  // namespace

std::vector<ObjectPtr> Store::List() const {
  std::vector<ObjectPtr> out;
  {
    std::shared_lock lock(mu_);
    out.reserve(items_.size());
    for (const auto& [k, v] : items_) out.push_back(v);
  }
  SortByKey(out);
  return out;
}

std::vector<ObjectPtr> Store::ListNamespace(std::string_view ns) const {
  std::vector<ObjectPtr> out;
  {
    std::shared_lock lock(mu_);
    for (const auto& [k, v] : items_) {
      if (ObjectNamespace(*v) == ns) out.push_back(v);
    }
  }
  SortByKey(out);
  return out;
}

Result<std::vector<ObjectPtr>> Store::ByIndex(std::string_view index,
                                              std::string_view value) const {
  std::shared_lock lock(mu_);
  auto it = indexes_.find(index);
  if (it == indexes_.end()) return Status::NotFound("no index \"" + std::string(index) + "\"");
  std::vector<ObjectPtr> out;
  auto keys = it->second.keys_by_value.find(std::string(value));
  if (keys == it->second.keys_by_value.end()) return out;
  for (const auto& k : keys->second) {
    auto obj = items_.find(k);
    if (obj != items_.end()) out.push_back(obj->second);
  }
  return out;  // std::set iteration: already sorted by key
}

std::vector<std::string> Store::Keys() const {
  std::shared_lock lock(mu_);
  std::vector<std::string> out;
  for (const auto& [k, v] : items_) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t Store::Size() const {
  std::shared_lock lock(mu_);
  return items_.size();
}

void Store::IndexLocked(const std::string& key, const ObjectPtr& object, bool add) {
  for (auto& [name, index] : indexes_) {
    for (const auto& value : index.fn(*object)) {
      if (add) {
        index.keys_by_value[value].insert(key);
      } else {
        auto it = index.keys_by_value.find(value);
        if (it == index.keys_by_value.end()) continue;
        it->second.erase(key);
        if (it->second.empty()) index.keys_by_value.erase(it);
      }
    }
  }
}

ObjectPtr Store::Upsert(ObjectPtr object) {
  const std::string key = ObjectKey(*object);
  std::unique_lock lock(mu_);
  written_ = true;
  ObjectPtr old;
  auto it = items_.find(key);
  if (it != items_.end()) {
    old = it->second;
    IndexLocked(key, old, false);
    it->second = object;
  } else {
    items_.emplace(key, object);
  }
  IndexLocked(key, object, true);
  return old;
}

ObjectPtr Store::Remove(const std::string& key) {
  std::unique_lock lock(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = it->second;
  IndexLocked(key, old, false);
  items_.erase(it);
  return old;
}

}  // namespace waop::kube
