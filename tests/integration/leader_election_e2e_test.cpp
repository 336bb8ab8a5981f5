// Leader election end to end: two whatsapp-operator replicas with --leader-elect against one
// TLS kube-devserver. Exactly one reconciles; a killed leader (kill -9) is replaced once its
// lease expires (15 s lease), and a leader stopped with SIGTERM releases the lease so the
// standby takes over within its 2 s retry period (plus jitter). Times are measured and printed,
// and the bounds asserted, because they are what leader election promises.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "e2e_util.h"
#include "harness.h"

namespace waop::testing {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;

constexpr char kLeaseName[] = "e2e-leader";
constexpr char kAssignmentsPath[] =
    "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/default/whatsappassignments/";

class LeaderElectionE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    devserver_ = std::make_unique<TlsDevserver>();
    ASSERT_TRUE(devserver_->ok()) << "kube-devserver did not start: " << devserver_->Log();
    auto api = KubeApi::FromKubeconfig(devserver_->kubeconfig());
    ASSERT_TRUE(api.ok()) << api.status().message();
    api_ = std::move(*api);
  }

  // Everything the replicas asked the API server for is granted by docs/operating.md's
  // Permissions table (leases included, which only this test exercises).
  void TearDown() override {
    if (api_ == nullptr) return;
    auto requests = api_->GetJson("/debug/requests?client=whatsapp-operator");
    ASSERT_TRUE(requests.ok()) << requests.status().message();
    const auto documented = waop::e2e::DocumentedPermissions();
    ASSERT_FALSE(documented.empty()) << "no Permissions table in docs/operating.md";
    EXPECT_TRUE(waop::e2e::RequestedPermissions(*requests).count("update leases") > 0)
        << requests->dump();
    EXPECT_EQ(waop::e2e::Ungranted(documented, *requests), std::set<std::string>{})
        << "a replica made requests docs/operating.md does not grant";
  }

  std::unique_ptr<OperatorProcess> StartReplica(const std::string& name) {
    return std::make_unique<OperatorProcess>(
        name, devserver_->kubeconfig(),
        std::vector<std::string>{"--leader-elect", "--leader-election-namespace", "default",
                                 "--leader-election-id", kLeaseName},
        logs_.path());
  }

  CommandResult Kubectl(std::vector<std::string> args, const std::string& stdin_text = "") {
    std::vector<std::string> argv = {KubectlBinary(), "--kubeconfig", devserver_->kubeconfig()};
    argv.insert(argv.end(), args.begin(), args.end());
    return waop::testing::Run(argv, stdin_text, seconds(60));
  }

  // kubectl apply of one assignment in "default"; tenant and phone derived from `n`.
  void Apply(const std::string& name, int n) {
    const std::string yaml =
        "apiVersion: whatsapp.bakery-ia.io/v1alpha1\n"
        "kind: WhatsAppAssignment\n"
        "metadata:\n"
        "  name: " +
        name +
        "\n"
        "  namespace: default\n"
        "spec:\n"
        "  tenantId: tenant-" +
        std::to_string(n) +
        "\n"
        "  tenantName: Tenant " +
        std::to_string(n) +
        "\n"
        "  phoneNumberId: \"" +
        std::to_string(100000 + n) + "\"\n";
    CommandResult r = Kubectl({"apply", "-f", "-"}, yaml);
    ASSERT_EQ(r.exit_code, 0) << r.Both();
  }

  // The Ready condition's status of an assignment ("" when absent or unreadable).
  std::string ReadyStatus(const std::string& name) {
    auto obj = api_->GetJson(std::string(kAssignmentsPath) + name);
    if (!obj.ok()) return "";
    for (const auto& c : obj->value("status", json::object()).value("conditions", json::array())) {
      if (c.value("type", "") == "Ready") return c.value("status", "");
    }
    return "";
  }

  // The Lease holder as kubectl shows it; "" when absent.
  std::string LeaseHolderByKubectl() {
    CommandResult r = Kubectl(
        {"get", "lease", kLeaseName, "-n", "default", "-o", "jsonpath={.spec.holderIdentity}"});
    return r.exit_code == 0 ? r.out : "";
  }
  // The same, read directly (cheap enough to poll every few milliseconds).
  std::string LeaseHolder() {
    auto lease = api_->GetJson(
        std::string("/apis/coordination.k8s.io/v1/namespaces/default/leases/") + kLeaseName);
    if (!lease.ok()) return "";
    return lease->value("spec", json::object()).value("holderIdentity", "");
  }

  // Starts the first replica, waits until it leads, then starts the second and waits until
  // its caches are synced and it has seen the first one lead. Returns {leader, standby}.
  void StartPair(std::unique_ptr<OperatorProcess>* leader,
                 std::unique_ptr<OperatorProcess>* standby) {
    *leader = StartReplica("replica-a");
    ASSERT_TRUE(
        WaitFor([&] { return (*leader)->FindLog("became leader").has_value(); }, seconds(60)))
        << "replica-a never led:\n"
        << (*leader)->process().Stderr();
    *standby = StartReplica("replica-b");
    ASSERT_TRUE(WaitFor(
        [&] {
          return (*standby)->Ready() && (*standby)->FindLog("another replica leads").has_value();
        },
        seconds(60)))
        << "replica-b did not sync or see the leader:\n"
        << (*standby)->process().Stderr();
  }

  static std::string Identity(OperatorProcess& p) {
    auto line = p.FindLog("became leader");
    return line ? line->value("identity", "") : "";
  }

  TempDir logs_;
  std::unique_ptr<TlsDevserver> devserver_;
  std::unique_ptr<KubeApi> api_;
};

TEST_F(LeaderElectionE2eTest, ExactlyOneReplicaReconciles) {
  auto a = StartReplica("replica-a");
  auto b = StartReplica("replica-b");
  // Both race for a Lease that does not exist yet; one creates it, the other sees it held.
  ASSERT_TRUE(WaitFor(
      [&] { return a->FindLog("became leader").has_value() || b->FindLog("became leader"); },
      seconds(60)))
      << "no replica led:\n"
      << a->process().Stderr() << b->process().Stderr();
  ASSERT_TRUE(WaitFor([&] { return a->Ready() && b->Ready(); }, seconds(60)));
  OperatorProcess& leader = a->FindLog("became leader") ? *a : *b;
  OperatorProcess& standby = &leader == a.get() ? *b : *a;
  EXPECT_EQ(LeaseHolderByKubectl(), Identity(leader));

  for (int i = 0; i < 3; ++i) Apply("shop-" + std::to_string(i), i);
  for (int i = 0; i < 3; ++i) {
    const std::string name = "shop-" + std::to_string(i);
    EXPECT_TRUE(WaitFor([&] { return ReadyStatus(name) == "True"; }, seconds(60)))
        << name << " never became Ready:\n"
        << leader.process().Stderr();
  }
  auto leader_total = leader.ReconcileTotal();
  ASSERT_TRUE(leader_total.has_value());
  EXPECT_GE(*leader_total, 3) << "the leader's reconcile counter should count the assignments";
  auto standby_total = standby.ReconcileTotal();
  ASSERT_TRUE(standby_total.has_value()) << "standby /metrics did not answer";
  EXPECT_EQ(*standby_total, 0) << "the standby reconciled while the other replica leads";
  EXPECT_FALSE(standby.FindLog("became leader").has_value()) << standby.process().Stderr();
  EXPECT_FALSE(standby.FindLog("reconciling").has_value()) << standby.process().Stderr();
  EXPECT_TRUE(leader.process().Running());
  EXPECT_TRUE(standby.process().Running());
}

TEST_F(LeaderElectionE2eTest, KilledLeaderIsReplacedWithin20Seconds) {
  std::unique_ptr<OperatorProcess> leader, standby;
  ASSERT_NO_FATAL_FAILURE(StartPair(&leader, &standby));
  Apply("before-kill", 1);
  ASSERT_TRUE(WaitFor([&] { return ReadyStatus("before-kill") == "True"; }, seconds(60)));

  const auto killed_at = SteadyClock::now();
  ASSERT_TRUE(leader->process().Signal(SIGKILL, seconds(10)).has_value());
  Apply("after-kill", 2);
  ASSERT_TRUE(
      WaitFor([&] { return ReadyStatus("after-kill") == "True"; }, seconds(60), milliseconds(20)))
      << "the standby never reconciled after the leader died:\n"
      << standby->process().Stderr();
  const double took = SecondsSince(killed_at);
  std::printf(
      "kill -9 of the leader -> new assignment Ready via the standby in %.2f s "
      "(bound 20 s)\n",
      took);
  RecordProperty("failover_after_kill_ms", static_cast<int>(took * 1000));
  EXPECT_LT(took, 20.0);
  EXPECT_TRUE(standby->FindLog("became leader").has_value());
  EXPECT_EQ(LeaseHolderByKubectl(), Identity(*standby));
  auto total = standby->ReconcileTotal();
  ASSERT_TRUE(total.has_value());
  EXPECT_GE(*total, 1);
}

TEST_F(LeaderElectionE2eTest, SigtermReleasesLeaseAndStandbyLeadsWithin3Seconds) {
  std::unique_ptr<OperatorProcess> leader, standby;
  ASSERT_NO_FATAL_FAILURE(StartPair(&leader, &standby));
  const std::string leader_id = Identity(*leader);
  ASSERT_FALSE(leader_id.empty());
  ASSERT_EQ(LeaseHolderByKubectl(), leader_id);

  auto code = leader->process().Signal(SIGTERM, seconds(30));
  const auto exited_at = SteadyClock::now();
  ASSERT_TRUE(code.has_value()) << "the leader did not exit within 30 s of SIGTERM";
  EXPECT_EQ(*code, 0) << leader->process().Stderr();

  std::string holder;
  ASSERT_TRUE(WaitFor(
      [&] {
        holder = LeaseHolder();
        return !holder.empty() && holder != leader_id;
      },
      seconds(30), milliseconds(10)))
      << "nobody took the lease after the leader exited:\n"
      << standby->process().Stderr();
  const double took = SecondsSince(exited_at);
  std::printf(
      "SIGTERM of the leader: exit 0, standby holds the Lease %.2f s after the exit "
      "(bound 3 s)\n",
      took);
  RecordProperty("handover_after_sigterm_ms", static_cast<int>(took * 1000));
  EXPECT_LT(took, 3.0);
  EXPECT_EQ(LeaseHolderByKubectl(), holder);
  ASSERT_TRUE(WaitFor([&] { return standby->FindLog("became leader").has_value(); }, seconds(10)));
  EXPECT_EQ(Identity(*standby), holder);

  // The new leader does the work.
  Apply("after-handover", 3);
  EXPECT_TRUE(WaitFor([&] { return ReadyStatus("after-handover") == "True"; }, seconds(60)))
      << standby->process().Stderr();
}

}  // namespace
}  // namespace waop::testing
