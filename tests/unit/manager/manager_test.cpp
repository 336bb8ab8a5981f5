#include "manager/manager.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "manager/runnables.h"
#include "support/fake_client.h"
#include "support/fake_lease_client.h"

namespace waop::manager {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = server::HealthChecks::Kind;

constexpr auto kWait = seconds(10);  // bound on every wait for something that must happen
constexpr char kNs[] = "ops";
constexpr char kLease[] = "whatsapp-operator";

// What happened, in order, across threads.
class Journal {
 public:
  void Record(std::string event) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(event));
    }
    cv_.notify_all();
  }
  // True once `event` was recorded (false after kWait).
  bool WaitFor(const std::string& event) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] {
      return std::find(events_.begin(), events_.end(), event) != events_.end();
    });
  }
  // True once `event` was recorded `n` times (false after kWait).
  bool WaitForCount(const std::string& event, int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait,
                        [&] { return std::count(events_.begin(), events_.end(), event) >= n; });
  }
  bool Has(const std::string& event) const {
    std::lock_guard lock(mu_);
    return std::find(events_.begin(), events_.end(), event) != events_.end();
  }
  std::vector<std::string> Events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
};

class FakeRunnable final : public Runnable {
 public:
  FakeRunnable(std::string name, Journal& journal, Status start_result = Status::Ok())
      : name_(std::move(name)), journal_(journal), start_result_(std::move(start_result)) {}
  std::string Name() const override { return name_; }
  Status Start() override {
    journal_.Record("start " + name_);
    return start_result_;
  }
  void Stop() override { journal_.Record("stop " + name_); }

 private:
  const std::string name_;
  Journal& journal_;
  const Status start_result_;
};

// A cache that syncs when the test says so, and counts the manager's waits on it.
class FakeCache final : public Cache {
 public:
  FakeCache(std::string name, Journal& journal, bool synced, Status start_result = Status::Ok())
      : name_(std::move(name)),
        journal_(journal),
        start_result_(std::move(start_result)),
        synced_(synced) {}
  std::string Name() const override { return name_; }
  Status Start() override {
    journal_.Record("start " + name_);
    return start_result_;
  }
  void Stop() override { journal_.Record("stop " + name_); }
  bool HasSynced() const override {
    std::lock_guard lock(mu_);
    return synced_;
  }
  bool WaitForSync(milliseconds timeout) const override {
    std::unique_lock lock(mu_);
    ++waits_;
    cv_.notify_all();
    cv_.wait_for(lock, timeout, [this] { return synced_; });
    return synced_;
  }
  void SetSynced() {
    {
      std::lock_guard lock(mu_);
      synced_ = true;
    }
    cv_.notify_all();
  }
  // True once the manager has waited on this cache `n` times (false after kWait).
  bool WaitForWaits(int n) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return waits_ >= n; });
  }

 private:
  const std::string name_;
  Journal& journal_;
  const Status start_result_;
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  bool synced_;            // guarded by mu_
  mutable int waits_ = 0;  // guarded by mu_
};

// The in-memory Lease, counting reads and journaling the release.
class JournaledLeaseClient final : public controller::LeaseClient {
 public:
  explicit JournaledLeaseClient(Journal& journal) : journal_(journal) {}
  Result<controller::LeaseRecord> Get(const std::string& ns, const std::string& name) override {
    auto r = fake.Get(ns, name);
    {
      std::lock_guard lock(mu_);
      ++gets_;
    }
    cv_.notify_all();
    return r;
  }
  Result<controller::LeaseRecord> Create(const std::string& ns, const std::string& name,
                                         const controller::LeaseRecord& record) override {
    const auto sent = std::chrono::steady_clock::now();
    auto r = fake.Create(ns, name, record);
    if (r.ok()) {
      std::lock_guard lock(mu_);
      last_ok_update_ = sent;
    }
    return r;
  }
  Result<controller::LeaseRecord> Update(const std::string& ns, const std::string& name,
                                         const controller::LeaseRecord& record) override {
    {
      // A hung API call: the elector's thread waits here until Unblock().
      std::unique_lock lock(mu_);
      if (blocked_) {
        ++blocked_calls_;
        cv_.notify_all();
        cv_.wait(lock, [this] { return !blocked_; });
      }
    }
    const auto sent = std::chrono::steady_clock::now();
    auto r = fake.Update(ns, name, record);
    if (r.ok() && record.holder_identity.empty()) journal_.Record("release lease");
    if (r.ok()) {
      std::lock_guard lock(mu_);
      last_ok_update_ = sent;
    }
    return r;
  }
  // From now on every Update hangs until Unblock().
  void Block() {
    std::lock_guard lock(mu_);
    blocked_ = true;
  }
  void Unblock() {
    {
      std::lock_guard lock(mu_);
      blocked_ = false;
    }
    cv_.notify_all();
  }
  // True once an Update is hanging (false after kWait).
  bool WaitForBlockedCall() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return blocked_calls_ > 0; });
  }
  // When the last successful Create or Update was sent.
  std::chrono::steady_clock::time_point last_ok_update() {
    std::lock_guard lock(mu_);
    return last_ok_update_;
  }
  // True once the elector has read the Lease `n` times (false after kWait).
  bool WaitForGets(int n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWait, [&] { return gets_ >= n; });
  }

  controller::FakeLeaseClient fake;

 private:
  Journal& journal_;
  std::mutex mu_;
  std::condition_variable cv_;
  int gets_ = 0;                                          // guarded by mu_
  bool blocked_ = false;                                  // guarded by mu_
  int blocked_calls_ = 0;                                 // guarded by mu_
  std::chrono::steady_clock::time_point last_ok_update_;  // guarded by mu_
};

ManagerOptions WithElection(controller::LeaseClient& client, const std::string& identity) {
  ManagerOptions o;
  LeaderElectionOptions le;
  le.config.lease_namespace = kNs;
  le.config.lease_name = kLease;
  le.config.identity = identity;
  le.config.retry_period = milliseconds(10);
  le.config.renew_deadline = milliseconds(100);
  le.config.lease_duration = seconds(1);
  le.lease_client = &client;
  o.leader_election = std::move(le);
  o.cache_sync_poll = milliseconds(20);
  return o;
}

ManagerOptions NoElection() {
  ManagerOptions o;
  o.cache_sync_poll = milliseconds(20);
  return o;
}

// Runs the manager on its own thread until stopped.
class Running {
 public:
  explicit Running(Manager& manager)
      : thread_([this, &manager] {
          Status s = manager.Run(stop_.get_token());
          {
            std::lock_guard lock(mu_);
            result_ = std::move(s);
            done_ = true;
          }
          cv_.notify_all();
        }) {}
  ~Running() {
    stop_.request_stop();
    thread_.join();
  }
  // Requests a stop and returns Run's result.
  Status Stop() {
    stop_.request_stop();
    return Wait();
  }
  // Waits for Run to return on its own (a failure); its result.
  Status Wait() {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, kWait, [this] { return done_; })) {
      return Status::DeadlineExceeded("Run did not return");
    }
    return result_;
  }

 private:
  std::stop_source stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  Status result_;      // guarded by mu_
  std::thread thread_;
};

TEST(ManagerTest, StartsGroupsInOrderAndStopsInReverse) {
  Journal journal;
  Manager mgr(NoElection());
  // Added out of group order on purpose: the group decides, not the call order.
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  mgr.AddCache(std::make_unique<FakeCache>("cache-a", journal, true));
  mgr.AddServer(std::make_unique<FakeRunnable>("webhook", journal));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("resync", journal));
  mgr.AddCache(std::make_unique<FakeCache>("cache-b", journal, true));
  mgr.AddServer(std::make_unique<FakeRunnable>("probes", journal));
  Running run(mgr);
  ASSERT_TRUE(journal.WaitFor("start resync"));
  EXPECT_TRUE(mgr.IsLeader());
  ASSERT_TRUE(run.Stop().ok());
  EXPECT_THAT(journal.Events(),
              ElementsAre("start webhook", "start probes", "start cache-a", "start cache-b",
                          "start controller", "start resync", "stop resync", "stop controller",
                          "stop cache-b", "stop cache-a", "stop probes", "stop webhook"));
  EXPECT_FALSE(mgr.IsLeader());
}

TEST(ManagerTest, LeaderOnlyRunnablesWaitForCachesToSync) {
  Journal journal;
  Manager mgr(NoElection());
  auto cache = std::make_unique<FakeCache>("cache", journal, false);
  FakeCache* cache_ptr = cache.get();
  mgr.AddCache(std::move(cache));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  // The manager is at the gate: it has waited on the unsynced cache more than once.
  ASSERT_TRUE(cache_ptr->WaitForWaits(2));
  EXPECT_FALSE(journal.Has("start controller"));
  EXPECT_FALSE(mgr.CachesSynced());
  EXPECT_EQ(mgr.health_checks().Evaluate(Kind::kReadyz, "informers-synced", "").status, 500);
  EXPECT_EQ(mgr.health_checks().Evaluate(Kind::kHealthz, "", "").status, 200);

  cache_ptr->SetSynced();
  ASSERT_TRUE(journal.WaitFor("start controller"));
  EXPECT_EQ(mgr.health_checks().Evaluate(Kind::kReadyz, "", "").status, 200);
  ASSERT_TRUE(run.Stop().ok());
}

TEST(ManagerTest, StopWhileWaitingForCachesNeverStartsLeaderOnly) {
  Journal journal;
  Manager mgr(NoElection());
  auto cache = std::make_unique<FakeCache>("cache", journal, false);
  FakeCache* cache_ptr = cache.get();
  mgr.AddCache(std::move(cache));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  ASSERT_TRUE(cache_ptr->WaitForWaits(1));
  ASSERT_TRUE(run.Stop().ok());
  EXPECT_THAT(journal.Events(), ElementsAre("start cache", "stop cache"));
}

TEST(ManagerTest, LeaderOnlyRunnablesStartOnlyOnceLeading) {
  Journal journal;
  JournaledLeaseClient lease(journal);
  // Another replica holds the Lease for an hour.
  lease.fake.Put(kNs, kLease, {.holder_identity = "other", .lease_duration_seconds = 3600});
  Manager mgr(WithElection(lease, "me"));
  mgr.AddServer(std::make_unique<FakeRunnable>("probes", journal));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);

  // Standing by: the elector has tried several times and lost; the caches run anyway.
  ASSERT_TRUE(lease.WaitForGets(3));
  EXPECT_TRUE(journal.Has("start cache"));
  EXPECT_FALSE(journal.Has("start controller"));
  EXPECT_FALSE(mgr.IsLeader());

  // The other replica releases the Lease: this one takes it and starts its controllers.
  lease.fake.Put(kNs, kLease, {.holder_identity = "", .lease_duration_seconds = 1});
  ASSERT_TRUE(journal.WaitFor("start controller"));
  EXPECT_TRUE(mgr.IsLeader());
  EXPECT_EQ(lease.fake.Peek(kNs, kLease)->holder_identity, "me");

  ASSERT_TRUE(run.Stop().ok());
  // Controllers stop before the Lease is released; caches and servers after.
  EXPECT_THAT(journal.Events(),
              ElementsAre("start probes", "start cache", "start controller", "stop controller",
                          "release lease", "stop cache", "stop probes"));
  EXPECT_EQ(lease.fake.Peek(kNs, kLease)->holder_identity, "");
}

// Losing the Lease is not fatal: the replica steps down (leader-only runnables stop, the fence
// closes), stands by with its caches as they are, and starts the leader-only runnables afresh
// when it wins the Lease back, all in one process.
TEST(ManagerTest, LosingTheLeaseStepsDownAndLeadsAgainInProcess) {
  Journal journal;
  JournaledLeaseClient lease(journal);
  WriteFence fence;
  ManagerOptions o = WithElection(lease, "me");
  o.fence = &fence;
  Manager mgr(std::move(o));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("resync", journal));
  Running run(mgr);
  ASSERT_TRUE(journal.WaitFor("start resync"));
  EXPECT_TRUE(mgr.IsLeader());
  EXPECT_TRUE(fence.MayWrite());
  EXPECT_EQ(mgr.Terms(), 1);

  // Someone else takes the Lease over (a partition, a forced takeover) for one second.
  lease.fake.Put(kNs, kLease, {.holder_identity = "other", .lease_duration_seconds = 1});
  ASSERT_TRUE(journal.WaitFor("stop controller"));
  EXPECT_FALSE(fence.MayWrite()) << "a replica that lost the Lease must not write";
  EXPECT_EQ(lease.fake.Peek(kNs, kLease)->holder_identity, "other");

  // The other holder stops renewing: once its second is over, this replica leads again.
  ASSERT_TRUE(journal.WaitForCount("start resync", 2));
  EXPECT_TRUE(mgr.IsLeader());
  EXPECT_TRUE(fence.MayWrite());
  EXPECT_EQ(mgr.Terms(), 2);
  EXPECT_EQ(lease.fake.Peek(kNs, kLease)->holder_identity, "me");

  ASSERT_TRUE(run.Stop().ok()) << "a step-down is not an error";
  // The cache started once (never re-listed); the leader-only runnables stopped in reverse and
  // started again in order.
  EXPECT_THAT(journal.Events(),
              ElementsAre("start cache", "start controller", "start resync", "stop resync",
                          "stop controller", "start controller", "start resync", "stop resync",
                          "stop controller", "release lease", "stop cache"));
  EXPECT_FALSE(fence.MayWrite());
}

// Writes stop at the renew deadline, not when the elector notices: here its thread hangs in a
// Lease update that never answers, and the fence still closes within the deadline, well before
// the lease duration after which another replica could take over.
TEST(ManagerTest, WritesStopAtTheRenewDeadlineEvenWhenTheElectorHangs) {
  Journal journal;
  JournaledLeaseClient lease(journal);
  WriteFence fence;
  ManagerOptions o = WithElection(lease, "me");
  o.fence = &fence;
  const auto renew_deadline = o.leader_election->config.renew_deadline;  // 100 ms
  const auto lease_duration = o.leader_election->config.lease_duration;  // 1 s
  Manager mgr(std::move(o));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  ASSERT_TRUE(journal.WaitFor("start controller"));
  ASSERT_TRUE(fence.MayWrite());

  lease.Block();
  ASSERT_TRUE(lease.WaitForBlockedCall());
  const auto deadline_wait = std::chrono::steady_clock::now() + kWait;
  while (fence.MayWrite() && std::chrono::steady_clock::now() < deadline_wait) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  const auto closed_at = std::chrono::steady_clock::now();
  ASSERT_FALSE(fence.MayWrite()) << "the fence never closed";
  const auto since_renew = closed_at - lease.last_ok_update();
  // The elector counts from just before its Get, a moment before the Update we timed.
  EXPECT_GE(since_renew, renew_deadline - milliseconds(20)) << "closed before the renew deadline";
  EXPECT_LT(since_renew, lease_duration) << "writes must stop before the Lease can be taken over";
  // The elector is still stuck in its call: it has not noticed, nothing was stopped yet.
  EXPECT_FALSE(journal.Has("stop controller"));

  // The hung renew succeeds, late: the term is over all the same, and a new one begins.
  lease.Unblock();
  ASSERT_TRUE(journal.WaitFor("stop controller")) << "the step-down follows once it notices";
  ASSERT_TRUE(journal.WaitForCount("start controller", 2));
  EXPECT_EQ(mgr.Terms(), 2);
  EXPECT_TRUE(fence.MayWrite());
  ASSERT_TRUE(run.Stop().ok());
}

// The FencedClient refuses writes while the fence is closed and passes reads through.
TEST(ManagerTest, FencedClientRefusesWritesWhileClosed) {
  kube::FakeClient inner;
  WriteFence fence;
  FencedClient client(inner, fence);
  const nlohmann::json cm = {{"apiVersion", "v1"},
                             {"kind", "ConfigMap"},
                             {"metadata", {{"name", "a"}, {"namespace", "ns"}}}};
  auto refused = client.Create(kube::resources::kConfigMaps, cm);
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("not the leader"));
  EXPECT_EQ(client.Delete(kube::resources::kConfigMaps, "ns", "a").code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(fence.refused(), 2u);
  EXPECT_EQ(client.Get(kube::resources::kConfigMaps, "ns", "a").status().code(),
            StatusCode::kNotFound)
      << "reads pass through";

  bool leading = true;
  fence.Open([&] { return leading; });
  ASSERT_TRUE(client.Create(kube::resources::kConfigMaps, cm).ok());
  leading = false;  // the elector's renew deadline passed
  EXPECT_EQ(client.Delete(kube::resources::kConfigMaps, "ns", "a").code(),
            StatusCode::kUnavailable);
  leading = true;
  EXPECT_TRUE(client.Delete(kube::resources::kConfigMaps, "ns", "a").ok());
  fence.Close();
  EXPECT_EQ(client.Create(kube::resources::kConfigMaps, cm).status().code(),
            StatusCode::kUnavailable);
}

TEST(ManagerTest, CacheFailingToStartStopsWhatStartedAndReturnsTheError) {
  Journal journal;
  Manager mgr(NoElection());
  mgr.AddServer(std::make_unique<FakeRunnable>("probes", journal));
  mgr.AddCache(std::make_unique<FakeCache>("cache-a", journal, true));
  mgr.AddCache(std::make_unique<FakeCache>("cache-b", journal, true,
                                           Status::InvalidArgument("bad page size")));
  mgr.AddCache(std::make_unique<FakeCache>("cache-c", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  Status result = run.Wait();
  EXPECT_EQ(result.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(result.message(), "cannot start cache-b: bad page size");
  EXPECT_THAT(journal.Events(), ElementsAre("start probes", "start cache-a", "start cache-b",
                                            "stop cache-a", "stop probes"));
}

TEST(ManagerTest, LeaderOnlyFailingToStartStopsTheManager) {
  Journal journal;
  Manager mgr(NoElection());
  mgr.AddServer(std::make_unique<FakeRunnable>("probes", journal));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  mgr.AddLeaderOnly(
      std::make_unique<FakeRunnable>("sync", journal, Status::Unavailable("Meta unreachable")));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("resync", journal));
  Running run(mgr);
  Status result = run.Wait();
  EXPECT_EQ(result.code(), StatusCode::kUnavailable);
  EXPECT_EQ(result.message(), "cannot start sync: Meta unreachable");
  EXPECT_THAT(journal.Events(),
              ElementsAre("start probes", "start cache", "start controller", "start sync",
                          "stop controller", "stop cache", "stop probes"));
}

TEST(ManagerTest, BadLeaderElectionSettingsStopTheManager) {
  Journal journal;
  JournaledLeaseClient lease(journal);
  ManagerOptions o = WithElection(lease, "");  // no identity
  Manager mgr(std::move(o));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  EXPECT_EQ(run.Wait().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(journal.Events(), ElementsAre("start cache", "stop cache"));
}

// A resync started again in a later term ticks at once (the step-down dropped the queue it
// fills); the first start waits a period, as before.
TEST(PeriodicRunnableTest, TicksAtOnceWhenRestartedOnlyIfAsked) {
  std::mutex mu;
  std::condition_variable cv;
  int ticks = 0;
  auto tick = [&] {
    {
      std::lock_guard lock(mu);
      ++ticks;
    }
    cv.notify_all();
  };
  auto ticks_now = [&] {
    std::lock_guard lock(mu);
    return ticks;
  };
  PeriodicRunnable resync("resync", std::chrono::hours(1), tick, /*tick_when_restarted=*/true);
  ASSERT_TRUE(resync.Start().ok());
  EXPECT_EQ(resync.Start().code(), StatusCode::kFailedPrecondition);
  resync.Stop();
  EXPECT_EQ(ticks_now(), 0) << "the first start waits a period";
  ASSERT_TRUE(resync.Start().ok());
  {
    std::unique_lock lock(mu);
    EXPECT_TRUE(cv.wait_for(lock, kWait, [&] { return ticks == 1; }));
  }
  resync.Stop();

  PeriodicRunnable plain("plain", std::chrono::hours(1), tick);
  ASSERT_TRUE(plain.Start().ok());
  plain.Stop();
  ASSERT_TRUE(plain.Start().ok());
  plain.Stop();
  EXPECT_EQ(ticks_now(), 1) << "without tick_when_restarted a restart waits a period too";
}

TEST(ManagerTest, RunsOnce) {
  Manager mgr(NoElection());
  mgr.RequestStop();
  EXPECT_TRUE(mgr.Run(std::stop_token()).ok());
  EXPECT_EQ(mgr.Run(std::stop_token()).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace waop::manager
