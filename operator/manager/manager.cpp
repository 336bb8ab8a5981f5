#include "manager/manager.h"

#include <utility>

#include "common/json.h"
#include "common/logging.h"
#include "manager/runnables.h"

namespace waop::manager {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

}  // namespace

Manager::Manager(ManagerOptions options)
    : options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : RealClock::Get()),
      fence_(options_.fence ? options_.fence : &own_fence_) {
  checks_.Add(server::HealthChecks::Kind::kHealthz, "ping", [] { return Status::Ok(); });
  checks_.Add(server::HealthChecks::Kind::kReadyz, "informers-synced", [this] {
    return CachesSynced() ? Status::Ok() : Status::Unavailable("caches not synced yet");
  });
  if (options_.probes.metrics.enabled() || options_.probes.health.enabled()) {
    servers_.push_back(
        std::make_unique<HttpServerRunnable>(options_.probes, options_.registry, &checks_));
  }
}

Manager::~Manager() {
  std::thread leadership;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    leadership.swap(leadership_thread_);
  }
  cv_.notify_all();
  if (leadership.joinable()) leadership.join();
}

void Manager::AddServer(std::unique_ptr<Runnable> runnable) {
  servers_.push_back(std::move(runnable));
}
void Manager::AddCache(std::unique_ptr<Cache> cache) { caches_.push_back(std::move(cache)); }
void Manager::AddLeaderOnly(std::unique_ptr<Runnable> runnable) {
  leader_only_.push_back(std::move(runnable));
}
void Manager::AddHealthzCheck(const std::string& name, server::HealthChecks::Check check) {
  checks_.Add(server::HealthChecks::Kind::kHealthz, name, std::move(check));
}
void Manager::AddReadyzCheck(const std::string& name, server::HealthChecks::Check check) {
  checks_.Add(server::HealthChecks::Kind::kReadyz, name, std::move(check));
}

bool Manager::CachesSynced() const {
  for (const auto& c : caches_) {
    if (!c->HasSynced()) return false;
  }
  return true;
}

void Manager::RequestStop() {
  {
    std::lock_guard lock(mu_);
    if (!stop_ && reason_.empty()) reason_ = "stop requested";
    stop_ = true;
  }
  cv_.notify_all();
}

void Manager::Fail(Status error) {
  {
    std::lock_guard lock(mu_);
    if (result_.ok()) result_ = error;
    if (!stop_) reason_ = error.message();
    stop_ = true;
  }
  cv_.notify_all();
}

bool Manager::Stopping() const {
  std::lock_guard lock(mu_);
  return stop_;
}

Status Manager::Run(std::stop_token stop) {
  if (ran_) return Status::FailedPrecondition("Manager::Run called twice");
  ran_ = true;
  // A stop requested through the token wakes the wait below; RequestStop sets the flag the
  // leader thread and the elector's callbacks read.
  std::stop_callback on_stop(stop, [this] { RequestStop(); });

  auto start_group = [this](auto& group, size_t& started, const char* what) {
    for (auto& r : group) {
      if (Stopping()) return;
      if (Status s = r->Start(); !s.ok()) {
        Log(lvl::err, std::string("cannot start ") + what,
            {{"runnable", r->Name()}, {"error", s.message()}});
        Fail(Status(s.code(), "cannot start " + r->Name() + ": " + s.message()));
        return;
      }
      ++started;
    }
  };
  start_group(servers_, servers_started_, "server");
  start_group(caches_, caches_started_, "cache");
  if (!Stopping()) {
    if (options_.leader_election) {
      if (Status s = StartElection(); !s.ok()) Fail(s);
    } else {
      OnWon();
    }
  }
  {
    std::lock_guard lock(mu_);
    if (!stop_) leadership_thread_ = std::thread([this] { LeadershipLoop(); });
  }

  std::string reason;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return stop_; });
    reason = reason_;
  }
  Log(lvl::info, "shutting down", {{"reason", reason}});
  Shutdown();
  std::lock_guard lock(mu_);
  return result_;
}

void Manager::OnWon() {
  {
    std::lock_guard lock(mu_);
    want_lead_ = true;
  }
  cv_.notify_all();
}

void Manager::OnLost() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    // Closed here, on the elector's thread, before the leadership thread even wakes: no write
    // leaves this replica from now on (the elector's clock check refused them already from the
    // renew deadline on).
    fence_->Close();
    want_lead_ = false;
    ++lost_count_;
  }
  cv_.notify_all();
}

Status Manager::StartElection() {
  const LeaderElectionOptions& le = *options_.leader_election;
  if (le.lease_client == nullptr) {
    return Status::InvalidArgument("leader election needs a lease client");
  }
  const std::string identity = le.config.identity;
  const std::string lease_name = le.config.lease_name;
  controller::LeaderCallbacks callbacks;
  callbacks.on_started_leading = [this, identity, lease_name] {
    Log(lvl::info, "became leader", {{"identity", identity}, {"lease", lease_name}});
    // The term runs on the leadership thread: waiting for the caches must not delay renewals.
    OnWon();
  };
  callbacks.on_stopped_leading = [this, identity] {
    if (Stopping()) return;
    Log(lvl::warn, "lost the lease; stepping down and standing by", {{"identity", identity}});
    OnLost();
  };
  callbacks.on_new_leader = [identity](const std::string& holder) {
    if (!holder.empty() && holder != identity) {
      Log(lvl::info, "another replica leads", {{"leader", holder}});
    }
  };
  auto created = controller::LeaderElector::Create(*le.lease_client, le.config, clock_, callbacks);
  if (!created.ok()) {
    Log(lvl::err, "bad leader election settings", {{"error", created.status().message()}});
    return created.status();
  }
  elector_ = std::move(*created);
  if (Status s = elector_->Start(); !s.ok()) {
    Log(lvl::err, "cannot start leader election", {{"error", s.message()}});
    return s;
  }
  if (le.watch_client == nullptr) return Status::Ok();

  // Standbys watch the Lease, so a release (the leader's SIGTERM) is taken at once rather than
  // at the next retry period.
  kube::InformerOptions lo;
  lo.type = kube::resources::kLeases;
  lo.namespace_name = le.config.lease_namespace;
  lo.field_selector = "metadata.name=" + lease_name;
  lo.on_error = [](const Status& s) {
    Log(lvl::warn, "watch interrupted, will resume",
        {{"resource", kube::resources::kLeases.resource}, {"error", s.message()}});
  };
  lo.on_bad_object = [](const Status& s) {
    Log(lvl::warn, "skipped an object that cannot be read",
        {{"resource", kube::resources::kLeases.resource}, {"error", s.message()}});
  };
  lease_watch_ = std::make_unique<kube::Informer>(*le.watch_client, lo);
  // The elector outlives the watch (stopped first at shutdown).
  controller::LeaderElector* poked = elector_.get();
  auto poke_if_free = [poked](const kube::ObjectPtr& lease) {
    const nlohmann::json* spec = JsonObject(*lease, "spec");
    const bool free = spec == nullptr || JsonString(*spec, "holderIdentity").empty();
    if (free) poked->Poke();
  };
  lease_watch_->AddEventHandler(
      {poke_if_free,
       [poke_if_free](const kube::ObjectPtr&, const kube::ObjectPtr& l) { poke_if_free(l); },
       [poked](const kube::ObjectPtr&) { poked->Poke(); }});
  // Without the watch, the election still works at the retry period: not fatal.
  if (Status w = lease_watch_->Start(); !w.ok()) {
    Log(lvl::warn, "cannot watch the lease", {{"error", w.message()}});
  }
  return Status::Ok();
}

void Manager::LeadershipLoop() {
  // The top of the leadership thread: a throw fails the manager (which stops in order) rather
  // than the process.
  try {
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || want_lead_; });
        if (stop_) return;
      }
      RunTerm();
    }
  } catch (const std::exception& e) {
    Log(lvl::err, "the leadership thread threw", {{"error", e.what()}});
    Fail(Status::Internal(std::string("the leadership thread threw: ") + e.what()));
  } catch (...) {
    Log(lvl::err, "the leadership thread threw", {{"error", "non-standard exception"}});
    Fail(Status::Internal("the leadership thread threw"));
  }
}

void Manager::RunTerm() {
  uint64_t term_lost_count = 0;
  {
    std::lock_guard lock(mu_);
    term_lost_count = lost_count_;
  }
  // Over when stopping, or when the Lease was lost since the term began (even if it was won
  // back at once: the next term starts afresh).
  auto over_locked = [&] { return stop_ || lost_count_ != term_lost_count; };
  auto over = [&] {
    std::lock_guard lock(mu_);
    return over_locked();
  };
  leading_ = true;
  const int term = ++terms_;
  if (term > 1) Log(lvl::info, "leading again", {{"term", std::to_string(term)}});

  // Reconcile only from synced caches: an empty cache would look like "nothing exists".
  for (const auto& c : caches_) {
    while (!c->HasSynced()) {
      if (over()) {
        leading_ = false;
        return;
      }
      c->WaitForSync(options_.cache_sync_poll);
    }
  }
  {
    std::lock_guard lock(mu_);
    if (over_locked()) {
      leading_ = false;
      return;
    }
    controller::LeaderElector* elector = elector_.get();
    fence_->Open(elector ? std::function<bool()>([elector] { return elector->IsLeader(); })
                         : std::function<bool()>());
  }
  size_t started = 0;
  for (auto& r : leader_only_) {
    if (over()) break;
    if (Status s = r->Start(); !s.ok()) {
      Log(lvl::err, "cannot start leader-only runnable",
          {{"runnable", r->Name()}, {"error", s.message()}});
      Fail(Status(s.code(), "cannot start " + r->Name() + ": " + s.message()));
      break;
    }
    ++started;
  }
  bool stepping_down = false;
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, over_locked);
    stepping_down = !stop_;
  }
  // On a step-down the fence is already closed (OnLost); at shutdown the runnables still lead
  // while they drain, and the fence closes after them.
  while (started > 0) leader_only_[--started]->Stop();
  fence_->Close();
  leading_ = false;
  if (stepping_down) {
    Log(lvl::info, "stepped down: leader-only work stopped, caches kept; contending again",
        {{"term", std::to_string(term)}, {"refusedWrites", std::to_string(fence_->refused())}});
  }
}

void Manager::Shutdown() {
  std::thread leadership;
  {
    std::lock_guard lock(mu_);
    leadership.swap(leadership_thread_);
  }
  // stop_ is set: the current term stops its leader-only runnables in reverse and the thread
  // ends.
  cv_.notify_all();
  if (leadership.joinable()) leadership.join();
  leading_ = false;
  if (lease_watch_) lease_watch_->Stop();
  if (elector_) {
    // Stops the elector (on_stopped_leading sees the stop and stays quiet), then frees the
    // Lease so a standby takes over at once.
    if (Status s = elector_->Release(); !s.ok()) {
      Log(lvl::warn, "could not release the lease", {{"error", s.message()}});
    }
  }
  while (caches_started_ > 0) caches_[--caches_started_]->Stop();
  while (servers_started_ > 0) servers_[--servers_started_]->Stop();
}

}  // namespace waop::manager
