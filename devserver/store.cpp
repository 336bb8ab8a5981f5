#include "store.h"

#include <cstdio>

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

namespace {

std::string BucketKey(const ObjectRef& ref) { return ref.ns + "/" + ref.name; }

const json* Labels(const json& obj) {
  auto m = obj.find("metadata");
  if (m == obj.end() || !m->is_object()) return nullptr;
  auto l = m->find("labels");
  return l == m->end() ? nullptr : &*l;
}

std::vector<std::string> OwnerUids(const json* obj) {
  std::vector<std::string> out;
  if (!obj) return out;
  auto m = obj->find("metadata");
  if (m == obj->end() || !m->is_object()) return out;
  auto o = m->find("ownerReferences");
  if (o == m->end() || !o->is_array()) return out;
  for (const json& r : *o) {
    if (r.is_object() && r.contains("uid") && r["uid"].is_string()) {
      out.push_back(r["uid"].get<std::string>());
    }
  }
  return out;
}

std::string Uid(const json* obj) {
  if (!obj) return "";
  auto m = obj->find("metadata");
  if (m == obj->end() || !m->is_object()) return "";
  auto u = m->find("uid");
  return u != m->end() && u->is_string() ? u->get<std::string>() : "";
}

bool Passes(const json& obj, const ListOptions& opts) {
  if (opts.fields && !opts.fields->Empty() && !opts.fields->Matches(obj)) return false;
  if (opts.labels && !opts.labels->Empty()) {
    static const json kNull;
    const json* l = Labels(obj);
    if (!opts.labels->Matches(l ? *l : kNull)) return false;
  }
  return true;
}

}  // namespace

uint64_t Store::CurrentRv() const {
  std::lock_guard lock(mu_);
  return rv_;
}

std::string Store::NewUid() {
  std::lock_guard lock(mu_);
  uint64_t a = rng_(), b = rng_();
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-4%03x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xfff),
                static_cast<unsigned>(0x8000 | ((b >> 48) & 0x3fff)),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

std::optional<StoredObject> Store::Get(const ObjectRef& ref) const {
  std::lock_guard lock(mu_);
  auto b = buckets_.find(ref.storage_key);
  if (b == buckets_.end()) return std::nullopt;
  auto it = b->second.find(BucketKey(ref));
  if (it == b->second.end()) return std::nullopt;
  return it->second;
}

ListResult Store::List(const std::string& storage_key, const ListOptions& opts) const {
  std::lock_guard lock(mu_);
  ListResult out;
  out.rv = rv_;
  auto b = buckets_.find(storage_key);
  if (b == buckets_.end()) return out;
  const Bucket& bucket = b->second;
  std::string pinned = opts.fields ? opts.fields->PinnedName() : "";
  if (!pinned.empty() && !opts.ns.empty()) {
    auto it = bucket.find(opts.ns + "/" + pinned);
    if (it != bucket.end() && Passes(*it->second.obj, opts)) out.items.push_back(it->second);
    return out;
  }
  std::string prefix = opts.ns.empty() ? "" : opts.ns + "/";
  auto it = opts.continue_after.empty() ? bucket.lower_bound(prefix)
                                        : bucket.upper_bound(opts.continue_after);
  for (; it != bucket.end(); ++it) {
    if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (!Passes(*it->second.obj, opts)) continue;
    if (opts.limit > 0 && static_cast<int64_t>(out.items.size()) >= opts.limit) {
      // Count what is left for remainingItemCount (only meaningful without selectors).
      out.last_key = std::prev(it)->first;
      for (; it != bucket.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        if (Passes(*it->second.obj, opts)) ++out.remaining;
      }
      if (out.remaining == 0) out.last_key.clear();
      break;
    }
    out.items.push_back(it->second);
  }
  // last_key must name the last returned item, which may differ from prev(it) when filtered.
  if (!out.last_key.empty() && !out.items.empty()) {
    const json& m = (*out.items.back().obj)["metadata"];
    out.last_key = m.value("namespace", "") + "/" + m.value("name", "");
  }
  return out;
}

void Store::IndexLocked(const ObjectRef& ref, const json* old_obj, const json* new_obj) {
  for (const std::string& uid : OwnerUids(old_obj)) {
    auto it = dependents_.find(uid);
    if (it != dependents_.end()) {
      it->second.erase(ref);
      if (it->second.empty()) dependents_.erase(it);
    }
  }
  for (const std::string& uid : OwnerUids(new_obj)) dependents_[uid].insert(ref);
  std::string old_uid = Uid(old_obj), new_uid = Uid(new_obj);
  if (!old_uid.empty() && old_uid != new_uid) uids_.erase(old_uid);
  if (!new_uid.empty()) uids_[new_uid] = ref;
  if (!ref.ns.empty()) {
    if (new_obj) {
      by_ns_[ref.ns].insert(ref);
    } else {
      auto it = by_ns_.find(ref.ns);
      if (it != by_ns_.end()) {
        it->second.erase(ref);
        if (it->second.empty()) by_ns_.erase(it);
      }
    }
  }
}

void Store::PublishLocked(const std::string& type, const ObjectRef& ref, const StoredObject& so,
                          std::shared_ptr<const json> prev) {
  if (!hub_) return;
  ChangeEvent e;
  e.rv = so.rv;
  e.type = type;
  e.storage_key = ref.storage_key;
  e.ns = ref.ns;
  e.obj = so.obj;
  e.text = so.text;
  e.prev = std::move(prev);
  hub_->Publish(std::move(e));
}

// `obj` as stored at version `rv`, with its serialised text; `stamp` writes the version into
// metadata.resourceVersion (a dry run answers the object as sent).
static StoredObject Sealed(json obj, uint64_t rv, bool stamp) {
  if (stamp) obj["metadata"]["resourceVersion"] = std::to_string(rv);
  StoredObject so;
  so.rv = rv;
  so.obj = std::make_shared<const json>(std::move(obj));
  so.text = std::make_shared<const std::string>(so.obj->dump());
  return so;
}

Result<StoredObject> Store::Create(const ObjectRef& ref, json obj, bool dry_run) {
  std::lock_guard lock(mu_);
  Bucket& bucket = buckets_[ref.storage_key];
  std::string key = BucketKey(ref);
  if (bucket.count(key)) return Status::AlreadyExists(ref.name);
  if (dry_run) return Sealed(std::move(obj), 0, /*stamp=*/false);
  StoredObject so = Sealed(std::move(obj), ++rv_, /*stamp=*/true);
  bucket.emplace(key, so);
  IndexLocked(ref, nullptr, so.obj.get());
  PublishLocked("ADDED", ref, so, nullptr);
  return so;
}

Result<StoredObject> Store::Update(const ObjectRef& ref, uint64_t expected_rv, json obj,
                                   bool dry_run) {
  std::lock_guard lock(mu_);
  auto b = buckets_.find(ref.storage_key);
  if (b == buckets_.end()) return Status::NotFound(ref.name);
  auto it = b->second.find(BucketKey(ref));
  if (it == b->second.end()) return Status::NotFound(ref.name);
  if (it->second.rv != expected_rv) return Status::Conflict(ref.name);
  if (dry_run) return Sealed(std::move(obj), it->second.rv, /*stamp=*/false);
  StoredObject so = Sealed(std::move(obj), ++rv_, /*stamp=*/true);
  std::shared_ptr<const json> prev = it->second.obj;
  IndexLocked(ref, prev.get(), so.obj.get());
  it->second = so;
  PublishLocked("MODIFIED", ref, so, std::move(prev));
  return so;
}

Result<StoredObject> Store::Remove(const ObjectRef& ref, uint64_t expected_rv, bool dry_run) {
  std::lock_guard lock(mu_);
  auto b = buckets_.find(ref.storage_key);
  if (b == buckets_.end()) return Status::NotFound(ref.name);
  auto it = b->second.find(BucketKey(ref));
  if (it == b->second.end()) return Status::NotFound(ref.name);
  if (expected_rv != 0 && it->second.rv != expected_rv) return Status::Conflict(ref.name);
  if (dry_run) return it->second;
  StoredObject so = Sealed(*it->second.obj, ++rv_, /*stamp=*/true);
  std::shared_ptr<const json> prev = it->second.obj;
  IndexLocked(ref, prev.get(), nullptr);
  b->second.erase(it);
  PublishLocked("DELETED", ref, so, std::move(prev));
  return so;
}

std::vector<ObjectRef> Store::DependentsOf(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = dependents_.find(uid);
  if (it == dependents_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

bool Store::UidExists(const std::string& uid) const {
  std::lock_guard lock(mu_);
  return uids_.count(uid) > 0;
}

std::optional<ObjectRef> Store::RefOf(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = uids_.find(uid);
  if (it == uids_.end()) return std::nullopt;
  return it->second;
}

std::vector<ObjectRef> Store::ObjectsInNamespace(const std::string& ns) const {
  std::lock_guard lock(mu_);
  auto it = by_ns_.find(ns);
  if (it == by_ns_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<ObjectRef> Store::ObjectsOf(const std::string& storage_key) const {
  std::lock_guard lock(mu_);
  std::vector<ObjectRef> out;
  auto b = buckets_.find(storage_key);
  if (b == buckets_.end()) return out;
  for (const auto& [key, so] : b->second) {
    size_t slash = key.find('/');
    out.push_back({storage_key, key.substr(0, slash), key.substr(slash + 1)});
  }
  return out;
}

bool Store::OpenWatch(WatchSpec spec, std::shared_ptr<StreamSink> sink, uint64_t from_rv,
                      bool send_initial, bool initial_end_bookmark, uint64_t* oldest) {
  std::lock_guard lock(mu_);
  std::vector<ChangeEvent> initial;
  if (send_initial) {
    auto b = buckets_.find(spec.storage_key);
    if (b != buckets_.end()) {
      std::string prefix = spec.ns.empty() ? "" : spec.ns + "/";
      for (auto it = b->second.lower_bound(prefix); it != b->second.end(); ++it) {
        if (!prefix.empty() && it->first.compare(0, prefix.size(), prefix) != 0) break;
        ChangeEvent e;
        e.rv = it->second.rv;
        e.type = "ADDED";
        e.storage_key = spec.storage_key;
        e.ns = spec.ns.empty() ? it->first.substr(0, it->first.find('/')) : spec.ns;
        e.obj = it->second.obj;
        e.text = it->second.text;
        initial.push_back(std::move(e));
      }
    }
  }
  return hub_->Open(std::move(spec), std::move(sink), send_initial ? 0 : from_rv, initial,
                    initial_end_bookmark, rv_, oldest);
}

}  // namespace devserver
