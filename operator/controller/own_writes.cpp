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
  if (it == writes_.end()) return std::nullopt;
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

std::size_t OwnWrites::Size() const {
  std::lock_guard lock(mu_);
  return writes_.size();
}

}  // namespace waop::controller
