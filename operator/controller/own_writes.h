// The operator's own writes, remembered until the informer's cache shows them (in the spirit of
// Kubernetes' ControllerExpectations, pkg/controller/controller_utils.go).
//
// A write's watch event arrives a moment after the write returns. A reconcile woken in between
// (by another informer's event) would compute from the stale cached object and write again: a
// 409 for a status, AlreadyExists for a create. And the watch event of the write itself brings
// nothing new, so it should wake nobody. OwnWrites answers both questions by key, keeping only
// versions and a fingerprint (never the objects):
//   - Pending(key, cached version): the write is still ahead of the cache (the cache shows the
//     version it replaced) and younger than the TTL; otherwise the entry is dropped and the
//     cache is trusted again (it caught up or moved on, or a watch that lags that long is down
//     and the conflict path takes over). With `await`, the caller skips its work until the
//     write's watch event, which must then wake it.
//   - IsQuietEcho(key, event version): the event is our write coming back and nobody awaits it,
//     so it need wake nobody. Any event with a version but the replaced one ends the entry.
//   - Forget(key): when the object is deleted (a create's "replaced version" is "absent", which
//     a deletion would make true again).
//   - Begin(key) before the request and Finish(key) with its answer: the echo usually reaches
//     the informer before the writer has the answer (the API server sends the watch event
//     first), so an entry recorded only afterwards would come too late and the echo would wake
//     the writer's own key for a reconcile with nothing to do (two extra per assignment at
//     scale). While a write is in flight, every event of its key is held instead of waking
//     anyone; Finish judges them against the written version and says whether one was someone
//     else's change, which the caller must then look at again.
//
// Keys are the caller's ("namespace/name" of an assignment, or prefixed for other kinds).
//
// Thread-safety: every method is thread-safe. Borrows the clock, which must outlive it.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "controller/rate_limiter.h"

namespace waop::controller {

class OwnWrites {
 public:
  // What is remembered of one write.
  struct Write {
    std::string replaced_resource_version;  // "" for a create
    std::string written_resource_version;
    std::size_t content = 0;  // a fingerprint of what was written (ConfigMaps), else 0
    MonoTime at;
    bool awaited = false;           // a reconcile skipped its work until the write shows
    bool in_flight = false;         // between Begin and Finish
    std::vector<std::string> held;  // versions of the events held while in flight
  };

  explicit OwnWrites(const Clock& clock, Duration ttl = std::chrono::seconds(30));
  OwnWrites(const OwnWrites&) = delete;
  OwnWrites& operator=(const OwnWrites&) = delete;

  // Records a write under `key`: it replaced `replaced_resource_version` ("" for a create) and
  // the API server answered with `written_resource_version`. A write without a written version
  // cannot be recognised on the watch and is not recorded.
  void Remember(const std::string& key, std::string replaced_resource_version,
                std::string written_resource_version, std::size_t content = 0);
  // The write under `key` while the cache (`cached_resource_version`, "" when the object is not
  // cached) still shows the version it replaced, within the TTL; otherwise forgets it and
  // returns nullopt. `await` marks that the caller skips its work until the write's echo.
  std::optional<Write> Pending(const std::string& key, std::string_view cached_resource_version,
                               bool await = false);
  // True when a watch event with `resource_version` under `key` is the echo of our write and no
  // reconcile awaits it. Forgets the write on any event with a version but the replaced one:
  // after its echo, or after a later version showed the cache is past the one it replaced.
  bool IsQuietEcho(const std::string& key, std::string_view resource_version);
  void Forget(const std::string& key);
  // A write to `key` that replaces `replaced_resource_version` ("" for a create) is about to be
  // sent. Until Finish, IsQuietEcho holds (answers true for) every event of `key` with a
  // version. One write per key at a time (the work queue never runs one key twice at once).
  void Begin(const std::string& key, std::string replaced_resource_version);
  // The answer to the write begun under `key`: the written version ("" when the write failed or
  // its answer is unknown) and the fingerprint of what was written. Records the write as
  // Remember does unless its echo was already held (the cache shows it: nothing is pending).
  // Returns true when an event held meanwhile was not this write's echo (another writer's
  // change, or a deletion that forgot the key): the caller must reconcile again.
  bool Finish(const std::string& key, std::string written_resource_version,
              std::size_t content = 0);
  // Entries held (for tests and a bounded-memory check).
  std::size_t Size() const;

 private:
  const Clock& clock_;
  const Duration ttl_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Write> writes_;  // guarded by mu_
};

}  // namespace waop::controller
