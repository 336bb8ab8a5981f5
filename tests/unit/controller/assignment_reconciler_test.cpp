// The reconciler against an in-memory cache view and a strict mock of the Kubernetes client:
// every request it makes is one the test expects, so "a reconcile with nothing to do writes
// nothing" is checked by the mock failing on any call.
#include "controller/assignment_reconciler.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "api/json.h"
#include "core/settings.h"
#include "fake_tenant_client.h"
#include "mock_client.h"
#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using ::testing::_;
using ::testing::AllOf;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;
using json = nlohmann::json;

MATCHER_P(IsType, resource, "") { return arg.resource == resource; }

// A request from its queue key ("ns/name" or "phone:<id>").
Request Req(std::string_view key) { return *Request::Parse(key); }
// The queue keys of `requests`, for readable expectations.
std::vector<std::string> Keys(const std::vector<Request>& requests) {
  std::vector<std::string> keys;
  for (const auto& r : requests) keys.push_back(r.Key());
  return keys;
}
// The owner's key of a settings ConfigMap, "" when it has none.
std::string OwnerKey(const json& config_map) {
  auto owner = AssignmentReconciler::OwnerOfConfigMap(config_map);
  return owner ? owner->Key() : "";
}

// The informers' caches, in memory.
class MemoryView : public ClusterView {
 public:
  void PutAssignment(json obj) {
    assignments_[obj["metadata"]["namespace"].get<std::string>() + "/" +
                 obj["metadata"]["name"].get<std::string>()] = std::make_shared<json>(obj);
  }
  void PutConfigMap(json obj) {
    config_maps_[obj["metadata"]["namespace"].get<std::string>() + "/" +
                 obj["metadata"]["name"].get<std::string>()] = std::make_shared<json>(obj);
  }
  void PutPhoneNumber(json obj) {
    phones_[obj["metadata"]["name"].get<std::string>()] = std::make_shared<json>(obj);
  }
  ObjectPtr GetAssignment(std::string_view key) const override {
    return Find(assignments_, std::string(key));
  }
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    return BySpec("phoneNumberId", id);
  }
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    return BySpec("tenantId", id);
  }
  ObjectPtr GetConfigMap(std::string_view ns, std::string_view name) const override {
    return Find(config_maps_, std::string(ns) + "/" + std::string(name));
  }
  ObjectPtr GetPhoneNumber(std::string_view id) const override {
    return Find(phones_, std::string(id));
  }

 private:
  static ObjectPtr Find(const std::map<std::string, ObjectPtr>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? nullptr : it->second;
  }
  std::vector<ObjectPtr> BySpec(const char* field, std::string_view id) const {
    std::vector<ObjectPtr> out;
    for (const auto& [k, v] : assignments_) {
      if ((*v)["spec"].value(field, "") == id) out.push_back(v);
    }
    return out;
  }
  std::map<std::string, ObjectPtr> assignments_, config_maps_, phones_;
};

json Assignment(const std::string& name, const std::string& tenant, const std::string& phone,
                const std::string& created, const std::string& tenant_name = "") {
  json spec = {{"tenantId", tenant},
               {"phoneNumberId", phone},
               {"enabled", true},
               {"defaultLanguage", "es"},
               {"displayPhoneNumber", "+34 612 345 678"}};
  if (!tenant_name.empty()) spec["tenantName"] = tenant_name;
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata",
           {{"name", name},
            {"namespace", "bakery-ia"},
            {"uid", "uid-" + name},
            {"resourceVersion", "10"},
            {"generation", 1},
            {"creationTimestamp", created}}},
          {"spec", spec}};
}

class ReconcilerTest : public ::testing::Test {
 protected:
  ReconcilerTest() : recorder_(client_, clock_, "whatsapp-operator", "test") {}

  AssignmentReconciler Reconciler(ReconcilerOptions options = {}) {
    return AssignmentReconciler(view_, client_, recorder_, clock_, options);
  }
  // Caches `assignment`'s settings ConfigMap as already written, at resourceVersion `rv`.
  void PutSettingsConfigMap(const json& assignment, const std::string& rv) {
    auto parsed = api::ParseAssignment(assignment);
    ASSERT_TRUE(parsed.ok()) << parsed.status().message();
    json cm = core::DesiredConfigMap(*parsed);
    cm["metadata"]["resourceVersion"] = rv;
    view_.PutConfigMap(cm);
  }
  // What the API server stores after a /status write: the cache the next reconcile sees.
  void StoreStatus(const json& body) {
    auto key = "bakery-ia/" + body["metadata"]["name"].get<std::string>();
    json obj = *view_.GetAssignment(key);
    obj["status"] = body["status"];
    obj["metadata"]["resourceVersion"] = "11";
    view_.PutAssignment(obj);
  }

  // Expects one ConfigMap create, answered as the API server stores it (with `rv` and a uid);
  // `*stored` receives that answer.
  void ExpectConfigMapCreate(json* stored, const std::string& rv) {
    EXPECT_CALL(client_, Create(IsType("configmaps"), _))
        .WillOnce(Invoke([stored, rv](const kube::ResourceType&, const json& cm) -> Result<json> {
          *stored = cm;
          (*stored)["metadata"]["resourceVersion"] = rv;
          (*stored)["metadata"]["uid"] = "cm-uid";
          return *stored;
        }));
  }
  // Expects one status write of `assignment`, answered as the API server stores it (with
  // `rv`); `*stored` receives that answer.
  void ExpectStatusWrite(const json& assignment, json* stored, const std::string& rv) {
    EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
        .WillOnce(Invoke(
            [assignment, stored, rv](const kube::ResourceType&, const json& body) -> Result<json> {
              *stored = assignment;
              (*stored)["status"] = body["status"];
              (*stored)["metadata"]["resourceVersion"] = rv;
              return *stored;
            }));
  }

  // Expects one status write and one Event create, answered as sent; `*body` / `*event`
  // receive what was sent.
  void CaptureStatusWrite(json* body) {
    EXPECT_CALL(client_, UpdateStatus(_, _))
        .WillOnce(Invoke([body](const kube::ResourceType&, const json& b) -> Result<json> {
          *body = b;
          return b;
        }));
  }
  void CaptureEvent(json* event) {
    EXPECT_CALL(client_, Create(IsType("events"), _))
        .WillOnce(Invoke([event](const kube::ResourceType&, const json& e) -> Result<json> {
          *event = e;
          return e;
        }));
  }

  FakeClock clock_;
  StrictMock<MockClient> client_;
  MemoryView view_;
  EventRecorder recorder_;
};

// Issue 14: fields of the wrong type in a ConfigMap's ownerReferences never throw.
TEST(OwnerOfConfigMapTest, HostileOwnerReferencesAreIgnored) {
  for (
      const char* text : {
          R"({"metadata":{"ownerReferences":{"kind":"WhatsAppAssignment"}}})",
          R"({"metadata":{"ownerReferences":[1,"x",null]}})",
          R"({"metadata":{"namespace":5,"ownerReferences":[{"kind":5,"controller":"yes","apiVersion":1,"name":2}]}})",
          R"({"metadata":[]})",
          R"([])",
      }) {
    EXPECT_EQ(OwnerKey(json::parse(text)), "") << text;
  }
}

TEST_F(ReconcilerTest, NewAssignmentWritesSettingsThenStatusThenNothingMore) {
  view_.PutAssignment(Assignment("san-juan", "t-1", "123456789012345", "2026-11-01T10:00:00Z",
                                 "Panadería San Juan"));
  json created_cm, status_body;
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& cm) -> Result<json> {
        created_cm = cm;
        return cm;
      }));
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& body) -> Result<json> {
        status_body = body;
        return body;
      }));
  // A first, uncontested bind records no Event (the strict mock fails on one): onboarding costs
  // two writes, settings and status.
  auto r = Reconciler();
  auto result = r.Reconcile(Req("bakery-ia/san-juan"));
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kOk) << result.error.ToString();

  EXPECT_EQ(created_cm["metadata"]["name"], "whatsapp-settings-san-juan");
  EXPECT_EQ(created_cm["data"]["notification_settings.json"],
            "{\"whatsapp_enabled\":true,\"whatsapp_phone_number_id\":\"123456789012345\","
            "\"whatsapp_display_phone_number\":\"+34 612 345 678\","
            "\"whatsapp_default_language\":\"es\"}");
  EXPECT_EQ(status_body["metadata"]["resourceVersion"], "10");
  const json& ready = status_body["status"]["conditions"][0];
  EXPECT_EQ(ready["type"], "Ready");
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Bound");
  EXPECT_EQ(ready["message"],
            "Phone number +34 612 345 678 assigned to tenant 'Panadería San Juan'");
  EXPECT_EQ(status_body["status"]["settingsConfigMap"], "whatsapp-settings-san-juan");
  EXPECT_EQ(r.counters().config_map_writes, 1);
  EXPECT_EQ(r.counters().status_writes, 1);

  // The watch brings both writes back into the cache: the next reconcile makes no request
  // (the strict mock fails the test on any call).
  view_.PutConfigMap(created_cm);
  StoreStatus(status_body);
  clock_.Advance(std::chrono::minutes(5));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
}

TEST_F(ReconcilerTest, OwnWritesNotYetInTheCacheAreNotWrittenAgain) {
  view_.PutAssignment(Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z"));
  json created_cm;
  ExpectConfigMapCreate(&created_cm, "20");
  json stored;
  ExpectStatusWrite(*view_.GetAssignment("bakery-ia/san-juan"), &stored, "21");
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  // Woken again before either watch event arrived: the cache still shows the old object and
  // no ConfigMap, yet nothing is written (the strict mock would fail on any request).
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(r.counters().config_map_writes, 1);
  EXPECT_EQ(r.counters().status_writes, 1);

  // Someone else changed the object since: the cache wins again.
  json changed = *view_.GetAssignment("bakery-ia/san-juan");
  changed["metadata"]["resourceVersion"] = "30";
  changed["status"] = stored["status"];
  changed["spec"]["phoneNumberId"] = "456";
  changed["metadata"]["generation"] = 2;
  view_.PutAssignment(changed);
  // The ConfigMap cache still lacks the one we created, and the settings must change: the
  // reconciler reads the live object (only versions are remembered) and updates it.
  EXPECT_CALL(client_, Get(IsType("configmaps"), "bakery-ia", _)).WillOnce(Return(created_cm));
  EXPECT_CALL(client_, Patch(IsType("configmaps"), "bakery-ia", "whatsapp-settings-san-juan",
                             kube::PatchType::kMerge, _, ""))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& patch, std::string_view) -> Result<json> {
        EXPECT_EQ(patch["metadata"]["resourceVersion"], "20");
        EXPECT_THAT(patch["data"]["notification_settings.json"].get<std::string>(),
                    HasSubstr("456"));
        return json::object();
      }));
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Return(json::object()));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
}

TEST_F(ReconcilerTest, OwnWritesAreTrustedOnlyForAWhile) {
  view_.PutAssignment(Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z"));
  json created_cm, stored;
  ExpectConfigMapCreate(&created_cm, "20");
  ExpectStatusWrite(*view_.GetAssignment("bakery-ia/san-juan"), &stored, "21");
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  // A watch that shows nothing for a minute is down: the cache is used again, and the stale
  // resourceVersion meets a 409 (which requeues) instead of being trusted forever.
  clock_.Advance(std::chrono::minutes(1));
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(Return(Status::AlreadyExists("configmaps \"x\" already exists")));
  EXPECT_CALL(client_, Get(IsType("configmaps"), "bakery-ia", _))
      .WillOnce(Invoke(
          [&](const kube::ResourceType&, std::string_view, std::string_view name) -> Result<json> {
            auto parsed = api::ParseAssignment(*view_.GetAssignment("bakery-ia/san-juan"));
            json cm = core::DesiredConfigMap(*parsed);
            cm["metadata"]["resourceVersion"] = "20";
            EXPECT_EQ(cm["metadata"]["name"], std::string(name));
            return cm;
          }));
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Return(Status::Conflict("the object has been modified")));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kError);
}

TEST_F(ReconcilerTest, ForeignLabelsOnTheConfigMapCauseNoWrite) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  view_.PutAssignment(a);
  auto parsed = api::ParseAssignment(a);
  ASSERT_TRUE(parsed.ok());
  json cm = core::DesiredConfigMap(*parsed);
  cm["metadata"]["labels"]["team"] = "bakers";
  cm["metadata"]["annotations"] = {{"note", "added by someone else"}};
  cm["metadata"]["resourceVersion"] = "12";
  view_.PutConfigMap(cm);
  json status_body;
  CaptureStatusWrite(&status_body);
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(r.counters().config_map_writes, 0);
}

TEST_F(ReconcilerTest, ChangedSettingsPatchOnlyOwnedFieldsWithTheResourceVersion) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  view_.PutAssignment(a);
  auto parsed = api::ParseAssignment(a);
  json cm = core::DesiredConfigMap(*parsed);
  cm["data"]["notification_settings.json"] = "{\"old\":true}";
  cm["metadata"]["labels"]["team"] = "bakers";
  cm["metadata"]["resourceVersion"] = "12";
  view_.PutConfigMap(cm);
  json updated;
  EXPECT_CALL(client_, Patch(IsType("configmaps"), "bakery-ia", "whatsapp-settings-goiko",
                             kube::PatchType::kMerge, _, ""))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& patch, std::string_view) -> Result<json> {
        updated = cm;
        updated.merge_patch(patch);
        EXPECT_FALSE(patch["metadata"].contains("annotations"));
        return updated;
      }));
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillOnce(Return(json::object()));
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(updated["metadata"]["resourceVersion"], "12");
  EXPECT_EQ(updated["metadata"]["labels"]["team"], "bakers");
  EXPECT_THAT(updated["data"]["notification_settings.json"].get<std::string>(),
              HasSubstr("\"whatsapp_phone_number_id\":\"222\""));
}

TEST_F(ReconcilerTest, DuplicateWritesNoSettingsAndNamesTheHolder) {
  view_.PutAssignment(
      Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z", "Panadería San Juan"));
  view_.PutAssignment(Assignment("copycat", "t-9", "123", "2026-11-02T10:00:00Z", "Copycat"));
  json status_body, event;
  CaptureStatusWrite(&status_body);
  CaptureEvent(&event);
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/copycat")).kind, ReconcileResult::Kind::kOk);
  const std::string expected =
      "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
      "(bakery-ia/san-juan)";
  bool stalled = false;
  for (const auto& c : status_body["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      EXPECT_EQ(c["status"], "False");
      EXPECT_EQ(c["reason"], "DuplicatePhoneNumber");
      EXPECT_EQ(c["message"], expected);
    }
    if (c["type"] == "Stalled") {
      stalled = true;
      EXPECT_EQ(c["status"], "True");
      EXPECT_EQ(c["reason"], "DuplicatePhoneNumber");
    }
  }
  EXPECT_TRUE(stalled);
  EXPECT_FALSE(status_body["status"].contains("settingsConfigMap"));
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["message"], expected);
}

TEST_F(ReconcilerTest, LoserLosesItsOwnConfigMapButNeverAForeignOne) {
  view_.PutAssignment(Assignment("first", "t-1", "123", "2026-11-01T10:00:00Z"));
  auto late = Assignment("late", "t-2", "123", "2026-11-02T10:00:00Z");
  view_.PutAssignment(late);
  auto parsed = api::ParseAssignment(late);
  json cm = core::DesiredConfigMap(*parsed);  // written while it briefly held the number
  cm["metadata"]["uid"] = "cm-uid";
  view_.PutConfigMap(cm);
  kube::DeleteOptions seen;
  EXPECT_CALL(client_,
              Delete(IsType("configmaps"), Eq("bakery-ia"), Eq("whatsapp-settings-late"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           const kube::DeleteOptions& o) {
        seen = o;
        return Status::Ok();
      }));
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillOnce(Return(json::object()));
  EXPECT_CALL(client_, Create(IsType("events"), _)).WillOnce(Return(json::object()));
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/late")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(seen.precondition_uid, "cm-uid");

  // A ConfigMap of that name the assignment does not control is left alone.
  cm["metadata"]["ownerReferences"] = json::array();
  view_.PutConfigMap(cm);
  json with_status = late;
  ::testing::Mock::VerifyAndClearExpectations(&client_);
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillOnce(Return(json::object()));
  EXPECT_CALL(client_, Create(IsType("events"), _)).WillOnce(Return(json::object()));
  EventRecorder fresh(client_, clock_, "whatsapp-operator", "test2");
  AssignmentReconciler r2(view_, client_, fresh, clock_);
  EXPECT_EQ(r2.Reconcile(Req("bakery-ia/late")).kind, ReconcileResult::Kind::kOk);
}

TEST_F(ReconcilerTest, FailedSettingsWriteIsReportedAndRetried) {
  view_.PutAssignment(Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z"));
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(
          Return(Status::Unavailable("the server is currently unable to handle the request")));
  json status_body;
  CaptureStatusWrite(&status_body);
  EXPECT_CALL(client_, Create(IsType("events"), _)).WillOnce(Return(json::object()));
  auto result = Reconciler().Reconcile(Req("bakery-ia/goiko"));
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kError);
  const json& ready = status_body["status"]["conditions"][0];
  EXPECT_EQ(ready["reason"], "SettingsSyncFailed");
  EXPECT_THAT(ready["message"].get<std::string>(), HasSubstr("unable to handle the request"));
}

TEST_F(ReconcilerTest, StatusConflictRequeuesWithBackoff) {
  view_.PutAssignment(Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z"));
  EXPECT_CALL(client_, Create(IsType("configmaps"), _)).WillOnce(Return(json::object()));
  EXPECT_CALL(client_, UpdateStatus(_, _))
      .WillOnce(Return(Status::Conflict("the object has been modified")));
  auto result = Reconciler().Reconcile(Req("bakery-ia/goiko"));
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kError);
  EXPECT_EQ(result.error.code(), StatusCode::kConflict);
}

TEST_F(ReconcilerTest, CacheLagOnCreateReadsInsteadOfWritingTwice) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  view_.PutAssignment(a);
  json live = core::DesiredConfigMap(*api::ParseAssignment(a));
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(Return(Status::AlreadyExists("configmaps \"whatsapp-settings-goiko\" exists")));
  EXPECT_CALL(client_, Get(IsType("configmaps"), Eq("bakery-ia"), Eq("whatsapp-settings-goiko")))
      .WillOnce(Return(live));
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillOnce(Return(json::object()));
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(r.counters().config_map_writes, 0);
}

TEST_F(ReconcilerTest, FinalizerOnlyWithAnExternalSinkAndRemovedOnDelete) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  a["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  a["metadata"]["deletionTimestamp"] = "2026-11-03T10:00:00Z";
  view_.PutAssignment(a);
  json patch;
  EXPECT_CALL(client_, Patch(IsType("whatsappassignments"), Eq("bakery-ia"), Eq("goiko"),
                             kube::PatchType::kMerge, _, _))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& p, std::string_view) -> Result<json> {
        patch = p;
        return p;
      }));
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  EXPECT_TRUE(patch["metadata"]["finalizers"].is_null());
  EXPECT_EQ(patch["metadata"]["resourceVersion"], "10");

  // Being deleted without our finalizer: nothing to do, nothing written.
  a["metadata"].erase("finalizers");
  view_.PutAssignment(a);
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);

  // A live assignment gets the finalizer only when a sink needs it.
  auto b = Assignment("nuria", "t-3", "333", "2026-11-01T10:00:00Z");
  view_.PutAssignment(b);
  EXPECT_CALL(client_, Patch(IsType("whatsappassignments"), Eq("bakery-ia"), Eq("nuria"),
                             kube::PatchType::kMerge, _, _))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& p, std::string_view) -> Result<json> {
        patch = p;
        return p;
      }));
  EXPECT_EQ(Reconciler({.use_finalizer = true}).Reconcile(Req("bakery-ia/nuria")).kind,
            ReconcileResult::Kind::kOk);
  EXPECT_EQ(patch["metadata"]["finalizers"], json::array({"whatsapp.bakery-ia.io/finalizer"}));
}

TEST_F(ReconcilerTest, GoneObjectIsDone) {
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/nobody")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(Reconciler().Reconcile(Req("phone:999")).kind, ReconcileResult::Kind::kOk);
}

TEST_F(ReconcilerTest, ChangesWakeThePeersThatShareANumberOrTenant) {
  auto holder = Assignment("first", "t-1", "123", "2026-11-01T10:00:00Z");
  auto waiting = Assignment("second", "t-2", "123", "2026-11-02T10:00:00Z");
  auto same_tenant = Assignment("third", "t-1", "999", "2026-11-03T10:00:00Z");
  view_.PutAssignment(waiting);
  view_.PutAssignment(same_tenant);
  auto r = Reconciler();
  // The holder was deleted: everyone sharing its number or tenant, and the inventory of every
  // number among them (third's 999 may change holder when third's outcome does).
  auto keys = Keys(r.RequestsForAssignmentChange(&holder, nullptr));
  EXPECT_THAT(keys, ::testing::UnorderedElementsAre("bakery-ia/first", "bakery-ia/second",
                                                    "bakery-ia/third", "phone:123", "phone:999"));
  // A status-only update wakes only the object itself.
  auto with_status = waiting;
  with_status["status"] = {{"observedGeneration", 1}};
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&waiting, &with_status)),
              ::testing::ElementsAre("bakery-ia/second"));
  // So does one with a new resourceVersion (another writer's status write).
  with_status["metadata"]["resourceVersion"] = "99";
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&waiting, &with_status)),
              ::testing::ElementsAre("bakery-ia/second"));
  // A metadata change besides the status one (deletion started) changes the claim.
  auto deleting = with_status;
  deleting["metadata"]["deletionTimestamp"] = "2026-11-04T10:00:00Z";
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&with_status, &deleting)),
              ::testing::IsSupersetOf({"bakery-ia/second", "phone:123"}));
  // Moving to another number wakes the peers of the old and the new number.
  auto moved = waiting;
  moved["spec"]["phoneNumberId"] = "999";
  view_.PutAssignment(moved);
  EXPECT_THAT(
      Keys(r.RequestsForAssignmentChange(&waiting, &moved)),
      ::testing::IsSupersetOf({"bakery-ia/second", "bakery-ia/third", "phone:123", "phone:999"}));
}

TEST_F(ReconcilerTest, PromotionFromWaitingRecordsANormalEvent) {
  auto a = Assignment("second", "t-2", "123", "2026-11-02T10:00:00Z");
  a["status"] = {{"conditions",
                  {{{"type", "Ready"},
                    {"status", "False"},
                    {"reason", "DuplicatePhoneNumber"},
                    {"message", "taken"},
                    {"observedGeneration", 1},
                    {"lastTransitionTime", "2026-11-02T10:00:00Z"}}}}};
  view_.PutAssignment(a);
  EXPECT_CALL(client_, Create(IsType("configmaps"), _)).WillOnce(Return(json::object()));
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillOnce(Return(json::object()));
  json event;
  CaptureEvent(&event);
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/second")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(event["type"], "Normal");
  EXPECT_EQ(event["reason"], "Bound");
  EXPECT_EQ(event["involvedObject"]["uid"], "uid-second");
}

TEST_F(ReconcilerTest, InvalidSpecHoldsNothingAndSaysWhichField) {
  // Older, but its phone number id breaks the operator's rule (the schema was off): it holds
  // nothing, so the younger assignment of the same number binds.
  auto invalid = Assignment("broken", "t-1", "12", "2026-11-01T10:00:00Z");
  invalid["spec"]["defaultLanguage"] = "Spanish";
  view_.PutAssignment(invalid);
  view_.PutAssignment(Assignment("fine", "t-2", "12", "2026-11-02T10:00:00Z"));
  json status_body, event;
  CaptureStatusWrite(&status_body);
  CaptureEvent(&event);
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/broken")).kind, ReconcileResult::Kind::kTerminal);
  std::map<std::string, json> conds;
  for (const auto& c : status_body["status"]["conditions"]) conds[c["type"]] = c;
  ASSERT_TRUE(conds.contains("Ready") && conds.contains("Stalled")) << status_body.dump();
  EXPECT_EQ(conds["Ready"]["status"], "False");
  EXPECT_EQ(conds["Ready"]["reason"], "InvalidSpec");
  EXPECT_EQ(conds["Stalled"]["status"], "True");
  EXPECT_EQ(conds["Stalled"]["reason"], "InvalidSpec");
  EXPECT_THAT(conds["Ready"]["message"].get<std::string>(), HasSubstr("spec.defaultLanguage"));
  EXPECT_FALSE(status_body["status"].contains("settingsConfigMap"));
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "InvalidSpec");
  // It links no one and blocks no one: the change of its claim wakes only itself and its
  // inventory key, and the other assignments of the same ids resolve without it.
  auto moved = invalid;
  moved["spec"]["phoneNumberId"] = "99";
  moved["metadata"]["resourceVersion"] = "12";
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&invalid, &moved)),
              ::testing::ElementsAre("bakery-ia/broken"));
  ::testing::Mock::VerifyAndClearExpectations(&client_);
  EXPECT_CALL(client_, Create(IsType("configmaps"), _)).WillOnce(Return(json::object()));
  CaptureStatusWrite(&status_body);
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/fine")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(status_body["status"]["conditions"][0]["reason"], "Bound");
  // Fixing the spec is a claim change: it wakes the other assignment of the number.
  auto fixed = invalid;
  fixed["spec"]["defaultLanguage"] = "es";
  fixed["metadata"]["resourceVersion"] = "13";
  view_.PutAssignment(fixed);
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&invalid, &fixed)),
              ::testing::IsSupersetOf({"bakery-ia/broken", "bakery-ia/fine", "phone:12"}));
}

TEST_F(ReconcilerTest, DisabledAssignmentKeepsItsNumberAndSaysSo) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  a["spec"]["enabled"] = false;
  view_.PutAssignment(a);
  json created_cm, status_body;
  ExpectConfigMapCreate(&created_cm, "20");
  CaptureStatusWrite(&status_body);
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  const json& ready = status_body["status"]["conditions"][0];
  EXPECT_EQ(ready["status"], "True");
  EXPECT_EQ(ready["reason"], "Bound");
  EXPECT_THAT(ready["message"].get<std::string>(), HasSubstr("WhatsApp is disabled"));
  EXPECT_THAT(created_cm["data"]["notification_settings.json"].get<std::string>(),
              HasSubstr("\"whatsapp_enabled\":false"));
}

TEST_F(ReconcilerTest, ASameNamedConfigMapOfSomeoneElseIsNeverTouched) {
  view_.PutAssignment(Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z"));
  // Not in the cache (it lacks our label): the create finds it, the read shows it is foreign.
  json foreign = {{"apiVersion", "v1"},
                  {"kind", "ConfigMap"},
                  {"metadata",
                   {{"name", "whatsapp-settings-goiko"},
                    {"namespace", "bakery-ia"},
                    {"resourceVersion", "5"},
                    {"labels", {{"team", "notifications"}}}}},
                  {"data", {{"notification_settings.json", "{\"theirs\":true}"}}}};
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(Return(Status::AlreadyExists("configmaps \"whatsapp-settings-goiko\" exists")));
  EXPECT_CALL(client_, Get(IsType("configmaps"), Eq("bakery-ia"), Eq("whatsapp-settings-goiko")))
      .WillOnce(Return(foreign));
  json status_body;
  CaptureStatusWrite(&status_body);
  EXPECT_CALL(client_, Create(IsType("events"), _)).WillOnce(Return(json::object()));
  // No Patch expected: the strict mock fails the test on one.
  EXPECT_EQ(Reconciler().Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kError);
  const json& ready = status_body["status"]["conditions"][0];
  EXPECT_EQ(ready["reason"], "SettingsSyncFailed");
  EXPECT_THAT(ready["message"].get<std::string>(),
              AllOf(HasSubstr("bakery-ia/whatsapp-settings-goiko"),
                    HasSubstr("lacks the label app.kubernetes.io/managed-by")));
}

TEST_F(ReconcilerTest, ChangesWakeTheWholeChainTransitively) {
  // A (P1,T1) holds, B (P1,T2) waits, C (P2,T2) holds, D (P2,T3) waits, E (P3,T3) holds.
  auto a = Assignment("a", "t-1", "1", "2026-11-01T10:00:00Z");
  view_.PutAssignment(Assignment("b", "t-2", "1", "2026-11-02T10:00:00Z"));
  view_.PutAssignment(Assignment("c", "t-2", "2", "2026-11-03T10:00:00Z"));
  view_.PutAssignment(Assignment("d", "t-3", "2", "2026-11-04T10:00:00Z"));
  view_.PutAssignment(Assignment("e", "t-3", "3", "2026-11-05T10:00:00Z"));
  view_.PutAssignment(Assignment("other", "t-9", "9", "2026-11-05T10:00:00Z"));
  // Deleting A changes every outcome down the chain: all of it is woken, and nobody else.
  EXPECT_THAT(
      Keys(Reconciler().RequestsForAssignmentChange(&a, nullptr)),
      ::testing::UnorderedElementsAre("bakery-ia/a", "bakery-ia/b", "bakery-ia/c", "bakery-ia/d",
                                      "bakery-ia/e", "phone:1", "phone:2", "phone:3"));
}

// The first list's shortcut wakes exactly what the per-add component walk would: for seeded
// random sets of assignments (shared numbers and tenants, chains, invalid specs, deletions under
// way, equal creation seconds), the union of RequestsForListedAssignment over the list equals the
// union of RequestsForAssignmentChange(nullptr, obj), each computed once the cache holds the
// whole list (as the informer runs its handlers).
TEST_F(ReconcilerTest, FirstListShortcutWakesWhatTheComponentWalkWakes) {
  for (uint64_t seed = 1; seed <= 300; ++seed) {
    std::mt19937_64 rng(seed);
    MemoryView view;
    std::vector<json> listed;
    const int n = 1 + static_cast<int>(rng() % 25);
    for (int i = 0; i < n; ++i) {
      json a = Assignment("a-" + std::to_string(i), "t-" + std::to_string(rng() % 6),
                          std::to_string(100 + rng() % 6),
                          "2026-11-0" + std::to_string(1 + rng() % 3) + "T10:00:00Z");
      if (rng() % 8 == 0) a["spec"]["phoneNumberId"] = "not-digits";
      if (rng() % 8 == 0) a["metadata"]["deletionTimestamp"] = "2026-11-05T10:00:00Z";
      view.PutAssignment(a);
      listed.push_back(a);
    }
    AssignmentReconciler r(view, client_, recorder_, clock_);
    std::set<std::string> walked, shortcut;
    for (const json& a : listed) {
      for (const auto& k : Keys(r.RequestsForAssignmentChange(nullptr, &a))) walked.insert(k);
      for (const auto& k : Keys(r.RequestsForListedAssignment(a))) shortcut.insert(k);
    }
    ASSERT_EQ(shortcut, walked) << "seed " << seed;
  }
}

TEST_F(ReconcilerTest, PhoneNumberInventoryShowsItsHolder) {
  view_.PutAssignment(
      Assignment("first", "t-1", "123", "2026-11-01T10:00:00Z", "Panadería San Juan"));
  view_.PutAssignment(Assignment("second", "t-2", "123", "2026-11-02T10:00:00Z"));
  view_.PutPhoneNumber({{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
                        {"kind", "WhatsAppPhoneNumber"},
                        {"metadata", {{"name", "123"}, {"resourceVersion", "5"}, {"uid", "p"}}},
                        {"status", {{"qualityRating", "GREEN"}}}});
  json body;
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappphonenumbers"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& b) -> Result<json> {
        body = b;
        return b;
      }));
  EXPECT_EQ(Reconciler().Reconcile(Req("phone:123")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(body["metadata"]["resourceVersion"], "5");
  EXPECT_EQ(body["status"]["assignment"]["name"], "first");
  EXPECT_EQ(body["status"]["assignment"]["tenantName"], "Panadería San Juan");
  EXPECT_EQ(body["status"]["qualityRating"], "GREEN");
}

TEST_F(ReconcilerTest, ConfigMapsMapToTheirOwner) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  json cm = core::DesiredConfigMap(*api::ParseAssignment(a));
  EXPECT_EQ(OwnerKey(cm), "bakery-ia/goiko");
  cm["metadata"]["ownerReferences"] = json::array();
  EXPECT_EQ(OwnerKey(cm), "");
}

TEST_F(ReconcilerTest, EchoesOfOwnWritesWakeNobody) {
  auto a = Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z");
  a["metadata"]["resourceVersion"] = "10";
  view_.PutAssignment(a);
  json created_cm, stored;
  ExpectConfigMapCreate(&created_cm, "20");
  ExpectStatusWrite(a, &stored, "21");
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);

  // The watch events of our two writes: nothing to wake.
  view_.PutConfigMap(created_cm);
  EXPECT_THAT(Keys(r.RequestsForConfigMap(created_cm)), ::testing::IsEmpty());
  view_.PutAssignment(stored);
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&a, &stored)), ::testing::IsEmpty());

  // Someone else's edits of either wake the assignment.
  json edited_cm = created_cm;
  edited_cm["metadata"]["resourceVersion"] = "30";
  edited_cm["data"] = {{"notification_settings.json", "{}"}};
  EXPECT_THAT(Keys(r.RequestsForConfigMap(edited_cm)),
              ::testing::ElementsAre("bakery-ia/san-juan"));
  json edited_status = stored;
  edited_status["metadata"]["resourceVersion"] = "31";
  edited_status["status"]["phase"] = "Pending";
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&stored, &edited_status)),
              ::testing::ElementsAre("bakery-ia/san-juan"));
}

// The API server sends a write's watch event before answering it. Here each echo reaches the
// handlers from inside the write, as it does at scale: neither wakes the assignment, which would
// otherwise be reconciled again for nothing.
TEST_F(ReconcilerTest, EchoesThatBeatTheAnswerWakeNobody) {
  auto a = Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z");
  view_.PutAssignment(a);
  auto r = Reconciler();
  std::vector<std::string> woken;
  EXPECT_CALL(client_, Create(IsType("configmaps"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& cm) -> Result<json> {
        json stored = cm;
        stored["metadata"]["resourceVersion"] = "20";
        view_.PutConfigMap(stored);
        for (auto& k : Keys(r.RequestsForConfigMap(stored))) woken.push_back(k);
        return stored;
      }));
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& body) -> Result<json> {
        json stored = a;
        stored["status"] = body["status"];
        stored["metadata"]["resourceVersion"] = "21";
        view_.PutAssignment(stored);
        for (auto& k : Keys(r.RequestsForAssignmentChange(&a, &stored))) woken.push_back(k);
        return stored;
      }));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  EXPECT_THAT(woken, ::testing::IsEmpty());
  // At rest: the next reconcile trusts the cache, which shows both writes, and writes nothing.
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
}

// Someone else's change that arrives while our write is in flight is held, not dropped: the
// reconcile asks to run again at once.
TEST_F(ReconcilerTest, AChangeHeldWhileAWriteIsInFlightRunsTheReconcileAgain) {
  auto a = Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z");
  view_.PutAssignment(a);
  PutSettingsConfigMap(a, "11");
  auto r = Reconciler();
  std::vector<std::string> woken;
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json&) -> Result<json> {
        // A person edits the status (same claim) just before our write lands.
        json edited = a;
        edited["metadata"]["resourceVersion"] = "20";
        edited["status"] = {{"qualityRating", "RED"}};
        view_.PutAssignment(edited);
        for (auto& k : Keys(r.RequestsForAssignmentChange(&a, &edited))) woken.push_back(k);
        return Status::Conflict("the object has been modified");
      }));
  auto result = r.Reconcile(Req("bakery-ia/san-juan"));
  EXPECT_THAT(woken, ::testing::IsEmpty()) << "held while in flight";
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kError) << "the conflict keeps its backoff";

  // The same, with a write that succeeds: the held change asks for an immediate second look.
  view_.PutAssignment(a);
  EXPECT_CALL(client_, UpdateStatus(IsType("whatsappassignments"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& body) -> Result<json> {
        json edited = a;
        edited["metadata"]["resourceVersion"] = "30";
        edited["metadata"]["labels"] = {{"team", "ops"}};
        view_.PutAssignment(edited);
        for (auto& k : Keys(r.RequestsForAssignmentChange(&a, &edited))) woken.push_back(k);
        json stored = edited;
        stored["status"] = body["status"];
        stored["metadata"]["resourceVersion"] = "29";
        return stored;
      }));
  result = r.Reconcile(Req("bakery-ia/san-juan"));
  EXPECT_THAT(woken, ::testing::IsEmpty());
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kRequeueAfter);
  EXPECT_EQ(result.after, Duration::zero());
}

TEST_F(ReconcilerTest, AnEchoAReconcileWaitedForWakesIt) {
  auto a = Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z");
  a["metadata"]["resourceVersion"] = "10";
  view_.PutAssignment(a);
  PutSettingsConfigMap(a, "11");
  json stored;
  ExpectStatusWrite(a, &stored, "21");
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  // Woken (say, a peer was deleted) before our status write showed: it skips its work...
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  // ...so the echo must wake it.
  view_.PutAssignment(stored);
  EXPECT_THAT(Keys(r.RequestsForAssignmentChange(&a, &stored)),
              ::testing::ElementsAre("bakery-ia/san-juan"));
}

TEST_F(ReconcilerTest, ALoserWakesForItsOwnConfigMapStillInFlight) {
  auto holder = Assignment("first", "t-1", "123", "2026-11-01T10:00:00Z");
  auto later = Assignment("second", "t-2", "123", "2026-11-02T10:00:00Z");
  view_.PutAssignment(later);
  json created_cm;
  ExpectConfigMapCreate(&created_cm, "20");
  // Statuses and Events are not what this test is about (the view keeps the old status, so
  // each reconcile writes it again and the repeated Event is aggregated).
  EXPECT_CALL(client_, UpdateStatus(_, _)).WillRepeatedly(Return(json::object()));
  EXPECT_CALL(client_, Create(IsType("events"), _)).WillRepeatedly(Return(json::object()));
  EXPECT_CALL(client_, Patch(IsType("events"), _, _, _, _, _))
      .WillRepeatedly(Return(json::object()));
  auto r = Reconciler();
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/second")).kind, ReconcileResult::Kind::kOk);
  // An older assignment of the number appears before the ConfigMap's watch event: "second"
  // loses, and its ConfigMap is not in the cache to delete yet.
  view_.PutAssignment(holder);
  EXPECT_CALL(client_, Create(IsType("configmaps"), _)).WillOnce(Return(json::object()));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/first")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/second")).kind, ReconcileResult::Kind::kOk);
  // Its ConfigMap's echo wakes it, and then it deletes it.
  view_.PutConfigMap(created_cm);
  EXPECT_THAT(Keys(r.RequestsForConfigMap(created_cm)), ::testing::ElementsAre("bakery-ia/second"));
  EXPECT_CALL(client_, Delete(IsType("configmaps"), "bakery-ia", "whatsapp-settings-second", _))
      .WillOnce(Return(Status::Ok()));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/second")).kind, ReconcileResult::Kind::kOk);
}

TEST_F(ReconcilerTest, RepeatedEventsAreAggregatedIntoOne) {
  json obj = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  json created, patch;
  EXPECT_CALL(client_, Create(IsType("events"), _))
      .WillOnce(Invoke([&](const kube::ResourceType&, const json& e) -> Result<json> {
        created = e;
        return e;
      }));
  EXPECT_CALL(client_, Patch(IsType("events"), Eq("bakery-ia"), _, kube::PatchType::kMerge, _, _))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& p, std::string_view) -> Result<json> {
        patch = p;
        return p;
      }));
  recorder_.Record(obj, "Warning", "DuplicatePhoneNumber", "taken");
  recorder_.Record(obj, "Warning", "DuplicatePhoneNumber", "taken");
  EXPECT_EQ(created["count"], 1);
  EXPECT_EQ(created["metadata"]["name"],
            EventRecorder::EventName(obj, "Warning", "DuplicatePhoneNumber", "taken"));
  EXPECT_EQ(patch["count"], 2);
  EXPECT_NE(EventRecorder::EventName(obj, "Warning", "DuplicatePhoneNumber", "taken"),
            EventRecorder::EventName(obj, "Warning", "DuplicatePhoneNumber", "other"));
}

TEST_F(ReconcilerTest, TenantServiceSinkAfterSettingsAndItsOutageShown) {
  auto a = Assignment("san-juan", "t-1", "123", "2026-11-01T10:00:00Z");
  a["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  view_.PutAssignment(a);
  testing::FakeTenantClient service;
  service.Put("t-1");
  TenantSink sink(service);
  service.fail_next = Status::Unavailable("POST x: HTTP 503: maintenance");
  json created_cm, body, event;
  ExpectConfigMapCreate(&created_cm, "20");  // the ConfigMap sink is not held back
  CaptureStatusWrite(&body);
  CaptureEvent(&event);  // a Warning: a failure a person may act on
  auto r = Reconciler({.use_finalizer = true, .tenant = &sink});
  auto result = r.Reconcile(Req("bakery-ia/san-juan"));
  EXPECT_EQ(result.kind, ReconcileResult::Kind::kError);  // retried with back-off
  const json& ready = body["status"]["conditions"][0];
  EXPECT_EQ(ready["status"], "False");
  EXPECT_EQ(ready["reason"], "TenantServiceError");
  EXPECT_NE(ready["message"].get<std::string>().find("HTTP 503: maintenance"), std::string::npos);

  // Back: one assign, Bound.
  view_.PutConfigMap(created_cm);
  StoreStatus(body);
  service.fail_next.reset();
  EXPECT_EQ(event["type"], "Warning");
  EXPECT_EQ(event["reason"], "TenantServiceError");
  const int lists_before = service.lists;
  CaptureStatusWrite(&body);
  CaptureEvent(&event);  // recovered
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(body["status"]["conditions"][0]["reason"], "Bound");
  EXPECT_EQ(service.rows["t-1"].phone_number_id, "123");
  // The outage failed the first listing, so no POST was tried then: one listing and one POST now.
  EXPECT_EQ(service.assigns, 1);
  EXPECT_EQ(service.lists, lists_before + 1);
  StoreStatus(body);
  // At rest: no request to either side.
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/san-juan")).kind, ReconcileResult::Kind::kOk);
  EXPECT_EQ(service.assigns, 1);
  EXPECT_EQ(service.lists, lists_before + 1);
}

TEST_F(ReconcilerTest, FinalizerHoldsUntilTheTenantServiceUnassigned) {
  auto a = Assignment("goiko", "t-2", "222", "2026-11-01T10:00:00Z");
  a["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  a["metadata"]["deletionTimestamp"] = "2026-11-03T10:00:00Z";
  view_.PutAssignment(a);
  testing::FakeTenantClient service;
  service.Put("t-2", "222");
  TenantSink sink(service);
  ASSERT_TRUE(sink.List().ok());
  service.fail_next = Status::Unavailable("DELETE x: timed out after 10000 ms");
  json body, event;
  CaptureStatusWrite(&body);
  CaptureEvent(&event);
  auto r = Reconciler({.use_finalizer = true, .tenant = &sink});
  // No finalizer patch while the unassign fails (the strict mock would fail on one).
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kError);
  EXPECT_EQ(body["status"]["conditions"][0]["reason"], "Releasing");
  EXPECT_NE(body["status"]["conditions"][0]["message"].get<std::string>().find("timed out"),
            std::string::npos);
  EXPECT_EQ(event["reason"], "Releasing");
  StoreStatus(body);
  a = *view_.GetAssignment("bakery-ia/goiko");

  service.fail_next.reset();
  json patch;
  EXPECT_CALL(client_, Patch(IsType("whatsappassignments"), Eq("bakery-ia"), Eq("goiko"),
                             kube::PatchType::kMerge, _, _))
      .WillOnce(Invoke([&](const kube::ResourceType&, std::string_view, std::string_view,
                           kube::PatchType, const json& p, std::string_view) -> Result<json> {
        patch = p;
        return p;
      }));
  EXPECT_EQ(r.Reconcile(Req("bakery-ia/goiko")).kind, ReconcileResult::Kind::kOk);
  EXPECT_TRUE(patch["metadata"]["finalizers"].is_null());
  EXPECT_EQ(service.rows["t-2"].phone_number_id, "");
  EXPECT_EQ(service.unassigns, 2);
}

}  // namespace
}  // namespace waop::controller
