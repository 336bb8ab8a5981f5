#include "controller/own_writes.h"

#include <utility>

namespace waop::controller {

OwnWrites::OwnWrites(const Clock& clock, Duration ttl) : clock_(clock), ttl_(ttl) {}

void OwnWrites::Remember(const std::string& key, std::string replaced_resource_version,
                         std::string written_resource_version, std::size_t content) {
  if (written_resource_version.empty()) return;  // nothing to recognise it by
  std::lock_guard lock(mu_);
  writes_[key] = {std::move(replaced_resource_version), std::move(written_resource_version),
                  content, clock_.Mono(), false};
}

std::optional<OwnWrites::Write> OwnWrites::Pending(const std::string& key,
                                                   std::string_view cached_resource_version,
                                                   bool await) {
  std::lock_guard lock(mu_);
  auto it = writes_.find(key);
  if (it == writes_.end() || it->second.in_flight) return std::nullopt;
  if (cached_resource_version == it->second.replaced_resource_version &&
      clock_.Mono() - it->second.at < ttl_) {
    if (await) it->second.awaited = true;
    return it->second;
  }
  writes_.erase(it);  // the cache has caught up (or moved on): trust it
  return std::nullopt;
}

bool OwnWrites::IsQuietEcho(const std::string& key, std::string_view resource_version) {
  std::lock_guard lock(mu_);
  auto it = writes_.find(key);
  if (it != writes_.end() && it->second.in_flight) {
    if (resource_version.empty()) return false;
    it->second.held.emplace_back(resource_version);  // judged by Finish
    return true;
  }
  // The replaced version again (a repeated event) says nothing new: keep waiting for the echo.
  if (it == writes_.end() || resource_version.empty() ||
      it->second.replaced_resource_version == resource_version) {
    return false;
  }
  // Any other version seen on the watch ends the entry: ours (its echo), or a later one (the
  // cache is past the replaced version). Kept, an entry whose echo came before it was recorded
  // would match "absent" again once the object is deleted, and pass a deleted create as in place.
  const bool quiet = it->second.written_resource_version == resource_version && !it->second.awaited;
  writes_.erase(it);
  return quiet;
}

void OwnWrites::Forget(const std::string& key) {
  std::lock_guard lock(mu_);
  writes_.erase(key);
}

void OwnWrites::Begin(const std::string& key, std::string replaced_resource_version) {
  std::lock_guard lock(mu_);
  Write& w = writes_[key];
  w = Write{};
  w.replaced_resource_version = std::move(replaced_resource_version);
  w.at = clock_.Mono();
  w.in_flight = true;
}

bool OwnWrites::Finish(const std::string& key, std::string written_resource_version,
                       std::size_t content) {
  std::lock_guard lock(mu_);
  auto it = writes_.find(key);
  // Forgotten meanwhile (the object was deleted): whatever happened, look again.
  if (it == writes_.end() || !it->second.in_flight) return true;
  Write& w = it->second;
  bool echo = false;
  bool other = false;
  for (const std::string& v : w.held) {
    if (!written_resource_version.empty() && v == written_resource_version) {
      echo = true;
    } else if (v != w.replaced_resource_version) {
      other = true;  // a version neither before nor ours: someone else's change
    }
  }
  if (written_resource_version.empty() || echo || other) {
    // Failed (the caller retries anyway), or the cache already shows our version or a later
    // one: nothing is pending.
    writes_.erase(it);
    return other;
  }
  w.written_resource_version = std::move(written_resource_version);
  w.content = content;
  w.at = clock_.Mono();
  w.in_flight = false;
  w.held.clear();
  w.held.shrink_to_fit();
  return false;
}

std::size_t OwnWrites::Size() const {
  std::lock_guard lock(mu_);
  return writes_.size();
}

}  // namespace waop::controller
