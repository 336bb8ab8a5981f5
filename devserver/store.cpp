#include "store.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

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

thread_local std::string current_writer;

constexpr size_t kMaxWrites = 100000;
constexpr char kFormat[] = "kube-devserver/v1";

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Store::WriterScope::WriterScope(const std::string& user_agent) : previous_(current_writer) {
  current_writer = user_agent;
}
Store::WriterScope::~WriterScope() { current_writer = previous_; }

json WriteRecord::ToJson() const {
  json j = {{"rv", std::to_string(rv)},
            {"timeMicros", time_us},
            {"userAgent", user_agent},
            {"type", type},
            {"key", storage_key},
            {"namespace", ns},
            {"name", name}};
  if (storage_key == "coordination.k8s.io/leases") j["holderIdentity"] = holder;
  return j;
}

static Result<WriteRecord> WriteRecordFromJson(const json& j) {
  if (!j.is_object()) return Status::InvalidArgument("expected an object");
  WriteRecord w;
  try {
    w.rv = std::stoull(j.at("rv").get<std::string>());
    w.time_us = j.at("timeMicros").get<int64_t>();
    w.user_agent = j.at("userAgent").get<std::string>();
    w.type = j.at("type").get<std::string>();
    w.storage_key = j.at("key").get<std::string>();
    w.ns = j.at("namespace").get<std::string>();
    w.name = j.at("name").get<std::string>();
    if (j.contains("holderIdentity")) w.holder = j["holderIdentity"].get<std::string>();
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  return w;
}

void Store::RecordLocked(const std::string& type, const ObjectRef& ref, const StoredObject& so) {
  WriteRecord w;
  w.rv = so.rv;
  w.time_us = NowMicros();
  w.user_agent = current_writer;
  w.type = type;
  w.storage_key = ref.storage_key;
  w.ns = ref.ns;
  w.name = ref.name;
  if (ref.storage_key == "coordination.k8s.io/leases" && type != "DELETED") {
    const json& obj = *so.obj;
    if (auto spec = obj.find("spec"); spec != obj.end() && spec->is_object()) {
      if (auto h = spec->find("holderIdentity"); h != spec->end() && h->is_string()) {
        w.holder = h->get<std::string>();
      }
    }
  }
  if (!data_file_.empty()) {
    std::ofstream log(data_file_ + ".writes", std::ios::app);
    log << w.ToJson().dump() << "\n";
  }
  writes_.push_back(std::move(w));
  if (writes_.size() > kMaxWrites) writes_.pop_front();
  PersistLocked();
}

json Store::WritesJson(uint64_t after_rv) const {
  std::lock_guard lock(mu_);
  json out = json::array();
  for (const WriteRecord& w : writes_) {
    if (w.rv > after_rv) out.push_back(w.ToJson());
  }
  return {{"resourceVersion", std::to_string(rv_)}, {"writes", std::move(out)}};
}

std::vector<StoredObject> Store::AllOf(const std::string& storage_key) const {
  std::lock_guard lock(mu_);
  std::vector<StoredObject> out;
  auto b = buckets_.find(storage_key);
  if (b == buckets_.end()) return out;
  for (const auto& [key, so] : b->second) out.push_back(so);
  return out;
}

void Store::PersistLocked() {
  if (data_file_.empty()) return;
  // The objects as stored (their text already carries the resourceVersion), keyed by storage.
  std::string text = std::string("{\"format\":\"") + kFormat + "\",\"resourceVersion\":\"" +
                     std::to_string(rv_) + "\",\"objects\":[";
  bool first = true;
  for (const auto& [key, bucket] : buckets_) {
    for (const auto& [name, so] : bucket) {
      if (!first) text += ",\n";
      first = false;
      text += "{\"key\":" + json(key).dump() + ",\"object\":" + *so.text + "}";
    }
  }
  text += "]}\n";
  // Written whole to a temporary file and renamed over the old one: a kill at any moment
  // leaves the old file or the new one, never half of one.
  const std::string tmp = data_file_ + ".tmp";
  bool ok = false;
  {
    std::ofstream out(tmp, std::ios::trunc | std::ios::binary);
    out << text;
    ok = static_cast<bool>(out);
  }
  ok = ok && std::rename(tmp.c_str(), data_file_.c_str()) == 0;
  if (!ok && !persist_failed_) {
    persist_failed_ = true;
    std::fprintf(stderr, "kube-devserver: cannot write --data-file %s\n", data_file_.c_str());
  }
}

Status Store::LoadLocked(const std::string& text) {
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::InvalidArgument("not a JSON object (corrupt or not a kube-devserver data file)");
  }
  if (doc.value("format", "") != kFormat) {
    return Status::InvalidArgument(std::string("format: expected \"") + kFormat + "\"");
  }
  uint64_t rv = 0;
  try {
    rv = std::stoull(doc.at("resourceVersion").get<std::string>());
  } catch (const std::exception&) {
    return Status::InvalidArgument("resourceVersion: expected a decimal string");
  }
  if (!doc.contains("objects") || !doc["objects"].is_array()) {
    return Status::InvalidArgument("objects: expected an array");
  }
  buckets_.clear();
  dependents_.clear();
  uids_.clear();
  by_ns_.clear();
  size_t i = 0;
  for (const json& entry : doc["objects"]) {
    const std::string where = "objects[" + std::to_string(i++) + "]";
    if (!entry.is_object() || !entry.contains("key") || !entry["key"].is_string() ||
        !entry.contains("object") || !entry["object"].is_object()) {
      return Status::InvalidArgument(where + ": expected {\"key\": string, \"object\": object}");
    }
    const json& obj = entry["object"];
    const json* meta =
        obj.contains("metadata") && obj["metadata"].is_object() ? &obj["metadata"] : nullptr;
    if (!meta || !meta->contains("name") || !(*meta)["name"].is_string() ||
        !meta->contains("resourceVersion") || !(*meta)["resourceVersion"].is_string()) {
      return Status::InvalidArgument(where +
                                     ".object.metadata: expected a name and a resourceVersion");
    }
    uint64_t obj_rv = 0;
    try {
      obj_rv = std::stoull((*meta)["resourceVersion"].get<std::string>());
    } catch (const std::exception&) {
      return Status::InvalidArgument(where + ".object.metadata.resourceVersion: not a number");
    }
    if (obj_rv > rv) {
      return Status::InvalidArgument(where +
                                     ".object.metadata.resourceVersion: newer than the file's "
                                     "resourceVersion");
    }
    ObjectRef ref{entry["key"].get<std::string>(), meta->value("namespace", ""),
                  (*meta)["name"].get<std::string>()};
    StoredObject so;
    so.rv = obj_rv;
    so.obj = std::make_shared<const json>(obj);
    so.text = std::make_shared<const std::string>(obj.dump());
    buckets_[ref.storage_key][BucketKey(ref)] = so;
    IndexLocked(ref, nullptr, so.obj.get());
  }
  rv_ = rv;
  if (hub_) hub_->StartAt(rv_);
  return Status::Ok();
}

Status Store::UsePersistence(const std::string& path, bool* loaded) {
  std::lock_guard lock(mu_);
  *loaded = false;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    if (Status s = LoadLocked(ss.str()); !s.ok()) return s.WithPrefix("--data-file " + path);
    *loaded = true;
    writes_.clear();
    std::ifstream log(path + ".writes");
    std::string line;
    while (std::getline(log, line)) {
      json j = json::parse(line, nullptr, false);
      auto w = WriteRecordFromJson(j);
      // A kill can tear the last line; everything before it is whole.
      if (!w.ok() || w->rv > rv_) continue;
      writes_.push_back(std::move(*w));
      if (writes_.size() > kMaxWrites) writes_.pop_front();
    }
  }
  data_file_ = path;
  PersistLocked();
  if (persist_failed_) return Status::InvalidArgument("--data-file " + path + ": cannot write it");
  return Status::Ok();
}

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
  RecordLocked("ADDED", ref, so);
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
  RecordLocked("MODIFIED", ref, so);
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
  RecordLocked("DELETED", ref, so);
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
