// Chaos end to end: two whatsapp-operator replicas under leader election (short leases) against
// one kube-devserver that drops watches, answers 5xx and 409, expires history (410), refuses
// every Lease write for a while (so the leader misses its renew deadline and steps down), and is
// killed (SIGKILL) and restarted on the same port from its --data-file, while assignments are
// created, moved to other numbers and tenants, and deleted. At the end:
//   - the state is exact: every status and settings ConfigMap equals a from-scratch resolution
//     of the assignments (core::ResolveBindings), as binding_model_test checks in memory;
//   - both replicas still run (a lost Lease is a step-down, not an exit);
//   - the Lease moved between the replicas (the holder's Lease writes are refused for a while,
//     its other writes are not: only its write fence keeps it from writing as a non-leader);
//   - no write came from a replica that was not the Lease holder at that point of the
//     devserver's commit order (its /debug/writes log names each write's User-Agent, which
//     carries the replica's identity, and each Lease write's holder), and no replica wrote
//     later than a lease duration after its last successful renew.
// Seeded: WAOP_CHAOS_SEED=<n> repeats a run; the seed is printed, and named in every failure.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/types.h"
#include "bench_util.h"
#include "core/binding.h"
#include "core/settings.h"
#include "core/status.h"
#include "devserver_test_util.h"
#include "harness.h"
#include "kube/client.h"

namespace waop::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr char kLeaseName[] = "chaos-leader";
constexpr char kAssignments[] =
    "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/default/"
    "whatsappassignments";
constexpr auto kLeaseDuration = seconds(3);
constexpr auto kChaosTime = seconds(24);
constexpr int kPhones = 5;
constexpr int kTenants = 5;

// kube-devserver over plain HTTP on a fixed port, keeping its store in a data file, so that it
// can be killed and started again where it was.
class RestartableDevserver {
 public:
  explicit RestartableDevserver(const std::filesystem::path& dir) : dir_(dir) {}
  bool Start() {
    const std::string crds = SourceDir() + "/crds/";
    const std::string port_file = (dir_ / "port").string();
    std::filesystem::remove(port_file);
    std::vector<std::string> argv = {devserver::testing::DevserverBinary(),
                                     "--port",
                                     std::to_string(port_),
                                     "--port-file",
                                     port_file,
                                     "--kubeconfig-out",
                                     (dir_ / "kubeconfig").string(),
                                     "--data-file",
                                     (dir_ / "store.json").string(),
                                     "--bookmark-interval-ms",
                                     "1000",
                                     "--crd",
                                     crds + "whatsapp.bakery-ia.io_whatsappassignments.yaml",
                                     "--crd",
                                     crds + "whatsapp.bakery-ia.io_whatsappphonenumbers.yaml"};
    proc_ = std::make_unique<Process>("kube-devserver-" + std::to_string(++starts_), argv, dir_);
    int port = 0;
    WaitFor(
        [&] {
          std::string text = ReadFile(port_file);
          if (!text.empty() && text.back() == '\n') port = std::atoi(text.c_str());
          return port > 0 || !proc_->Running();
        },
        seconds(30), milliseconds(10));
    if (port > 0) port_ = port;
    return port > 0;
  }
  void Kill() {
    if (proc_) proc_->Signal(SIGKILL);
    proc_.reset();
  }
  int port() const { return port_; }
  int starts() const { return starts_; }
  std::string kubeconfig() const { return (dir_ / "kubeconfig").string(); }
  std::string Log() const { return proc_ ? proc_->Stderr() : ""; }

 private:
  std::filesystem::path dir_;
  std::unique_ptr<Process> proc_;
  int port_ = 0;  // 0 = pick one at the first start, then keep it
  int starts_ = 0;
};

// The state compared with a from-scratch resolution (binding_model_test's check, over HTTP).
// Empty when exact.
std::string CheckAtRest(KubeApi& api) {
  auto assignments = ListAll(api, kAssignments);
  auto config_maps = ListAll(api, "/api/v1/namespaces/default/configmaps");
  if (!assignments.ok() || !config_maps.ok()) return "cannot list";
  std::ostringstream err;
  std::vector<core::AssignmentSummary> claims;
  std::map<std::string, size_t> index;
  for (auto& o : *assignments) {
    o["apiVersion"] = std::string(api::kApiVersion);
    o["kind"] = std::string(api::kAssignmentKind);
    if (auto c = core::ClaimOf(o)) {
      index[kube::ObjectKey(o)] = claims.size();
      claims.push_back(*c);
    }
  }
  const std::vector<core::BindingOutcome> outcomes = core::ResolveBindings(claims);
  std::set<std::string> live_uids;
  std::map<std::string, const json*> bound_by_uid;
  for (const json& o : *assignments) {
    const std::string key = kube::ObjectKey(o);
    live_uids.insert(o["metadata"].value("uid", ""));
    auto parsed = api::ParseAssignment(o);
    if (!parsed.ok()) {
      err << key << ": cannot parse: " << parsed.status().message() << "\n";
      continue;
    }
    if (o["metadata"].value("generation", 0) !=
        o.value("status", json::object()).value("observedGeneration", -1)) {
      err << key << ": status not of the current generation\n";
    }
    const api::Condition* ready =
        api::FindCondition(parsed->status.conditions, api::kConditionReady);
    const std::string got = ready ? ready->reason + ": " + ready->message : "(no Ready)";
    auto it = index.find(key);
    if (it == index.end()) continue;
    const core::BindingOutcome& want = outcomes[it->second];
    const std::string want_reason(core::BindingStateName(want.state));
    if (!ready || ready->reason != want_reason ||
        (want.state != core::BindingState::kBound &&
         ready->message != core::BindingMessage(parsed->spec, want))) {
      err << key << ": want " << want_reason << ", got " << got << "\n";
    }
    if (want.state == core::BindingState::kBound) {
      bound_by_uid[o["metadata"].value("uid", "")] = &o;
    }
  }
  std::set<std::string> owners;
  for (const json& cm : *config_maps) {
    std::string owner_uid;
    for (const auto& ref : cm["metadata"].value("ownerReferences", json::array())) {
      if (ref.value("controller", false)) owner_uid = ref.value("uid", "");
    }
    if (owner_uid.empty() || !live_uids.contains(owner_uid)) continue;
    const std::string key = kube::ObjectKey(cm);
    auto bound = bound_by_uid.find(owner_uid);
    if (bound == bound_by_uid.end()) {
      err << "ConfigMap " << key << " belongs to an assignment that does not hold\n";
      continue;
    }
    owners.insert(owner_uid);
    auto a = api::ParseAssignment(*bound->second);
    const std::string want = core::NotificationSettingsJson(a->spec);
    const std::string got =
        cm.value("data", json::object()).value(std::string(core::kSettingsDataKey), "");
    if (got != want) err << "ConfigMap " << key << ": want " << want << ", got " << got << "\n";
  }
  for (const auto& [uid, obj] : bound_by_uid) {
    if (!owners.contains(uid)) err << kube::ObjectKey(*obj) << " holds but has no ConfigMap\n";
  }
  return err.str();
}

// "whatsapp-operator/0.1.0 (host_1a2b3c4d)" -> "host_1a2b3c4d"; "" for other clients.
std::string OperatorIdentity(const std::string& user_agent) {
  if (user_agent.rfind("whatsapp-operator/", 0) != 0) return "";
  const auto open = user_agent.find('(');
  const auto close = user_agent.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return "?";
  return user_agent.substr(open + 1, close - open - 1);
}

struct WriteAudit {
  std::string violations;  // empty when none
  long operator_writes = 0;
  long lease_transitions = 0;
  double max_seconds_after_renew = 0;  // of a write after its writer's last renew
};

// Walks the devserver's writes in commit order, tracking the Lease holder.
WriteAudit AuditWrites(const json& log) {
  WriteAudit audit;
  std::ostringstream err;
  std::string holder;
  std::map<std::string, int64_t> last_renew_us;  // identity -> time of its last Lease write
  for (const json& w : log.value("writes", json::array())) {
    const std::string key = w.value("key", "");
    const std::string who = OperatorIdentity(w.value("userAgent", ""));
    const int64_t t = w.value("timeMicros", int64_t{0});
    if (key == "coordination.k8s.io/leases") {
      if (w.value("name", "") != kLeaseName) continue;
      const std::string next = w.value("holderIdentity", "");
      if (next != holder && !next.empty()) ++audit.lease_transitions;
      holder = next;
      if (!next.empty()) last_renew_us[next] = t;
      continue;
    }
    if (who.empty()) continue;  // the test's own writes, the garbage collector
    ++audit.operator_writes;
    if (who != holder) {
      err << "rv " << w.value("rv", "") << ": " << w.value("type", "") << " " << key << " "
          << w.value("namespace", "") << "/" << w.value("name", "") << " by " << who
          << " while the Lease holder was \"" << holder << "\"\n";
      continue;
    }
    const double after = (t - last_renew_us[who]) / 1e6;
    audit.max_seconds_after_renew = std::max(audit.max_seconds_after_renew, after);
  }
  audit.violations = err.str();
  return audit;
}

TEST(ChaosE2eTest, TwoReplicasConvergeExactlyAndNeverWriteAtOnce) {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("WAOP_CHAOS_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::printf("chaos seed %llu (repeat with WAOP_CHAOS_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  SCOPED_TRACE("WAOP_CHAOS_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto chance = [&](double p) { return std::uniform_real_distribution<double>(0, 1)(rng) < p; };
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  const auto test_start = SteadyClock::now();

  TempDir dir;
  RestartableDevserver ds(dir.path());
  ASSERT_TRUE(ds.Start()) << ds.Log();
  // Its own User-Agent, so that its writes (and the garbage collection they cause) are not
  // taken for a replica's.
  auto api_or = KubeApi::FromKubeconfig(ds.kubeconfig(), "chaos-test/1");
  ASSERT_TRUE(api_or.ok()) << api_or.status().message();
  std::unique_ptr<KubeApi> api = std::move(*api_or);

  const std::vector<std::string> replica_args = {"--leader-elect",
                                                 "--leader-election-namespace=default",
                                                 std::string("--leader-election-id=") + kLeaseName,
                                                 "--leader-elect-lease-duration=3s",
                                                 "--leader-elect-renew-deadline=1500ms",
                                                 "--leader-elect-retry-period=300ms",
                                                 "--publish-credentials=false",
                                                 "--log-level=info"};
  TempDir logs;
  OperatorProcess a("replica-a", ds.kubeconfig(), replica_args, logs.path());
  OperatorProcess b("replica-b", ds.kubeconfig(), replica_args, logs.path());
  auto replica_logs = [&] {
    return "--- replica-a:\n" + a.process().Stderr().substr(0, 20000) + "\n--- replica-b:\n" +
           b.process().Stderr().substr(0, 20000);
  };
  ASSERT_TRUE(WaitFor([&] { return a.Ready() && b.Ready(); }, seconds(30))) << replica_logs();

  // The test's own writes retry through the injected faults and the restarts.
  auto send = [&](const std::string& method, const std::string& path, const std::string& body,
                  const std::string& content_type = "application/json") {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto r = api->Send(method, path, body, content_type);
      if (r.ok() && (r->status < 300 || r->status == 404 || r->status == 422)) return;
      if (r.ok() && r->status == 409 && method == "POST" &&
          r->body.find("AlreadyExists") != std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
  };
  auto set_faults = [&](const json& body) { send("POST", "/debug/faults", body.dump()); };

  std::set<std::string> live;
  int next_name = 0;
  auto spec = [&] {
    return json{{"tenantId", "tenant-" + std::to_string(pick(kTenants))},
                {"tenantName", "Tenant"},
                {"phoneNumberId", std::to_string(100000 + pick(kPhones))}};
  };
  // The Lease holder, as the devserver has it.
  auto holder = [&]() -> std::string {
    auto lease = api->GetJson(std::string("/apis/coordination.k8s.io/v1/namespaces/default/"
                                          "leases/") +
                              kLeaseName);
    return lease.ok() ? lease->value("spec", json::object()).value("holderIdentity", "") : "";
  };
  int creates = 0, moves = 0, deletes = 0, restarts = 0, lease_outages = 0;
  const auto chaos_start = SteadyClock::now();
  const auto chaos_end = chaos_start + kChaosTime;
  // Kills at about 7, 15 and 22 s; outages of the holder's Lease writes at about 2, 10, 17 s.
  std::vector<SteadyClock::time_point> restarts_at, outages_at;
  for (int s : {7, 15, 22})
    restarts_at.push_back(chaos_start + seconds(s) + milliseconds(pick(800)));
  for (int s : {2, 10, 17})
    outages_at.push_back(chaos_start + seconds(s) + milliseconds(pick(500)));
  auto lease_outage_until = SteadyClock::time_point::min();
  json write_faults = nullptr;
  while (SteadyClock::now() < chaos_end) {
    const auto now = SteadyClock::now();
    // Faults: 5xx or 409 on a share of writes, dropped watches, expired history (410).
    if (now >= lease_outage_until && chance(0.08)) {
      const int code = chance(0.5) ? 500 : (chance(0.5) ? 503 : 409);
      write_faults = {{"fraction", 0.15}, {"code", code}};
      set_faults({{"writeErrors", write_faults}, {"dropWatchesEverySeconds", 3}});
    }
    if (chance(0.04)) set_faults({{"expireHistory", true}, {"dropWatches", true}});
    // The holder's Lease writes refused for 4 s: it misses its renew deadline (1.5 s) and steps
    // down; the other replica sees the Lease unrenewed for the lease duration (3 s) and takes
    // it. The old leader's other writes are NOT refused: only its fence stops them.
    if (!outages_at.empty() && now >= outages_at.front()) {
      outages_at.erase(outages_at.begin());
      if (const std::string h = holder(); !h.empty()) {
        ++lease_outages;
        lease_outage_until = now + seconds(4);
        set_faults({{"writeErrors",
                     {{"fraction", 1}, {"code", 503}, {"resource", "leases"}, {"client", h}}}});
      }
    } else if (lease_outage_until != SteadyClock::time_point::min() && now >= lease_outage_until) {
      lease_outage_until = SteadyClock::time_point::min();
      set_faults({{"writeErrors", write_faults}});
    }
    if (!restarts_at.empty() && now >= restarts_at.front()) {
      restarts_at.erase(restarts_at.begin());
      // kill -9 and start again on the same port, from the data file.
      ++restarts;
      ds.Kill();
      std::this_thread::sleep_for(milliseconds(100 + pick(400)));
      ASSERT_TRUE(ds.Start()) << "restart " << restarts << " failed:\n" << ds.Log();
      set_faults({{"writeErrors", write_faults}, {"dropWatchesEverySeconds", 3}});
      lease_outage_until = SteadyClock::time_point::min();
    }
    // Assignments: create, move, delete.
    const int op = pick(10);
    if (live.size() < 4 || op < 4) {
      const std::string name = "chaos-" + std::to_string(next_name++);
      json obj = {{"apiVersion", std::string(api::kApiVersion)},
                  {"kind", std::string(api::kAssignmentKind)},
                  {"metadata", {{"name", name}, {"namespace", "default"}}},
                  {"spec", spec()}};
      send("POST", kAssignments, obj.dump());
      live.insert(name);
      ++creates;
    } else if (op < 8) {
      auto it = std::next(live.begin(), pick(static_cast<int>(live.size())));
      json patch = {{"spec", chance(0.5) ? json{{"phoneNumberId", spec()["phoneNumberId"]}}
                                         : json{{"tenantId", spec()["tenantId"]}}}};
      send("PATCH", std::string(kAssignments) + "/" + *it, patch.dump(),
           "application/merge-patch+json");
      ++moves;
    } else {
      auto it = std::next(live.begin(), pick(static_cast<int>(live.size())));
      send("DELETE", std::string(kAssignments) + "/" + *it, "");
      live.erase(it);
      ++deletes;
    }
    std::this_thread::sleep_for(milliseconds(60 + pick(120)));
  }
  set_faults({{"reset", true}});
  const auto faults_off = SteadyClock::now();

  // At rest: exact. Within 65 s: the informers back off a broken watch exponentially up to 30 s
  // (jittered; reset only by a watch that delivered something or lasted a minute, and the
  // chaos breaks many before they deliver), and the devserver restarts and
  // dropped watches above can leave a replica waiting out most of that cap when the chaos ends,
  // longer still on a loaded machine where each restart takes seconds. Events are never lost
  // meanwhile (the watch resumes from its last resourceVersion), only late.
  std::string diff;
  const bool converged = WaitFor(
      [&] {
        diff = CheckAtRest(*api);
        return diff.empty();
      },
      seconds(65), milliseconds(250));
  const double took = SecondsSince(test_start);
  const double settled = std::chrono::duration<double>(SteadyClock::now() - faults_off).count();
  EXPECT_TRUE(converged) << "not at rest 65 s after the chaos ended:\n" << diff << replica_logs();

  EXPECT_TRUE(a.process().Running()) << "replica-a exited:\n" << replica_logs();
  EXPECT_TRUE(b.process().Running()) << "replica-b exited:\n" << replica_logs();

  auto log = api->GetJson("/debug/writes");
  ASSERT_TRUE(log.ok()) << log.status().message();
  const WriteAudit audit = AuditWrites(*log);
  EXPECT_EQ(audit.violations, "") << "writes from a replica that did not hold the Lease";
  EXPECT_GT(audit.operator_writes, 0);
  EXPECT_LT(audit.max_seconds_after_renew, std::chrono::duration<double>(kLeaseDuration).count())
      << "a replica wrote later than a lease duration after its last renew";
  auto count_logs = [](OperatorProcess& p, const std::string& what) {
    const std::string text = p.process().Stderr();
    int n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
    return n;
  };
  const int step_downs = count_logs(a, "stepped down") + count_logs(b, "stepped down");
  std::printf(
      "chaos: %d creates, %d moves, %d deletes, %d devserver restarts, %d lease outages; "
      "%ld operator writes, %ld lease transitions, %d step-downs; latest write %.2f s after "
      "its writer's renew (lease %lld s); at rest %.1f s after the chaos ended, checked in "
      "%.1f s total\n",
      creates, moves, deletes, restarts, lease_outages, audit.operator_writes,
      audit.lease_transitions, step_downs, audit.max_seconds_after_renew,
      static_cast<long long>(kLeaseDuration.count()), settled, took);
  RecordProperty("chaos_wall_ms", static_cast<int>(took * 1000));
  EXPECT_EQ(restarts, 3);
  EXPECT_GE(audit.lease_transitions, 2) << "the Lease never moved to the other replica";
}

}  // namespace
}  // namespace waop::testing
