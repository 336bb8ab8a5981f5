// An in-memory Client for unit tests of the controller, webhook and informer: stores objects,
// assigns uid / resourceVersion / generation / creationTimestamp, returns Conflict on a stale
// resourceVersion and NotFound / AlreadyExists as the API server does, honours finalizers
// (Delete sets deletionTimestamp; removing the last finalizer then deletes), keeps status
// separate for types with a status subresource, filters by label and field selectors, pages
// lists, and serves watches from an event history (with bookmarks and 410 Gone after
// CompactHistory). Tests inject errors for the next N calls of a verb on a resource and count
// calls by verb / resource / subresource.
//
// Not modelled: ownerReference garbage collection, admission, strategic-merge semantics
// beyond a JSON merge patch, server-side apply.
//
// Thread-safety: every method is thread-safe; watch streams are fed from the writing thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "kube/client.h"

namespace waop::kube {

class FakeClient final : public Client {
 public:
  explicit FakeClient(const Clock& clock = RealClock::Get());
  ~FakeClient() override;
  FakeClient(const FakeClient&) = delete;
  FakeClient& operator=(const FakeClient&) = delete;

  Result<nlohmann::json> Get(const ResourceType& type, std::string_view ns,
                             std::string_view name) override;
  Result<ListResult> List(const ResourceType& type, std::string_view ns,
                          const ListOptions& options) override;
  Result<nlohmann::json> Create(const ResourceType& type, const nlohmann::json& object) override;
  Result<nlohmann::json> Update(const ResourceType& type, const nlohmann::json& object) override;
  Result<nlohmann::json> UpdateStatus(const ResourceType& type,
                                      const nlohmann::json& object) override;
  Result<nlohmann::json> Patch(const ResourceType& type, std::string_view ns, std::string_view name,
                               PatchType patch_type, const nlohmann::json& patch,
                               std::string_view subresource = "") override;
  Status Delete(const ResourceType& type, std::string_view ns, std::string_view name,
                const DeleteOptions& options = {}) override;
  Result<std::unique_ptr<WatchStream>> Watch(const ResourceType& type, std::string_view ns,
                                             const WatchOptions& options) override;

  // --- Test controls. Verbs: get, list, create, update, patch, delete, watch (UpdateStatus
  // is "update" with subresource "status").

  // The next `times` calls of `verb` on `type` (and `subresource`) fail with `error`.
  void InjectError(std::string_view verb, const ResourceType& type, Status error, int times = 1,
                   std::string_view subresource = "");
  // Drops every injected error not yet returned.
  void ClearInjectedErrors();
  // How many calls of `verb` on `type` / `subresource` were made (including failed ones).
  int Calls(std::string_view verb, const ResourceType& type,
            std::string_view subresource = "") const;
  // All calls of every kind.
  int TotalCalls() const;
  void ResetCalls();

  // Stores `object` as Create would, without counting a call or consulting injected errors.
  // Fails like Create.
  Result<nlohmann::json> Seed(const ResourceType& type, nlohmann::json object);
  // The stored objects of a type, sorted by key.
  std::vector<nlohmann::json> Objects(const ResourceType& type) const;
  // The current resourceVersion (of the last write).
  std::string ResourceVersion() const;
  // Sends a BOOKMARK with the current resourceVersion to every open watch that allows them.
  void SendBookmarks();
  // Ends every open watch cleanly (as a server-side timeout does).
  void EndWatches();
  // Breaks every open watch: its next read fails with `error` (default Unavailable).
  void BreakWatches(Status error = Status::Unavailable("fake: connection reset"));
  // Forgets the event history: a watch or continue token from an older resourceVersion gets
  // 410 Gone, as after etcd compaction.
  void CompactHistory();
  // Watches currently open (not ended, broken or cancelled).
  int OpenWatches() const;
  // Makes `type` keep status apart (Update ignores status; UpdateStatus changes only status).
  // On by default for WhatsAppAssignments and WhatsAppPhoneNumbers.
  void EnableStatusSubresource(const ResourceType& type);

 private:
  struct Watcher;
  class FakeWatchStream;
  struct Event {
    std::string type_key;
    WatchEventType type;
    nlohmann::json object;
    nlohmann::json old_object;  // for MODIFIED: to turn selector exits into DELETED
    int64_t rv;
  };
  using ObjectMap = std::map<std::string, nlohmann::json>;  // key -> object

  Status CountAndCheck(std::string_view verb, const ResourceType& type,
                       std::string_view subresource);
  Result<nlohmann::json> CreateLocked(const ResourceType& type, nlohmann::json object);
  Result<nlohmann::json> ReplaceLocked(const ResourceType& type, nlohmann::json object,
                                       bool status_only, std::string_view verb);
  void DeleteLocked(const ResourceType& type, const std::string& key);
  void EmitLocked(const ResourceType& type, WatchEventType event_type, const nlohmann::json& object,
                  const nlohmann::json& old_object);
  std::string NextRvLocked();
  bool HasStatusSubresource(const ResourceType& type) const;

  const Clock& clock_;
  mutable std::mutex mu_;
  int64_t rv_ = 100;
  int64_t compacted_rv_ = 0;
  int64_t uid_counter_ = 0;
  std::map<std::string, ObjectMap> objects_;  // type key -> objects
  std::deque<Event> history_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  std::map<std::string, std::deque<Status>> injected_;
  std::map<std::string, int> calls_;
  std::set<std::string> status_subresource_;
};

}  // namespace waop::kube
