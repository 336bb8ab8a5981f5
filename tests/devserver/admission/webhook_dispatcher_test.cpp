#include "admission/webhook_dispatcher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "https_test_server.h"
#include "tls/certs.h"

namespace devserver {
namespace {

using nlohmann::json;
using std::chrono::hours;

std::string Base64(const std::string& in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// A webhook server on 127.0.0.1 that records what it receives and answers as told.
class FakeWebhook {
 public:
  enum class Mode { kAllow, kDeny, kSleep, kWrongUid, kServerError };

  explicit FakeWebhook(const waop::tls::KeyPair& serving) {
    auto server = waop::testing::HttpsTestServer::Start(
        serving, [this](web::http::http_request req) { Handle(std::move(req)); });
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(*server);
  }

  // Releases handlers still sleeping, waits for every handler to return, then closes the
  // listener, so no handler outlives the members it uses.
  ~FakeWebhook() {
    std::unique_lock lock(mu_);
    released_ = true;
    cv_.notify_all();
    cv_.wait_for(lock, std::chrono::seconds(30), [this] { return active_ == 0; });
    lock.unlock();
    server_.reset();
  }

  std::string url(const std::string& path = "/validate") const { return server_->url() + path; }
  int calls() const { return calls_.load(); }
  json last_request() const {
    std::lock_guard lock(mu_);
    return last_;
  }
  std::string last_query() const {
    std::lock_guard lock(mu_);
    return last_query_;
  }

  std::atomic<Mode> mode{Mode::kAllow};
  std::string deny_message = "spec.phoneNumberId 123 is already assigned";
  int deny_code = 0;
  // Long enough that only the client's timeout can end the call; the destructor cuts it short.
  std::chrono::milliseconds sleep{15000};

 private:
  void Handle(web::http::http_request req) {
    {
      std::lock_guard lock(mu_);
      ++active_;
    }
    HandleCounted(std::move(req));
    std::lock_guard lock(mu_);
    --active_;
    cv_.notify_all();
  }

  void HandleCounted(web::http::http_request req) {
    ++calls_;
    json review;
    try {
      review = json::parse(req.extract_utf8string(true).get());
    } catch (const std::exception&) {
      req.reply(web::http::status_codes::BadRequest);
      return;
    }
    {
      std::lock_guard lock(mu_);
      last_ = review;
      last_query_ = req.request_uri().query();
    }
    json response = {{"uid", review["request"]["uid"]}, {"allowed", true}};
    switch (mode.load()) {
      case Mode::kAllow:
        response["warnings"] = {"tenantName is long"};
        break;
      case Mode::kDeny:
        response["allowed"] = false;
        response["status"] = {{"message", deny_message}};
        if (deny_code != 0) response["status"]["code"] = deny_code;
        break;
      case Mode::kSleep: {
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, sleep, [this] { return released_; });
        break;
      }
      case Mode::kWrongUid:
        response["uid"] = "not-the-uid";
        break;
      case Mode::kServerError:
        req.reply(web::http::status_codes::InternalError, "boom");
        return;
    }
    json out = {
        {"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"response", response}};
    req.reply(web::http::status_codes::OK, out.dump(), "application/json");
  }

  std::unique_ptr<waop::testing::HttpsTestServer> server_;
  std::atomic<int> calls_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  int active_ = 0;
  json last_;
  std::string last_query_;
};

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = waop::tls::GenerateCa("webhook-ca", hours(1));
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    auto serving =
        waop::tls::IssueServingCert(ca_, "webhook", {"localhost"}, {"127.0.0.1"}, hours(1));
    ASSERT_TRUE(serving.ok());
    webhook_ = std::make_unique<FakeWebhook>(*serving);
  }

  json Webhook(const std::string& name, const std::string& failure_policy = "Fail",
               int timeout_seconds = 10) const {
    return {{"name", name},
            {"admissionReviewVersions", {"v1"}},
            {"sideEffects", "None"},
            {"failurePolicy", failure_policy},
            {"timeoutSeconds", timeout_seconds},
            {"clientConfig", {{"url", webhook_->url()}, {"caBundle", Base64(ca_.cert_pem)}}},
            {"rules",
             {{{"operations", {"CREATE", "UPDATE"}},
               {"apiGroups", {"whatsapp.bakery-ia.io"}},
               {"apiVersions", {"v1alpha1"}},
               {"resources", {"whatsappassignments"}},
               {"scope", "Namespaced"}}}}};
  }

  static json Configuration(json webhooks) {
    return {{"apiVersion", "admissionregistration.k8s.io/v1"},
            {"kind", "ValidatingWebhookConfiguration"},
            {"metadata", {{"name", "whatsapp-operator"}}},
            {"webhooks", std::move(webhooks)}};
  }

  static AdmissionAttributes Create() {
    AdmissionAttributes a;
    a.operation = "CREATE";
    a.group = "whatsapp.bakery-ia.io";
    a.version = "v1alpha1";
    a.resource = "whatsappassignments";
    a.kind = "WhatsAppAssignment";
    a.name = "panaderia";
    a.ns = "bakery-ia";
    a.user = "admin";
    a.object = {
        {"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
        {"kind", "WhatsAppAssignment"},
        {"metadata",
         {{"name", "panaderia"}, {"namespace", "bakery-ia"}, {"labels", {{"tier", "gold"}}}}},
        {"spec", {{"tenantId", "t1"}, {"phoneNumberId", "123"}}}};
    return a;
  }

  AdmissionResult Run(const json& webhook, const AdmissionAttributes& attrs,
                      json ns_labels = {{"team", "bakery"}}) {
    return dispatcher_.Validate({Configuration(json::array({webhook}))}, attrs,
                                [ns_labels](const std::string&) { return ns_labels; });
  }

  waop::tls::KeyPair ca_;
  std::unique_ptr<FakeWebhook> webhook_;
  WebhookDispatcher dispatcher_;
};

TEST_F(DispatcherTest, AllowedCarriesWarningsAndTheRequestIsComplete) {
  AdmissionAttributes attrs = Create();
  attrs.dry_run = true;
  AdmissionResult r = Run(Webhook("check.whatsapp.bakery-ia.io"), attrs);
  EXPECT_TRUE(r.allowed) << r.message;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.warnings, std::vector<std::string>{"tenantName is long"});
  EXPECT_EQ(webhook_->calls(), 1);
  json review = webhook_->last_request();
  EXPECT_EQ(review["apiVersion"], "admission.k8s.io/v1");
  EXPECT_EQ(review["kind"], "AdmissionReview");
  const json& req = review["request"];
  EXPECT_EQ(req["uid"].get<std::string>().size(), 36u);
  EXPECT_EQ(req["kind"], json({{"group", "whatsapp.bakery-ia.io"},
                               {"version", "v1alpha1"},
                               {"kind", "WhatsAppAssignment"}}));
  EXPECT_EQ(req["resource"]["resource"], "whatsappassignments");
  EXPECT_EQ(req["requestKind"], req["kind"]);
  EXPECT_FALSE(req.contains("subResource"));
  EXPECT_EQ(req["name"], "panaderia");
  EXPECT_EQ(req["namespace"], "bakery-ia");
  EXPECT_EQ(req["operation"], "CREATE");
  EXPECT_EQ(req["userInfo"]["username"], "admin");
  EXPECT_EQ(req["object"], attrs.object);
  EXPECT_TRUE(req["oldObject"].is_null());
  EXPECT_EQ(req["dryRun"], true);
  EXPECT_EQ(req["options"]["kind"], "CreateOptions");
  EXPECT_EQ(webhook_->last_query(), "timeout=10s");
}

TEST_F(DispatcherTest, DenialMessageReachesTheResultVerbatim) {
  webhook_->mode = FakeWebhook::Mode::kDeny;
  AdmissionResult r = Run(Webhook("check.whatsapp.bakery-ia.io"), Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 403);
  EXPECT_EQ(r.message,
            "admission webhook \"check.whatsapp.bakery-ia.io\" denied the request: "
            "spec.phoneNumberId 123 is already assigned");
  webhook_->deny_code = 422;
  webhook_->deny_message = "Phone number +34 612 345 678 already assigned to tenant 'Panadería'";
  r = Run(Webhook("check.whatsapp.bakery-ia.io"), Create());
  EXPECT_EQ(r.code, 422);
  EXPECT_EQ(r.message,
            "admission webhook \"check.whatsapp.bakery-ia.io\" denied the request: Phone number "
            "+34 612 345 678 already assigned to tenant 'Panadería'");
}

TEST_F(DispatcherTest, TimeoutFollowsFailurePolicy) {
  webhook_->mode = FakeWebhook::Mode::kSleep;
  auto started = std::chrono::steady_clock::now();
  AdmissionResult fail = Run(Webhook("slow", "Fail", 1), Create());
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_FALSE(fail.allowed);
  EXPECT_EQ(fail.code, 500);
  EXPECT_EQ(fail.message.rfind("failed calling webhook \"slow\": ", 0), 0u) << fail.message;
  EXPECT_NE(fail.message.find("context deadline exceeded"), std::string::npos) << fail.message;
  // Gave up after about timeoutSeconds, long before the server would have answered (15 s); the
  // margin is for a loaded machine under ASan.
  EXPECT_LT(elapsed, std::chrono::seconds(8));
  AdmissionResult ignore = Run(Webhook("slow", "Ignore", 1), Create());
  EXPECT_TRUE(ignore.allowed) << ignore.message;
  EXPECT_EQ(webhook_->calls(), 2);
}

TEST_F(DispatcherTest, UnreachableFollowsFailurePolicy) {
  auto port = waop::PickFreeLoopbackPort();  // Nobody listens there.
  ASSERT_TRUE(port.ok());
  json hook = Webhook("gone");
  hook["clientConfig"]["url"] = "https://127.0.0.1:" + std::to_string(*port) + "/validate";
  AdmissionResult fail = Run(hook, Create());
  EXPECT_FALSE(fail.allowed);
  EXPECT_EQ(fail.code, 500);
  EXPECT_EQ(fail.message.rfind("failed calling webhook \"gone\": failed to call webhook: Post", 0),
            0u)
      << fail.message;
  hook["failurePolicy"] = "Ignore";
  EXPECT_TRUE(Run(hook, Create()).allowed);
}

TEST_F(DispatcherTest, WrongCaIsACallFailure) {
  auto other = waop::tls::GenerateCa("other-ca", hours(1));
  ASSERT_TRUE(other.ok());
  json hook = Webhook("untrusted");
  hook["clientConfig"]["caBundle"] = Base64(other->cert_pem);
  AdmissionResult r = Run(hook, Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 500);
  EXPECT_EQ(r.message.rfind("failed calling webhook \"untrusted\": ", 0), 0u) << r.message;
  EXPECT_NE(r.message.find("tls"), std::string::npos) << r.message;
  EXPECT_EQ(webhook_->calls(), 0);  // Never reached the handler.
  hook["failurePolicy"] = "Ignore";
  EXPECT_TRUE(Run(hook, Create()).allowed);
}

TEST_F(DispatcherTest, BadResponsesAndConfigsAreCallFailures) {
  webhook_->mode = FakeWebhook::Mode::kWrongUid;
  AdmissionResult r = Run(Webhook("w"), Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("expected response.uid="), std::string::npos) << r.message;
  webhook_->mode = FakeWebhook::Mode::kServerError;
  r = Run(Webhook("w"), Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("expected webhook response of 200, got 500"), std::string::npos);

  json service = Webhook("svc");
  service["clientConfig"] = {{"service", {{"namespace", "ops"}, {"name", "webhook"}}}};
  r = Run(service, Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("service reference ops/webhook cannot be resolved"), std::string::npos)
      << r.message;
  service["failurePolicy"] = "Ignore";
  EXPECT_TRUE(Run(service, Create()).allowed);

  json bad_ca = Webhook("badca");
  bad_ca["clientConfig"]["caBundle"] = "***";
  r = Run(bad_ca, Create());
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("caBundle"), std::string::npos);
  EXPECT_EQ(webhook_->calls(), 2);
}

TEST_F(DispatcherTest, NoCallWhenRulesOrSelectorsDoNotMatch) {
  auto no_call = [&](const json& hook, const AdmissionAttributes& attrs, const char* why) {
    int before = webhook_->calls();
    AdmissionResult r = Run(hook, attrs);
    EXPECT_TRUE(r.allowed) << why;
    EXPECT_EQ(webhook_->calls(), before) << why;
  };
  AdmissionAttributes del = Create();
  del.operation = "DELETE";
  no_call(Webhook("w"), del, "operation");
  AdmissionAttributes other_group = Create();
  other_group.group = "apps";
  no_call(Webhook("w"), other_group, "group");
  AdmissionAttributes other_version = Create();
  other_version.version = "v1";
  no_call(Webhook("w"), other_version, "version");
  AdmissionAttributes status = Create();
  status.operation = "UPDATE";
  status.subresource = "status";
  no_call(Webhook("w"), status, "status subresource is not the main resource");
  json cluster = Webhook("w");
  cluster["rules"][0]["scope"] = "Cluster";
  no_call(cluster, Create(), "scope");
  json ns_sel = Webhook("w");
  ns_sel["namespaceSelector"] = {{"matchLabels", {{"team", "other"}}}};
  no_call(ns_sel, Create(), "namespaceSelector matchLabels");
  json ns_expr = Webhook("w");
  ns_expr["namespaceSelector"] = {
      {"matchExpressions", {{{"key", "team"}, {"operator", "NotIn"}, {"values", {"bakery"}}}}}};
  no_call(ns_expr, Create(), "namespaceSelector NotIn");
  json obj_sel = Webhook("w");
  obj_sel["objectSelector"] = {
      {"matchExpressions", {{{"key", "tier"}, {"operator", "DoesNotExist"}}}}};
  no_call(obj_sel, Create(), "objectSelector DoesNotExist");
  EXPECT_EQ(webhook_->calls(), 0);
}

TEST_F(DispatcherTest, CallsWhenRulesAndSelectorsMatch) {
  auto called = [&](const json& hook, const AdmissionAttributes& attrs, const char* why) {
    int before = webhook_->calls();
    AdmissionResult r = Run(hook, attrs);
    EXPECT_TRUE(r.allowed) << why << ": " << r.message;
    EXPECT_EQ(webhook_->calls(), before + 1) << why;
  };
  json star = Webhook("w");
  star["rules"][0] = {
      {"operations", {"*"}}, {"apiGroups", {"*"}}, {"apiVersions", {"*"}}, {"resources", {"*"}}};
  called(star, Create(), "wildcards");
  AdmissionAttributes status = Create();
  status.operation = "UPDATE";
  status.subresource = "status";
  status.old_object = status.object;
  json status_hook = Webhook("w");
  status_hook["rules"][0]["resources"] = {"whatsappassignments/status"};
  called(status_hook, status, "x/status");
  status_hook["rules"][0]["resources"] = {"*/*"};
  called(status_hook, status, "*/*");
  EXPECT_EQ(webhook_->last_request()["request"]["subResource"], "status");
  EXPECT_EQ(webhook_->last_request()["request"]["options"]["kind"], "UpdateOptions");
  json sel = Webhook("w");
  sel["namespaceSelector"] = {
      {"matchLabels", {{"team", "bakery"}}},
      {"matchExpressions", {{{"key", "team"}, {"operator", "In"}, {"values", {"bakery", "x"}}}}}};
  sel["objectSelector"] = {{"matchExpressions", {{{"key", "tier"}, {"operator", "Exists"}}}}};
  called(sel, Create(), "selectors");
  // DELETE has only the old object; the objectSelector is matched against it.
  AdmissionAttributes del = Create();
  del.operation = "DELETE";
  del.old_object = del.object;
  del.object = nullptr;
  sel["rules"][0]["operations"] = {"DELETE"};
  called(sel, del, "delete with old object");
}

TEST_F(DispatcherTest, SeveralConfigurationsFirstDenialWins) {
  json second = Webhook("second");
  second["clientConfig"]["url"] = webhook_->url("/second");
  webhook_->mode = FakeWebhook::Mode::kDeny;
  AdmissionResult r = dispatcher_.Validate(
      {Configuration(json::array({Webhook("first")})), Configuration(json::array({second}))},
      Create(), [](const std::string&) { return json::object(); });
  EXPECT_FALSE(r.allowed);
  EXPECT_NE(r.message.find("\"first\""), std::string::npos);
  EXPECT_EQ(webhook_->calls(), 1);
  webhook_->mode = FakeWebhook::Mode::kAllow;
  r = dispatcher_.Validate(
      {Configuration(json::array({Webhook("first")})), Configuration(json::array({second}))},
      Create(), [](const std::string&) { return json::object(); });
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(webhook_->calls(), 3);
}

TEST_F(DispatcherTest, DryRunWithSideEffectsIsRefused) {
  json hook = Webhook("effects");
  hook["sideEffects"] = "Some";
  AdmissionAttributes attrs = Create();
  attrs.dry_run = true;
  AdmissionResult r = Run(hook, attrs);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.code, 400);
  EXPECT_EQ(r.message, "admission webhook \"effects\" does not support dry run");
  EXPECT_EQ(webhook_->calls(), 0);
}

TEST_F(DispatcherTest, ConcurrentCallsShareTheDispatcher) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5;
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (Run(Webhook("w"), Create()).allowed) ++allowed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(allowed.load(), kThreads * kPerThread);
  EXPECT_EQ(webhook_->calls(), kThreads * kPerThread);
  EXPECT_EQ(dispatcher_.CallsAttempted(), kThreads * kPerThread);
}

}  // namespace
}  // namespace devserver
