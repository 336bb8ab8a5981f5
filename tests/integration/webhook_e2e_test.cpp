// The admission webhook end to end (SPEC sections 3 and 7): the real kubectl and the operator
// binary against kube-devserver, which calls the ValidatingWebhookConfiguration of
// examples/webhook/ (its url pointed at this test's free port) over HTTPS with the caBundle the
// operator injects. Each test starts its own devserver and operators and stops them.
#include <gtest/gtest.h>

#include <iostream>
#include <regex>

#include "e2e_util.h"
#include "kube/config.h"
#include "tls/certs.h"

namespace waop::e2e {
namespace {

using nlohmann::json;
using waop::testing::CommandResult;
using waop::testing::WaitFor;
using namespace std::chrono_literals;

constexpr auto kLongWait = 120s;
constexpr char kNs[] = "bakery-ia";
constexpr char kSecretNs[] = "default";
constexpr char kSecret[] = "whatsapp-operator-webhook-tls";
constexpr char kPath[] = "/validate-whatsapp-bakery-ia-io-v1alpha1-whatsappassignment";
// SPEC 3, verbatim, as kubectl prints the API server's refusal.
constexpr char kRefusal[] =
    "admission webhook \"vwhatsappassignment.whatsapp.bakery-ia.io\" denied the request: "
    "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
    "(bakery-ia/panaderia-san-juan)";
constexpr char kDuplicateMessage[] =
    "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
    "(bakery-ia/panaderia-san-juan)";

std::string Examples(const std::string& rel) {
  return waop::testing::SourceDir() + "/examples/" + rel;
}

std::string Tail(const std::string& text, size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

std::string Decode(const json& value) {
  if (!value.is_string()) return "";
  auto d = kube::DecodeBase64(value.get<std::string>());
  return d.ok() ? *d : "";
}

class WebhookE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<E2eCluster>();
    ASSERT_TRUE(cluster_->ok()) << Tail(cluster_->process().Stderr());
    ASSERT_EQ(K({"apply", "-f", Examples("namespace.yaml")}).exit_code, 0);
  }
  void TearDown() override {
    for (auto& op : ops_) {
      if (!op || !op->ok()) continue;
      op->Stop();
      const std::string logs = op->Logs();
      EXPECT_EQ(logs.find(cluster_->token()), std::string::npos) << "token in the logs";
      EXPECT_EQ(logs.find("PRIVATE KEY"), std::string::npos) << "a private key in the logs";
      if (HasFailure() && logs.find(cluster_->token()) == std::string::npos) {
        std::cerr << "--- operator logs (tail) ---\n" << Tail(logs) << "\n";
      }
    }
    if (!ops_.empty() && cluster_->ok()) {
      // Every request the operators made is granted by docs/operating.md's Permissions table.
      auto requests = cluster_->Requests("whatsapp-operator");
      ASSERT_TRUE(requests);
      EXPECT_EQ(Ungranted(DocumentedPermissions(), *requests), std::set<std::string>{})
          << "the operator made requests docs/operating.md does not grant";
    }
    ops_.clear();
    cluster_.reset();
  }

  CommandResult K(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return cluster_->Kubectl(args, stdin_text);
  }
  // examples/webhook/ with the url's port replaced by `port` and failurePolicy `policy`.
  void ApplyWebhookConfiguration(int port, const std::string& policy = "Fail") {
    std::string yaml = waop::testing::ReadFile(Examples("webhook/validating-webhook-local.yaml"));
    ASSERT_NE(yaml.find("127.0.0.1:9443"), std::string::npos);
    yaml = std::regex_replace(yaml, std::regex("127\\.0\\.0\\.1:9443"),
                              "127.0.0.1:" + std::to_string(port));
    yaml = std::regex_replace(yaml, std::regex("failurePolicy: Fail"), "failurePolicy: " + policy);
    auto r = K({"apply", "-f", "-"}, yaml);
    ASSERT_EQ(r.exit_code, 0) << r.Both();
  }
  // An operator serving the webhook on `port` (with the Secret-backed certificates).
  OperatorProcess& StartOperator(int port, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--webhook-port=" + std::to_string(port),
                                     "--webhook-host=127.0.0.1", "--webhook-bind-host=127.0.0.1",
                                     "--webhook-cert-check-interval=1s"};
    args.insert(args.end(), extra.begin(), extra.end());
    ops_.push_back(std::make_unique<OperatorProcess>(*cluster_, args));
    return *ops_.back();
  }
  void WaitReady(OperatorProcess& op) {
    ASSERT_TRUE(op.ok());
    ASSERT_TRUE(op.WaitReady(kLongWait)) << "never ready:\n" << Tail(op.Logs());
  }
  void ApplyAssignmentsAndWait() {
    auto r = K({"apply", "-f", Examples("assignments/")});
    ASSERT_EQ(r.exit_code, 0) << r.Both();
    auto wait = cluster_->Kubectl(
        {"wait", "--for=condition=Ready", "wa", "--all", "-n", kNs, "--timeout=120s"}, "", 150s);
    ASSERT_EQ(wait.exit_code, 0) << wait.Both();
  }
  std::optional<json> Secret() { return cluster_->GetJson({"secret", kSecret, "-n", kSecretNs}); }
  std::string InjectedBundle() {
    auto vwc = cluster_->GetJson({"validatingwebhookconfiguration", "whatsapp-operator"});
    if (!vwc) return "";
    return Decode((*vwc)["webhooks"][0]["clientConfig"].value("caBundle", json()));
  }
  // curl against the webhook with the CA from the Secret; returns "<status> <body>".
  std::string Curl(int port, const std::string& body_file, const std::string& ca_file) {
    auto r = waop::testing::Run({"curl", "-sS", "--cacert", ca_file, "-H",
                                 "Content-Type: application/json", "--data-binary", "@" + body_file,
                                 "-w", " %{http_code}",
                                 "https://127.0.0.1:" + std::to_string(port) + kPath});
    return r.out + r.err;
  }

  std::unique_ptr<E2eCluster> cluster_;
  std::vector<std::unique_ptr<OperatorProcess>> ops_;
};

TEST_F(WebhookE2eTest, ADuplicateIsRefusedAtApplyAndTheCaBundleIsInjected) {
  const int port = waop::testing::FreePort();
  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(port));
  OperatorProcess& op = StartOperator(port);
  ASSERT_NO_FATAL_FAILURE(WaitReady(op));
  ASSERT_NO_FATAL_FAILURE(ApplyAssignmentsAndWait());

  // The CA in the Secret is the caBundle, and it signs what the webhook serves.
  auto secret = Secret();
  ASSERT_TRUE(secret) << "no Secret " << kSecret;
  EXPECT_EQ((*secret).value("type", ""), "kubernetes.io/tls");
  const std::string ca = Decode((*secret)["data"]["ca.crt"]);
  EXPECT_EQ(InjectedBundle(), ca);
  EXPECT_TRUE(tls::CertSignedBy(Decode((*secret)["data"]["tls.crt"]), ca));

  auto dup = K({"apply", "-f", Examples("duplicate/")});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.err.find(kRefusal), std::string::npos) << dup.Both();
  EXPECT_NE(K({"get", "wa", "pasteleria-la-duplicada", "-n", kNs}).exit_code, 0)
      << "the refused duplicate was stored";
  // A dry run is not refused (the webhook allows dry runs).
  EXPECT_EQ(K({"apply", "--dry-run=server", "-f", Examples("duplicate/")}).exit_code, 0);

  // Malformed, wrong-kind and oversized reviews, straight at the webhook.
  waop::testing::TempDir dir;
  waop::testing::WriteFile(dir.File("ca.crt"), ca);
  waop::testing::WriteFile(dir.File("malformed.json"), "{\"apiVersion\": ");
  waop::testing::WriteFile(dir.File("wrong-kind.json"),
                           R"({"apiVersion":"admission.k8s.io/v1","kind":"Pod","request":{}})");
  waop::testing::WriteFile(dir.File("big.json"), std::string(3 * 1024 * 1024 + 1, ' '));
  std::string malformed = Curl(port, dir.File("malformed.json"), dir.File("ca.crt"));
  EXPECT_NE(malformed.find("not valid JSON"), std::string::npos) << malformed;
  EXPECT_NE(malformed.find(" 400"), std::string::npos) << malformed;
  std::string wrong_kind = Curl(port, dir.File("wrong-kind.json"), dir.File("ca.crt"));
  EXPECT_NE(wrong_kind.find("kind \\\"Pod\\\""), std::string::npos) << wrong_kind;
  EXPECT_NE(wrong_kind.find(" 400"), std::string::npos) << wrong_kind;
  std::string big = Curl(port, dir.File("big.json"), dir.File("ca.crt"));
  EXPECT_NE(big.find(" 413"), std::string::npos) << big;
  // The operator is still there.
  EXPECT_EQ(op.Probe("/readyz").status, 200);
}

TEST_F(WebhookE2eTest, AnUpdateThatStealsANumberIsRefusedBothWays) {
  const int port = waop::testing::FreePort();
  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(port));
  OperatorProcess& op = StartOperator(port);
  ASSERT_NO_FATAL_FAILURE(WaitReady(op));
  ASSERT_NO_FATAL_FAILURE(ApplyAssignmentsAndWait());
  auto goiko = cluster_->GetJson({"wa", "panaderia-goiko", "-n", kNs});
  ASSERT_TRUE(goiko);
  const std::string goiko_number = (*goiko)["spec"]["phoneNumberId"];

  // Goiko onto San Juan's number, and San Juan onto Goiko's: one of the two is the older one,
  // which would win by age; both are refused, naming the holder.
  auto steal = K({"patch", "wa", "panaderia-goiko", "-n", kNs, "--type=merge", "-p",
                  R"({"spec":{"phoneNumberId":"123456789012345"}})"});
  EXPECT_NE(steal.exit_code, 0);
  EXPECT_NE(steal.err.find("already assigned to tenant 'Panadería San Juan' "
                           "(bakery-ia/panaderia-san-juan)"),
            std::string::npos)
      << steal.Both();
  auto back = K({"patch", "wa", "panaderia-san-juan", "-n", kNs, "--type=merge", "-p",
                 R"({"spec":{"phoneNumberId":")" + goiko_number + R"("}})"});
  EXPECT_NE(back.exit_code, 0);
  EXPECT_NE(back.err.find("(bakery-ia/panaderia-goiko)"), std::string::npos) << back.Both();
  // The tenant cannot change either.
  auto tenant = K({"patch", "wa", "panaderia-goiko", "-n", kNs, "--type=merge", "-p",
                   R"({"spec":{"tenantId":"someone-else"}})"});
  EXPECT_NE(tenant.exit_code, 0);
  EXPECT_NE(tenant.err.find("spec.tenantId"), std::string::npos) << tenant.Both();
  // A move to a free number passes.
  auto free = K({"patch", "wa", "panaderia-goiko", "-n", kNs, "--type=merge", "-p",
                 R"({"spec":{"phoneNumberId":"999000111"}})"});
  EXPECT_EQ(free.exit_code, 0) << free.Both();
}

TEST_F(WebhookE2eTest, ARotatedCertificateKeepsWorking) {
  const int port = waop::testing::FreePort();
  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(port));
  OperatorProcess& op = StartOperator(port);
  ASSERT_NO_FATAL_FAILURE(WaitReady(op));
  ASSERT_NO_FATAL_FAILURE(ApplyAssignmentsAndWait());
  const std::string old_bundle = InjectedBundle();
  ASSERT_FALSE(old_bundle.empty());

  // An admin deletes the Secret (a forced rotation): the operator makes a new CA and
  // certificate, serves it without a restart and injects the new CA.
  ASSERT_EQ(K({"delete", "secret", kSecret, "-n", kSecretNs}).exit_code, 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto s = Secret();
        return s && InjectedBundle() == Decode((*s)["data"]["ca.crt"]) &&
               InjectedBundle() != old_bundle;
      },
      60s, 200ms))
      << "no new CA injected";
  auto dup = K({"apply", "-f", Examples("duplicate/")});
  EXPECT_NE(dup.exit_code, 0);
  EXPECT_NE(dup.err.find(kRefusal), std::string::npos) << dup.Both();
  EXPECT_EQ(op.Probe("/readyz").status, 200);
  EXPECT_TRUE(op.process().Running());
}

TEST_F(WebhookE2eTest, TwoReplicasShareOneSecret) {
  const int port_a = waop::testing::FreePort();
  int port_b = waop::testing::FreePort();
  while (port_b == port_a) port_b = waop::testing::FreePort();
  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(port_b));
  OperatorProcess& a = StartOperator(port_a, {"--leader-elect"});
  OperatorProcess& b = StartOperator(port_b, {"--leader-elect"});
  // Ready means: the CA in the configuration verifies the certificate each one serves.
  ASSERT_NO_FATAL_FAILURE(WaitReady(a));
  ASSERT_NO_FATAL_FAILURE(WaitReady(b));
  auto secret = Secret();
  ASSERT_TRUE(secret);
  const std::string ca = Decode((*secret)["data"]["ca.crt"]);
  EXPECT_EQ(InjectedBundle(), ca);
  const std::string uid = (*secret)["metadata"]["uid"];

  // Both serve a certificate the shared CA signs: the API server reaches b, curl reaches a.
  ASSERT_NO_FATAL_FAILURE(ApplyAssignmentsAndWait());
  auto dup = K({"apply", "-f", Examples("duplicate/")});
  EXPECT_NE(dup.err.find(kRefusal), std::string::npos) << dup.Both();
  waop::testing::TempDir dir;
  waop::testing::WriteFile(dir.File("ca.crt"), ca);
  waop::testing::WriteFile(dir.File("bad.json"), "[]");
  std::string via_a = Curl(port_a, dir.File("bad.json"), dir.File("ca.crt"));
  EXPECT_NE(via_a.find(" 400"), std::string::npos) << via_a;
  // Still the one Secret, never replaced.
  auto again = Secret();
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)["metadata"]["uid"], uid);
  EXPECT_EQ(Decode((*again)["data"]["ca.crt"]), ca);
}

TEST_F(WebhookE2eTest, WebhookDownFailRefusesIgnoreLetsTheControllerMarkTheDuplicate) {
  const int dead_port = waop::testing::FreePort();  // nothing listens there
  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(dead_port, "Fail"));
  auto refused = K({"apply", "-f", Examples("assignments/")});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(
      refused.err.find("failed calling webhook \"vwhatsappassignment.whatsapp.bakery-ia.io\""),
      std::string::npos)
      << refused.Both();

  ASSERT_NO_FATAL_FAILURE(ApplyWebhookConfiguration(dead_port, "Ignore"));
  ops_.push_back(std::make_unique<OperatorProcess>(*cluster_));  // --webhook-port=0
  ASSERT_NO_FATAL_FAILURE(WaitReady(*ops_.back()));
  ASSERT_NO_FATAL_FAILURE(ApplyAssignmentsAndWait());
  auto stored = K({"apply", "-f", Examples("duplicate/")});
  ASSERT_EQ(stored.exit_code, 0) << stored.Both();
  auto stalled = cluster_->Kubectl({"wait", "--for=condition=Stalled", "wa/pasteleria-la-duplicada",
                                    "-n", kNs, "--timeout=120s"},
                                   "", 150s);
  ASSERT_EQ(stalled.exit_code, 0) << stalled.Both();
  auto dup = cluster_->GetJson({"wa", "pasteleria-la-duplicada", "-n", kNs});
  ASSERT_TRUE(dup);
  auto ready = Condition(*dup, "Ready");
  ASSERT_TRUE(ready);
  EXPECT_EQ((*ready)["reason"], "DuplicatePhoneNumber");
  // The same sentence the webhook prints.
  EXPECT_EQ((*ready)["message"], kDuplicateMessage);
}

}  // namespace
}  // namespace waop::e2e
