// Meta's side of the inventory: the refresher against an in-memory Graph API, and the reconciler
// writing WhatsAppPhoneNumber objects and assignment statuses from its snapshot, against the
// in-memory API server. The cache view reads the fake server directly (a cache that is never
// behind), and each test drives the reconciler until a full pass writes nothing.
#include "controller/meta_inventory.h"

#include <gtest/gtest.h>

#include <deque>
#include <map>

#include "api/json.h"
#include "controller/assignment_reconciler.h"
#include "core/settings.h"
#include "support/fake_client.h"
#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using json = nlohmann::json;
namespace res = kube::resources;
constexpr char kToken[] = "EAAG-very-secret-token";

class FakeGraph final : public meta::GraphClient {
 public:
  Result<meta::PhoneNumberListing> ListPhoneNumbers(const meta::GraphAuth& auth,
                                                    std::string_view waba) override {
    ++list_calls;
    last_token = auth.access_token;
    last_waba = std::string(waba);
    if (!list_error.ok()) return list_error;
    meta::PhoneNumberListing l;
    for (const auto& [id, n] : numbers) l.numbers.push_back(n);
    l.calls = static_cast<int>(numbers.size() / 100 + 1);
    return l;
  }
  Result<meta::GraphPhoneNumber> GetPhoneNumber(const meta::GraphAuth&,
                                                std::string_view id) override {
    ++get_calls;
    auto it = numbers.find(std::string(id));
    if (it == numbers.end()) return Status::NotFound("no such number");
    return it->second;
  }
  Result<std::vector<meta::MessageTemplate>> ListTemplates(const meta::GraphAuth&, std::string_view,
                                                           std::string_view name) override {
    ++template_calls;
    std::vector<meta::MessageTemplate> out;
    for (const auto& t : templates) {
      if (t.name == name) out.push_back(t);
    }
    return out;
  }
  meta::AppUsage LastUsage() const override { return {}; }

  void Put(std::string id, std::string display, std::string rating) {
    numbers[id] = {id, std::move(display), "Bakery Platform", std::move(rating), "TIER_1K"};
  }

  std::map<std::string, meta::GraphPhoneNumber> numbers;
  std::vector<meta::MessageTemplate> templates = {{"po_notification", "es", "APPROVED"}};
  Status list_error;
  int list_calls = 0, get_calls = 0, template_calls = 0;
  std::string last_token, last_waba;
};

// The cache, read straight from the fake API server.
class ServerView final : public ClusterView {
 public:
  explicit ServerView(kube::FakeClient& c) : c_(c) {}
  ObjectPtr GetAssignment(std::string_view key) const override {
    auto slash = key.find('/');
    return Get(res::kWhatsAppAssignments, key.substr(0, slash), key.substr(slash + 1));
  }
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    return By("phoneNumberId", id);
  }
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    return By("tenantId", id);
  }
  ObjectPtr GetConfigMap(std::string_view ns, std::string_view name) const override {
    return Get(res::kConfigMaps, ns, name);
  }
  ObjectPtr GetPhoneNumber(std::string_view id) const override {
    return Get(res::kWhatsAppPhoneNumbers, "", id);
  }

 private:
  ObjectPtr Get(const kube::ResourceType& t, std::string_view ns, std::string_view name) const {
    for (json& o : c_.Objects(t)) {
      if (o["metadata"]["name"] == name && o["metadata"].value("namespace", "") == ns) {
        return std::make_shared<const json>(std::move(o));
      }
    }
    return nullptr;
  }
  std::vector<ObjectPtr> By(const char* field, std::string_view id) const {
    std::vector<ObjectPtr> out;
    for (json& o : c_.Objects(res::kWhatsAppAssignments)) {
      if (o["spec"].value(field, "") == id) out.push_back(std::make_shared<const json>(o));
    }
    return out;
  }
  kube::FakeClient& c_;
};

json Assignment(const std::string& name, const std::string& tenant, const std::string& phone) {
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata", {{"name", name}, {"namespace", "bakery-ia"}}},
          {"spec",
           {{"tenantId", tenant},
            {"phoneNumberId", phone},
            {"enabled", true},
            {"defaultLanguage", "es"}}}};
}

struct CondView {
  std::string status, reason, message;
};
// The condition of `type` in obj.status.conditions; a missing one reads as status "absent".
std::optional<CondView> Cond(const json& obj, std::string_view type) {
  if (!obj.contains("status")) return std::nullopt;
  for (const json& c : obj["status"].value("conditions", json::array())) {
    if (c.value("type", "") == type) {
      return CondView{c.value("status", ""), c.value("reason", ""), c.value("message", "")};
    }
  }
  return std::nullopt;
}

class MetaInventoryTest : public ::testing::Test {
 protected:
  MetaInventoryTest()
      : client_(clock_),
        view_(client_),
        recorder_(client_, clock_, "whatsapp-operator", "test"),
        credentials_(Configured()),
        reconciler_(view_, client_, recorder_, clock_, Options()) {
    graph_.Put("111", "+34 611 111 111", "GREEN");
    graph_.Put("222", "+34 622 222 222", "GREEN");
  }

  static meta::MasterCredentials Configured() {
    meta::MasterCredentials c;
    c.values[std::string(meta::kAccessTokenKey)] = kToken;
    c.values[std::string(meta::kBusinessAccountIdKey)] = "999";
    return c;
  }
  ReconcilerOptions Options() {
    ReconcilerOptions o;
    o.meta = &inventory_;
    return o;
  }
  InventoryRefresher& Refresher(const meta::CredentialsSource* creds = nullptr) {
    RefresherOptions o;
    o.enqueue = [this](const std::vector<Request>& rs) {
      for (const auto& r : rs) enqueued_.push_back(r);
    };
    o.all_assignments = [this] {
      std::vector<std::string> keys;
      for (const json& a : client_.Objects(res::kWhatsAppAssignments)) {
        keys.push_back("bakery-ia/" + a["metadata"]["name"].get<std::string>());
      }
      return keys;
    };
    o.all_phone_numbers = [this] {
      std::vector<std::string> ids;
      for (const json& p : client_.Objects(res::kWhatsAppPhoneNumbers)) {
        ids.push_back(p["metadata"]["name"]);
      }
      return ids;
    };
    o.on_health_change = [this](const core::MetaHealth&, const core::MetaHealth& after,
                                const Status&) { health_changes_.push_back(after.state); };
    refresher_ = std::make_unique<InventoryRefresher>(
        inventory_, graph_, creds ? *creds : credentials_, view_, clock_, std::move(o));
    return *refresher_;
  }
  // Reconciles what the refresher enqueued, then everything, until a pass writes nothing.
  void Converge() {
    while (!enqueued_.empty()) {
      Request r = enqueued_.front();
      enqueued_.pop_front();
      (void)reconciler_.Reconcile(r);
    }
    for (int pass = 0; pass < 6; ++pass) {
      int before = Writes();
      for (const json& a : client_.Objects(res::kWhatsAppAssignments)) {
        (void)reconciler_.Reconcile(Request::Assignment("bakery-ia", a["metadata"]["name"]));
      }
      std::set<std::string> ids;
      for (const json& p : client_.Objects(res::kWhatsAppPhoneNumbers)) {
        ids.insert(p["metadata"]["name"]);
      }
      for (const auto& [id, info] : inventory_.Get()->numbers) ids.insert(id);
      for (const auto& id : ids) (void)reconciler_.Reconcile(Request::PhoneNumber(id));
      if (Writes() == before) return;
    }
    ADD_FAILURE() << "did not converge";
  }
  int Writes() const {
    int n = 0;
    for (const auto* t :
         {&res::kWhatsAppAssignments, &res::kWhatsAppPhoneNumbers, &res::kConfigMaps}) {
      n += client_.Calls("create", *t) + client_.Calls("update", *t, "status") +
           client_.Calls("delete", *t) + client_.Calls("patch", *t);
    }
    return n;
  }
  json Phone(const std::string& id) {
    ObjectPtr p = view_.GetPhoneNumber(id);
    return p ? *p : json();
  }
  json Get(const std::string& name) { return *view_.GetAssignment("bakery-ia/" + name); }
  std::vector<json> EventsWithReason(std::string_view reason) {
    std::vector<json> out;
    for (const json& e : client_.Objects(res::kEvents)) {
      if (e.value("reason", "") == reason) out.push_back(e);
    }
    return out;
  }

  FakeClock clock_;
  kube::FakeClient client_;
  ServerView view_;
  EventRecorder recorder_;
  meta::StaticCredentialsSource credentials_;
  FakeGraph graph_;
  MetaInventory inventory_;
  AssignmentReconciler reconciler_;
  std::unique_ptr<InventoryRefresher> refresher_;
  std::deque<Request> enqueued_;
  std::vector<core::MetaState> health_changes_;
};

TEST_F(MetaInventoryTest, ListingCreatesInventoryAndFillsAssignmentStatus) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  ASSERT_TRUE(Refresher().RefreshOnce().ok());
  EXPECT_EQ(graph_.last_token, kToken);
  EXPECT_EQ(graph_.last_waba, "999");
  Converge();

  json p = Phone("111");
  ASSERT_FALSE(p.is_null());
  EXPECT_EQ(p["status"]["qualityRating"], "GREEN");
  EXPECT_EQ(p["status"]["displayPhoneNumber"], "+34 611 111 111");
  EXPECT_EQ(p["status"]["verifiedName"], "Bakery Platform");
  EXPECT_EQ(p["status"]["messagingLimitTier"], "TIER_1K");
  EXPECT_TRUE(p["status"].contains("lastSyncTime"));
  EXPECT_EQ(p["status"]["assignment"]["name"], "a");
  EXPECT_EQ(p["metadata"]["labels"][std::string(core::kManagedByLabel)], "whatsapp-operator");
  json free = Phone("222");
  ASSERT_FALSE(free.is_null());
  EXPECT_FALSE(free["status"].contains("assignment"));

  json a = Get("a");
  EXPECT_EQ(a["status"]["qualityRating"], "GREEN");
  EXPECT_EQ(a["status"]["displayPhoneNumber"], "+34 611 111 111");
  EXPECT_EQ(a["status"]["verifiedName"], "Bakery Platform");
  EXPECT_TRUE(a["status"].contains("qualityCheckedAt"));
  ASSERT_TRUE(Cond(a, "Ready"));
  EXPECT_EQ(Cond(a, "Ready")->reason, "Bound");
  ASSERT_TRUE(Cond(a, "QualitySynced"));
  EXPECT_EQ(Cond(a, "QualitySynced")->status, "True");
  ASSERT_TRUE(Cond(a, "TemplateApproved"));
  EXPECT_EQ(Cond(a, "TemplateApproved")->status, "True");
  // The settings carry Meta's display number.
  auto cm = client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a");
  ASSERT_TRUE(cm.ok());
  EXPECT_NE((*cm)["data"]["notification_settings.json"].get<std::string>().find("+34 611 111 111"),
            std::string::npos);
  // A first listing records no Event: nothing changed that a person acts on.
  EXPECT_TRUE(EventsWithReason("QualityDropped").empty());
}

TEST_F(MetaInventoryTest, SteadyInventoryWritesNothingUntilTheHeartbeat) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  const json checked = Get("a")["status"]["qualityCheckedAt"];
  const int writes = Writes();
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(Writes(), writes) << "a steady inventory must not rewrite statuses on each refresh";
  EXPECT_EQ(Get("a")["status"]["qualityCheckedAt"], checked);

  clock_.Advance(std::chrono::minutes(55));
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_NE(Get("a")["status"]["qualityCheckedAt"], checked) << "confirmed at most hourly";
  EXPECT_EQ(Get("a")["status"]["qualityCheckedAt"], Phone("111")["status"]["lastSyncTime"]);
}

TEST_F(MetaInventoryTest, RatingChangesRecordEventsOnNumberAndAssignment) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();

  graph_.Put("111", "+34 611 111 111", "RED");
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(Phone("111")["status"]["qualityRating"], "RED");
  EXPECT_EQ(Get("a")["status"]["qualityRating"], "RED");
  auto dropped = EventsWithReason("QualityDropped");
  ASSERT_EQ(dropped.size(), 2u);  // the number and its assignment
  std::set<std::string> kinds;
  for (const json& e : dropped) {
    EXPECT_EQ(e["type"], "Warning");
    EXPECT_NE(e["message"].get<std::string>().find("from GREEN to RED"), std::string::npos);
    kinds.insert(e["involvedObject"]["kind"]);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"WhatsAppAssignment", "WhatsAppPhoneNumber"}));

  graph_.Put("111", "+34 611 111 111", "GREEN");
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  auto recovered = EventsWithReason("QualityRecovered");
  ASSERT_EQ(recovered.size(), 2u);
  EXPECT_EQ(recovered[0]["type"], "Normal");
}

TEST_F(MetaInventoryTest, NumberGoneFromCompleteListingIsDeletedAndAssignmentStalls) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "222")).ok());
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  ASSERT_TRUE(client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a").ok());

  graph_.numbers.erase("222");
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_TRUE(Phone("222").is_null());
  EXPECT_FALSE(Phone("111").is_null());
  json a = Get("a");
  EXPECT_EQ(Cond(a, "Ready")->reason, "PhoneNumberNotFound");
  EXPECT_EQ(Cond(a, "Stalled")->status, "True");
  EXPECT_EQ(client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a").status().code(),
            StatusCode::kNotFound)
      << "no settings may point at a number the WABA does not have";

  graph_.Put("222", "+34 622 222 222", "YELLOW");  // added back
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(Cond(Get("a"), "Ready")->reason, "Bound");
  EXPECT_EQ(Phone("222")["status"]["qualityRating"], "YELLOW");
  EXPECT_TRUE(client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a").ok());
}

TEST_F(MetaInventoryTest, OutageKeepsLastKnownRatingsMarksThemStaleAndChangesNothingElse) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  const json settings = *client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a");

  for (auto [error, reason] : {std::pair{Status::Unavailable("HTTP 503"), "MetaUnavailable"},
                               std::pair{Status::ResourceExhausted("code 80007"), "RateLimited"},
                               std::pair{Status::Unauthenticated("code 190"), "TokenRejected"}}) {
    SCOPED_TRACE(reason);
    graph_.list_error = error;
    graph_.numbers.clear();  // whatever Meta holds now, a failed listing must not delete
    EXPECT_FALSE(refresher.RefreshOnce().ok());
    Converge();
    json p = Phone("111");
    ASSERT_FALSE(p.is_null());
    EXPECT_EQ(p["status"]["qualityRating"], "GREEN");
    json a = Get("a");
    EXPECT_EQ(a["status"]["qualityRating"], "GREEN");
    EXPECT_EQ(Cond(a, "Ready")->reason, "Bound");
    EXPECT_EQ(Cond(a, "QualitySynced")->status, "False");
    EXPECT_EQ(Cond(a, "QualitySynced")->reason, reason);
    EXPECT_NE(Cond(a, "QualitySynced")->message.find("GREEN"), std::string::npos);
    EXPECT_EQ(Cond(p, "QualitySynced")->reason, reason);
    EXPECT_EQ(*client_.Get(res::kConfigMaps, "bakery-ia", "whatsapp-settings-a"), settings);
    // The same failure again writes nothing.
    const int writes = Writes();
    EXPECT_FALSE(refresher.RefreshOnce().ok());
    Converge();
    EXPECT_EQ(Writes(), writes);
  }
  EXPECT_EQ(health_changes_, (std::vector<core::MetaState>{
                                 core::MetaState::kSynced, core::MetaState::kUnavailable,
                                 core::MetaState::kRateLimited, core::MetaState::kTokenRejected}))
      << "one health change per state, not one per refresh";
}

TEST_F(MetaInventoryTest, MissingCredentialsNeverCallMetaAndSaySo) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  meta::MasterCredentials partial;
  partial.values[std::string(meta::kBusinessAccountIdKey)] = "999";
  meta::StaticCredentialsSource creds(partial);
  auto& refresher = Refresher(&creds);
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(graph_.list_calls, 0);
  json a = Get("a");
  EXPECT_EQ(Cond(a, "Ready")->reason, "Bound") << "binding and settings go on";
  EXPECT_EQ(a["status"]["qualityRating"], "UNKNOWN");
  ASSERT_TRUE(Cond(a, "QualitySynced"));
  EXPECT_EQ(Cond(a, "QualitySynced")->reason, "CredentialsMissing");
  EXPECT_NE(Cond(a, "QualitySynced")->message.find("WhatsApp master account not configured"),
            std::string::npos);
  EXPECT_NE(Cond(a, "QualitySynced")->message.find("WHATSAPP_ACCESS_TOKEN"), std::string::npos);
  EXPECT_EQ(Cond(a, "TemplateApproved")->status, "Unknown");
  EXPECT_EQ(health_changes_, (std::vector<core::MetaState>{core::MetaState::kNotConfigured}));
  EXPECT_TRUE(client_.Objects(res::kWhatsAppPhoneNumbers).empty());
}

TEST_F(MetaInventoryTest, TemplateStatesReachTheAssignment) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  graph_.templates = {{"po_notification", "es", "PENDING"},
                      {"po_notification", "en_US", "APPROVED"}};
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(Cond(Get("a"), "TemplateApproved")->reason, "TemplatePending");
  EXPECT_EQ(Cond(Get("a"), "Ready")->status, "True") << "never changes Ready";
  graph_.templates = {{"po_notification", "en_US", "APPROVED"}};
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  EXPECT_EQ(Cond(Get("a"), "TemplateApproved")->reason, "TemplateMissing");
  EXPECT_NE(Cond(Get("a"), "TemplateApproved")->message.find("en_US"), std::string::npos);
}

TEST_F(MetaInventoryTest, WebhookRefreshAsksForOneNumberByItsDisplayDigits) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  auto& refresher = Refresher();
  ASSERT_FALSE(refresher.RefreshNumber("34611111111")) << "not running: not the leader";
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  Converge();
  // Polls a refresher statistic until it reaches `n` (the refresher runs on its own thread).
  auto wait_for = [&](auto stat, int64_t n) {
    for (int i = 0; i < 5000 && stat(refresher.Stats()) < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return stat(refresher.Stats()) >= n;
  };
  ASSERT_TRUE(refresher.Start().ok());
  ASSERT_TRUE(wait_for([](const RefresherStats& s) { return s.refreshes; }, 2));  // its first
  graph_.Put("111", "+34 611 111 111", "YELLOW");
  const int lists = graph_.list_calls;
  ASSERT_TRUE(refresher.RefreshNumber("34611111111"));
  ASSERT_TRUE(wait_for([](const RefresherStats& s) { return s.number_refreshes; }, 1));
  refresher.Stop();
  EXPECT_EQ(refresher.Stats().number_refreshes, 1);
  EXPECT_EQ(graph_.get_calls, 1);
  EXPECT_EQ(graph_.list_calls, lists) << "one number costs one GET, not a listing";
  Converge();
  EXPECT_EQ(Get("a")["status"]["qualityRating"], "YELLOW");
}

TEST_F(MetaInventoryTest, TokenNeverReachesObjectsOrEvents) {
  ASSERT_TRUE(client_.Seed(res::kWhatsAppAssignments, Assignment("a", "t1", "111")).ok());
  auto& refresher = Refresher();
  ASSERT_TRUE(refresher.RefreshOnce().ok());
  graph_.list_error = Status::Unauthenticated("Invalid OAuth access token");
  EXPECT_FALSE(refresher.RefreshOnce().ok());
  Converge();
  for (const auto* t : {&res::kWhatsAppAssignments, &res::kWhatsAppPhoneNumbers, &res::kConfigMaps,
                        &res::kEvents}) {
    for (const json& o : client_.Objects(*t)) {
      EXPECT_EQ(o.dump().find(kToken), std::string::npos) << o.dump();
    }
  }
}

}  // namespace
}  // namespace waop::controller
