#include "controller/leader_election.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/fake_clock.h"
#include "support/fake_lease_client.h"

namespace waop::controller {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr char kNs[] = "ops";
constexpr char kName[] = "whatsapp-operator";

struct Candidate {
  std::atomic<int> started{0};
  std::atomic<int> stopped{0};
  std::mutex mu;
  std::vector<std::string> leaders_seen;
  std::unique_ptr<LeaderElector> elector;

  Candidate(LeaseClient& client, const Clock& clock, const std::string& identity,
            LeaderElectionConfig config = {}) {
    config.lease_namespace = kNs;
    config.lease_name = kName;
    config.identity = identity;
    config.jitter_seed = std::hash<std::string>{}(identity) | 1;
    LeaderCallbacks callbacks;
    callbacks.on_started_leading = [this] { ++started; };
    callbacks.on_stopped_leading = [this] { ++stopped; };
    callbacks.on_new_leader = [this](const std::string& who) {
      std::lock_guard lock(mu);
      leaders_seen.push_back(who);
    };
    auto created = LeaderElector::Create(client, config, clock, callbacks);
    EXPECT_TRUE(created.ok()) << created.status().ToString();
    elector = std::move(created).value();
  }
  std::vector<std::string> Seen() {
    std::lock_guard lock(mu);
    return leaders_seen;
  }
};

// Advances the clock in small steps, ticking every elector that is not "crashed", and checks
// after each step that at most one of them believes it leads.
void RunFor(FakeClock& clock, std::chrono::milliseconds total,
            const std::vector<Candidate*>& live) {
  const auto step = milliseconds(100);
  for (auto t = milliseconds::zero(); t < total; t += step) {
    clock.Advance(step);
    for (auto* c : live) c->elector->TickForTesting();
    int leaders = 0;
    for (auto* c : live) leaders += c->elector->IsLeader() ? 1 : 0;
    ASSERT_LE(leaders, 1) << "two leaders at t=" << t.count() << "ms";
  }
}

TEST(LeaderElectionTest, ExactlyOneOfTwoLeads) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a"), b(client, clock, "b");
  a.elector->TickForTesting();
  b.elector->TickForTesting();
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_FALSE(b.elector->IsLeader());
  RunFor(clock, seconds(120), {&a, &b});
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_FALSE(b.elector->IsLeader());
  EXPECT_EQ(a.started.load(), 1);
  EXPECT_EQ(a.stopped.load(), 0);
  EXPECT_EQ(b.started.load(), 0);
  EXPECT_EQ(b.elector->CurrentLeader(), "a");
  EXPECT_THAT(b.Seen(), ::testing::ElementsAre("a"));
  auto lease = client.Peek(kNs, kName);
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ(lease->holder_identity, "a");
  EXPECT_EQ(lease->lease_duration_seconds, 15);
  EXPECT_EQ(lease->lease_transitions, 0);
  // The leader renews every retry period: renewTime is recent.
  ASSERT_TRUE(lease->renew_time.has_value());
  EXPECT_LE(clock.Now() - *lease->renew_time, seconds(2));
}

TEST(LeaderElectionTest, StandbyTakesOverAfterLeaseExpiryWhenLeaderCrashes) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a"), b(client, clock, "b");
  RunFor(clock, seconds(10), {&a, &b});
  ASSERT_TRUE(a.elector->IsLeader());
  const WallTime last_renew = *client.Peek(kNs, kName)->renew_time;
  // "a" crashes: nobody ticks it any more. "b" must wait out the lease as it observed it.
  const auto crash = clock.Now();
  RunFor(clock, seconds(12), {&b});
  EXPECT_FALSE(b.elector->IsLeader()) << "took over before the lease expired";
  EXPECT_FALSE(a.elector->IsLeader()) << "a crashed leader cannot renew, so it is not leader";
  RunFor(clock, seconds(12), {&b});
  EXPECT_TRUE(b.elector->IsLeader());
  EXPECT_EQ(b.started.load(), 1);
  auto lease = client.Peek(kNs, kName);
  EXPECT_EQ(lease->holder_identity, "b");
  EXPECT_EQ(lease->lease_transitions, 1);
  EXPECT_GE(*lease->acquire_time - last_renew, seconds(15));
  // b notices the last renew at its next retry (<= 3 s after the crash), waits 15 s from
  // then, and acquires at the retry after that (<= 3 s more).
  EXPECT_LE(*lease->acquire_time - crash, seconds(15) + seconds(6));
}

TEST(LeaderElectionTest, ExpiryIsJudgedByLocalObservationNotRemoteTimestamps) {
  FakeClock clock;
  FakeLeaseClient client;
  // A holder whose clock is far behind wrote a renewTime an hour in the past.
  LeaseRecord skewed;
  skewed.holder_identity = "other";
  skewed.lease_duration_seconds = 15;
  skewed.renew_time = clock.Now() - std::chrono::hours(1);
  client.Put(kNs, kName, skewed);
  Candidate b(client, clock, "b");
  b.elector->TickForTesting();
  EXPECT_FALSE(b.elector->IsLeader());
  RunFor(clock, seconds(14), {&b});
  EXPECT_FALSE(b.elector->IsLeader());
  RunFor(clock, seconds(6), {&b});
  EXPECT_TRUE(b.elector->IsLeader());
}

TEST(LeaderElectionTest, ReleaseLetsStandbyLeadAtItsNextRetry) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a"), b(client, clock, "b");
  RunFor(clock, seconds(5), {&a, &b});
  ASSERT_TRUE(a.elector->IsLeader());
  ASSERT_TRUE(a.elector->Release().ok());
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped.load(), 1);
  auto released = client.Peek(kNs, kName);
  EXPECT_EQ(released->holder_identity, "");
  EXPECT_EQ(released->lease_duration_seconds, 1);
  // b retries within retry_period * (1 + jitter_factor) = 3 s: the SIGTERM handover bound.
  RunFor(clock, seconds(3), {&b});
  EXPECT_TRUE(b.elector->IsLeader());
  EXPECT_EQ(client.Peek(kNs, kName)->lease_transitions, 1);
  // Releasing twice, or when not holding, is a no-op.
  EXPECT_TRUE(a.elector->Release().ok());
  EXPECT_EQ(client.Peek(kNs, kName)->holder_identity, "b");
}

// Bumps the lease's resourceVersion just before the next Update, like a racing writer.
class RacingLeaseClient : public FakeLeaseClient {
 public:
  std::atomic<int> races{0};
  Result<LeaseRecord> Update(const std::string& ns, const std::string& name,
                             const LeaseRecord& record) override {
    if (races > 0) {
      --races;
      auto current = Peek(ns, name);
      if (current.ok()) Put(ns, name, *current);
    }
    return FakeLeaseClient::Update(ns, name, record);
  }
};

TEST(LeaderElectionTest, ConflictOnRenewIsRetriedWithoutLosingLeadership) {
  FakeClock clock;
  RacingLeaseClient client;
  Candidate a(client, clock, "a");
  a.elector->TickForTesting();
  ASSERT_TRUE(a.elector->IsLeader());
  client.races = 2;
  RunFor(clock, seconds(8), {&a});
  EXPECT_EQ(client.conflicts(), 2);
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped.load(), 0);
  EXPECT_LE(clock.Now() - *client.Peek(kNs, kName)->renew_time, seconds(2));
}

TEST(LeaderElectionTest, ConflictOnAcquireMeansNotLeader) {
  FakeClock clock;
  RacingLeaseClient client;
  LeaseRecord released;
  released.lease_duration_seconds = 1;
  client.Put(kNs, kName, released);
  Candidate a(client, clock, "a");
  client.races = 1;
  a.elector->TickForTesting();
  EXPECT_EQ(client.conflicts(), 1);
  EXPECT_FALSE(a.elector->IsLeader());
  RunFor(clock, seconds(3), {&a});
  EXPECT_TRUE(a.elector->IsLeader());
}

TEST(LeaderElectionTest, ClientErrorsLoseLeadershipAfterRenewDeadline) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a"), b(client, clock, "b");
  a.elector->TickForTesting();
  b.elector->TickForTesting();
  ASSERT_TRUE(a.elector->IsLeader());
  client.FailAll(Status::Unavailable("apiserver down"));
  RunFor(clock, seconds(9), {&a, &b});
  EXPECT_TRUE(a.elector->IsLeader()) << "lost leadership before the renew deadline";
  EXPECT_EQ(a.stopped.load(), 0);
  RunFor(clock, milliseconds(1100), {&a, &b});
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped.load(), 1);
  EXPECT_FALSE(b.elector->IsLeader());
  // Still failing: nobody leads, nothing crashes, no repeated callbacks.
  RunFor(clock, seconds(30), {&a, &b});
  EXPECT_EQ(a.stopped.load(), 1);
  EXPECT_EQ(b.started.load(), 0);
  // The API server comes back: one of them leads again.
  client.FailAll(Status::Ok());
  RunFor(clock, seconds(30), {&a, &b});
  EXPECT_NE(a.elector->IsLeader(), b.elector->IsLeader());
}

TEST(LeaderElectionTest, LeaseTakenByAnotherHolderEndsLeadershipAtOnce) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a");
  a.elector->TickForTesting();
  ASSERT_TRUE(a.elector->IsLeader());
  LeaseRecord intruder;
  intruder.holder_identity = "intruder";
  intruder.lease_duration_seconds = 15;
  client.Put(kNs, kName, intruder);
  RunFor(clock, milliseconds(2100), {&a});
  EXPECT_FALSE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped.load(), 1);
  EXPECT_EQ(a.elector->CurrentLeader(), "intruder");
}

TEST(LeaderElectionTest, ErrorsAreReportedToOnError) {
  FakeClock clock;
  FakeLeaseClient client;
  std::vector<Status> errors;
  LeaderCallbacks callbacks;
  callbacks.on_error = [&](const Status& s) { errors.push_back(s); };
  auto elector = LeaderElector::Create(client, {kNs, kName, "a"}, clock, callbacks);
  ASSERT_TRUE(elector.ok());
  client.FailNext(1, Status::Unavailable("connection refused"));
  (*elector)->TickForTesting();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code(), StatusCode::kUnavailable);
  EXPECT_EQ(errors[0].message(), "get lease: connection refused");
  EXPECT_FALSE((*elector)->IsLeader());
}

TEST(LeaderElectionTest, TransientErrorsWithinDeadlineKeepLeadership) {
  FakeClock clock;
  FakeLeaseClient client;
  Candidate a(client, clock, "a");
  a.elector->TickForTesting();
  client.FailNext(3, Status::Unavailable("blip"));
  RunFor(clock, seconds(20), {&a});
  EXPECT_TRUE(a.elector->IsLeader());
  EXPECT_EQ(a.stopped.load(), 0);
  EXPECT_EQ(a.started.load(), 1);
}

TEST(LeaderElectionTest, RejectsInvalidConfigNamingTheField) {
  FakeClock clock;
  FakeLeaseClient client;
  auto make = [&](LeaderElectionConfig c) {
    return LeaderElector::Create(client, c, clock, {}).status();
  };
  LeaderElectionConfig good{kNs, kName, "me"};
  EXPECT_TRUE(make(good).ok());
  auto c = good;
  c.identity = "";
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("identity"));
  c = good;
  c.lease_name = "";
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("lease name"));
  c = good;
  c.renew_deadline = seconds(20);
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("must be greater than renew deadline"));
  c = good;
  c.retry_period = seconds(9);
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("1.2 x retry period"));
  c = good;
  c.jitter_factor = -1;
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("jitter factor"));
  c = good;
  c.lease_duration = milliseconds(15500);
  EXPECT_THAT(make(c).message(), ::testing::HasSubstr("whole seconds"));
}

TEST(LeaseJsonTest, RoundTripsAndWritesKubernetesShape) {
  LeaseRecord record;
  record.holder_identity = "pod-a_1234";
  record.lease_duration_seconds = 15;
  record.acquire_time = *ParseRfc3339("2026-11-26T10:00:00.123456Z");
  record.renew_time = *ParseRfc3339("2026-11-26T10:00:02.5Z");
  record.lease_transitions = 3;
  record.resource_version = "42";
  const auto json = LeaseToJson("ops", "whatsapp-operator", record);
  EXPECT_EQ(json.dump(),
            R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":)"
            R"("whatsapp-operator","namespace":"ops","resourceVersion":"42"},"spec":)"
            R"({"acquireTime":"2026-11-26T10:00:00.123456Z","holderIdentity":"pod-a_1234",)"
            R"("leaseDurationSeconds":15,"leaseTransitions":3,)"
            R"("renewTime":"2026-11-26T10:00:02.500000Z"}})");
  auto back = LeaseFromJson(json);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, record);
  // A fresh Lease without spec fields reads as free.
  auto empty = LeaseFromJson(nlohmann::json::parse(R"({"metadata":{"resourceVersion":"7"}})"));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->holder_identity, "");
  EXPECT_EQ(empty->resource_version, "7");
  EXPECT_FALSE(empty->renew_time.has_value());
}

TEST(LeaseJsonTest, RejectsWrongTypesNamingTheField) {
  auto bad_duration =
      LeaseFromJson(nlohmann::json::parse(R"({"spec":{"leaseDurationSeconds":"15"}})"));
  EXPECT_THAT(bad_duration.status().message(),
              ::testing::HasSubstr("spec.leaseDurationSeconds: expected an integer"));
  auto bad_time = LeaseFromJson(nlohmann::json::parse(R"({"spec":{"renewTime":"yesterday"}})"));
  EXPECT_THAT(bad_time.status().message(), ::testing::HasSubstr("spec.renewTime"));
  EXPECT_FALSE(LeaseFromJson(nlohmann::json::array()).ok());
}

// Issue 14: anyone allowed to write the Lease can put these in it.
TEST(LeaseJsonTest, HostileValuesAreErrorsNotCrashes) {
  for (const char* text : {
           R"({"spec":{"renewTime":"9999-12-31T23:59:59.000000Z"}})",
           R"({"spec":{"acquireTime":"0000-01-01T00:00:00.000000Z"}})",
           R"({"spec":{"leaseDurationSeconds":10000000000}})",
           R"({"spec":{"leaseDurationSeconds":18446744073709551615}})",
           R"({"spec":{"leaseTransitions":-10000000000}})",
           R"({"spec":{"leaseDurationSeconds":1e300}})",
           R"({"spec":{"holderIdentity":5}})",
           R"({"metadata":{"resourceVersion":5}})",
           R"({"spec":[1]})",
       }) {
    auto lease = LeaseFromJson(nlohmann::json::parse(text));
    ASSERT_FALSE(lease.ok()) << text;
    EXPECT_EQ(lease.status().code(), StatusCode::kInvalidArgument) << text;
  }
  auto edge = LeaseFromJson(nlohmann::json::parse(
      R"({"spec":{"leaseDurationSeconds":2147483647,"leaseTransitions":-2147483648}})"));
  ASSERT_TRUE(edge.ok()) << edge.status().ToString();
  EXPECT_EQ(edge->lease_duration_seconds, 2147483647);
  EXPECT_EQ(edge->lease_transitions, -2147483648);
}

TEST(LeaderElectionTest, ThreadedHandoverOnReleaseIsQuick) {
  FakeLeaseClient client;
  const Clock& clock = RealClock::Get();
  LeaderElectionConfig fast;
  fast.lease_duration = seconds(3);
  fast.renew_deadline = seconds(2);
  fast.retry_period = milliseconds(100);
  Candidate a(client, clock, "a", fast);
  ASSERT_TRUE(a.elector->Start().ok());
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (!a.elector->IsLeader() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(a.elector->IsLeader());
  Candidate b(client, clock, "b", fast);
  ASSERT_TRUE(b.elector->Start().ok());
  EXPECT_EQ(a.elector->Start().code(), StatusCode::kFailedPrecondition);
  while (b.Seen().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_FALSE(b.elector->IsLeader());
  const auto released_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(a.elector->Release().ok());
  while (!b.elector->IsLeader() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_TRUE(b.elector->IsLeader());
  // Far below the 3 s lease: the standby did not wait for expiry.
  EXPECT_LT(std::chrono::steady_clock::now() - released_at, seconds(2));
  b.elector->Stop();
  EXPECT_EQ(b.stopped.load(), 1);
  EXPECT_FALSE(b.elector->IsLeader());
}

TEST(LeaderElectionTest, APokedCandidateTriesAtOnce) {
  FakeLeaseClient client;
  FakeClock clock;  // never advances: only a poke can bring the standby's next step forward
  Candidate a(client, clock, "a");
  a.elector->TickForTesting();
  ASSERT_TRUE(a.elector->IsLeader());
  Candidate b(client, clock, "b");
  ASSERT_TRUE(b.elector->Start().ok());
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (b.Seen().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(b.Seen(), std::vector<std::string>{"a"});
  b.elector->Poke();  // held, not released: the attempt finds it taken
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(b.elector->IsLeader());
  ASSERT_TRUE(a.elector->Release().ok());
  b.elector->Poke();  // what the operator's watch on the Lease does when it sees the release
  while (!b.elector->IsLeader() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_TRUE(b.elector->IsLeader());
  // A leader ignores pokes (and stays leader).
  b.elector->Poke();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_TRUE(b.elector->IsLeader());
  b.elector->Stop();
}

}  // namespace
}  // namespace waop::controller
