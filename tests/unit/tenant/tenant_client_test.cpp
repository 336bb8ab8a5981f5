// The cpprest tenant-service client against tenant-devserver over HTTP on 127.0.0.1: the three
// calls, the bearer token, the service's own messages, 5xx and timeouts as kUnavailable, and the
// token never in an error.
#include "tenant/tenant_client.h"

#include <gtest/gtest.h>

#include "tenant_devserver_util.h"

namespace waop::tenant {
namespace {

using devserver::testing::kTenantToken;
using devserver::testing::TenantDevserver;

constexpr char kData[] = R"(tenants:
  - {tenant_id: t-1, tenant_name: "Panadería", phone_number_id: "111",
     display_phone_number: "+34 612 345 678"}
  - {tenant_id: t-2}
)";

std::unique_ptr<TenantServiceClient> Client(
    const TenantDevserver& ds, std::string token,
    std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  TenantClientOptions o;
  o.base_url = ds.url();
  o.token = [token] { return token; };
  o.timeout = timeout;
  auto c = NewTenantServiceClient(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(TenantClientTest, ListAssignUnassign) {
  TenantDevserver ds(kData);
  ASSERT_TRUE(ds.ok());
  auto c = Client(ds, kTenantToken);
  auto rows = c->ListTenants();
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].tenant_name, "Panadería");
  EXPECT_EQ((*rows)[0].phone_number_id, "111");

  ASSERT_TRUE(c->AssignPhone("t-2", "222", "+34 600 000 222").ok());
  EXPECT_EQ(ds.Row("t-2")["phone_number_id"], "222");
  auto repeat = c->AssignPhone("t-2", "222", "+34 600 000 222");
  EXPECT_EQ(repeat.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(repeat.message().find("already assigned to this tenant"), std::string::npos);
  auto unknown = c->AssignPhone("nobody", "333", "");
  EXPECT_EQ(unknown.code(), StatusCode::kNotFound);
  EXPECT_NE(unknown.message().find("Tenant nobody not found"), std::string::npos);
  ASSERT_TRUE(c->UnassignPhone("t-2").ok());
  EXPECT_TRUE(ds.Row("t-2")["phone_number_id"].is_null());
  EXPECT_EQ(c->UnassignPhone("t-2").code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(c->AssignPhone("../x", "1", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ds.Requests()["total"], 6);  // the bad id never left the process
}

TEST(TenantClientTest, ErrorsAreClassifiedAndCarryNoToken) {
  TenantDevserver ds(kData);
  ASSERT_TRUE(ds.ok());
  auto wrong = Client(ds, "wrong-token-value");
  auto denied = wrong->ListTenants();
  EXPECT_EQ(denied.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(denied.status().message().find("wrong-token-value"), std::string::npos);

  auto c = Client(ds, kTenantToken, std::chrono::milliseconds(300));
  ASSERT_EQ(ds.Control("POST", "/_control/faults",
                       {{"status", 502}, {"body", R"({"detail":"upstream down"})"}})
                .status,
            200);
  auto down = c->ListTenants();
  EXPECT_EQ(down.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(down.status().message().find("HTTP 502: upstream down"), std::string::npos);

  ASSERT_EQ(ds.Control("POST", "/_control/faults", {{"delayMs", 1500}}).status, 200);
  const auto start = std::chrono::steady_clock::now();
  auto slow = c->ListTenants();
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(slow.status().message().find("timed out after 300 ms"), std::string::npos)
      << slow.status().message();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1200));

  TenantClientOptions bad;
  bad.base_url = "ftp://x";
  EXPECT_EQ(NewTenantServiceClient(bad).status().code(), StatusCode::kInvalidArgument);
  bad.base_url = "http://x/?q=1";
  EXPECT_EQ(NewTenantServiceClient(bad).status().code(), StatusCode::kInvalidArgument);

  // A service that is not there at all.
  TenantClientOptions gone;
  gone.base_url = "http://127.0.0.1:1";
  auto none = NewTenantServiceClient(gone);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ((*none)->ListTenants().status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace waop::tenant
