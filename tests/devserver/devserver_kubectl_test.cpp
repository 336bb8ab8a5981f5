// End-to-end tests with the real /usr/bin/kubectl against kube-devserver: every command a user
// or the demo runs, asserted on what kubectl prints and its exit code. Each test starts its own
// server on a free port, with its own kubectl cache directory.
#include <cpprest/http_listener.h>
#include <gtest/gtest.h>

#include <thread>

#include "devserver_test_util.h"
#include "https_test_server.h"
#include "tls/certs.h"

namespace devserver::testing {
namespace {

using nlohmann::json;
using waop::testing::CommandResult;

std::string Kubectl() {
  return std::filesystem::exists("/usr/bin/kubectl") ? "/usr/bin/kubectl" : "kubectl";
}

class KubectlTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args = {}) {
    ds_ = std::make_unique<Devserver>(std::move(args));
    ASSERT_TRUE(ds_->ok());
  }
  CommandResult K(std::vector<std::string> args, const std::string& stdin_text = "",
                  std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    std::vector<std::string> argv = {Kubectl(), "--kubeconfig", ds_->kubeconfig(), "--cache-dir",
                                     ds_->dir() + "/kcache"};
    argv.insert(argv.end(), args.begin(), args.end());
    return waop::testing::Run(argv, stdin_text, timeout);
  }
  void ApplyExamples() {
    auto crds = K({"apply", "-f", RepoDir() + "/crds/"});
    ASSERT_EQ(crds.exit_code, 0) << crds.Both();
    EXPECT_NE(crds.out.find("customresourcedefinition.apiextensions.k8s.io/"
                            "whatsappassignments.whatsapp.bakery-ia.io created"),
              std::string::npos)
        << crds.out;
    auto ns = K({"create", "namespace", "bakery-ia"});
    ASSERT_EQ(ns.exit_code, 0) << ns.Both();
    EXPECT_NE(ns.out.find("namespace/bakery-ia created"), std::string::npos);
    auto ex = K({"apply", "-f", RepoDir() + "/examples/assignments/"});
    ASSERT_EQ(ex.exit_code, 0) << ex.Both();
    EXPECT_NE(ex.out.find("whatsappassignment.whatsapp.bakery-ia.io/panaderia-san-juan created"),
              std::string::npos)
        << ex.out;
  }
  std::unique_ptr<Devserver> ds_;
};

TEST_F(KubectlTest, ApplyGetDescribeExplain) {
  Start();
  ApplyExamples();
  auto get = K({"get", "wa", "-n", "bakery-ia"});
  ASSERT_EQ(get.exit_code, 0) << get.Both();
  std::string header = get.out.substr(0, get.out.find('\n'));
  for (const char* col : {"NAME", "TENANT", "PHONE", "QUALITY", "READY", "REASON", "AGE"}) {
    EXPECT_NE(header.find(col), std::string::npos) << header;
  }
  EXPECT_EQ(header.find("PHONE-NUMBER-ID"), std::string::npos);  // priority 1
  EXPECT_NE(get.out.find("Panadería San Juan"), std::string::npos) << get.out;

  auto wide = K({"get", "wa", "-n", "bakery-ia", "-o", "wide"});
  EXPECT_NE(wide.out.find("PHONE-NUMBER-ID"), std::string::npos) << wide.out;
  EXPECT_NE(wide.out.find("123456789012345"), std::string::npos) << wide.out;

  auto js = K({"get", "wa", "-n", "bakery-ia", "-o", "json"});
  ASSERT_EQ(js.exit_code, 0) << js.Both();
  json list = json::parse(js.out, nullptr, false);
  ASSERT_FALSE(list.is_discarded());
  EXPECT_EQ(list["items"].size(), 3u);
  EXPECT_EQ(list["items"][0]["spec"]["enabled"], true);  // schema default

  auto yaml = K({"get", "wa", "panaderia-san-juan", "-n", "bakery-ia", "-o", "yaml"});
  EXPECT_NE(yaml.out.find("tenantId: 7c9e6679-7425-40de-944b-e07fc1f90ae7"), std::string::npos)
      << yaml.out;
  EXPECT_NE(yaml.out.find("resourceVersion:"), std::string::npos);

  auto cat = K({"get", "whatsapp", "-A"});
  ASSERT_EQ(cat.exit_code, 0) << cat.Both();
  EXPECT_NE(cat.out.find("whatsappassignment.whatsapp.bakery-ia.io/obrador-nuria"),
            std::string::npos)
      << cat.out;

  auto desc = K({"describe", "wa", "panaderia-san-juan", "-n", "bakery-ia"});
  ASSERT_EQ(desc.exit_code, 0) << desc.Both();
  EXPECT_NE(desc.out.find("Name:         panaderia-san-juan"), std::string::npos) << desc.out;
  EXPECT_NE(desc.out.find("Phone Number Id:"), std::string::npos) << desc.out;
  EXPECT_NE(desc.out.find("Events:"), std::string::npos) << desc.out;

  auto explain = K({"explain", "wa.spec"});
  ASSERT_EQ(explain.exit_code, 0) << explain.Both();
  EXPECT_NE(explain.out.find("KIND:       WhatsAppAssignment"), std::string::npos) << explain.out;
  EXPECT_NE(explain.out.find("phoneNumberId"), std::string::npos) << explain.out;

  auto ns = K({"get", "ns"});
  EXPECT_NE(ns.out.find("bakery-ia"), std::string::npos);
  EXPECT_NE(ns.out.find("Active"), std::string::npos);
}

TEST_F(KubectlTest, PatchLabelWaitAndDelete) {
  Start();
  ApplyExamples();
  const std::vector<std::string> n = {"-n", "bakery-ia"};
  auto patch = K({"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--type=merge", "-p",
                  R"({"spec":{"tenantName":"Obrador Nuria SL"}})"});
  ASSERT_EQ(patch.exit_code, 0) << patch.Both();
  EXPECT_NE(patch.out.find("patched"), std::string::npos);
  auto label = K({"label", "wa", "obrador-nuria", "-n", "bakery-ia", "team=north"});
  ASSERT_EQ(label.exit_code, 0) << label.Both();
  EXPECT_NE(label.out.find("labeled"), std::string::npos);
  auto sel = K({"get", "wa", "-n", "bakery-ia", "-l", "team=north", "-o", "name"});
  EXPECT_EQ(sel.out, "whatsappassignment.whatsapp.bakery-ia.io/obrador-nuria\n");

  auto invalid = K({"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--type=merge", "-p",
                    R"({"spec":{"phoneNumberId":"abc"}})"});
  EXPECT_NE(invalid.exit_code, 0);
  EXPECT_NE(invalid.err.find("spec.phoneNumberId: Invalid value: \"abc\""), std::string::npos)
      << invalid.err;

  // kubectl wait watches with a field selector on metadata.name; the status arrives later.
  CommandResult waited;
  std::thread waiter([&] {
    waited = K(
        {"wait", "--for=condition=Ready", "wa/obrador-nuria", "-n", "bakery-ia", "--timeout=30s"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto status = K(
      {"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--subresource=status", "--type=merge",
       "-p",
       R"({"status":{"conditions":[{"type":"Ready","status":"True","reason":"Bound","message":"ok","lastTransitionTime":"2026-11-26T10:00:00Z"}]}})"});
  ASSERT_EQ(status.exit_code, 0) << status.Both();
  waiter.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.Both();
  EXPECT_NE(waited.out.find("condition met"), std::string::npos) << waited.Both();
  auto get = K({"get", "wa", "obrador-nuria", "-n", "bakery-ia"});
  EXPECT_NE(get.out.find("True"), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("Bound"), std::string::npos) << get.out;

  // Finalizer holds the delete; kubectl wait --for=delete returns once it is removed.
  ASSERT_EQ(K({"patch", "wa", "panaderia-goiko", "-n", "bakery-ia", "--type=merge", "-p",
               R"({"metadata":{"finalizers":["example.com/hold"]}})"})
                .exit_code,
            0);
  auto del = K({"delete", "wa", "panaderia-goiko", "-n", "bakery-ia", "--wait=false"});
  ASSERT_EQ(del.exit_code, 0) << del.Both();
  EXPECT_NE(del.out.find("\"panaderia-goiko\" deleted"), std::string::npos) << del.out;
  CommandResult gone;
  std::thread deleter([&] {
    gone = K({"wait", "--for=delete", "wa/panaderia-goiko", "-n", "bakery-ia", "--timeout=30s"});
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_EQ(K({"patch", "wa", "panaderia-goiko", "-n", "bakery-ia", "--type=json", "-p",
               R"([{"op":"remove","path":"/metadata/finalizers"}])"})
                .exit_code,
            0);
  deleter.join();
  EXPECT_EQ(gone.exit_code, 0) << gone.Both();
  auto after = K({"get", "wa", "panaderia-goiko", "-n", "bakery-ia"});
  EXPECT_NE(after.exit_code, 0);
  EXPECT_NE(after.err.find("NotFound"), std::string::npos) << after.err;
  EXPECT_NE(after.err.find("\"panaderia-goiko\" not found"), std::string::npos) << after.err;
  (void)n;
}

TEST_F(KubectlTest, ApplyKustomizeAndReapply) {
  Start();
  ASSERT_EQ(K({"apply", "-f", RepoDir() + "/crds/"}).exit_code, 0);
  ASSERT_EQ(K({"create", "namespace", "bakery-ia"}).exit_code, 0);
  auto k = K({"apply", "-k", RepoDir() + "/examples/assignments/"});
  ASSERT_EQ(k.exit_code, 0) << k.Both();
  EXPECT_NE(k.out.find("created"), std::string::npos) << k.out;
  auto again = K({"apply", "-k", RepoDir() + "/examples/assignments/"});
  ASSERT_EQ(again.exit_code, 0) << again.Both();
  EXPECT_NE(again.out.find("unchanged"), std::string::npos) << again.out;
  // Built-in kinds through typed (protobuf) and client-side apply (strategic merge) paths.
  auto cm = K({"create", "configmap", "settings", "-n", "bakery-ia", "--from-literal=a=1"});
  ASSERT_EQ(cm.exit_code, 0) << cm.Both();
  auto sec = K({"create", "secret", "generic", "creds", "-n", "bakery-ia", "--from-literal=t=x"});
  ASSERT_EQ(sec.exit_code, 0) << sec.Both();
  auto data = K({"get", "secret", "creds", "-n", "bakery-ia", "-o", "jsonpath={.data.t}"});
  EXPECT_EQ(data.out, "eA==");
  std::string manifest =
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\n  namespace: bakery-ia\n"
      "data:\n  a: \"1\"\n";
  ASSERT_EQ(K({"apply", "-f", "-"}, manifest).exit_code, 0);
  auto changed = K({"apply", "-f", "-"}, manifest + "  b: \"2\"\n");
  ASSERT_EQ(changed.exit_code, 0) << changed.Both();
  EXPECT_NE(changed.out.find("configured"), std::string::npos) << changed.out;
  auto cms = K({"get", "cm", "-n", "bakery-ia"});
  EXPECT_NE(cms.out.find("DATA"), std::string::npos) << cms.out;
  EXPECT_NE(cms.out.find("applied"), std::string::npos) << cms.out;
}

TEST_F(KubectlTest, GetWatchShowsChanges) {
  Start();
  ApplyExamples();
  CommandResult watch;
  std::thread watcher([&] {
    watch = K({"get", "wa", "-n", "bakery-ia", "-w", "--request-timeout=4s"}, "",
              std::chrono::seconds(20));
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  ASSERT_EQ(K({"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--type=merge", "-p",
               R"({"spec":{"tenantName":"Watched Name"}})"})
                .exit_code,
            0);
  watcher.join();
  EXPECT_NE(watch.out.find("TENANT"), std::string::npos) << watch.Both();
  EXPECT_NE(watch.out.find("panaderia-san-juan"), std::string::npos) << watch.Both();
  EXPECT_NE(watch.out.find("Watched Name"), std::string::npos) << watch.Both();
}

TEST_F(KubectlTest, WebhookDenialReachesKubectl) {
  Start();
  ApplyExamples();
  auto ca = waop::tls::GenerateCa("webhook-ca", std::chrono::hours(24));
  ASSERT_TRUE(ca.ok());
  auto serving = waop::tls::IssueServingCert(*ca, "webhook", {"localhost"}, {"127.0.0.1"},
                                             std::chrono::hours(24));
  ASSERT_TRUE(serving.ok());
  auto server = waop::testing::HttpsTestServer::Start(*serving, [](web::http::http_request req) {
    req.extract_string(true).then([req](std::string body) {
      json review = json::parse(body, nullptr, false);
      std::string uid = review.is_discarded() ? "" : review["request"].value("uid", "");
      std::string tenant;
      if (!review.is_discarded() && review["request"]["object"].is_object()) {
        tenant = review["request"]["object"]["spec"].value("tenantName", "");
      }
      bool allowed = tenant != "Forbidden Tenant";
      json resp = {{"apiVersion", "admission.k8s.io/v1"},
                   {"kind", "AdmissionReview"},
                   {"response", {{"uid", uid}, {"allowed", allowed}}}};
      if (!allowed) {
        resp["response"]["status"] = {{"code", 403}, {"message", "tenant is on the deny list"}};
      }
      req.reply(200, resp.dump(), "application/json");
    });
  });
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::string ca_b64;
  {
    // base64 of the CA PEM for caBundle.
    static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const std::string& in = ca->cert_pem;
    size_t i = 0;
    for (; i + 2 < in.size(); i += 3) {
      uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
      for (int s = 18; s >= 0; s -= 6) ca_b64 += k[(v >> s) & 63];
    }
    if (i + 1 == in.size()) {
      uint32_t v = uint8_t(in[i]) << 16;
      ca_b64 += std::string{k[(v >> 18) & 63], k[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == in.size()) {
      uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
      ca_b64 += std::string{k[(v >> 18) & 63], k[(v >> 12) & 63], k[(v >> 6) & 63], '='};
    }
  }
  json vwc = {{"apiVersion", "admissionregistration.k8s.io/v1"},
              {"kind", "ValidatingWebhookConfiguration"},
              {"metadata", {{"name", "deny-tenants"}}},
              {"webhooks",
               {{{"name", "deny.example.com"},
                 {"admissionReviewVersions", {"v1"}},
                 {"sideEffects", "None"},
                 {"failurePolicy", "Fail"},
                 {"clientConfig", {{"url", (*server)->url() + "/validate"}, {"caBundle", ca_b64}}},
                 {"rules",
                  {{{"apiGroups", {"whatsapp.bakery-ia.io"}},
                    {"apiVersions", {"*"}},
                    {"operations", {"CREATE", "UPDATE"}},
                    {"resources", {"whatsappassignments"}}}}}}}}};
  auto created = K({"apply", "-f", "-"}, vwc.dump());
  ASSERT_EQ(created.exit_code, 0) << created.Both();
  auto denied = K({"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--type=merge", "-p",
                   R"({"spec":{"tenantName":"Forbidden Tenant"}})"});
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.err.find("admission webhook \"deny.example.com\" denied the request: tenant "
                            "is on the deny list"),
            std::string::npos)
      << denied.Both();
  auto allowed = K({"patch", "wa", "obrador-nuria", "-n", "bakery-ia", "--type=merge", "-p",
                    R"({"spec":{"tenantName":"Fine Tenant"}})"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.Both();
}

TEST_F(KubectlTest, TlsWithBearerToken) {
  Start({"--tls", "--token", "s3cret-token"});
  std::string kc = waop::testing::ReadFile(ds_->kubeconfig());
  EXPECT_NE(kc.find("server: https://127.0.0.1:"), std::string::npos) << kc;
  EXPECT_NE(kc.find("certificate-authority-data:"), std::string::npos);
  auto ok = K({"get", "ns"});
  ASSERT_EQ(ok.exit_code, 0) << ok.Both();
  EXPECT_NE(ok.out.find("kube-system"), std::string::npos);
  auto bad = K({"--token", "wrong", "get", "ns"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.Both().find("Unauthorized"), std::string::npos) << bad.Both();
  auto raw = K({"get", "--raw", "/debug/requests"});
  ASSERT_EQ(raw.exit_code, 0) << raw.Both();
  EXPECT_TRUE(json::parse(raw.out, nullptr, false).contains("total")) << raw.out;
  // Plain HTTP to the TLS port gets no API answer.
  auto plain = Http(ds_->port(), "GET", "/api/v1/namespaces");
  EXPECT_NE(plain.status, 200);
  EXPECT_EQ(ds_->Get("/healthz").status, 0);  // TLS only: no plain-HTTP health either
}

}  // namespace
}  // namespace devserver::testing
