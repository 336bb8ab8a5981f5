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
    return fake.Create(ns, name, record);
  }
  Result<controller::LeaseRecord> Update(const std::string& ns, const std::string& name,
                                         const controller::LeaseRecord& record) override {
    auto r = fake.Update(ns, name, record);
    if (r.ok() && record.holder_identity.empty()) journal_.Record("release lease");
    return r;
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
  int gets_ = 0;  // guarded by mu_
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

TEST(ManagerTest, LosingTheLeaseStopsWithAnError) {
  Journal journal;
  JournaledLeaseClient lease(journal);
  Manager mgr(WithElection(lease, "me"));
  mgr.AddCache(std::make_unique<FakeCache>("cache", journal, true));
  mgr.AddLeaderOnly(std::make_unique<FakeRunnable>("controller", journal));
  Running run(mgr);
  ASSERT_TRUE(journal.WaitFor("start controller"));

  // Someone else takes the Lease over (a partition, a forced takeover): renewals now fail.
  lease.fake.Put(kNs, kLease, {.holder_identity = "other", .lease_duration_seconds = 3600});
  Status result = run.Wait();
  EXPECT_EQ(result.code(), StatusCode::kUnavailable) << result.message();
  EXPECT_THAT(result.message(), HasSubstr("leader election lost"));
  EXPECT_THAT(journal.Events(),
              ElementsAre("start cache", "start controller", "stop controller", "stop cache"));
  // Not ours to release.
  EXPECT_EQ(lease.fake.Peek(kNs, kLease)->holder_identity, "other");
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

TEST(ManagerTest, RunsOnce) {
  Manager mgr(NoElection());
  mgr.RequestStop();
  EXPECT_TRUE(mgr.Run(std::stop_token()).ok());
  EXPECT_EQ(mgr.Run(std::stop_token()).code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace waop::manager
