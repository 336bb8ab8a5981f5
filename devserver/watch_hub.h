// The watch side of the store: a bounded history of change events (so a client can resume
// from a resourceVersion, or gets 410 Gone when it is older than what is kept) and the set of
// open watches, each with its filters, to which events are written as they are committed.
// A timer thread sends periodic BOOKMARKs, ends watches at their timeoutSeconds, and closes
// watches whose client stopped reading.
//
// Thread-safety: all methods are thread-safe. Publish must be called in resourceVersion order
// (the Store calls it under its own lock), which is what makes delivery ordered.
// Ownership: the hub owns the watchers and shares each client's StreamSink with the transport.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "http_types.h"
#include "selectors.h"

namespace devserver {

// One committed change, shared by every watcher (and the history) without copying.
struct ChangeEvent {
  uint64_t rv = 0;
  std::string type;  // ADDED MODIFIED DELETED
  std::string storage_key;
  std::string ns;
  std::shared_ptr<const nlohmann::json> obj;
  std::shared_ptr<const std::string> text;     // obj serialised once
  std::shared_ptr<const nlohmann::json> prev;  // state before, for MODIFIED/DELETED
};

// Turns (type, object) into one JSON line for a watcher that needs something other than the
// stored form (another version, a Table). Must not block.
using WatchRenderer =
    std::function<std::string(const std::string& type, const nlohmann::json& obj)>;

struct WatchSpec {
  std::string storage_key;
  std::string ns;  // "" = all namespaces
  LabelSelector labels;
  FieldSelector fields;
  std::string kind;         // for BOOKMARK objects
  std::string api_version;  // for BOOKMARK objects
  bool bookmarks = false;
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  WatchRenderer renderer;  // empty = stored form
};

class WatchHub {
 public:
  WatchHub(size_t history_limit, std::chrono::milliseconds bookmark_interval,
           size_t max_backlog_bytes = 16 << 20);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Records the event and writes it to every matching watcher.
  void Publish(ChangeEvent event);

  // Opens a watch that starts after `from_rv`, replaying the kept history. Returns false (and
  // sets *oldest to the oldest resumable resourceVersion) when from_rv is too old.
  // `initial` events (synthetic ADDEDs for "from now" watches) are written first. If
  // `initial_events_end_bookmark` is set, a BOOKMARK annotated k8s.io/initial-events-end
  // follows them.
  bool Open(WatchSpec spec, std::shared_ptr<StreamSink> sink, uint64_t from_rv,
            const std::vector<ChangeEvent>& initial, bool initial_events_end_bookmark,
            uint64_t current_rv, uint64_t* oldest);

  // Forgets the history: resumes from any resourceVersion before now get 410.
  void Compact();
  // After a restart from a data file: no history, resumes from below `rv` are 410.
  void StartAt(uint64_t rv);
  // Closes every open watch now (clients see the stream end, as on an apiserver restart).
  void DropAll();
  // Drops every open watch each `period` (0 = off).
  void SetDropEvery(std::chrono::milliseconds period);
  size_t OpenWatches() const;
  // Closes every open watch and stops the timer; watches opened afterwards end at once.
  void Shutdown();

 private:
  struct Watcher {
    uint64_t id;
    WatchSpec spec;
    std::shared_ptr<StreamSink> sink;
    std::chrono::steady_clock::time_point deadline;
    std::chrono::steady_clock::time_point next_bookmark;
  };
  // Writes the event to `w` if it passes its filters; false when the client is gone.
  bool Deliver(Watcher& w, const ChangeEvent& e);
  std::string BookmarkLine(const Watcher& w, uint64_t rv, bool initial_end) const;
  void TimerLoop();

  const size_t history_limit_;
  const std::chrono::milliseconds bookmark_interval_;
  const size_t max_backlog_;

  mutable std::mutex mu_;
  std::deque<ChangeEvent> history_;
  uint64_t compacted_rv_ = 0;  // resumes from below this are 410
  uint64_t last_rv_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Watcher> watchers_;
  std::chrono::milliseconds drop_every_{0};
  std::chrono::steady_clock::time_point next_drop_;
  bool stop_ = false;
  std::condition_variable cv_;
  std::thread timer_;
};

// `{"type":"<type>","object":<object_text>}\n`
std::string WatchLine(const std::string& type, const std::string& object_text);

}  // namespace devserver
