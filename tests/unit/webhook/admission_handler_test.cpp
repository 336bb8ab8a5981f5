// The admission decision: every rule of webhook/admission_handler.h, with the controller's exact
// messages (SPEC section 3), against an in-memory cache view.
#include "webhook/admission_handler.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "support/fake_clock.h"

namespace waop::webhook {
namespace {

using controller::ClusterView;
using controller::ObjectPtr;
using nlohmann::json;

class MemoryView : public ClusterView {
 public:
  void Put(json obj) {
    assignments_[obj["metadata"]["namespace"].get<std::string>() + "/" +
                 obj["metadata"]["name"].get<std::string>()] = std::make_shared<json>(obj);
  }
  void PutPhoneNumber(json obj) {
    phones_[obj["metadata"]["name"].get<std::string>()] = std::make_shared<json>(obj);
  }
  ObjectPtr GetAssignment(std::string_view key) const override {
    auto it = assignments_.find(std::string(key));
    return it == assignments_.end() ? nullptr : it->second;
  }
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    return BySpec("phoneNumberId", id);
  }
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    return BySpec("tenantId", id);
  }
  ObjectPtr GetConfigMap(std::string_view, std::string_view) const override { return nullptr; }
  ObjectPtr GetPhoneNumber(std::string_view id) const override {
    auto it = phones_.find(std::string(id));
    return it == phones_.end() ? nullptr : it->second;
  }

 private:
  std::vector<ObjectPtr> BySpec(const char* field, std::string_view id) const {
    std::vector<ObjectPtr> out;
    for (const auto& [key, obj] : assignments_) {
      if ((*obj)["spec"].value(field, "") == id) out.push_back(obj);
    }
    return out;
  }
  std::map<std::string, ObjectPtr> assignments_;
  std::map<std::string, ObjectPtr> phones_;
};

constexpr char kSanJuanTenant[] = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
constexpr char kSanJuanPhone[] = "123456789012345";
constexpr char kDuplicateMessage[] =
    "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
    "(bakery-ia/panaderia-san-juan)";

json Assignment(const std::string& name, const std::string& tenant, const std::string& phone,
                const std::string& created, const std::string& tenant_name = "",
                const std::string& display = "") {
  json spec = {{"tenantId", tenant}, {"phoneNumberId", phone}};
  if (!tenant_name.empty()) spec["tenantName"] = tenant_name;
  if (!display.empty()) spec["displayPhoneNumber"] = display;
  json meta = {{"name", name}, {"namespace", "bakery-ia"}, {"uid", "uid-" + name}};
  if (!created.empty()) {
    meta["creationTimestamp"] = created;
    meta["resourceVersion"] = "1";
    meta["generation"] = 1;
  }
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata", meta},
          {"spec", spec}};
}

json SanJuan() {
  return Assignment("panaderia-san-juan", kSanJuanTenant, kSanJuanPhone, "2026-01-01T00:00:00Z",
                    "Panadería San Juan", "+34 612 345 678");
}

json Review(const std::string& operation, json object, json old_object = nullptr,
            bool dry_run = false) {
  json request = {{"uid", "705ab4f5-6393-11e8-b7cc-42010a800002"},
                  {"kind",
                   {{"group", "whatsapp.bakery-ia.io"},
                    {"version", "v1alpha1"},
                    {"kind", "WhatsAppAssignment"}}},
                  {"resource",
                   {{"group", "whatsapp.bakery-ia.io"},
                    {"version", "v1alpha1"},
                    {"resource", "whatsappassignments"}}},
                  {"operation", operation},
                  {"namespace", "bakery-ia"},
                  {"object", std::move(object)},
                  {"oldObject", std::move(old_object)},
                  {"dryRun", dry_run}};
  return {{"apiVersion", "admission.k8s.io/v1"}, {"kind", "AdmissionReview"}, {"request", request}};
}

class AdmissionHandlerTest : public ::testing::Test {
 protected:
  AdmissionHandlerTest() : clock_(WallTime(std::chrono::seconds(1'800'000'000))) {
    view_.Put(SanJuan());
  }

  // The response of a review that must be answered with 200.
  json Respond(const json& review) {
    HttpAnswer a = handler_.Handle(review.dump());
    EXPECT_EQ(a.status, 200) << a.body;
    json body = json::parse(a.body, nullptr, false);
    EXPECT_EQ(body.value("apiVersion", ""), "admission.k8s.io/v1");
    EXPECT_EQ(body.value("kind", ""), "AdmissionReview");
    EXPECT_EQ(body["response"].value("uid", ""), "705ab4f5-6393-11e8-b7cc-42010a800002");
    return body["response"];
  }
  std::string Denied(const json& review, int code = 403) {
    json r = Respond(review);
    EXPECT_FALSE(r.value("allowed", true)) << r.dump();
    EXPECT_EQ(r["status"].value("code", 0), code) << r.dump();
    return r["status"].value("message", "");
  }
  void Allowed(const json& review) {
    json r = Respond(review);
    EXPECT_TRUE(r.value("allowed", false)) << r.dump();
  }
  // The error of a review answered with an HTTP error.
  std::string HttpError(std::string_view body, int status) {
    HttpAnswer a = handler_.Handle(body);
    EXPECT_EQ(a.status, status) << a.body;
    json j = json::parse(a.body, nullptr, false);
    EXPECT_EQ(j.value("kind", ""), "Status");
    EXPECT_EQ(j.value("code", 0), status);
    return j.value("message", "");
  }

  FakeClock clock_;
  MemoryView view_;
  AdmissionHandler handler_{view_, clock_};
};

TEST_F(AdmissionHandlerTest, CreateOfATakenNumberIsRefusedWithTheControllersMessage) {
  json dup = Assignment("pasteleria-la-duplicada", "5e8f1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                        kSanJuanPhone, "", "Pastelería La Duplicada", "+34 612 345 678");
  EXPECT_EQ(Denied(Review("CREATE", dup)), kDuplicateMessage);
}

TEST_F(AdmissionHandlerTest, CreateForATenantThatHoldsANumberIsRefused) {
  json second = Assignment("san-juan-2", kSanJuanTenant, "999", "", "Panadería San Juan");
  EXPECT_EQ(Denied(Review("CREATE", second)),
            "Tenant 'Panadería San Juan' already holds phone number +34 612 345 678 "
            "(bakery-ia/panaderia-san-juan)");
}

TEST_F(AdmissionHandlerTest, TheNumberIsShownAsMetaReportsItLikeTheController) {
  view_.PutPhoneNumber({{"metadata", {{"name", kSanJuanPhone}}},
                        {"status", {{"displayPhoneNumber", "+34 612 000 000"}}}});
  json dup = Assignment("dup", "other-tenant", kSanJuanPhone, "");
  EXPECT_EQ(Denied(Review("CREATE", dup)),
            "Phone number +34 612 000 000 already assigned to tenant 'Panadería San Juan' "
            "(bakery-ia/panaderia-san-juan)");
}

TEST_F(AdmissionHandlerTest, FreeNumberAndTenantAreAllowed) {
  Allowed(Review("CREATE", Assignment("goiko", "goiko-tenant", "222", "")));
}

TEST_F(AdmissionHandlerTest, CreateIsTheYoungestEvenWithAnEarlierName) {
  // "a-first" sorts before "panaderia-san-juan", but a new object is dated now.
  EXPECT_EQ(Denied(Review("CREATE", Assignment("a-first", "t", kSanJuanPhone, ""))),
            kDuplicateMessage);
}

TEST_F(AdmissionHandlerTest, ALoserHoldsNothingSoItBlocksNoOne) {
  // A younger duplicate of San Juan's number (stored while the webhook was down) holds nothing,
  // so its tenant is free for a third assignment.
  view_.Put(Assignment("loser", "loser-tenant", kSanJuanPhone, "2026-02-01T00:00:00Z"));
  Allowed(Review("CREATE", Assignment("third", "loser-tenant", "333", "")));
}

TEST_F(AdmissionHandlerTest, AHolderBeingDeletedHoldsNothing) {
  json deleting = SanJuan();
  deleting["metadata"]["deletionTimestamp"] = "2026-03-01T00:00:00Z";
  view_.Put(deleting);
  Allowed(Review("CREATE", Assignment("next", "next-tenant", kSanJuanPhone, "")));
}

TEST_F(AdmissionHandlerTest, UpdateOfAYoungerOneOntoATakenNumberIsRefused) {
  json old = Assignment("goiko", "goiko-tenant", "222", "2026-02-01T00:00:00Z");
  view_.Put(old);
  json updated = old;
  updated["spec"]["phoneNumberId"] = kSanJuanPhone;
  EXPECT_EQ(Denied(Review("UPDATE", updated, old)), kDuplicateMessage);
}

TEST_F(AdmissionHandlerTest, UpdateOfAnOlderOneOntoAYoungerOnesNumberIsRefused) {
  // Older than San Juan: resolved alone it would win by age and take the number away.
  json old = Assignment("old-timer", "old-tenant", "222", "2025-01-01T00:00:00Z", "Old Timer");
  view_.Put(old);
  json updated = old;
  updated["spec"]["phoneNumberId"] = kSanJuanPhone;
  std::string message = Denied(Review("UPDATE", updated, old));
  EXPECT_EQ(message.rfind(std::string(kDuplicateMessage), 0), 0u) << message;
  EXPECT_NE(message.find("an update cannot take a phone number from the assignment holding it"),
            std::string::npos)
      << message;
}

TEST_F(AdmissionHandlerTest, UpdateOntoANumberHeldOnlyByALoserIsAllowed) {
  view_.Put(Assignment("loser", "loser-tenant", kSanJuanPhone, "2026-02-01T00:00:00Z"));
  json old = Assignment("old-timer", "old-tenant", "222", "2025-01-01T00:00:00Z");
  view_.Put(old);
  json updated = old;
  updated["spec"]["phoneNumberId"] = "444";  // free
  Allowed(Review("UPDATE", updated, old));
}

TEST_F(AdmissionHandlerTest, UpdateKeepingTheClaimOfALoserIsAllowed) {
  // The operator adds a finalizer to, or an admin relabels, an assignment that waits.
  json loser = Assignment("loser", "loser-tenant", kSanJuanPhone, "2026-02-01T00:00:00Z");
  view_.Put(loser);
  json updated = loser;
  updated["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  Allowed(Review("UPDATE", updated, loser));
  updated["spec"]["tenantName"] = "Renamed";
  Allowed(Review("UPDATE", updated, loser));
}

TEST_F(AdmissionHandlerTest, TenantIdIsImmutable) {
  json old = SanJuan();
  json updated = old;
  updated["spec"]["tenantId"] = "another-tenant";
  std::string message = Denied(Review("UPDATE", updated, old), 422);
  EXPECT_NE(message.find("spec.tenantId: field is immutable"), std::string::npos) << message;
}

TEST_F(AdmissionHandlerTest, WhatTheSchemaCannotCheckIsRefusedNamingTheField) {
  json bad = Assignment("bad", "bad-tenant", "555", "", "Caf\t Control");
  std::string message = Denied(Review("CREATE", bad), 422);
  EXPECT_EQ(message.rfind("spec.tenantName: ", 0), 0u) << message;

  json r = Respond(Review("CREATE", bad));
  ASSERT_TRUE(r["status"].contains("details")) << r.dump();
  EXPECT_EQ(r["status"]["details"]["causes"][0].value("field", ""), "spec.tenantName");

  json long_name = Assignment(std::string(236, 'a'), "t2", "556", "");
  EXPECT_NE(Denied(Review("CREATE", long_name), 422).find("metadata.name"), std::string::npos);
  json wrong_type = Assignment("wrong", "t3", "557", "");
  wrong_type["spec"]["enabled"] = "yes";
  EXPECT_NE(Denied(Review("CREATE", wrong_type), 422).find("spec.enabled"), std::string::npos);
}

TEST_F(AdmissionHandlerTest, AnObjectBeingDeletedIsAllowed) {
  json loser = Assignment("loser", "loser-tenant", kSanJuanPhone, "2026-02-01T00:00:00Z");
  json deleting = loser;
  deleting["metadata"]["deletionTimestamp"] = "2026-03-01T00:00:00Z";
  deleting["spec"]["phoneNumberId"] = "777";  // whatever it says
  Allowed(Review("UPDATE", deleting, loser));
}

TEST_F(AdmissionHandlerTest, DryRunsOtherResourcesAndOperationsAreAllowed) {
  json dup = Assignment("dup", "other", kSanJuanPhone, "");
  Allowed(Review("CREATE", dup, nullptr, /*dry_run=*/true));
  Allowed(Review("DELETE", nullptr, SanJuan()));
  json config_map = Review("CREATE", {{"metadata", {{"name", "x"}}}});
  config_map["request"]["resource"] = {
      {"group", ""}, {"version", "v1"}, {"resource", "configmaps"}};
  Allowed(config_map);
  json status = Review("UPDATE", dup, SanJuan());
  status["request"]["subResource"] = "status";
  Allowed(status);
}

TEST_F(AdmissionHandlerTest, MalformedReviewsGet400NamingTheProblem) {
  EXPECT_NE(HttpError("", 400).find("empty"), std::string::npos);
  EXPECT_NE(HttpError("{not json", 400).find("not valid JSON"), std::string::npos);
  EXPECT_NE(HttpError("[1,2]", 400).find("expected a JSON object"), std::string::npos);
  EXPECT_NE(HttpError(std::string(5000, '[') + std::string(5000, ']'), 400).find("nested deeper"),
            std::string::npos);
  json wrong_kind = Review("CREATE", SanJuan());
  wrong_kind["kind"] = "ConfigMap";
  EXPECT_NE(HttpError(wrong_kind.dump(), 400).find("kind \"ConfigMap\""), std::string::npos);
  json v1beta1 = Review("CREATE", SanJuan());
  v1beta1["apiVersion"] = "admission.k8s.io/v1beta1";
  EXPECT_NE(HttpError(v1beta1.dump(), 400).find("admission.k8s.io/v1beta1"), std::string::npos);
  json no_uid = Review("CREATE", SanJuan());
  no_uid["request"].erase("uid");
  EXPECT_NE(HttpError(no_uid.dump(), 400).find("request.uid"), std::string::npos);
  json no_request = Review("CREATE", SanJuan());
  no_request.erase("request");
  EXPECT_NE(HttpError(no_request.dump(), 400).find("request: expected an object"),
            std::string::npos);
  EXPECT_NE(HttpError(Review("CREATE", "a string").dump(), 400).find("request.object"),
            std::string::npos);
  EXPECT_NE(HttpError(Review("UPDATE", SanJuan(), nullptr).dump(), 400).find("request.oldObject"),
            std::string::npos);
  // Brackets inside strings do not count as nesting.
  json deep_string = Review("CREATE", Assignment("ok", "ok-tenant", "888", ""));
  deep_string["request"]["object"]["metadata"]["annotations"] = {{"x", std::string(500, '[')}};
  Allowed(deep_string);
}

TEST_F(AdmissionHandlerTest, OversizedBodiesGet413) {
  std::string big(kMaxReviewBytes + 1, ' ');
  EXPECT_NE(HttpError(big, 413).find("larger than the limit"), std::string::npos);
  EXPECT_EQ(AdmissionHandler::TooLarge(kMaxReviewBytes + 10).status, 413);
}

TEST_F(AdmissionHandlerTest, ReviewsWaitForTheCache) {
  bool synced = false;
  AdmissionHandler waiting(view_, clock_, [&] { return synced; });
  json review = Review("CREATE", Assignment("dup", "other", kSanJuanPhone, ""));
  HttpAnswer a = waiting.Handle(review.dump());
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.body.find("not synced"), std::string::npos);
  synced = true;
  EXPECT_EQ(waiting.Handle(review.dump()).status, 200);
}

TEST_F(AdmissionHandlerTest, InvalidUtf8NeverThrows) {
  HttpAnswer a = handler_.Handle("{\"apiVersion\":\"\xff\xfe\"}");
  EXPECT_EQ(a.status, 400);
}

}  // namespace
}  // namespace waop::webhook
