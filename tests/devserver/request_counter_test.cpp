// RequestCounter: counts by verb/resource/subresource and by client, and filters on a client.
#include <gtest/gtest.h>

#include "faults.h"

namespace devserver {
namespace {

using nlohmann::json;

TEST(RequestCounter, ClientIsTheUserAgentsProductToken) {
  EXPECT_EQ(RequestCounter::ClientOf("kubectl/v1.32.0 (linux/amd64) kubernetes/abc"), "kubectl");
  EXPECT_EQ(RequestCounter::ClientOf("whatsapp-operator/0.1.0"), "whatsapp-operator");
  EXPECT_EQ(RequestCounter::ClientOf("curl 8.0"), "curl");
  EXPECT_EQ(RequestCounter::ClientOf(""), "");
}

TEST(RequestCounter, CountsByClientAndFiltersOnOne) {
  RequestCounter c;
  c.Count("create", "configmaps", "", "whatsapp-operator/0.1.0");
  c.Count("create", "configmaps", "", "whatsapp-operator/0.1.0");
  c.Count("update", "whatsappassignments", "status", "whatsapp-operator/0.1.0");
  c.Count("create", "configmaps", "", "kubectl/v1.32.0 (linux/amd64)");
  c.Count("list", "configmaps", "", "");

  json all = c.ToJson();
  EXPECT_EQ(all["all"], 5);
  EXPECT_EQ(all["total"]["create"], 3);
  EXPECT_EQ(all["by"].size(), 4u);  // the operator's two creates are one row

  json op = c.ToJson("whatsapp-operator");
  EXPECT_EQ(op["all"], 3);
  EXPECT_EQ(op["total"], json({{"create", 2}, {"update", 1}}));
  ASSERT_EQ(op["by"].size(), 2u);
  for (const auto& row : op["by"]) EXPECT_EQ(row["client"], "whatsapp-operator");
  EXPECT_EQ(op["by"][1], json({{"verb", "update"},
                               {"resource", "whatsappassignments"},
                               {"subresource", "status"},
                               {"client", "whatsapp-operator"},
                               {"count", 1}}));

  EXPECT_EQ(c.ToJson("nobody")["all"], 0);
  c.Reset();
  EXPECT_EQ(c.ToJson()["all"], 0);
}

}  // namespace
}  // namespace devserver
