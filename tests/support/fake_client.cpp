#include "support/fake_client.h"

#include <optional>

#include "kube/selector.h"

namespace waop::kube {

using nlohmann::json;

namespace {

std::string CallKey(std::string_view verb, const ResourceType& type, std::string_view sub) {
  std::string k(verb);
  k += "|" + type.QualifiedName() + "|";
  k += sub;
  return k;
}

std::string KeyOf(const ResourceType& type, std::string_view ns, std::string_view name) {
  if (!type.namespaced || ns.empty()) return std::string(name);
  return std::string(ns) + "/" + std::string(name);
}

std::string Describe(const ResourceType& type, const std::string& key) {
  return type.QualifiedName() + " \"" + key + "\"";
}

// The object without metadata and status: what a generation counts changes of.
json SpecPart(const json& o) {
  json copy = o;
  copy.erase("metadata");
  copy.erase("status");
  copy.erase("apiVersion");
  copy.erase("kind");
  return copy;
}

bool HasFinalizers(const json& o) {
  const auto& md = o["metadata"];
  return md.contains("finalizers") && md["finalizers"].is_array() && !md["finalizers"].empty();
}

}  // namespace

struct FakeClient::Watcher {
  std::string type_key;
  std::string ns;
  LabelSelector labels;
  FieldSelector fields;
  bool bookmarks = false;

  std::mutex mu;
  std::condition_variable cv;
  std::deque<WatchEvent> queue;
  bool ended = false;
  std::optional<Status> broken;
  bool cancelled = false;

  bool Closed() {
    std::lock_guard lock(mu);
    return ended || broken || cancelled;
  }
  void Push(WatchEvent e) {
    std::lock_guard lock(mu);
    if (ended || broken || cancelled) return;
    queue.push_back(std::move(e));
    cv.notify_all();
  }
  bool Selects(const json& object) const {
    if (!ns.empty() && ObjectNamespace(object) != ns) return false;
    const json& md = object["metadata"];
    return labels.Matches(md.contains("labels") ? md["labels"] : json()) && fields.Matches(object);
  }
  // Delivers a change as this watcher sees it through its selectors.
  void Deliver(WatchEventType type, const json& object, const json& old_object) {
    const bool now = Selects(object);
    if (type == WatchEventType::kModified) {
      const bool before = !old_object.is_null() && Selects(old_object);
      if (now && before) {
        Push({WatchEventType::kModified, object});
      } else if (now) {
        Push({WatchEventType::kAdded, object});
      } else if (before) {
        Push({WatchEventType::kDeleted, object});
      }
      return;
    }
    if (now) Push({type, object});
  }
};

class FakeClient::FakeWatchStream final : public WatchStream {
 public:
  explicit FakeWatchStream(std::shared_ptr<Watcher> w) : w_(std::move(w)) {}
  ~FakeWatchStream() override { Cancel(); }

  Result<std::optional<WatchEvent>> Next() override {
    std::unique_lock lock(w_->mu);
    w_->cv.wait(lock, [&] {
      return w_->cancelled || !w_->queue.empty() || w_->broken.has_value() || w_->ended;
    });
    if (w_->cancelled) return Status::Cancelled("fake watch: cancelled");
    if (!w_->queue.empty()) {
      WatchEvent e = std::move(w_->queue.front());
      w_->queue.pop_front();
      return std::optional<WatchEvent>(std::move(e));
    }
    if (w_->broken) return *w_->broken;
    return std::optional<WatchEvent>();
  }

  void Cancel() override {
    std::lock_guard lock(w_->mu);
    w_->cancelled = true;
    w_->cv.notify_all();
  }

 private:
  std::shared_ptr<Watcher> w_;
};

FakeClient::FakeClient(const Clock& clock) : clock_(clock) {
  status_subresource_.insert(resources::kWhatsAppAssignments.QualifiedName());
  status_subresource_.insert(resources::kWhatsAppPhoneNumbers.QualifiedName());
}

FakeClient::~FakeClient() { EndWatches(); }

void FakeClient::EnableStatusSubresource(const ResourceType& type) {
  std::lock_guard lock(mu_);
  status_subresource_.insert(type.QualifiedName());
}

bool FakeClient::HasStatusSubresource(const ResourceType& type) const {
  return status_subresource_.count(type.QualifiedName()) > 0;
}

Status FakeClient::CountAndCheck(std::string_view verb, const ResourceType& type,
                                 std::string_view subresource) {
  const std::string key = CallKey(verb, type, subresource);
  ++calls_[key];
  auto it = injected_.find(key);
  if (it == injected_.end() || it->second.empty()) return Status::Ok();
  Status s = it->second.front();
  it->second.pop_front();
  return s;
}

void FakeClient::InjectError(std::string_view verb, const ResourceType& type, Status error,
                             int times, std::string_view subresource) {
  std::lock_guard lock(mu_);
  auto& q = injected_[CallKey(verb, type, subresource)];
  for (int i = 0; i < times; ++i) q.push_back(error);
}

void FakeClient::ClearInjectedErrors() {
  std::lock_guard lock(mu_);
  injected_.clear();
}

int FakeClient::Calls(std::string_view verb, const ResourceType& type,
                      std::string_view subresource) const {
  std::lock_guard lock(mu_);
  auto it = calls_.find(CallKey(verb, type, subresource));
  return it == calls_.end() ? 0 : it->second;
}

int FakeClient::TotalCalls() const {
  std::lock_guard lock(mu_);
  int total = 0;
  for (const auto& [k, n] : calls_) total += n;
  return total;
}

void FakeClient::ResetCalls() {
  std::lock_guard lock(mu_);
  calls_.clear();
}

std::string FakeClient::NextRvLocked() { return std::to_string(++rv_); }

std::string FakeClient::ResourceVersion() const {
  std::lock_guard lock(mu_);
  return std::to_string(rv_);
}

void FakeClient::EmitLocked(const ResourceType& type, WatchEventType event_type, const json& object,
                            const json& old_object) {
  const std::string type_key = type.QualifiedName();
  history_.push_back({type_key, event_type, object, old_object, rv_});
  // Bounded like the API server's watch cache.
  while (history_.size() > 10000) {
    compacted_rv_ = history_.front().rv;
    history_.pop_front();
  }
  for (const auto& w : watchers_) {
    if (w->type_key == type_key) w->Deliver(event_type, object, old_object);
  }
}

Result<json> FakeClient::Get(const ResourceType& type, std::string_view ns, std::string_view name) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("get", type, ""));
  const std::string key = KeyOf(type, ns, name);
  const auto& objects = objects_[type.QualifiedName()];
  auto it = objects.find(key);
  if (it == objects.end()) return Status::NotFound(Describe(type, key) + " not found");
  return it->second;
}

Result<ListResult> FakeClient::List(const ResourceType& type, std::string_view ns,
                                    const ListOptions& options) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("list", type, ""));
  auto labels = LabelSelector::Parse(options.label_selector);
  if (!labels.ok()) return labels.status();
  auto fields = FieldSelector::Parse(options.field_selector);
  if (!fields.ok()) return fields.status();
  std::string after;
  ListResult result;
  result.resource_version = std::to_string(rv_);
  if (!options.continue_token.empty()) {
    const auto bar = options.continue_token.find('|');
    if (bar == std::string::npos) {
      return Status::InvalidArgument("list " + type.QualifiedName() + ": invalid continue token");
    }
    const int64_t token_rv = std::stoll(options.continue_token.substr(0, bar));
    if (token_rv < compacted_rv_) {
      return Status::Gone("list " + type.QualifiedName() +
                          ": the provided continue parameter is too old to display a consistent "
                          "list result");
    }
    after = options.continue_token.substr(bar + 1);
    result.resource_version = std::to_string(token_rv);
  }
  const auto& objects = objects_[type.QualifiedName()];
  auto it = after.empty() ? objects.begin() : objects.upper_bound(after);
  std::string last_key;
  for (; it != objects.end(); ++it) {
    const json& o = it->second;
    if (type.namespaced && !ns.empty() && ObjectNamespace(o) != ns) continue;
    const json& md = o["metadata"];
    if (!labels->Matches(md.contains("labels") ? md["labels"] : json())) continue;
    if (!fields->Matches(o)) continue;
    if (options.limit > 0 && static_cast<int64_t>(result.items.size()) == options.limit) {
      result.continue_token = result.resource_version + "|" + last_key;
      break;
    }
    result.items.push_back(o);
    last_key = it->first;
  }
  return result;
}

Result<json> FakeClient::CreateLocked(const ResourceType& type, json object) {
  if (!object.is_object()) return Status::InvalidArgument("create: object is not a JSON object");
  json& md = object["metadata"];
  if (!md.is_object()) return Status::InvalidArgument("create: metadata is required");
  std::string name = md.value("name", "");
  if (name.empty() && md.contains("generateName")) {
    name = md.value("generateName", "") + std::to_string(uid_counter_ + 1) + "x";
    md["name"] = name;
  }
  if (name.empty()) return Status::InvalidArgument("create: metadata.name is required");
  const std::string ns = ObjectNamespace(object);
  if (type.namespaced && ns.empty()) {
    return Status::InvalidArgument("create: metadata.namespace is required");
  }
  if (!type.namespaced) md.erase("namespace");
  const std::string key = KeyOf(type, ns, name);
  auto& objects = objects_[type.QualifiedName()];
  if (objects.count(key)) {
    return Status::AlreadyExists(Describe(type, key) + " already exists");
  }
  object["apiVersion"] = type.ApiVersion();
  object["kind"] = type.kind;
  md["uid"] = "fake-uid-" + std::to_string(++uid_counter_);
  md["creationTimestamp"] = FormatRfc3339(clock_.Now());
  md.erase("deletionTimestamp");
  if (HasStatusSubresource(type)) md["generation"] = 1;
  md["resourceVersion"] = NextRvLocked();
  objects[key] = object;
  EmitLocked(type, WatchEventType::kAdded, object, json());
  return object;
}

Result<json> FakeClient::Create(const ResourceType& type, const json& object) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("create", type, ""));
  return CreateLocked(type, object);
}

Result<json> FakeClient::Seed(const ResourceType& type, json object) {
  std::lock_guard lock(mu_);
  return CreateLocked(type, std::move(object));
}

void FakeClient::DeleteLocked(const ResourceType& type, const std::string& key) {
  auto& objects = objects_[type.QualifiedName()];
  auto it = objects.find(key);
  if (it == objects.end()) return;
  json last = std::move(it->second);
  objects.erase(it);
  last["metadata"]["resourceVersion"] = NextRvLocked();
  EmitLocked(type, WatchEventType::kDeleted, last, json());
}

Result<json> FakeClient::ReplaceLocked(const ResourceType& type, json object, bool status_only,
                                       std::string_view verb) {
  const std::string ns = ObjectNamespace(object);
  const std::string name = ObjectName(object);
  const std::string key = KeyOf(type, ns, name);
  const std::string context = std::string(verb) + " " + Describe(type, key);
  auto& objects = objects_[type.QualifiedName()];
  auto it = objects.find(key);
  if (it == objects.end()) return Status::NotFound(context + ": not found");
  const json old = it->second;
  const std::string rv = ObjectResourceVersion(object);
  if (!rv.empty() && rv != ObjectResourceVersion(old)) {
    return Status::Conflict(context +
                            ": the object has been modified; please apply your changes to the "
                            "latest version and try again");
  }
  json updated;
  const bool separate_status = HasStatusSubresource(type);
  if (status_only) {
    updated = old;
    if (object.contains("status")) {
      updated["status"] = object["status"];
    } else {
      updated.erase("status");
    }
  } else {
    updated = object;
    if (separate_status) {
      if (old.contains("status")) {
        updated["status"] = old["status"];
      } else {
        updated.erase("status");
      }
    }
    // Fields the server owns.
    json& md = updated["metadata"];
    for (const char* f : {"uid", "creationTimestamp", "deletionTimestamp", "generation"}) {
      if (old["metadata"].contains(f)) {
        md[f] = old["metadata"][f];
      } else {
        md.erase(f);
      }
    }
    if (separate_status && SpecPart(updated) != SpecPart(old)) {
      md["generation"] = old["metadata"].value("generation", 0) + 1;
    }
  }
  updated["apiVersion"] = type.ApiVersion();
  updated["kind"] = type.kind;
  updated["metadata"]["resourceVersion"] = ObjectResourceVersion(old);
  if (updated == old) return updated;  // a no-op write does not bump the resourceVersion
  if (updated["metadata"].contains("deletionTimestamp") && !HasFinalizers(updated)) {
    it->second = updated;
    DeleteLocked(type, key);
    return updated;
  }
  updated["metadata"]["resourceVersion"] = NextRvLocked();
  it->second = updated;
  EmitLocked(type, WatchEventType::kModified, updated, old);
  return updated;
}

Result<json> FakeClient::Update(const ResourceType& type, const json& object) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("update", type, ""));
  if (ObjectResourceVersion(object).empty()) {
    return Status::InvalidArgument("update: metadata.resourceVersion is required");
  }
  return ReplaceLocked(type, object, false, "update");
}

Result<json> FakeClient::UpdateStatus(const ResourceType& type, const json& object) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("update", type, "status"));
  if (ObjectResourceVersion(object).empty()) {
    return Status::InvalidArgument("update status: metadata.resourceVersion is required");
  }
  return ReplaceLocked(type, object, true, "update status of");
}

Result<json> FakeClient::Patch(const ResourceType& type, std::string_view ns, std::string_view name,
                               PatchType patch_type, const json& patch,
                               std::string_view subresource) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("patch", type, subresource));
  const std::string key = KeyOf(type, ns, name);
  auto& objects = objects_[type.QualifiedName()];
  auto it = objects.find(key);
  if (it == objects.end()) return Status::NotFound("patch " + Describe(type, key) + ": not found");
  json patched = it->second;
  try {
    if (patch_type == PatchType::kJsonPatch) {
      patched = patched.patch(patch);
    } else {
      // Strategic merge is approximated by a JSON merge patch (lists are replaced).
      if (!patch.is_object()) {
        return Status::InvalidArgument("patch " + Describe(type, key) +
                                       ": a merge patch must be a JSON object");
      }
      patched.merge_patch(patch);
    }
  } catch (const json::exception& e) {
    return Status::InvalidArgument("patch " + Describe(type, key) + ": " + e.what());
  }
  // A resourceVersion in the patch is a precondition; otherwise the patch applies to latest.
  if (!(patch.is_object() && patch.contains("metadata") && patch["metadata"].is_object() &&
        patch["metadata"].contains("resourceVersion"))) {
    patched["metadata"]["resourceVersion"] = ObjectResourceVersion(it->second);
  }
  return ReplaceLocked(type, std::move(patched), subresource == "status", "patch");
}

Status FakeClient::Delete(const ResourceType& type, std::string_view ns, std::string_view name,
                          const DeleteOptions& options) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("delete", type, ""));
  const std::string key = KeyOf(type, ns, name);
  auto& objects = objects_[type.QualifiedName()];
  auto it = objects.find(key);
  if (it == objects.end()) return Status::NotFound("delete " + Describe(type, key) + ": not found");
  const json& md = it->second["metadata"];
  if (!options.precondition_uid.empty() && md.value("uid", "") != options.precondition_uid) {
    return Status::Conflict("delete " + Describe(type, key) + ": precondition failed: UID");
  }
  if (!options.precondition_resource_version.empty() &&
      md.value("resourceVersion", "") != options.precondition_resource_version) {
    return Status::Conflict("delete " + Describe(type, key) +
                            ": precondition failed: resourceVersion");
  }
  if (HasFinalizers(it->second)) {
    if (md.contains("deletionTimestamp")) return Status::Ok();
    const json old = it->second;
    it->second["metadata"]["deletionTimestamp"] = FormatRfc3339(clock_.Now());
    it->second["metadata"]["resourceVersion"] = NextRvLocked();
    EmitLocked(type, WatchEventType::kModified, it->second, old);
    return Status::Ok();
  }
  DeleteLocked(type, key);
  return Status::Ok();
}

Result<std::unique_ptr<WatchStream>> FakeClient::Watch(const ResourceType& type,
                                                       std::string_view ns,
                                                       const WatchOptions& options) {
  std::lock_guard lock(mu_);
  WAOP_RETURN_IF_ERROR(CountAndCheck("watch", type, ""));
  auto w = std::make_shared<Watcher>();
  w->type_key = type.QualifiedName();
  w->ns = type.namespaced ? std::string(ns) : "";
  auto labels = LabelSelector::Parse(options.label_selector);
  if (!labels.ok()) return labels.status();
  auto fields = FieldSelector::Parse(options.field_selector);
  if (!fields.ok()) return fields.status();
  w->labels = std::move(*labels);
  w->fields = std::move(*fields);
  w->bookmarks = options.allow_bookmarks;

  const std::string& from = options.resource_version;
  if (from.empty() || from == "0") {
    // "Start at most recent" begins with a synthetic ADDED for every object.
    for (const auto& [key, o] : objects_[w->type_key])
      w->Deliver(WatchEventType::kAdded, o, json());
  } else {
    int64_t since = 0;
    try {
      since = std::stoll(from);
    } catch (const std::exception&) {
      return Status::InvalidArgument("watch: resourceVersion \"" + from + "\" is not a number");
    }
    if (since < compacted_rv_) {
      // The API server answers with an ERROR event carrying 410 Expired.
      w->Push({WatchEventType::kError,
               {{"kind", "Status"},
                {"apiVersion", "v1"},
                {"status", "Failure"},
                {"message",
                 "too old resource version: " + from + " (" + std::to_string(compacted_rv_) + ")"},
                {"reason", "Expired"},
                {"code", 410}}});
    } else {
      for (const auto& e : history_) {
        if (e.rv > since && e.type_key == w->type_key) w->Deliver(e.type, e.object, e.old_object);
      }
    }
  }
  // Drop watchers that are done, so a long test does not accumulate them.
  std::erase_if(watchers_, [](const std::shared_ptr<Watcher>& x) { return x->Closed(); });
  watchers_.push_back(w);
  return std::unique_ptr<WatchStream>(std::make_unique<FakeWatchStream>(w));
}

std::vector<json> FakeClient::Objects(const ResourceType& type) const {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  auto it = objects_.find(type.QualifiedName());
  if (it == objects_.end()) return out;
  for (const auto& [k, o] : it->second) out.push_back(o);
  return out;
}

void FakeClient::SendBookmarks() {
  std::lock_guard lock(mu_);
  for (const auto& w : watchers_) {
    if (!w->bookmarks) continue;
    w->Push(
        {WatchEventType::kBookmark, {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}}});
  }
}

void FakeClient::EndWatches() {
  std::lock_guard lock(mu_);
  for (const auto& w : watchers_) {
    std::lock_guard wl(w->mu);
    w->ended = true;
    w->cv.notify_all();
  }
  watchers_.clear();
}

void FakeClient::BreakWatches(Status error) {
  std::lock_guard lock(mu_);
  for (const auto& w : watchers_) {
    std::lock_guard wl(w->mu);
    w->broken = error;
    w->cv.notify_all();
  }
  watchers_.clear();
}

void FakeClient::CompactHistory() {
  std::lock_guard lock(mu_);
  history_.clear();
  compacted_rv_ = rv_;
}

int FakeClient::OpenWatches() const {
  std::lock_guard lock(mu_);
  int n = 0;
  for (const auto& w : watchers_) n += w->Closed() ? 0 : 1;
  return n;
}

}  // namespace waop::kube
