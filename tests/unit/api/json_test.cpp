#include "api/json.h"

#include <gtest/gtest.h>

namespace waop::api {
namespace {

using nlohmann::json;

json ExampleAssignment() {
  return json::parse(R"({
    "apiVersion": "whatsapp.bakery-ia.io/v1alpha1",
    "kind": "WhatsAppAssignment",
    "metadata": {
      "name": "panaderia-san-juan",
      "namespace": "bakery-ia",
      "uid": "0b1e6e2c-1111-2222-3333-444455556666",
      "resourceVersion": "1234",
      "generation": 3,
      "creationTimestamp": "2026-11-26T10:00:00Z",
      "labels": {"team": "sales"},
      "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{\"huge\": true}",
        "whatsapp.bakery-ia.io/note": "kept",
        "other.io/annotation": "dropped"
      },
      "finalizers": ["whatsapp.bakery-ia.io/finalizer"],
      "managedFields": [{"manager": "kubectl", "fieldsV1": {}}]
    },
    "spec": {
      "tenantId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
      "tenantName": "Panadería San Juan",
      "phoneNumberId": "123456789012345",
      "displayPhoneNumber": "+34 612 345 678",
      "enabled": false,
      "defaultLanguage": "en_US",
      "futureField": {"x": 1}
    },
    "status": {
      "observedGeneration": 2,
      "qualityRating": "GREEN",
      "qualityCheckedAt": "2026-11-26T10:05:00Z",
      "settingsConfigMap": "whatsapp-settings-panaderia-san-juan",
      "conditions": [{"type": "Ready", "status": "True", "reason": "Bound",
                      "message": "ok", "observedGeneration": 2,
                      "lastTransitionTime": "2026-11-26T10:01:00Z"}]
    }
  })");
}

TEST(ParseAssignmentTest, ReadsEveryField) {
  Result<Assignment> r = ParseAssignment(ExampleAssignment());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const Assignment& a = *r;
  EXPECT_EQ(a.metadata.name, "panaderia-san-juan");
  EXPECT_EQ(a.metadata.ns, "bakery-ia");
  EXPECT_EQ(a.metadata.uid, "0b1e6e2c-1111-2222-3333-444455556666");
  EXPECT_EQ(a.metadata.resource_version, "1234");
  EXPECT_EQ(a.metadata.generation, 3);
  EXPECT_EQ(FormatRfc3339(a.metadata.creation_timestamp), "2026-11-26T10:00:00Z");
  EXPECT_FALSE(a.metadata.deleting());
  EXPECT_EQ(a.metadata.labels.at("team"), "sales");
  EXPECT_EQ(a.metadata.finalizers, std::vector<std::string>{"whatsapp.bakery-ia.io/finalizer"});
  EXPECT_EQ(a.spec.tenant_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7");
  EXPECT_EQ(a.spec.tenant_name, "Panadería San Juan");
  EXPECT_EQ(a.spec.phone_number_id, "123456789012345");
  EXPECT_EQ(a.spec.display_phone_number, "+34 612 345 678");
  EXPECT_FALSE(a.spec.enabled);
  EXPECT_EQ(a.spec.default_language, "en_US");
  EXPECT_EQ(a.status.observed_generation, 2);
  EXPECT_EQ(a.status.quality_rating, "GREEN");
  ASSERT_TRUE(a.status.quality_checked_at.has_value());
  EXPECT_EQ(FormatRfc3339(*a.status.quality_checked_at), "2026-11-26T10:05:00Z");
  ASSERT_EQ(a.status.conditions.size(), 1u);
  EXPECT_EQ(a.status.conditions[0].type, "Ready");
  EXPECT_EQ(a.status.conditions[0].status, ConditionStatus::kTrue);
  EXPECT_EQ(a.status.conditions[0].observed_generation, 2);
  EXPECT_EQ(FormatRfc3339(a.status.conditions[0].last_transition_time), "2026-11-26T10:01:00Z");
}

TEST(ParseAssignmentTest, KeepsOnlyOurAnnotations) {
  Result<Assignment> r = ParseAssignment(ExampleAssignment());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->metadata.annotations.size(), 1u);
  EXPECT_EQ(r->metadata.annotations.at("whatsapp.bakery-ia.io/note"), "kept");
}

TEST(ParseAssignmentTest, AppliesDefaults) {
  json j = {{"metadata", {{"name", "a"}, {"namespace", "n"}}},
            {"spec", {{"tenantId", "t1"}, {"phoneNumberId", "1"}}}};
  Result<Assignment> r = ParseAssignment(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spec.enabled);
  EXPECT_EQ(r->spec.default_language, "es");
  EXPECT_EQ(r->spec.tenant_name, "");
  EXPECT_FALSE(r->status.observed_generation.has_value());
}

TEST(ParseAssignmentTest, NullMeansAbsent) {
  json j = {
      {"metadata", {{"name", "a"}}},
      {"spec",
       {{"tenantId", "t1"}, {"phoneNumberId", "1"}, {"enabled", nullptr}, {"tenantName", nullptr}}},
      {"status", nullptr}};
  Result<Assignment> r = ParseAssignment(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->spec.enabled);
}

TEST(ParseAssignmentTest, ReportsEveryTypeErrorWithItsPath) {
  json j = {{"metadata", {{"name", "a"}, {"generation", "3"}, {"labels", {{"app", 1}}}}},
            {"spec",
             {{"phoneNumberId", 123456789012345},
              {"enabled", "yes"},
              {"tenantName", {"a"}},
              {"defaultLanguage", true}}}};
  Assignment a;
  FieldErrors errors = ParseAssignmentInto(j, &a);
  std::vector<std::string> lines;
  for (const FieldError& e : errors) lines.push_back(e.ToString());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "metadata.generation: expected integer, got string \"3\"",
                       "metadata.labels[app]: expected string, got integer 1",
                       "spec.tenantId: required value",
                       "spec.tenantName: expected string, got array",
                       "spec.phoneNumberId: expected string, got integer 123456789012345",
                       "spec.enabled: expected boolean, got string \"yes\"",
                       "spec.defaultLanguage: expected string, got boolean true",
                   }));
  Result<Assignment> r = ParseAssignment(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("spec.enabled: expected boolean, got string \"yes\""),
            std::string::npos);
}

TEST(ParseAssignmentTest, MissingSpecIsRequired) {
  Result<Assignment> r = ParseAssignment(json{{"metadata", {{"name", "a"}}}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec: required value");
}

TEST(ParseAssignmentTest, WrongShapes) {
  Result<Assignment> r = ParseAssignment(json::array());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "(object): expected object, got array");
  r = ParseAssignment(json{{"spec", "x"}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "spec: expected object, got string \"x\"");
}

TEST(ParseAssignmentTest, BadTimesAndConditionStatus) {
  json j = ExampleAssignment();
  j["metadata"]["creationTimestamp"] = "yesterday";
  j["status"]["conditions"][0]["status"] = "yes";
  j["status"]["conditions"].push_back(json{{"status", "True"}});
  j["status"]["conditions"].push_back(42);
  Assignment a;
  FieldErrors errors = ParseAssignmentInto(j, &a);
  std::vector<std::string> lines;
  for (const FieldError& e : errors) lines.push_back(e.ToString());
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "metadata.creationTimestamp: expected RFC 3339 time, got \"yesterday\"",
                       "status.conditions[0].status: expected \"True\", \"False\" or "
                       "\"Unknown\", got \"yes\"",
                       "status.conditions[1].type: required value",
                       "status.conditions[2]: expected object, got integer 42",
                   }));
}

TEST(ParseAssignmentTest, DeletionTimestampAndOwnerReferences) {
  json j = ExampleAssignment();
  j["metadata"]["deletionTimestamp"] = "2026-11-26T11:00:00Z";
  j["metadata"]["ownerReferences"] = json::array(
      {{{"apiVersion", "v1"}, {"kind", "X"}, {"name", "o"}, {"uid", "u"}, {"controller", true}}});
  Result<Assignment> r = ParseAssignment(j);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->metadata.deleting());
  ASSERT_EQ(r->metadata.owner_references.size(), 1u);
  EXPECT_TRUE(r->metadata.owner_references[0].controller);
  EXPECT_FALSE(r->metadata.owner_references[0].block_owner_deletion);
}

TEST(ParseAssignmentTest, RoundTripsThroughToJson) {
  Result<Assignment> r = ParseAssignment(ExampleAssignment());
  ASSERT_TRUE(r.ok());
  Result<Assignment> again = ParseAssignment(ToJson(*r));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *r);
}

TEST(ParseJsonTextTest, ConvertsExceptionsToStatus) {
  Result<json> r = ParseJsonText("{\"a\": ");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("invalid JSON"), std::string::npos);
  Result<json> ok = ParseJsonText("{\"a\": 1}");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ((*ok)["a"], 1);
}

Condition MakeCondition(std::string type, ConditionStatus status) {
  Condition c;
  c.type = std::move(type);
  c.status = status;
  c.reason = "R";
  c.message = "m";
  c.observed_generation = 4;
  c.last_transition_time = *ParseRfc3339("2026-11-26T10:01:00Z");
  return c;
}

TEST(StatusToJsonTest, OmitsEmptyFieldsAndOrdersConditions) {
  AssignmentStatus s;
  s.observed_generation = 4;
  s.quality_rating = "GREEN";
  s.conditions = {MakeCondition("Zeta", ConditionStatus::kTrue),
                  MakeCondition("Stalled", ConditionStatus::kTrue),
                  MakeCondition("Alpha", ConditionStatus::kFalse),
                  MakeCondition("Ready", ConditionStatus::kFalse)};
  json j = ToJson(s);
  EXPECT_FALSE(j.contains("displayPhoneNumber"));
  EXPECT_FALSE(j.contains("verifiedName"));
  EXPECT_FALSE(j.contains("qualityCheckedAt"));
  EXPECT_FALSE(j.contains("settingsConfigMap"));
  EXPECT_EQ(j["observedGeneration"], 4);
  ASSERT_EQ(j["conditions"].size(), 4u);
  EXPECT_EQ(j["conditions"][0]["type"], "Ready");
  EXPECT_EQ(j["conditions"][1]["type"], "Stalled");
  EXPECT_EQ(j["conditions"][2]["type"], "Alpha");
  EXPECT_EQ(j["conditions"][3]["type"], "Zeta");
  EXPECT_EQ(j["conditions"][0]["status"], "False");
  EXPECT_EQ(j["conditions"][0]["lastTransitionTime"], "2026-11-26T10:01:00Z");
  EXPECT_EQ(j["conditions"][0]["observedGeneration"], 4);
}

TEST(StatusToJsonTest, EmptyStatusIsEmptyObject) {
  EXPECT_EQ(ToJson(AssignmentStatus{}).dump(), "{}");
  EXPECT_EQ(ToJson(PhoneNumberStatus{}).dump(), "{}");
}

TEST(StatusToJsonTest, Deterministic) {
  AssignmentStatus s;
  s.observed_generation = 1;
  s.display_phone_number = "+34 612 345 678";
  s.verified_name = "Bakery Platform";
  s.conditions = {MakeCondition("Stalled", ConditionStatus::kTrue),
                  MakeCondition("Ready", ConditionStatus::kFalse)};
  AssignmentStatus reordered = s;
  std::swap(reordered.conditions[0], reordered.conditions[1]);
  EXPECT_EQ(ToJson(s).dump(), ToJson(reordered).dump());
  EXPECT_EQ(ToJson(s).dump(), ToJson(s).dump());
}

TEST(PhoneNumberJsonTest, ParsesAndSerialises) {
  json j = json::parse(R"({
    "apiVersion": "whatsapp.bakery-ia.io/v1alpha1", "kind": "WhatsAppPhoneNumber",
    "metadata": {"name": "123456789012345"},
    "status": {"displayPhoneNumber": "+34 612 345 678", "verifiedName": "Bakery Platform",
               "qualityRating": "YELLOW", "messagingLimitTier": "TIER_1K",
               "lastSyncTime": "2026-11-26T10:00:00Z",
               "assignment": {"namespace": "bakery-ia", "name": "panaderia-san-juan",
                              "tenantId": "t1", "tenantName": "Panadería San Juan"}}
  })");
  Result<PhoneNumber> p = ParsePhoneNumber(j);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->metadata.name, "123456789012345");
  EXPECT_EQ(p->status.quality_rating, "YELLOW");
  EXPECT_EQ(p->status.messaging_limit_tier, "TIER_1K");
  ASSERT_TRUE(p->status.assignment.has_value());
  EXPECT_EQ(p->status.assignment->tenant_name, "Panadería San Juan");
  EXPECT_EQ(ToJson(p->status), j["status"]);

  PhoneNumberStatus with_condition = p->status;
  Condition c;
  c.type = "QualityCurrent";
  c.status = ConditionStatus::kFalse;
  c.reason = "MetaUnavailable";
  c.last_transition_time = *ParseRfc3339("2026-11-26T10:01:00Z");
  with_condition.conditions = {c};
  json with_json = ToJson(with_condition);
  EXPECT_EQ(with_json["conditions"][0]["reason"], "MetaUnavailable");
  json whole = j;
  whole["status"] = with_json;
  Result<PhoneNumber> back = ParsePhoneNumber(whole);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->status, with_condition);

  PhoneNumberStatus free = p->status;
  free.assignment.reset();
  EXPECT_FALSE(ToJson(free).contains("assignment"));
}

TEST(PhoneNumberJsonTest, TypeErrors) {
  json j = {{"metadata", {{"name", "1"}}},
            {"status", {{"assignment", {{"namespace", 5}}}, {"lastSyncTime", "soon"}}}};
  Result<PhoneNumber> p = ParsePhoneNumber(j);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().message(),
            "status.lastSyncTime: expected RFC 3339 time, got \"soon\"; "
            "status.assignment.namespace: expected string, got integer 5");
}

}  // namespace
}  // namespace waop::api

namespace waop::api {
namespace {

// Issue 14: a condition whose type is a number, and other wrong types, are field errors.
TEST(HostileJsonTest, WrongTypesAreFieldErrorsNotThrows) {
  auto a = ParseAssignment(nlohmann::json::parse(
      R"({"metadata":{"name":1,"labels":{"a":2}},"spec":{"tenantId":"t","phoneNumberId":"p"},
          "status":{"conditions":[{"type":5,"status":"True"},7,{"type":"Ready","status":1,
          "lastTransitionTime":"9999-12-31T23:59:59Z"}]}})"));
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("status.conditions[0].type"), std::string::npos)
      << a.status().message();
  EXPECT_NE(a.status().message().find("metadata.name"), std::string::npos);
  EXPECT_NE(a.status().message().find("status.conditions[2].lastTransitionTime"),
            std::string::npos);
  auto p = ParsePhoneNumber(nlohmann::json::parse(
      R"({"metadata":{"name":"p"},"status":{"assignment":{"name":[1]},"conditions":{"a":1}}})"));
  EXPECT_FALSE(p.ok());
  auto deep = ParseJsonText(std::string(100'000, '[') + std::string(100'000, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace waop::api
