#include "watch_hub.h"

#include <vector>

namespace devserver {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string WatchLine(const std::string& type, const std::string& object_text) {
  std::string line;
  line.reserve(object_text.size() + type.size() + 24);
  line += "{\"type\":\"";
  line += type;
  line += "\",\"object\":";
  line += object_text;
  line += "}\n";
  return line;
}

WatchHub::WatchHub(size_t history_limit, std::chrono::milliseconds bookmark_interval,
                   size_t max_backlog_bytes)
    : history_limit_(history_limit),
      bookmark_interval_(bookmark_interval),
      max_backlog_(max_backlog_bytes) {
  timer_ = std::thread([this] { TimerLoop(); });
}

WatchHub::~WatchHub() { Shutdown(); }

void WatchHub::Shutdown() {
  std::vector<std::shared_ptr<StreamSink>> sinks;
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [id, w] : watchers_) sinks.push_back(w.sink);
    watchers_.clear();
  }
  cv_.notify_all();
  if (timer_.joinable()) timer_.join();
  for (auto& s : sinks) s->Close();
}

bool WatchHub::Deliver(Watcher& w, const ChangeEvent& e) {
  if (e.storage_key != w.spec.storage_key) return true;
  if (!w.spec.ns.empty() && e.ns != w.spec.ns) return true;
  const json& obj = *e.obj;
  auto passes = [&](const json& o) {
    if (!w.spec.fields.Empty() && !w.spec.fields.Matches(o)) return false;
    if (!w.spec.labels.Empty()) {
      const json* labels = nullptr;
      auto m = o.find("metadata");
      if (m != o.end() && m->is_object()) {
        auto l = m->find("labels");
        if (l != m->end()) labels = &*l;
      }
      static const json kNull;
      if (!w.spec.labels.Matches(labels ? *labels : kNull)) return false;
    }
    return true;
  };
  bool filtered = !w.spec.fields.Empty() || !w.spec.labels.Empty();
  std::string type = e.type;
  const json* send = &obj;
  json moved_out;
  if (filtered) {
    bool now = passes(obj);
    bool before = e.prev && passes(*e.prev);
    if (e.type == "ADDED") {
      if (!now) return true;
    } else if (e.type == "DELETED") {
      if (!now && !before) return true;
    } else {  // MODIFIED
      if (!now && !before) return true;
      if (now && !before) type = "ADDED";
      if (!now && before) {
        // Like the watch cache: the object leaving the selector is a DELETED carrying its last
        // matching state at the new resourceVersion.
        type = "DELETED";
        moved_out = *e.prev;
        moved_out["metadata"]["resourceVersion"] = std::to_string(e.rv);
        send = &moved_out;
      }
    }
  }
  std::string line;
  if (w.spec.renderer) {
    line = w.spec.renderer(type, *send);
  } else if (send == &obj && e.text) {
    line = WatchLine(type, *e.text);
  } else {
    line = WatchLine(type, send->dump());
  }
  if (line.empty()) return true;
  return w.sink->Write(line);
}

std::string WatchHub::BookmarkLine(const Watcher& w, uint64_t rv, bool initial_end) const {
  json o = {
      {"kind", w.spec.kind},
      {"apiVersion", w.spec.api_version},
      {"metadata", {{"resourceVersion", std::to_string(rv)}, {"creationTimestamp", nullptr}}}};
  if (initial_end) {
    o["metadata"]["annotations"] = {{"k8s.io/initial-events-end", "true"}};
  }
  return WatchLine("BOOKMARK", o.dump());
}

void WatchHub::Publish(ChangeEvent event) {
  std::vector<std::shared_ptr<StreamSink>> gone;
  {
    std::lock_guard lock(mu_);
    last_rv_ = event.rv;
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      if (!Deliver(it->second, event)) {
        gone.push_back(it->second.sink);
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
    history_.push_back(std::move(event));
    while (history_.size() > history_limit_) {
      compacted_rv_ = history_.front().rv;
      history_.pop_front();
    }
  }
  for (auto& s : gone) s->Close();
}

bool WatchHub::Open(WatchSpec spec, std::shared_ptr<StreamSink> sink, uint64_t from_rv,
                    const std::vector<ChangeEvent>& initial, bool initial_events_end_bookmark,
                    uint64_t current_rv, uint64_t* oldest) {
  std::lock_guard lock(mu_);
  if (stop_) {
    // Shutting down: a watch that arrives now ends at once. Kept open, nothing would ever
    // close it, and the listener's close waits for every response to end.
    sink->Close();
    return true;
  }
  if (current_rv > last_rv_) last_rv_ = current_rv;
  if (from_rv != 0 && from_rv < compacted_rv_) {
    *oldest = compacted_rv_ + 1;
    return false;
  }
  Watcher w;
  w.id = next_id_++;
  w.spec = std::move(spec);
  w.sink = std::move(sink);
  auto now = Clock::now();
  w.deadline = now + w.spec.timeout;
  w.next_bookmark = now + bookmark_interval_;
  bool ok = true;
  for (const ChangeEvent& e : initial) ok = ok && Deliver(w, e);
  if (ok && initial_events_end_bookmark) ok = w.sink->Write(BookmarkLine(w, last_rv_, true));
  if (from_rv != 0) {
    for (const ChangeEvent& e : history_) {
      if (e.rv > from_rv) ok = ok && Deliver(w, e);
    }
  }
  if (!ok) {
    w.sink->Close();
    return true;
  }
  watchers_.emplace(w.id, std::move(w));
  return true;
}

void WatchHub::Compact() {
  std::lock_guard lock(mu_);
  history_.clear();
  compacted_rv_ = last_rv_;
}

void WatchHub::StartAt(uint64_t rv) {
  std::lock_guard lock(mu_);
  history_.clear();
  last_rv_ = rv;
  compacted_rv_ = rv;
}

void WatchHub::DropAll() {
  std::vector<std::shared_ptr<StreamSink>> sinks;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, w] : watchers_) sinks.push_back(w.sink);
    watchers_.clear();
  }
  for (auto& s : sinks) s->Close();
}

void WatchHub::SetDropEvery(std::chrono::milliseconds period) {
  std::lock_guard lock(mu_);
  drop_every_ = period;
  next_drop_ = Clock::now() + period;
}

size_t WatchHub::OpenWatches() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

void WatchHub::TimerLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (stop_) break;
    auto now = Clock::now();
    std::vector<std::shared_ptr<StreamSink>> closing;
    bool drop_all = drop_every_.count() > 0 && now >= next_drop_;
    if (drop_all) next_drop_ = now + drop_every_;
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      Watcher& w = it->second;
      bool end = drop_all || now >= w.deadline || w.sink->Backlog() > max_backlog_;
      bool alive = true;
      if (w.spec.bookmarks && (now >= w.next_bookmark || (end && !drop_all))) {
        alive = w.sink->Write(BookmarkLine(w, last_rv_, false));
        w.next_bookmark = now + bookmark_interval_;
      }
      if (end || !alive) {
        closing.push_back(w.sink);
        it = watchers_.erase(it);
      } else {
        ++it;
      }
    }
    if (!closing.empty()) {
      lock.unlock();
      for (auto& s : closing) s->Close();
      lock.lock();
    }
  }
}

}  // namespace devserver
