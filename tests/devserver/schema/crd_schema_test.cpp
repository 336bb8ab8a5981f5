#include "schema/crd_schema.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "schema/cel_rule.h"
#include "yaml_json.h"

namespace devserver {
namespace {

using nlohmann::json;

// A CRD file of the repository's crds/.
std::string CrdFile(const std::string& name) { return std::string(WAOP_CRDS_DIR) + "/" + name; }

CrdSchema LoadSchema(const std::string& path) {
  auto crd = testing::LoadYamlFile(path);
  EXPECT_TRUE(crd.ok()) << crd.status().ToString();
  auto open_api = testing::CrdVersionSchema(*crd, "v1alpha1");
  EXPECT_TRUE(open_api.ok()) << open_api.status().ToString();
  auto schema = CrdSchema::FromJson(*open_api);
  EXPECT_TRUE(schema.ok()) << schema.status().ToString();
  return *schema;
}

json Assignment() {
  return json::parse(R"json({
    "apiVersion": "whatsapp.bakery-ia.io/v1alpha1",
    "kind": "WhatsAppAssignment",
    "metadata": {"name": "panaderia-san-juan", "namespace": "bakery-ia",
                 "labels": {"team": "a"}, "creationTimestamp": "2026-11-26T10:00:00Z"},
    "spec": {"tenantId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
             "tenantName": "Panadería San Juan",
             "phoneNumberId": "123456789012345",
             "displayPhoneNumber": "+34 612 345 678",
             "enabled": true, "defaultLanguage": "es"},
    "status": {"observedGeneration": 3, "qualityRating": "GREEN",
               "qualityCheckedAt": "2026-11-26T10:00:00Z",
               "conditions": [{"type": "Ready", "status": "True", "reason": "Bound",
                               "message": "ok", "lastTransitionTime": "2026-11-26T10:00:00Z",
                               "observedGeneration": 3}]}
  })json");
}

class AssignmentSchemaTest : public ::testing::Test {
 protected:
  AssignmentSchemaTest()
      : schema_(LoadSchema(CrdFile("whatsapp.bakery-ia.io_whatsappassignments.yaml"))) {}
  CrdSchema schema_;
};

TEST_F(AssignmentSchemaTest, ValidObjectHasNoCausesAndAllRulesAreSupported) {
  EXPECT_TRUE(schema_.UnsupportedRules().empty());
  EXPECT_EQ(schema_.Validate(Assignment()), std::vector<FieldCause>{});
}

TEST_F(AssignmentSchemaTest, PatternMismatchReadsLikeTheApiserver) {
  json obj = Assignment();
  obj["spec"]["phoneNumberId"] = "abc";
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(causes[0].field, "spec.phoneNumberId");
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"abc\": spec.phoneNumberId in body should match '^[0-9]{1,32}$'");
}

TEST_F(AssignmentSchemaTest, MissingRequiredField) {
  json obj = Assignment();
  obj["spec"].erase("tenantId");
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0], (FieldCause{"FieldValueRequired", "Required value", "spec.tenantId"}));
  obj.erase("spec");
  causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0], (FieldCause{"FieldValueRequired", "Required value", "spec"}));
}

TEST_F(AssignmentSchemaTest, EnumListsSupportedValues) {
  json obj = Assignment();
  obj["status"]["qualityRating"] = "PURPLE";
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueNotSupported");
  EXPECT_EQ(causes[0].field, "status.qualityRating");
  EXPECT_EQ(causes[0].message,
            "Unsupported value: \"PURPLE\": supported values: \"GREEN\", \"YELLOW\", \"RED\", "
            "\"UNKNOWN\"");
}

TEST_F(AssignmentSchemaTest, MaxLengthCountsCodePointsNotBytes) {
  json obj = Assignment();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "ñ";  // 400 bytes, 200 characters.
  obj["spec"]["tenantName"] = name;
  EXPECT_TRUE(schema_.Validate(obj).empty());
  obj["spec"]["tenantName"] = name + "a";
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0], (FieldCause{"FieldValueTooLong", "Too long: may not be more than 200 bytes",
                                   "spec.tenantName"}));
}

TEST_F(AssignmentSchemaTest, WrongTypeNamesBothTypes) {
  json obj = Assignment();
  obj["spec"]["enabled"] = "string";
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueTypeInvalid");
  EXPECT_EQ(causes[0].field, "spec.enabled");
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"string\": spec.enabled in body must be of type boolean: \"string\"");
  obj["spec"]["enabled"] = 1;
  causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"integer\": spec.enabled in body must be of type boolean: "
            "\"integer\"");
}

TEST_F(AssignmentSchemaTest, SeveralViolationsAreAllReported) {
  json obj = Assignment();
  obj["spec"]["tenantId"] = "";
  obj["spec"]["defaultLanguage"] = "spanish";
  obj["status"]["observedGeneration"] = -1;
  obj["status"]["qualityCheckedAt"] = "yesterday";
  auto causes = schema_.Validate(obj);
  std::vector<std::string> messages;
  for (const auto& c : causes) messages.push_back(c.field + ": " + c.message);
  EXPECT_EQ(messages,
            (std::vector<std::string>{
                "spec.defaultLanguage: Too long: may not be more than 6 bytes",
                "spec.defaultLanguage: Invalid value: \"spanish\": spec.defaultLanguage in body "
                "should match '^[a-z]{2,3}(_[A-Z]{2})?$'",
                "spec.tenantId: Invalid value: \"\": spec.tenantId in body should be at least 1 "
                "chars long",
                "status.observedGeneration: Invalid value: -1: status.observedGeneration in body "
                "should be greater than or equal to 0",
                "status.qualityCheckedAt: Invalid value: \"yesterday\": status.qualityCheckedAt "
                "in body must be of type date-time: \"yesterday\""}));
}

TEST_F(AssignmentSchemaTest, ConditionsAreAListMapKeyedByType) {
  json obj = Assignment();
  json dup = obj["status"]["conditions"][0];
  dup["status"] = "False";
  obj["status"]["conditions"].push_back(dup);
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueDuplicate");
  EXPECT_EQ(causes[0].field, "status.conditions[1]");
  EXPECT_EQ(causes[0].message, "Duplicate value: map[string]interface {}{\"type\":\"Ready\"}");
  obj["status"]["conditions"][1]["type"] = "Stalled";
  obj["status"]["conditions"][1]["status"] = "Maybe";
  causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "status.conditions[1].status");
  EXPECT_EQ(causes[0].reason, "FieldValueNotSupported");
}

TEST_F(AssignmentSchemaTest, TenantIdIsImmutableOnUpdateOnly) {
  json old = Assignment();
  json updated = old;
  updated["spec"]["tenantId"] = "another-tenant";
  EXPECT_TRUE(schema_.Validate(updated).empty());  // Create: no oldSelf, rule not run.
  auto causes = schema_.ValidateUpdate(updated, old);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].reason, "FieldValueInvalid");
  EXPECT_EQ(causes[0].field, "spec.tenantId");
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"string\": spec.tenantId is immutable; delete this assignment and "
            "create a new one to change the tenant");
  // Other changes are fine.
  json renamed = old;
  renamed["spec"]["tenantName"] = "Otra";
  EXPECT_TRUE(schema_.ValidateUpdate(renamed, old).empty());
  // An old object without the field (status-only history) does not trigger the rule.
  json old_without = old;
  old_without["spec"].erase("tenantId");
  EXPECT_TRUE(schema_.ValidateUpdate(updated, old_without).empty());
}

TEST_F(AssignmentSchemaTest, RootRuleOnMetadataName) {
  json obj = Assignment();
  obj["metadata"]["name"] = std::string(236, 'a');
  auto causes = schema_.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "<nil>");
  EXPECT_EQ(
      causes[0].message.rfind("Invalid value: \"object\": metadata.name must be at most 235", 0),
      0u)
      << causes[0].message;
  obj["metadata"]["name"] = std::string(235, 'a');
  EXPECT_TRUE(schema_.Validate(obj).empty());
}

TEST_F(AssignmentSchemaTest, DefaultsFillOnlyWhereTheParentExists) {
  json obj = Assignment();
  obj["spec"].erase("enabled");
  obj["spec"].erase("defaultLanguage");
  schema_.ApplyDefaults(obj);
  EXPECT_EQ(obj["spec"]["enabled"], true);
  EXPECT_EQ(obj["spec"]["defaultLanguage"], "es");
  json no_spec = {{"apiVersion", "x"}, {"kind", "y"}, {"metadata", {{"name", "n"}}}};
  schema_.ApplyDefaults(no_spec);
  EXPECT_FALSE(no_spec.contains("spec"));
  json explicit_false = Assignment();
  explicit_false["spec"]["enabled"] = false;
  schema_.ApplyDefaults(explicit_false);
  EXPECT_EQ(explicit_false["spec"]["enabled"], false);
  json null_value = Assignment();
  null_value["spec"]["defaultLanguage"] = nullptr;  // Not nullable: the default replaces null.
  schema_.ApplyDefaults(null_value);
  EXPECT_EQ(null_value["spec"]["defaultLanguage"], "es");
}

TEST_F(AssignmentSchemaTest, PruneDropsUnknownFieldsButKeepsMetadata) {
  json obj = Assignment();
  obj["spec"]["foo"] = 1;
  obj["status"]["conditions"][0]["extra"] = "x";
  obj["topLevel"] = true;
  obj["metadata"]["annotations"] = {{"a", "b"}};
  auto unknown = schema_.UnknownFields(obj);
  EXPECT_EQ(unknown,
            (std::vector<std::string>{".spec.foo", ".status.conditions[0].extra", ".topLevel"}));
  schema_.Prune(obj);
  json expected = Assignment();
  expected["metadata"]["annotations"] = {{"a", "b"}};
  EXPECT_EQ(obj, expected);
  EXPECT_TRUE(schema_.UnknownFields(obj).empty());
}

TEST(PhoneNumberSchemaTest, NameMustBeThePhoneNumberId) {
  CrdSchema schema = LoadSchema(CrdFile("whatsapp.bakery-ia.io_whatsappphonenumbers.yaml"));
  EXPECT_TRUE(schema.UnsupportedRules().empty());
  json obj = {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppPhoneNumber"},
              {"metadata", {{"name", "123456789012345"}}}};
  EXPECT_TRUE(schema.Validate(obj).empty());
  obj["metadata"]["name"] = "not-a-number";
  auto causes = schema.Validate(obj);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"object\": metadata.name must be the Meta phone number id (1 to 32 "
            "digits)");
}

// Every CRD in crds/, not only the two loaded above, must load with every rule supported; the
// assignment schema accepts the example object.
TEST(RealCrdsTest, LoadWithAllRulesSupported) {
  const std::string dir = WAOP_CRDS_DIR;
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    auto crd = testing::LoadYamlFile(entry.path().string());
    ASSERT_TRUE(crd.ok()) << entry.path() << ": " << crd.status().ToString();
    if (crd->value("kind", "") != "CustomResourceDefinition") continue;
    for (const auto& version : (*crd)["spec"]["versions"]) {
      auto schema = CrdSchema::FromJson(version["schema"]["openAPIV3Schema"]);
      ASSERT_TRUE(schema.ok()) << entry.path() << ": " << schema.status().ToString();
      EXPECT_TRUE(schema->UnsupportedRules().empty()) << entry.path();
      ++loaded;
    }
    if ((*crd)["spec"]["names"]["kind"] == "WhatsAppAssignment") {
      auto schema = CrdSchema::FromJson((*crd)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]);
      ASSERT_TRUE(schema.ok());
      EXPECT_TRUE(schema->Validate(Assignment()).empty());
    }
  }
  EXPECT_GE(loaded, 2);
}

json GenericSchema() {
  return json::parse(R"json({
    "type": "object",
    "properties": {
      "spec": {
        "type": "object",
        "properties": {
          "port": {"x-kubernetes-int-or-string": true},
          "note": {"type": "string", "nullable": true},
          "replicas": {"type": "integer", "minimum": 1, "maximum": 5, "default": 1},
          "ratio": {"type": "number", "exclusiveMaximum": true, "maximum": 1},
          "tags": {"type": "array", "maxItems": 2, "x-kubernetes-list-type": "set",
                   "items": {"type": "string"}},
          "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 3}},
          "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
          "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                       "properties": {"spec": {"type": "object",
                                               "properties": {"a": {"type": "string"}}}}},
          "nested": {"type": "object", "default": {},
                     "properties": {"mode": {"type": "string", "default": "auto"}}},
          "window": {"type": "object",
                     "x-kubernetes-validations": [
                       {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                       {"rule": "has(self.max) ? self.max < 100 : true",
                        "reason": "FieldValueForbidden", "message": "max must be below 100"},
                       {"rule": "self.unknownFunction()"}],
                     "properties": {"min": {"type": "integer"}, "max": {"type": "integer"}}}
        }
      }
    }
  })json");
}

TEST(GenericSchemaTest, KeywordsBeyondTheProjectCrds) {
  auto schema = CrdSchema::FromJson(GenericSchema());
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  EXPECT_EQ(schema->UnsupportedRules(), std::vector<std::string>{"self.unknownFunction()"});
  json ok = json::parse(R"json({"spec": {"port": "http", "note": null, "replicas": 5, "ratio": 0.5,
      "tags": ["a", "b"], "labels": {"x": "abc"}, "raw": {"any": {"thing": 1}},
      "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"a": "b"}},
      "window": {"min": 1, "max": 2}}})json");
  EXPECT_EQ(schema->Validate(ok), std::vector<FieldCause>{});
  ok["spec"]["port"] = 8080;
  EXPECT_TRUE(schema->Validate(ok).empty());

  json bad = ok;
  bad["spec"]["port"] = true;
  bad["spec"]["replicas"] = 6;
  bad["spec"]["ratio"] = 1;
  bad["spec"]["tags"] = {"a", "a", "b"};
  bad["spec"]["labels"]["y"] = "long";
  bad["spec"]["window"] = {{"min", 300}, {"max", 200}};
  std::vector<std::string> got;
  for (const auto& c : schema->Validate(bad))
    got.push_back(c.reason + " " + c.field + ": " + c.message);
  EXPECT_EQ(got,
            (std::vector<std::string>{
                "FieldValueTooLong spec.labels[y]: Too long: may not be more than 3 bytes",
                "FieldValueTypeInvalid spec.port: Invalid value: \"boolean\": spec.port in body "
                "must be of type integer-or-string: \"boolean\"",
                "FieldValueInvalid spec.ratio: Invalid value: 1: spec.ratio in body should be less "
                "than 1",
                "FieldValueInvalid spec.replicas: Invalid value: 6: spec.replicas in body should "
                "be less than or equal to 5",
                "FieldValueTooMany spec.tags: Too many: 3: must have at most 2 items",
                "FieldValueDuplicate spec.tags[1]: Duplicate value: \"a\"",
                "FieldValueInvalid spec.window: Invalid value: \"object\": min must not exceed max",
                "FieldValueForbidden spec.window: Forbidden: max must be below 100"}));

  json null_note = ok;
  null_note["spec"]["replicas"] = nullptr;
  auto causes = schema->Validate(null_note);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].message,
            "Invalid value: \"null\": spec.replicas in body must be of type integer: \"null\"");
}

TEST(GenericSchemaTest, RuleErrorsAndDefaultMessagesReadLikeTheApiserver) {
  auto schema = CrdSchema::FromJson(json::parse(R"json({"type": "object",
      "x-kubernetes-validations": [
        {"rule": "  self.metadata.name.startsWith('my-prefix') "},
        {"rule": "self.spec.organization == 'x'", "message": "organization must be x"}],
      "properties": {"spec": {"type": "object",
                              "properties": {"organization": {"type": "string"}}}}})json"));
  ASSERT_TRUE(schema.ok()) << schema.status().ToString();
  json obj = {{"metadata", {{"name", "other"}}}, {"spec", json::object()}};
  auto causes = schema->Validate(obj);
  ASSERT_EQ(causes.size(), 2u);
  EXPECT_EQ(causes[0], (FieldCause{"FieldValueInvalid",
                                   "Invalid value: \"object\": failed rule: "
                                   "self.metadata.name.startsWith('my-prefix')",
                                   "<nil>"}));
  EXPECT_EQ(causes[1].message,
            "Invalid value: \"object\": no such key: organization evaluating rule: organization "
            "must be x");
}

TEST(GenericSchemaTest, PruneHonoursPreserveUnknownAndEmbeddedResources) {
  auto schema = CrdSchema::FromJson(GenericSchema());
  ASSERT_TRUE(schema.ok());
  json obj = json::parse(R"json({"apiVersion": "v", "kind": "K", "metadata": {"name": "n"},
      "spec": {"raw": {"any": 1}, "labels": {"a": "b"}, "gone": 1,
               "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1},
                            "spec": {"a": "b", "gone": 2}, "gone": 3}}})json");
  EXPECT_EQ(
      schema->UnknownFields(obj),
      (std::vector<std::string>{".spec.gone", ".spec.template.gone", ".spec.template.spec.gone"}));
  schema->Prune(obj);
  EXPECT_EQ(obj, json::parse(R"json({"apiVersion": "v", "kind": "K", "metadata": {"name": "n"},
      "spec": {"raw": {"any": 1}, "labels": {"a": "b"},
               "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1},
                            "spec": {"a": "b"}}}})json"));
}

TEST(GenericSchemaTest, DefaultsOfNestedObjectsApplyTopDown) {
  auto schema = CrdSchema::FromJson(GenericSchema());
  ASSERT_TRUE(schema.ok());
  json obj = {{"spec", json::object()}};
  schema->ApplyDefaults(obj);
  // nested has a default of {}, then its own property default applies inside it.
  EXPECT_EQ(obj["spec"]["nested"], json({{"mode", "auto"}}));
  EXPECT_EQ(obj["spec"]["replicas"], 1);
  EXPECT_FALSE(obj["spec"].contains("window"));
}

TEST(GenericSchemaTest, BadSchemasAreRejectedWithThePath) {
  auto bad_type = CrdSchema::FromJson(
      json::parse(R"json({"type": "object", "properties": {"a": {"type": "strng"}}})json"));
  ASSERT_FALSE(bad_type.ok());
  EXPECT_NE(bad_type.status().message().find("openAPIV3Schema.properties[a].type"),
            std::string::npos)
      << bad_type.status().message();
  auto bad_pattern = CrdSchema::FromJson(json::parse(
      R"json({"type": "object", "properties": {"a": {"type": "string", "pattern": "(["}}})json"));
  ASSERT_FALSE(bad_pattern.ok());
  EXPECT_NE(bad_pattern.status().message().find("pattern"), std::string::npos);
  auto bad_map = CrdSchema::FromJson(
      json::parse(R"json({"type": "array", "x-kubernetes-list-type": "map", "items": {}})json"));
  EXPECT_FALSE(bad_map.ok());
}

bool Eval(const std::string& rule, const json& self, const json* old = nullptr) {
  auto program = CelProgram::Parse(rule);
  EXPECT_TRUE(program.ok()) << rule << ": " << program.status().ToString();
  if (!program.ok()) return false;
  auto result = program->Evaluate(self, old);
  EXPECT_TRUE(result.ok()) << rule << ": " << result.status().ToString();
  return result.ok() && *result;
}

TEST(CelTest, ParsesTheProjectsRulesRobustly) {
  json self = {{"metadata", {{"name", "12345"}}}, {"a", 3}, {"s", "héllo"}, {"l", {1, 2, 3}}};
  EXPECT_TRUE(Eval("self.metadata.name.matches('^[0-9]{1,32}$')", self));
  EXPECT_TRUE(Eval("  self.metadata.name.matches(\"^[0-9]+$\")  ", self));
  EXPECT_TRUE(Eval("self.metadata.name.size() <= 235", self));
  EXPECT_TRUE(Eval("size(self.s) == 5", self));  // Code points.
  EXPECT_TRUE(Eval("has(self.a) && !has(self.b)", self));
  EXPECT_TRUE(Eval("self.a > 2 || self.missing == 1", self));  // || short-circuits errors.
  EXPECT_TRUE(Eval("self.l.all(x, x > 0) && self.l.exists(x, x == 2)", self));
  EXPECT_TRUE(Eval("2 in self.l && 'name' in self.metadata", self));
  EXPECT_TRUE(Eval("self.a % 2 == 1 ? self.s.startsWith('h') : false", self));
  EXPECT_TRUE(Eval("(self.a + 1) * 2 == 8", self));
  json old = self;
  EXPECT_TRUE(Eval("self == oldSelf", self, &old));
  old["a"] = 4;
  EXPECT_FALSE(Eval("self == oldSelf", self, &old));
  auto program = CelProgram::Parse("self==oldSelf");
  ASSERT_TRUE(program.ok());
  EXPECT_TRUE(program->UsesOldSelf());
  EXPECT_FALSE(CelProgram::Parse("self.a > 1")->UsesOldSelf());
}

TEST(CelTest, UnsupportedAndBrokenExpressionsFailToParse) {
  EXPECT_FALSE(CelProgram::Parse("self.x.frobnicate()").ok());
  EXPECT_FALSE(CelProgram::Parse("self.x ==").ok());
  EXPECT_FALSE(CelProgram::Parse("self.x == 'unterminated").ok());
  EXPECT_FALSE(CelProgram::Parse("self.x.matches('([')").ok());
  EXPECT_FALSE(CelProgram::Parse("has(self)").ok());
}

TEST(CelTest, RuntimeErrorsAreReportedNotGuessed) {
  auto program = CelProgram::Parse("self.missing == 1");
  ASSERT_TRUE(program.ok());
  auto result = program->Evaluate(json::object(), nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("no such key: missing"), std::string::npos);
  EXPECT_FALSE(CelProgram::Parse("self.a")->Evaluate(json{{"a", 1}}, nullptr).ok());  // not bool
}

}  // namespace
}  // namespace devserver
