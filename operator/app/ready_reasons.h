#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace waop::app {

// The reason of an assignment's Ready condition, "Unknown" when it has none yet.
std::string ReadyReason(const nlohmann::json& assignment);

// Assignments counted by the reason of their Ready condition, kept up to date from the
// assignment informer's events, so that a metrics scrape reads a handful of counters instead
// of unpacking every cached assignment. Thread-safe.
class ReadyReasonCounts {
 public:
  void Added(const nlohmann::json& obj);
  void Updated(const nlohmann::json& old_obj, const nlohmann::json& new_obj);
  void Deleted(const nlohmann::json& obj);

  // Every reason seen since start, with its current count: a reason whose last assignment
  // moved on reads 0 rather than vanishing from the gauge.
  std::map<std::string, std::int64_t> Snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> counts_;
};

}  // namespace waop::app
