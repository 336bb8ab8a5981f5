#include "controller/event_recorder.h"

#include <cstdio>

#include "common/json.h"
#include "common/logging.h"
#include "kube/client.h"

namespace waop::controller {
namespace {

// FNV-1a, 64 bit: stable across runs and builds (std::hash is not).
uint64_t Fnv1a(std::string_view data, uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Str(const nlohmann::json& obj, const char* a, const char* b) {
  auto it = obj.find(a);
  if (it == obj.end() || !it->is_object()) return "";
  auto jt = it->find(b);
  return jt != it->end() && jt->is_string() ? jt->get<std::string>() : "";
}

}  // namespace

EventRecorder::EventRecorder(kube::Client& client, const Clock& clock, std::string component,
                             std::string instance)
    : client_(client),
      clock_(clock),
      component_(std::move(component)),
      instance_(std::move(instance)) {}

std::string EventRecorder::EventName(const nlohmann::json& object, std::string_view type,
                                     std::string_view reason, std::string_view message) {
  uint64_t h = Fnv1a(Str(object, "metadata", "uid"));
  for (std::string_view part : {type, reason, message}) {
    h = Fnv1a("\x1f", h);
    h = Fnv1a(part, h);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  std::string name = Str(object, "metadata", "name");
  // Event names are DNS subdomains (<=253); keep room for the suffix.
  if (name.size() > 200) name.resize(200);
  return name + "." + hex;
}

void EventRecorder::Record(const nlohmann::json& object, std::string_view type,
                           std::string_view reason, std::string_view message) {
  std::string ns = Str(object, "metadata", "namespace");
  if (ns.empty()) ns = "default";  // events about cluster-scoped objects
  std::string name = EventName(object, type, reason, message);
  std::string cache_key = ns + "/" + name;
  int64_t known = 0;
  {
    std::lock_guard lock(mu_);
    auto it = seen_.find(cache_key);
    if (it != seen_.end()) known = it->second.first.count;
  }
  Status s = known > 0 ? Bump(cache_key, ns, name, known)
                       : Create(object, ns, name, cache_key, type, reason, message);
  if (!s.ok()) {
    logging::Log(spdlog::level::warn, "could not record event",
                 {{"namespace", ns},
                  {"name", Str(object, "metadata", "name")},
                  {"reason", std::string(reason)},
                  {"error", s.message()}});
  }
}

Status EventRecorder::Create(const nlohmann::json& object, const std::string& ns,
                             const std::string& name, const std::string& cache_key,
                             std::string_view type, std::string_view reason,
                             std::string_view message) {
  std::string now = FormatRfc3339(clock_.Now());
  nlohmann::json involved = {{"apiVersion", JsonString(object, "apiVersion")},
                             {"kind", JsonString(object, "kind")},
                             {"name", Str(object, "metadata", "name")},
                             {"uid", Str(object, "metadata", "uid")}};
  if (!Str(object, "metadata", "namespace").empty()) {
    involved["namespace"] = Str(object, "metadata", "namespace");
  }
  nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata", {{"name", name}, {"namespace", ns}}},
      {"involvedObject", std::move(involved)},
      {"type", std::string(type)},
      {"reason", std::string(reason)},
      {"message", std::string(message)},
      {"source", {{"component", component_}}},
      {"reportingComponent", component_},
      {"reportingInstance", instance_},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
  };
  auto created = client_.Create(kube::resources::kEvents, event);
  if (created.ok()) {
    Remember(cache_key, {ns, name, 1});
    return Status::Ok();
  }
  if (created.status().code() != StatusCode::kAlreadyExists) return created.status();
  // Recorded before (by an earlier process): continue its count.
  auto live = client_.Get(kube::resources::kEvents, ns, name);
  if (!live.ok()) return live.status();
  return Bump(cache_key, ns, name, live->value("count", int64_t{1}));
}

Status EventRecorder::Bump(const std::string& cache_key, const std::string& ns,
                           const std::string& name, int64_t current_count) {
  nlohmann::json patch = {{"count", current_count + 1},
                          {"lastTimestamp", FormatRfc3339(clock_.Now())}};
  auto patched = client_.Patch(kube::resources::kEvents, ns, name, kube::PatchType::kMerge, patch);
  if (!patched.ok()) {
    std::lock_guard lock(mu_);
    auto it = seen_.find(cache_key);
    if (it != seen_.end()) {  // forget it: the next Record starts over with a create
      lru_.erase(it->second.second);
      seen_.erase(it);
    }
    return patched.status();
  }
  Remember(cache_key, {ns, name, current_count + 1});
  return Status::Ok();
}

void EventRecorder::Remember(const std::string& cache_key, Seen seen) {
  std::lock_guard lock(mu_);
  auto it = seen_.find(cache_key);
  if (it != seen_.end()) {
    lru_.erase(it->second.second);
    seen_.erase(it);
  }
  lru_.push_front(cache_key);
  seen_.emplace(cache_key, std::make_pair(std::move(seen), lru_.begin()));
  if (seen_.size() > kMaxRemembered) {
    seen_.erase(lru_.back());
    lru_.pop_back();
  }
}

}  // namespace waop::controller
