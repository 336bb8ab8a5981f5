// Records core/v1 Events about objects, aggregated the way Kubernetes does: the same event
// (object, type, reason, message) repeated increments `count` and `lastTimestamp` of one Event
// instead of creating a new one. Names are derived from the event's identity, so aggregation
// survives a restart (create → AlreadyExists → bump the existing one).
//
// Events are best effort: a failure is logged and never fails a reconcile.
//
// Thread-safety: thread-safe. The client and clock are borrowed and must outlive the recorder.
#pragma once

#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "kube/client.h"

namespace waop::controller {

class EventRecorder {
 public:
  EventRecorder(kube::Client& client, const Clock& clock, std::string component,
                std::string instance);
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // `object` is the involved object (apiVersion, kind, metadata.{name,namespace,uid}).
  // `type` is "Normal" or "Warning". Failures are logged, never returned: events are best
  // effort and must not fail a reconcile.
  void Record(const nlohmann::json& object, std::string_view type, std::string_view reason,
              std::string_view message);

  // The Event name used for this identity: "<object name>.<16 hex digits>".
  static std::string EventName(const nlohmann::json& object, std::string_view type,
                               std::string_view reason, std::string_view message);

 private:
  struct Seen {
    std::string ns;
    std::string name;
    int64_t count = 0;
  };
  Status Create(const nlohmann::json& object, const std::string& ns, const std::string& name,
                const std::string& cache_key, std::string_view type, std::string_view reason,
                std::string_view message);
  Status Bump(const std::string& cache_key, const std::string& ns, const std::string& name,
              int64_t current_count);
  void Remember(const std::string& cache_key, Seen seen);

  kube::Client& client_;
  const Clock& clock_;
  const std::string component_;
  const std::string instance_;
  std::mutex mu_;
  // LRU of recent events, bounded so memory does not grow with history.
  std::list<std::string> lru_;
  std::unordered_map<std::string, std::pair<Seen, std::list<std::string>::iterator>> seen_;
  static constexpr size_t kMaxRemembered = 4096;
};

}  // namespace waop::controller
