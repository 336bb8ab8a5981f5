// The webhook's certificates against the fake API server: the Secret made once and shared
// (a lost create race reads the winner's), renewal, the CA bundle injected only when it differs,
// readiness, and --webhook-cert-dir.
#include "webhook/cert_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "kube/config.h"
#include "support/fake_client.h"
#include "support/fake_clock.h"
#include "tls/certs.h"

namespace waop::webhook {
namespace {

using kube::FakeClient;
using kube::resources::kSecrets;
using nlohmann::json;
using namespace std::chrono_literals;

const kube::ResourceType& kVwc = kValidatingWebhookConfigurations;

json Vwc(const std::string& ca_bundle = "") {
  json w1 = {{"name", "vwhatsappassignment.whatsapp.bakery-ia.io"},
             {"clientConfig", {{"url", "https://127.0.0.1:9443/validate"}}}};
  json w2 = {{"name", "second.whatsapp.bakery-ia.io"},
             {"clientConfig", {{"service", {{"name", "svc"}, {"namespace", "ops"}}}}}};
  if (!ca_bundle.empty()) w1["clientConfig"]["caBundle"] = ca_bundle;
  return {{"apiVersion", "admissionregistration.k8s.io/v1"},
          {"kind", "ValidatingWebhookConfiguration"},
          {"metadata", {{"name", "whatsapp-operator"}}},
          {"webhooks", {w1, w2}}};
}

std::string Data(const json& secret, const std::string& key) {
  auto decoded = kube::DecodeBase64(secret["data"].value(key, ""));
  return decoded.ok() ? *decoded : "";
}

class CertManagerTest : public ::testing::Test {
 protected:
  CertManagerTest() : clock_(std::chrono::system_clock::now()) {
    AddServiceNames(&options_, "whatsapp-operator-webhook", "ops", {"127.0.0.1", "webhook.local"});
    options_.secret_namespace = "ops";
  }
  std::unique_ptr<CertManager> Manager(std::shared_ptr<tls::ReloadableServerCert> serving) {
    return std::make_unique<CertManager>(client_, clock_, options_, std::move(serving));
  }
  json Secret() { return *client_.Get(kSecrets, "ops", "whatsapp-operator-webhook-tls"); }
  json StoredVwc() { return *client_.Get(kVwc, "", "whatsapp-operator"); }

  FakeClock clock_;
  FakeClient client_;
  CertManagerOptions options_;
};

TEST_F(CertManagerTest, NamesCoverTheServiceAndTheHosts) {
  EXPECT_EQ(options_.dns_names,
            (std::vector<std::string>{"whatsapp-operator-webhook.ops.svc",
                                      "whatsapp-operator-webhook.ops.svc.cluster.local",
                                      "webhook.local"}));
  EXPECT_EQ(options_.ip_addresses, std::vector<std::string>{"127.0.0.1"});
}

TEST_F(CertManagerTest, FirstSyncCreatesTheSecretLoadsItAndInjectsTheCaEverywhere) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto serving = std::make_shared<tls::ReloadableServerCert>();
  auto m = Manager(serving);
  EXPECT_FALSE(m->Ready());
  ASSERT_TRUE(m->Sync().ok());

  json secret = Secret();
  EXPECT_EQ(secret.value("type", ""), "kubernetes.io/tls");
  const std::string crt = Data(secret, "tls.crt");
  const std::string ca = Data(secret, "ca.crt");
  EXPECT_FALSE(Data(secret, "tls.key").empty());
  EXPECT_FALSE(Data(secret, "ca.key").empty());
  EXPECT_TRUE(tls::CertSignedBy(crt, ca));
  auto dns = tls::CertDnsNames(crt);
  ASSERT_TRUE(dns.ok());
  EXPECT_EQ(*dns, options_.dns_names);
  EXPECT_EQ(*tls::CertIpAddresses(crt), options_.ip_addresses);
  EXPECT_EQ(serving->cert_pem(), crt);
  EXPECT_EQ(m->ca_bundle(), ca);

  const json vwc = StoredVwc();
  for (const json& w : vwc["webhooks"]) {
    auto bundle = kube::DecodeBase64(w["clientConfig"].value("caBundle", ""));
    ASSERT_TRUE(bundle.ok());
    EXPECT_EQ(*bundle, ca) << w["name"];
  }
  EXPECT_TRUE(m->Ready()) << m->NotReadyReason();
}

TEST_F(CertManagerTest, ASyncWithNothingDueWritesNothing) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  ASSERT_TRUE(m->Sync().ok());
  client_.ResetCalls();
  clock_.Advance(24h * 30);
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kSecrets), 0);
  EXPECT_EQ(client_.Calls("create", kSecrets), 0);
  EXPECT_EQ(client_.Calls("update", kVwc), 0);
  EXPECT_TRUE(m->Ready());
}

TEST_F(CertManagerTest, AReplicaLosingTheCreateRaceUsesTheWinnersSecret) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto a = std::make_shared<tls::ReloadableServerCert>();
  auto b = std::make_shared<tls::ReloadableServerCert>();
  auto first = Manager(a);
  auto second = Manager(b);
  ASSERT_TRUE(first->Sync().ok());
  const json winner = Secret();
  // The second replica read "absent" before the first one's create landed.
  client_.InjectError("get", kSecrets, Status::NotFound("secrets not found"), 1);
  ASSERT_TRUE(second->Sync().ok());
  EXPECT_EQ(client_.Calls("create", kSecrets), 2);  // one won, one got AlreadyExists
  EXPECT_EQ(Secret()["data"], winner["data"]);
  EXPECT_EQ(b->cert_pem(), a->cert_pem());
  EXPECT_EQ(second->ca_bundle(), first->ca_bundle());
  EXPECT_TRUE(second->Ready());
}

TEST_F(CertManagerTest, TheServingCertificateIsRenewedWithAThirdOfItsLifeLeft) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto serving = std::make_shared<tls::ReloadableServerCert>();
  auto m = Manager(serving);
  ASSERT_TRUE(m->Sync().ok());
  const std::string old_crt = serving->cert_pem();
  const std::string ca = m->ca_bundle();
  client_.ResetCalls();

  clock_.Advance(options_.cert_validity * 2 / 3 + 24h);
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kSecrets), 1);
  EXPECT_NE(serving->cert_pem(), old_crt);  // served from the next handshake
  EXPECT_EQ(Data(Secret(), "tls.crt"), serving->cert_pem());
  EXPECT_TRUE(tls::CertSignedBy(serving->cert_pem(), ca));
  EXPECT_EQ(m->ca_bundle(), ca);                // same CA:
  EXPECT_EQ(client_.Calls("update", kVwc), 0);  // nothing to inject
}

TEST_F(CertManagerTest, TheCaIsRenewedKeepingTheOldOneTrustedUntilItExpires) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  ASSERT_TRUE(m->Sync().ok());
  const std::string old_ca = m->ca_bundle();
  clock_.Advance(options_.ca_validity * 2 / 3 + 24h);
  ASSERT_TRUE(m->Sync().ok());
  const std::string bundle = m->ca_bundle();
  EXPECT_NE(bundle.find(old_ca), std::string::npos);
  EXPECT_NE(bundle.find(old_ca), 0u);  // the new CA comes first
  auto injected =
      kube::DecodeBase64(StoredVwc()["webhooks"][0]["clientConfig"]["caBundle"].get<std::string>());
  EXPECT_EQ(*injected, bundle);
}

TEST_F(CertManagerTest, ARenewalRacedByAnotherReplicaReadsItsResult) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  ASSERT_TRUE(m->Sync().ok());
  clock_.Advance(options_.cert_validity * 2 / 3 + 24h);
  client_.InjectError("update", kSecrets, Status::Conflict("the object has been modified"), 1);
  client_.ResetCalls();
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kSecrets), 2);
  EXPECT_EQ(client_.Calls("get", kSecrets), 2);
}

TEST_F(CertManagerTest, ANewHostGetsANewServingCertificateFromTheSameCa) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  ASSERT_TRUE(Manager(std::make_shared<tls::ReloadableServerCert>())->Sync().ok());
  const std::string ca = Data(Secret(), "ca.crt");
  options_.dns_names.push_back("new.example");
  auto serving = std::make_shared<tls::ReloadableServerCert>();
  ASSERT_TRUE(Manager(serving)->Sync().ok());
  EXPECT_EQ(Data(Secret(), "ca.crt"), ca);
  auto dns = tls::CertDnsNames(serving->cert_pem());
  EXPECT_NE(std::find(dns->begin(), dns->end(), "new.example"), dns->end());
}

TEST_F(CertManagerTest, ADamagedSecretIsReplaced) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  ASSERT_TRUE(
      client_
          .Seed(kSecrets,
                {{"metadata", {{"name", "whatsapp-operator-webhook-tls"}, {"namespace", "ops"}}},
                 {"type", "kubernetes.io/tls"},
                 {"data", {{"tls.crt", "bm90IGEgY2VydA=="}}}})
          .ok());
  auto serving = std::make_shared<tls::ReloadableServerCert>();
  auto m = Manager(serving);
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_TRUE(tls::CertSignedBy(serving->cert_pem(), m->ca_bundle()));
  EXPECT_TRUE(m->Ready());
}

TEST_F(CertManagerTest, TheCaBundleIsWrittenOnlyWhenItDiffers) {
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kVwc), 1);
  // Someone (a Helm upgrade) resets one webhook's caBundle.
  json vwc = StoredVwc();
  vwc["webhooks"][1]["clientConfig"]["caBundle"] = "";
  ASSERT_TRUE(client_.Update(kVwc, vwc).ok());
  client_.ResetCalls();
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kVwc), 1);
  EXPECT_EQ(StoredVwc()["webhooks"][1]["clientConfig"]["caBundle"],
            StoredVwc()["webhooks"][0]["clientConfig"]["caBundle"]);
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_EQ(client_.Calls("update", kVwc), 1);
}

TEST_F(CertManagerTest, NotReadyWithoutTheConfigurationThenReadyOnceItExists) {
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_FALSE(m->Ready());
  EXPECT_NE(m->NotReadyReason().find("ValidatingWebhookConfiguration whatsapp-operator not found"),
            std::string::npos)
      << m->NotReadyReason();
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  ASSERT_TRUE(m->Sync().ok());
  EXPECT_TRUE(m->Ready());
}

TEST_F(CertManagerTest, AnApiServerErrorIsReturnedAndKeepsAReadyReplicaReady) {
  auto m = Manager(std::make_shared<tls::ReloadableServerCert>());
  client_.InjectError("get", kSecrets, Status::Unavailable("connection refused"), 1);
  Status s = m->Sync();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("Secret ops/whatsapp-operator-webhook-tls"), std::string::npos);
  EXPECT_FALSE(m->Ready());
  ASSERT_TRUE(client_.Seed(kVwc, Vwc()).ok());
  ASSERT_TRUE(m->Sync().ok());
  client_.InjectError("get", kVwc, Status::Unavailable("connection refused"), 1);
  EXPECT_FALSE(m->Sync().ok());
  EXPECT_TRUE(m->Ready());
}

TEST(DirCertSourceTest, LoadsAndReloadsOnChange) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("waop-cert-dir-" + std::to_string(getpid()));
  fs::create_directories(dir);
  auto write = [&](const tls::KeyPair& kp) {
    std::ofstream(dir / "tls.crt") << kp.cert_pem;
    std::ofstream(dir / "tls.key") << kp.key_pem;
  };
  auto ca = tls::GenerateCa("test-ca", 24h);
  ASSERT_TRUE(ca.ok());
  auto serving = std::make_shared<tls::ReloadableServerCert>();
  DirCertSource source(dir.string(), serving);
  Status missing = source.Sync();
  EXPECT_EQ(missing.code(), StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("tls.crt"), std::string::npos);
  EXPECT_FALSE(source.Ready());

  auto one = tls::IssueServingCert(*ca, "one", {"one"}, {}, 24h);
  write(*one);
  ASSERT_TRUE(source.Sync().ok());
  EXPECT_EQ(serving->cert_pem(), one->cert_pem);
  EXPECT_TRUE(source.Ready());

  auto two = tls::IssueServingCert(*ca, "two", {"two"}, {}, 24h);
  write(*two);
  ASSERT_TRUE(source.Sync().ok());
  EXPECT_EQ(serving->cert_pem(), two->cert_pem);

  std::ofstream(dir / "tls.key") << "garbage";
  EXPECT_EQ(source.Sync().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(serving->cert_pem(), two->cert_pem);  // the good one stays
  fs::remove_all(dir);
}

}  // namespace
}  // namespace waop::webhook
