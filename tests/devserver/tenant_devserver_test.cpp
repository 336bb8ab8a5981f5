// tenant-devserver over HTTP on 127.0.0.1: the three API endpoints with a strict service's
// answers (401, 404, 409 for a repeat or someone else's number, 422), changes behind the
// operator's back through /_control/, faults, and request counts.
#include <gtest/gtest.h>

#include "tenant_devserver_util.h"

namespace devserver::testing {
namespace {

using nlohmann::json;

constexpr char kData[] = R"(tenants:
  - tenant_id: "t-1"
    tenant_name: "Panadería San Juan"
    whatsapp_enabled: true
    phone_number_id: "100000000000001"
    display_phone_number: "+34 612 345 678"
    whatsapp_access_token: "EAAG-legacy-secret"
  - tenant_id: "t-2"
    tenant_name: "Pastelería"
)";

std::string Assign(const std::string& id) {
  return std::string(kTenantsPath) + "/" + id + "/assign-phone";
}
std::string Unassign(const std::string& id) {
  return std::string(kTenantsPath) + "/" + id + "/unassign-phone";
}

TEST(TenantDevserverTest, ApiAnswersLikeAStrictService) {
  TenantDevserver ds(kData);
  ASSERT_TRUE(ds.ok()) << ds.process().Stderr();

  auto anonymous = Http(ds.port(), "GET", kTenantsPath);
  EXPECT_EQ(anonymous.status, 401);

  auto list = ds.Api("GET", kTenantsPath);
  ASSERT_EQ(list.status, 200) << list.body;
  json rows = list.Json();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["tenant_name"], "Panadería San Juan");
  EXPECT_EQ(rows[0]["whatsapp_access_token"], "EAAG-legacy-secret");  // kept as in the file
  EXPECT_TRUE(rows[1]["phone_number_id"].is_null());
  EXPECT_EQ(rows[1]["whatsapp_enabled"], false);

  // Someone else's number, a repeat, a number over a number, an unknown tenant, a bad body.
  auto taken = ds.Api("POST", Assign("t-2"), {{"phone_number_id", "100000000000001"}});
  EXPECT_EQ(taken.status, 409);
  EXPECT_NE(taken.body.find("already assigned to tenant t-1"), std::string::npos) << taken.body;
  auto repeat =
      ds.Api("POST", Assign("t-1"),
             {{"phone_number_id", "100000000000001"}, {"display_phone_number", "+34 612 345 678"}});
  EXPECT_EQ(repeat.status, 409);
  EXPECT_NE(repeat.body.find("already assigned to this tenant"), std::string::npos);
  auto over = ds.Api("POST", Assign("t-1"), {{"phone_number_id", "100000000000009"}});
  EXPECT_EQ(over.status, 409);
  EXPECT_NE(over.body.find("unassign it first"), std::string::npos);
  EXPECT_EQ(ds.Api("POST", Assign("nobody"), {{"phone_number_id", "1"}}).status, 404);
  EXPECT_EQ(ds.Api("POST", Assign("t-2"), json::object()).status, 422);

  auto assigned =
      ds.Api("POST", Assign("t-2"),
             {{"phone_number_id", "100000000000002"}, {"display_phone_number", "+34 600 000 002"}});
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(ds.Row("t-2")["phone_number_id"], "100000000000002");
  EXPECT_EQ(ds.Row("t-2")["whatsapp_enabled"], true);
  ASSERT_EQ(ds.Api("DELETE", Unassign("t-2")).status, 200);
  EXPECT_TRUE(ds.Row("t-2")["phone_number_id"].is_null());
  EXPECT_EQ(ds.Api("DELETE", Unassign("t-2")).status, 409);  // already unassigned

  json counts = ds.Requests();
  EXPECT_EQ(counts["list"], 2);  // the anonymous one counts too
  EXPECT_EQ(counts["assign"], 6);
  EXPECT_EQ(counts["unassign"], 2);
}

TEST(TenantDevserverTest, ControlChangesFaultsAndCounts) {
  TenantDevserver ds(kData, "");
  ASSERT_TRUE(ds.ok()) << ds.process().Stderr();
  EXPECT_EQ(ds.Api("GET", kTenantsPath).status, 200);  // no token configured: none needed

  // Behind the operator's back.
  ASSERT_EQ(ds.Control("PATCH", "/_control/tenants/t-2", {{"phone_number_id", "555"}}).status, 200);
  EXPECT_EQ(ds.Row("t-2")["phone_number_id"], "555");
  ASSERT_EQ(ds.Control("PUT", "/_control/tenants/t-3", {{"tenant_name", "Nueva"}}).status, 200);
  EXPECT_EQ(ds.Rows().size(), 3u);
  ASSERT_EQ(ds.Control("DELETE", "/_control/tenants/t-3").status, 200);
  EXPECT_EQ(ds.Rows().size(), 2u);

  // Two 503s on listings, then normal again; a bad fault is refused.
  ASSERT_EQ(
      ds.Control("POST", "/_control/faults", {{"status", 503}, {"method", "GET"}, {"count", 2}})
          .status,
      200);
  EXPECT_EQ(ds.Control("POST", "/_control/faults", {{"status", 1000}}).status, 400);
  ds.ResetRequests();
  EXPECT_EQ(ds.Api("GET", kTenantsPath).status, 503);
  EXPECT_EQ(ds.Api("GET", kTenantsPath).status, 503);
  EXPECT_EQ(ds.Api("GET", kTenantsPath).status, 200);
  EXPECT_EQ(ds.Requests()["list"], 3);
  EXPECT_EQ(ds.Requests()["total"], 3);
}

TEST(TenantDevserverTest, BadDataFileIsNamed) {
  TenantDevserver ds("tenants:\n  - tenant_name: x\n");
  EXPECT_FALSE(ds.ok());
  waop::testing::WaitFor([&] { return !ds.process().Running(); }, std::chrono::seconds(10));
  EXPECT_NE(ds.process().Stderr().find("tenants[0].tenant_id"), std::string::npos)
      << ds.process().Stderr();
}

}  // namespace
}  // namespace devserver::testing
