// The credentials publisher against the in-memory client, with a view that reads the client's
// objects directly (a cache that is always fresh) unless a test holds it back.
#include "controller/credentials_publisher.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <map>
#include <set>
#include <sstream>

#include "common/logging.h"
#include "kube/config.h"
#include "support/fake_client.h"
#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using json = nlohmann::json;
const kube::ResourceType& kSecrets = kube::resources::kSecrets;
constexpr char kToken[] = "EAAG-published-token";
constexpr char kAppSecret[] = "the-app-secret";

class MutableCredentials final : public meta::CredentialsSource {
 public:
  std::shared_ptr<const meta::MasterCredentials> Current() const override {
    std::lock_guard lock(mu_);
    return current_;
  }
  void Set(meta::MasterCredentials c) {
    std::lock_guard lock(mu_);
    current_ = std::make_shared<const meta::MasterCredentials>(std::move(c));
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const meta::MasterCredentials> current_ =
      std::make_shared<const meta::MasterCredentials>();
};

meta::MasterCredentials Creds(const std::string& token = kToken) {
  meta::MasterCredentials c;
  c.values = {{"WHATSAPP_ACCESS_TOKEN", token},
              {"WHATSAPP_BUSINESS_ACCOUNT_ID", "1029384756"},
              {"WHATSAPP_PHONE_NUMBER_ID", "123456789012345"},
              {"WHATSAPP_API_VERSION", "v21.0"},
              {"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "verify"},
              {"WHATSAPP_APP_SECRET", kAppSecret}};
  return c;
}

class FakeView final : public PublishView {
 public:
  explicit FakeView(kube::FakeClient& client) : client_(client) {}
  bool HasAssignments(std::string_view ns) const override {
    return assignment_namespaces.count(std::string(ns)) > 0;
  }
  std::vector<std::string> Namespaces() const override {
    return {assignment_namespaces.begin(), assignment_namespaces.end()};
  }
  ObjectPtr GetPublishedSecret(std::string_view ns) const override {
    if (stale) return stale_secret;
    for (const auto& s : client_.Objects(kSecrets)) {
      if (kube::ObjectNamespace(s) == ns && kube::ObjectName(s) == meta::kPublishedSecretName &&
          CredentialsPublisher::IsOurs(s)) {
        return std::make_shared<const json>(s);
      }
    }
    return nullptr;
  }
  std::set<std::string> assignment_namespaces;
  bool stale = false;  // return stale_secret instead of the client's object
  ObjectPtr stale_secret;

 private:
  kube::FakeClient& client_;
};

class CredentialsPublisherTest : public ::testing::Test {
 protected:
  CredentialsPublisherTest()
      : client_(clock_),
        view_(client_),
        events_(client_, clock_, "whatsapp-operator", "test"),
        publisher_(view_, creds_, client_, events_) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    logging::SetUpLogging({logging::LogFormat::kJson, spdlog::level::debug, "test"}, sink);
    creds_.Set(Creds());
  }
  ~CredentialsPublisherTest() override {
    EXPECT_EQ(log_.str().find(kToken), std::string::npos) << "the token reached the log";
    logging::SetUpLogging({});
  }

  std::optional<json> Secret(const std::string& ns) {
    auto r = client_.Get(kSecrets, ns, meta::kPublishedSecretName);
    return r.ok() ? std::optional<json>(*r) : std::nullopt;
  }
  static std::string Decoded(const json& secret, const std::string& key) {
    auto d = kube::DecodeBase64(secret["data"][key].get<std::string>());
    return d.ok() ? *d : "<bad base64>";
  }
  int Writes() {
    return client_.Calls("create", kSecrets) + client_.Calls("patch", kSecrets) +
           client_.Calls("delete", kSecrets) + client_.Calls("update", kSecrets);
  }

  FakeClock clock_;
  kube::FakeClient client_;
  FakeView view_;
  MutableCredentials creds_;
  EventRecorder events_;
  CredentialsPublisher publisher_;
  std::ostringstream log_;
};

TEST_F(CredentialsPublisherTest, PublishesIntoANamespaceWithAssignmentsMinusTheAppSecret) {
  view_.assignment_namespaces = {"bakery-ia"};
  auto r = publisher_.Reconcile("bakery-ia");
  EXPECT_EQ(r.kind, ReconcileResult::Kind::kOk);
  auto s = Secret("bakery-ia");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["type"], "Opaque");
  EXPECT_EQ((*s)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "whatsapp-operator");
  EXPECT_EQ((*s)["metadata"]["annotations"]["whatsapp.bakery-ia.io/content-hash"],
            Creds().PublishedHash());
  EXPECT_EQ((*s)["data"].size(), 5u);
  EXPECT_FALSE((*s)["data"].contains("WHATSAPP_APP_SECRET"));
  EXPECT_EQ(Decoded(*s, "WHATSAPP_ACCESS_TOKEN"), kToken);
  EXPECT_EQ(Decoded(*s, "WHATSAPP_API_VERSION"), "v21.0");
  EXPECT_EQ(s->dump().find(kAppSecret), std::string::npos);
  EXPECT_NE(log_.str().find("\"contentHash\":\"" + Creds().PublishedHash().substr(0, 12) + "\""),
            std::string::npos)
      << log_.str();
}

TEST_F(CredentialsPublisherTest, ConvergedWritesNothing) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  client_.ResetCalls();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(client_.TotalCalls(), 0) << "a converged namespace costs no request";
}

TEST_F(CredentialsPublisherTest, NothingWithoutAssignmentsOrWithoutCredentials) {
  EXPECT_EQ(publisher_.Reconcile("empty").kind, ReconcileResult::Kind::kOk);
  EXPECT_FALSE(Secret("empty"));
  view_.assignment_namespaces = {"a"};
  creds_.Set({});
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_FALSE(Secret("a"));
  EXPECT_EQ(Writes(), 0);
}

TEST_F(CredentialsPublisherTest, PartialCredentialsArePublishedAsTheyAre) {
  view_.assignment_namespaces = {"a"};
  meta::MasterCredentials partial;
  partial.values = {{"WHATSAPP_PHONE_NUMBER_ID", "1"}, {"WHATSAPP_APP_SECRET", kAppSecret}};
  creds_.Set(partial);
  (void)publisher_.Reconcile("a");
  auto s = Secret("a");
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["data"], json({{"WHATSAPP_PHONE_NUMBER_ID", "MQ=="}}));
  // Only the app secret: nothing to publish.
  meta::MasterCredentials only_secret;
  only_secret.values = {{"WHATSAPP_APP_SECRET", kAppSecret}};
  creds_.Set(only_secret);
  view_.assignment_namespaces = {"a", "b"};
  (void)publisher_.Reconcile("b");
  EXPECT_FALSE(Secret("b"));
}

TEST_F(CredentialsPublisherTest, EmptyCredentialsKeepExistingCopies) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  creds_.Set({});
  client_.ResetCalls();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_TRUE(Secret("a"));
  EXPECT_EQ(Writes(), 0);
}

TEST_F(CredentialsPublisherTest, RotationRewritesEveryCopyAndDropsRemovedKeys) {
  view_.assignment_namespaces = {"a", "b"};
  (void)publisher_.Reconcile("a");
  (void)publisher_.Reconcile("b");
  meta::MasterCredentials rotated = Creds("EAAG-rotated");
  rotated.values.erase("WHATSAPP_WEBHOOK_VERIFY_TOKEN");
  creds_.Set(rotated);
  client_.ResetCalls();
  for (const auto& ns : view_.Namespaces()) {
    EXPECT_EQ(publisher_.Reconcile(ns).kind, ReconcileResult::Kind::kOk);
  }
  EXPECT_EQ(client_.Calls("patch", kSecrets), 2);
  for (const char* ns : {"a", "b"}) {
    auto s = Secret(ns);
    ASSERT_TRUE(s);
    EXPECT_EQ(Decoded(*s, "WHATSAPP_ACCESS_TOKEN"), "EAAG-rotated");
    EXPECT_FALSE((*s)["data"].contains("WHATSAPP_WEBHOOK_VERIFY_TOKEN"));
    EXPECT_EQ((*s)["metadata"]["annotations"]["whatsapp.bakery-ia.io/content-hash"],
              rotated.PublishedHash());
  }
  client_.ResetCalls();
  (void)publisher_.Reconcile("a");
  EXPECT_EQ(client_.TotalCalls(), 0);
}

TEST_F(CredentialsPublisherTest, EditedCopyIsRepaired) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  ASSERT_TRUE(client_
                  .Patch(kSecrets, "a", meta::kPublishedSecretName, kube::PatchType::kMerge,
                         {{"data", {{"WHATSAPP_ACCESS_TOKEN", "aGFja2Vk"}, {"EXTRA", "eA=="}}}})
                  .ok());
  (void)publisher_.Reconcile("a");
  auto s = Secret("a");
  EXPECT_EQ(Decoded(*s, "WHATSAPP_ACCESS_TOKEN"), kToken);
  EXPECT_FALSE((*s)["data"].contains("EXTRA"));
}

TEST_F(CredentialsPublisherTest, LastAssignmentGoneDeletesOurs) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  ASSERT_TRUE(Secret("a"));
  view_.assignment_namespaces.clear();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_FALSE(Secret("a"));
  client_.ResetCalls();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(client_.TotalCalls(), 0);
}

TEST_F(CredentialsPublisherTest, ForeignSecretIsNeverTouchedAndReported) {
  json foreign = {{"apiVersion", "v1"},
                  {"kind", "Secret"},
                  {"metadata", {{"name", "whatsapp-master-credentials"}, {"namespace", "a"}}},
                  {"data", {{"MINE", "eA=="}}}};
  ASSERT_TRUE(client_.Seed(kSecrets, foreign).ok());
  view_.assignment_namespaces = {"a"};
  auto r = publisher_.Reconcile("a");
  EXPECT_EQ(r.kind, ReconcileResult::Kind::kRequeueAfter);
  auto s = Secret("a");
  EXPECT_EQ((*s)["data"], foreign["data"]) << "not overwritten";
  EXPECT_EQ(client_.Calls("patch", kSecrets), 0);
  (void)publisher_.Reconcile("a");
  EXPECT_EQ(client_.Calls("delete", kSecrets), 0);
  // One log line, an Event on the Secret.
  std::istringstream in(log_.str());
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    lines += line.find("does not overwrite it") != std::string::npos;
  }
  EXPECT_EQ(lines, 1);
  auto events = client_.Objects(kube::resources::kEvents);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0]["reason"], "CredentialsNotPublished");
  EXPECT_EQ(events[0]["type"], "Warning");
  EXPECT_EQ(events[0]["involvedObject"]["kind"], "Secret");
  // No assignments: the foreign Secret is still left alone.
  view_.assignment_namespaces.clear();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_TRUE(Secret("a"));
  EXPECT_EQ(client_.Calls("delete", kSecrets), 0);
}

TEST_F(CredentialsPublisherTest, StaleCacheAfterCreateReadsInsteadOfWriting) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  view_.stale = true;  // the cache has not seen our create yet
  client_.ResetCalls();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(client_.Calls("create", kSecrets), 1);  // AlreadyExists
  EXPECT_EQ(client_.Calls("get", kSecrets), 1);
  EXPECT_EQ(client_.Calls("patch", kSecrets), 0);
}

TEST_F(CredentialsPublisherTest, StaleCacheOnRotationRetriesOnceWithAFreshRead) {
  view_.assignment_namespaces = {"a"};
  (void)publisher_.Reconcile("a");
  view_.stale_secret = std::make_shared<const json>(*Secret("a"));
  creds_.Set(Creds("EAAG-2"));
  (void)publisher_.Reconcile("a");  // patched to EAAG-2
  view_.stale = true;               // the cache still shows the first version
  creds_.Set(Creds("EAAG-3"));
  client_.ResetCalls();
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(client_.Calls("patch", kSecrets), 2);  // 409, then the retry
  EXPECT_EQ(Decoded(*Secret("a"), "WHATSAPP_ACCESS_TOKEN"), "EAAG-3");
}

TEST_F(CredentialsPublisherTest, ApiErrorsRequeue) {
  view_.assignment_namespaces = {"a"};
  client_.InjectError("create", kSecrets, Status::Unavailable("down"));
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kError);
  EXPECT_EQ(publisher_.Reconcile("a").kind, ReconcileResult::Kind::kOk);
  EXPECT_TRUE(Secret("a"));
}

}  // namespace
}  // namespace waop::controller
