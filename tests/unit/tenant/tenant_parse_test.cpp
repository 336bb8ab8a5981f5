// The tenant service's answers: rows (shapes, nulls, integers, legacy keys by name only) and bad
// input with errors naming the field; error bodies and their Status classes.
#include "tenant/tenant_parse.h"

#include <gtest/gtest.h>

#include "tenant/tenant_client.h"

namespace waop::tenant {
namespace {

TEST(TenantParseTest, ReadsRowsInEveryShape) {
  auto rows = ParseTenantList(R"([
    {"tenant_id": "t-1", "tenant_name": "Panadería", "whatsapp_enabled": true,
     "phone_number_id": "123", "display_phone_number": "+34 612 345 678", "extra": {"a": 1}},
    {"tenant_id": 42, "tenant_name": null, "whatsapp_enabled": null, "phone_number_id": 456},
    {"tenant_id": "t-3", "phone_number_id": "", "whatsapp_access_token": "EAAG-secret",
     "whatsapp_business_account_id": "", "whatsapp_api_version": "v19.0"}])");
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].tenant_name, "Panadería");
  EXPECT_TRUE((*rows)[0].whatsapp_enabled);
  EXPECT_EQ((*rows)[0].phone_number_id, "123");
  EXPECT_EQ((*rows)[1].tenant_id, "42");
  EXPECT_EQ((*rows)[1].phone_number_id, "456");
  EXPECT_FALSE((*rows)[1].whatsapp_enabled);
  EXPECT_EQ((*rows)[2].phone_number_id, "");
  // Names only; an empty legacy value does not count.
  EXPECT_EQ((*rows)[2].legacy_keys,
            (std::vector<std::string>{"whatsapp_access_token", "whatsapp_api_version"}));

  for (const char* wrapped :
       {R"({"tenants": [{"tenant_id": "a"}]})", R"({"items": [{"tenant_id": "a"}]})",
        R"({"data": [{"tenant_id": "a"}], "total": 1})"}) {
    auto r = ParseTenantList(wrapped);
    ASSERT_TRUE(r.ok()) << wrapped;
    EXPECT_EQ(r->size(), 1u);
  }
  EXPECT_TRUE(ParseTenantList("[]")->empty());
}

TEST(TenantParseTest, BadInputNamesTheField) {
  struct Case {
    const char* body;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {"", "not valid JSON"},
           {"{", "not valid JSON"},
           {"null", "expected an array, got null"},
           {"42", "expected an array, got a number"},
           {R"({"rows": []})", "expected a list of tenants"},
           {R"({"tenants": {}})", "tenants: expected an array, got an object"},
           {R"([1])", "tenants[0]: expected an object, got a number"},
           {R"([{"tenant_name": "x"}])", "tenants[0].tenant_id: missing"},
           {R"([{"tenant_id": ""}])", "tenants[0].tenant_id: empty"},
           {R"([{"tenant_id": true}])", "tenants[0].tenant_id: expected a string, got a boolean"},
           {R"([{"tenant_id": "a"}, {"tenant_id": "b", "phone_number_id": {}}])",
            "tenants[1].phone_number_id: expected a string of digits, got an object"},
           {R"([{"tenant_id": "a", "phone_number_id": "12a"}])",
            "tenants[0].phone_number_id: expected digits"},
           {R"([{"tenant_id": "a", "phone_number_id": -5}])",
            "tenants[0].phone_number_id: expected a string of digits"},
           {R"([{"tenant_id": "a", "whatsapp_enabled": "yes"}])",
            "tenants[0].whatsapp_enabled: expected a boolean or null, got a string"},
           {R"([{"tenant_id": "a", "tenant_name": 7}])",
            "tenants[0].tenant_name: expected a string or null, got a number"},
       }) {
    auto r = ParseTenantList(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.status().code(), StatusCode::kInternal);
    EXPECT_NE(r.status().message().find(c.expected), std::string::npos)
        << c.body << " -> " << r.status().message();
  }
  // Deep nesting is refused before parsing.
  std::string deep = "[" + std::string(5000, '[') + std::string(5000, ']') + "]";
  EXPECT_FALSE(ParseTenantList(deep).ok());
}

TEST(TenantParseTest, LegacyValuesNeverReachAnError) {
  for (const char* body : {
           R"([{"tenant_id": "a", "whatsapp_access_token": "EAAG-secret", "phone_number_id": []}])",
           // Malformed right after the value: the JSON parser's own message would quote it.
           R"([{"tenant_id": "a", "whatsapp_access_token": EAAG-secret}])",
       }) {
    auto r = ParseTenantList(body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().message().find("EAAG-secret"), std::string::npos) << body;
  }
}

TEST(TenantParseTest, ErrorBodiesAndClasses) {
  EXPECT_EQ(TenantServiceMessage(R"({"detail": "Tenant x not found"})"), "Tenant x not found");
  EXPECT_EQ(TenantServiceMessage(R"({"detail": [{"loc": ["body"], "msg": "field required"}]})"),
            "field required");
  EXPECT_EQ(TenantServiceMessage(R"({"message": "nope"})"), "nope");
  EXPECT_EQ(TenantServiceMessage(R"({"error": {"message": "inner"}})"), "inner");
  EXPECT_EQ(TenantServiceMessage("plain\ntext"), "plain text");
  EXPECT_EQ(TenantServiceMessage(""), "");

  auto s = TenantErrorStatus(409, R"({"detail": "already assigned"})", "POST /x");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "POST /x: HTTP 409: already assigned");
  EXPECT_EQ(TenantErrorStatus(503, "", "GET /x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(TenantErrorStatus(429, "", "GET /x").code(), StatusCode::kUnavailable);
  EXPECT_EQ(TenantErrorStatus(401, "", "GET /x").code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(TenantErrorStatus(403, "", "GET /x").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(TenantErrorStatus(404, "", "GET /x").code(), StatusCode::kNotFound);
  auto bad = TenantErrorStatus(422, R"({"detail": "phone_number_id: field required"})", "POST /x");
  EXPECT_EQ(bad.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(bad.message().find("phone_number_id: field required"), std::string::npos);
}

TEST(TenantParseTest, TenantIdsSafeForAPath) {
  EXPECT_TRUE(CheckTenantId("7c9e6679-7425-40de-944b-e07fc1f90ae7").ok());
  EXPECT_TRUE(CheckTenantId("a_b.c").ok());
  for (const char* bad : {"", "../admin", "a/b", "a b", "-a", "a?x=1", "%2e"}) {
    EXPECT_EQ(CheckTenantId(bad).code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(CheckTenantId(std::string(64, 'a')).ok());
}

}  // namespace
}  // namespace waop::tenant
