// The fence between a leader's writers and the API server: leader-only writers (the
// reconciler, the event recorder, the credentials publisher) send their writes through a
// FencedClient, which refuses every write unless the fence is open. The Manager opens it when a
// term's leader-only runnables start and closes it when the term ends; while open, it also asks
// the elector on every write whether the Lease was renewed within the renew deadline (a clock
// check, not a network call). So writing stops *at* the renew deadline, even when the
// elector's thread is stuck in a Lease call and has not noticed yet, which is
// lease duration - renew deadline before another replica may take the Lease over.
//
// Reads and watches pass through: standbys keep their caches warm through the same client.
//
// Thread-safety: thread-safe. Ownership: FencedClient borrows the client and the fence.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "kube/client.h"

namespace waop::manager {

class WriteFence {
 public:
  // True while the fence is open and `still_leading` (given to Open) says yes.
  bool MayWrite() const;
  // Opens the fence for a term; `still_leading` is asked on every write (empty: always yes).
  // Must be quick and never block on the network.
  void Open(std::function<bool()> still_leading);
  void Close();
  // Writes refused so far (for the step-down log line and tests).
  uint64_t refused() const { return refused_.load(); }
  void CountRefused() { refused_.fetch_add(1); }

 private:
  mutable std::mutex mu_;
  bool open_ = false;                    // guarded by mu_
  std::function<bool()> still_leading_;  // guarded by mu_
  std::atomic<uint64_t> refused_{0};
};

// A kube::Client whose writes (Create, Update, UpdateStatus, Patch, Delete) are refused with
// Unavailable("... not the leader ...") while `fence` is closed.
class FencedClient final : public kube::Client {
 public:
  FencedClient(kube::Client& inner, WriteFence& fence) : inner_(inner), fence_(fence) {}

  Result<nlohmann::json> Get(const kube::ResourceType& type, std::string_view ns,
                             std::string_view name) override {
    return inner_.Get(type, ns, name);
  }
  Result<kube::ListResult> List(const kube::ResourceType& type, std::string_view ns,
                                const kube::ListOptions& options) override {
    return inner_.List(type, ns, options);
  }
  Result<std::unique_ptr<kube::WatchStream>> Watch(const kube::ResourceType& type,
                                                   std::string_view ns,
                                                   const kube::WatchOptions& options) override {
    return inner_.Watch(type, ns, options);
  }
  Result<nlohmann::json> Create(const kube::ResourceType& type,
                                const nlohmann::json& object) override;
  Result<nlohmann::json> Update(const kube::ResourceType& type,
                                const nlohmann::json& object) override;
  Result<nlohmann::json> UpdateStatus(const kube::ResourceType& type,
                                      const nlohmann::json& object) override;
  Result<nlohmann::json> Patch(const kube::ResourceType& type, std::string_view ns,
                               std::string_view name, kube::PatchType patch_type,
                               const nlohmann::json& patch,
                               std::string_view subresource = "") override;
  Status Delete(const kube::ResourceType& type, std::string_view ns, std::string_view name,
                const kube::DeleteOptions& options = {}) override;

 private:
  // OK when the fence is open; the refusal otherwise.
  Status Check(const char* verb, const kube::ResourceType& type, std::string_view name);

  kube::Client& inner_;
  WriteFence& fence_;
};

}  // namespace waop::manager
