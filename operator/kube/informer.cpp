#include "kube/informer.h"

#include <algorithm>
#include <exception>
#include <unordered_set>

namespace waop::kube {

using nlohmann::json;

void StripForCache(json& object) {
  if (!object.is_object()) return;
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) return;
  md->erase("managedFields");
  auto annotations = md->find("annotations");
  if (annotations != md->end() && annotations->is_object()) {
    annotations->erase("kubectl.kubernetes.io/last-applied-configuration");
    if (annotations->empty()) md->erase("annotations");
  }
}

JitteredBackoff::JitteredBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                 double jitter, uint64_t seed)
    : initial_(initial), max_(max), jitter_(jitter), current_(initial), rng_(seed) {}

std::chrono::milliseconds JitteredBackoff::Next() {
  const auto base = std::min(current_, max_);
  std::uniform_real_distribution<double> u(1.0 - jitter_, 1.0 + jitter_);
  auto delay =
      std::chrono::milliseconds(static_cast<int64_t>(static_cast<double>(base.count()) * u(rng_)));
  delay = std::min(delay, max_);
  if (current_ < max_) current_ = std::min(current_ * 2, max_);
  return delay;
}

void JitteredBackoff::Reset() { current_ = initial_; }

namespace {
uint64_t SeedOrRandom(uint64_t seed) {
  if (seed != 0) return seed;
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}
}  // namespace

Informer::Informer(Client& client, InformerOptions options)
    : client_(client),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : RealClock::Get()),
      backoff_(options_.initial_backoff, options_.max_backoff, options_.backoff_jitter,
               SeedOrRandom(options_.seed)),
      rng_(SeedOrRandom(options_.seed) + 1) {}

Informer::~Informer() { Stop(); }

Status Informer::AddIndex(const std::string& name, IndexFunc fn) {
  {
    std::lock_guard lock(mu_);
    if (started_) return Status::FailedPrecondition("index \"" + name + "\" added after Start");
  }
  return store_.AddIndex(name, std::move(fn));
}

void Informer::AddEventHandler(EventHandler handler) {
  std::lock_guard lock(mu_);
  handlers_.push_back(std::move(handler));
}

Status Informer::Start() {
  std::lock_guard lock(mu_);
  if (started_) return Status::FailedPrecondition("informer already started");
  if (options_.min_watch_timeout.count() <= 0 ||
      options_.max_watch_timeout < options_.min_watch_timeout) {
    return Status::InvalidArgument(
        "informer: watch timeouts must satisfy 0 < min_watch_timeout <= max_watch_timeout");
  }
  if (options_.page_size < 0) return Status::InvalidArgument("informer: page_size must be >= 0");
  started_ = true;
  thread_ = std::thread([this] { Run(); });
  return Status::Ok();
}

void Informer::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (open_watch_ != nullptr) open_watch_->Cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Informer::WaitForSync(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return synced_.load() || stopping_; });
  return synced_.load();
}

InformerStats Informer::Stats() const {
  InformerStats s;
  s.lists = lists_.load();
  s.relists = relists_.load();
  s.watch_starts = watch_starts_.load();
  s.watch_restarts = watch_restarts_.load();
  s.watch_errors = watch_errors_.load();
  s.events = events_.load();
  s.bookmarks = bookmarks_.load();
  s.skipped_objects = skipped_.load();
  return s;
}

std::string Informer::LastResourceVersion() const {
  std::lock_guard lock(mu_);
  return resource_version_;
}

void Informer::SetResourceVersion(std::string rv) {
  if (rv.empty()) return;
  std::lock_guard lock(mu_);
  resource_version_ = std::move(rv);
}

ObjectPtr Informer::Prepare(json object) const {
  if (options_.transform) options_.transform(object);
  return std::make_shared<const json>(std::move(object));
}

bool Informer::BackoffWait() {
  const auto delay = backoff_.Next();
  if (options_.on_backoff) options_.on_backoff(delay);
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stopping_; });
}

void Informer::Run() {
  // The top of the informer's thread: nothing escapes it. A throw (a bug in a handler or an
  // index function, memory exhaustion) is reported, and the informer starts over from a list
  // after a backoff, so the cache heals instead of the process ending.
  for (;;) {
    try {
      RunLoop();
      return;
    } catch (const std::exception& e) {
      Report(Status::Internal(std::string("informer thread caught an exception: ") + e.what()));
    } catch (...) {
      Report(Status::Internal("informer thread caught a non-standard exception"));
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    ++watch_errors_;
    if (!BackoffWait()) return;
  }
}

void Informer::Report(const Status& status) const {
  if (!options_.on_error) return;
  try {
    options_.on_error(status);
  } catch (...) {
    // A throwing error callback has nowhere left to report to.
  }
}

void Informer::SkipBadObject(const Status& why) {
  ++skipped_;
  const Status s = why.WithPrefix("skipped a " + options_.type.QualifiedName() + " object");
  if (options_.on_bad_object) {
    try {
      options_.on_bad_object(s);
    } catch (...) {
    }
  } else {
    Report(s);
  }
}

template <typename F>
void Informer::Notify(const char* what, F&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    Report(Status::Internal(std::string(what) + " handler threw: " + e.what()));
  } catch (...) {
    Report(Status::Internal(std::string(what) + " handler threw a non-standard exception"));
  }
}

void Informer::RunLoop() {
  bool need_list = true;
  bool relist = false;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (need_list) {
      Status s = ListAndReplace();
      if (!s.ok()) {
        {
          std::lock_guard lock(mu_);
          if (stopping_) return;
        }
        ++watch_errors_;
        Report(s);
        if (!BackoffWait()) return;
        continue;
      }
      if (relist) ++relists_;
      need_list = false;
      relist = false;
    }
    const MonoTime started = clock_.Mono();
    const uint64_t delivered_before = events_.load() + bookmarks_.load();
    Status s = WatchOnce();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    ++watch_restarts_;
    const auto lasted = clock_.Mono() - started;
    // A watch that lasted, or that delivered anything, reached a working server: the next
    // break starts the backoff over. Otherwise a watch that works for a while between
    // outages would climb to the cap over several outages, and each reconnect would wait
    // out up to 30 s after the server is back.
    if (lasted >= options_.backoff_reset_after ||
        events_.load() + bookmarks_.load() != delivered_before) {
      backoff_.Reset();
    }
    if (s.code() == StatusCode::kGone) {
      // Our resourceVersion is older than the server keeps: start over from a fresh list,
      // right away (as client-go does), and hand the difference to the handlers.
      need_list = true;
      relist = true;
      continue;
    }
    if (!s.ok()) {
      ++watch_errors_;
      Report(s);
    }
    // A watch the server ended after a reasonable time is the normal rotation: resume at
    // once. An error, or a watch that ended as soon as it started, waits out a backoff.
    if (s.ok() && lasted >= std::chrono::seconds(1)) continue;
    if (!BackoffWait()) return;
  }
}

Status Informer::ListAndReplace() {
  ListOptions list_options;
  list_options.label_selector = options_.label_selector;
  list_options.field_selector = options_.field_selector;
  list_options.limit = options_.page_size;
  // Applied page by page as a diff against the cache, so only one page is ever parsed at a
  // time: adds, updates (when the resourceVersion moved), and at the end deletes of objects
  // that are gone, including those deleted while we were disconnected. Handlers run once the
  // store holds the whole list (they look up other objects), or, when the list fails half
  // way, for the changes already stored, so that no change goes unannounced.
  struct Change {
    std::string key;
    ObjectPtr old;  // null for an add
    bool deleted = false;
  };
  std::vector<Change> changes;
  std::unordered_set<std::string> seen;
  std::string rv;
  int restarts = 0;
  Status result;
  for (;;) {
    auto page = client_.List(options_.type, options_.namespace_name, list_options);
    if (!page.ok()) {
      if (page.status().code() == StatusCode::kGone && !list_options.continue_token.empty() &&
          restarts++ < 3) {
        // The continue token expired between pages: start the list over.
        seen.clear();
        list_options.continue_token.clear();
        continue;
      }
      result = page.status();
      break;
    }
    for (auto& item : page->items) {
      if (Status bad = ValidateObjectMeta(item); !bad.ok()) {
        SkipBadObject(bad);
        continue;
      }
      ObjectPtr obj = Prepare(std::move(item));
      std::string key = ObjectKey(*obj);
      seen.insert(key);
      auto cached_rv = store_.ResourceVersionOf(key);
      if (cached_rv && *cached_rv == ObjectResourceVersion(*obj)) continue;
      ObjectPtr old = store_.Upsert(obj);
      changes.push_back({std::move(key), std::move(old), false});
    }
    rv = page->resource_version;
    if (page->continue_token.empty()) break;
    list_options.continue_token = page->continue_token;
    std::lock_guard lock(mu_);
    if (stopping_) {
      result = Status::Cancelled("informer stopped");
      break;
    }
  }
  if (result.ok()) {
    for (const auto& key : store_.Keys()) {
      if (seen.count(key)) continue;
      ObjectPtr old = store_.Remove(key);
      if (old) changes.push_back({key, std::move(old), true});
    }
    SetResourceVersion(rv);
    ++lists_;
  }
  for (const auto& change : changes) {
    ObjectPtr now = change.deleted ? nullptr : store_.Get(change.key);
    if (!change.deleted && !now) continue;
    for (const auto& h : handlers_) {
      if (change.deleted) {
        if (h.on_delete) Notify("delete", [&] { h.on_delete(change.old); });
      } else if (!change.old) {
        if (h.on_add) Notify("add", [&] { h.on_add(now); });
      } else if (h.on_update) {
        Notify("update", [&] { h.on_update(change.old, now); });
      }
    }
  }
  if (!result.ok()) return result;
  if (!synced_.exchange(true)) {
    std::lock_guard lock(mu_);
    cv_.notify_all();
  }
  return Status::Ok();
}

Status Informer::WatchOnce() {
  WatchOptions watch_options;
  watch_options.resource_version = LastResourceVersion();
  watch_options.label_selector = options_.label_selector;
  watch_options.field_selector = options_.field_selector;
  watch_options.allow_bookmarks = true;
  std::uniform_int_distribution<int64_t> timeout(options_.min_watch_timeout.count(),
                                                 options_.max_watch_timeout.count());
  watch_options.timeout_seconds = timeout(rng_);
  auto stream = client_.Watch(options_.type, options_.namespace_name, watch_options);
  if (!stream.ok()) return stream.status();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Cancelled("informer stopped");
    open_watch_ = stream->get();
  }
  ++watch_starts_;
  Status result;
  for (;;) {
    auto next = (*stream)->Next();
    if (!next.ok()) {
      result = next.status();
      break;
    }
    if (!next->has_value()) break;  // the server ended the watch
    WatchEvent& event = **next;
    if (event.type == WatchEventType::kError) {
      result = WatchErrorStatus(event);
      break;
    }
    Apply(std::move(event));
  }
  std::lock_guard lock(mu_);
  open_watch_ = nullptr;
  return result;
}

void Informer::Apply(WatchEvent event) {
  if (Status bad = ValidateObjectMeta(event.object, event.type != WatchEventType::kBookmark);
      !bad.ok()) {
    SkipBadObject(bad.WithPrefix(std::string(WatchEventTypeName(event.type)) + " event"));
    return;
  }
  const std::string rv = ObjectResourceVersion(event.object);
  if (event.type == WatchEventType::kBookmark) {
    ++bookmarks_;
    SetResourceVersion(rv);
    return;
  }
  ++events_;
  ObjectPtr obj = Prepare(std::move(event.object));  // moved: events are large, copies are not free
  const std::string key = ObjectKey(*obj);
  if (event.type == WatchEventType::kDeleted) {
    ObjectPtr old = store_.Remove(key);
    SetResourceVersion(rv);
    for (const auto& h : handlers_) {
      if (h.on_delete) Notify("delete", [&] { h.on_delete(obj); });
    }
    return;
  }
  ObjectPtr old = store_.Upsert(obj);
  SetResourceVersion(rv);
  for (const auto& h : handlers_) {
    if (old) {
      if (h.on_update) Notify("update", [&] { h.on_update(old, obj); });
    } else if (h.on_add) {
      Notify("add", [&] { h.on_add(obj); });
    }
  }
}

}  // namespace waop::kube
