// Meta's side end to end: the operator binary against kube-devserver (HTTPS) and graph-devserver
// (HTTP), both on 127.0.0.1, driven by the real kubectl. Ratings reach `kubectl get wapn` and
// `kubectl get wa`; a signed quality webhook shows a new rating within 5 s; a badly signed one
// changes nothing and costs Meta no call; a token rotated at Meta is refused until the mounted
// Secret follows, then the new token is what graph-devserver sees; a rate limit keeps the last
// rating, says so in QualitySynced and makes no retry storm; no secret reaches logs or objects.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "e2e_util.h"
#include "graph_devserver_util.h"

namespace waop::e2e {
namespace {

namespace fs = std::filesystem;
using devserver::testing::GraphDevserver;
using nlohmann::json;
using waop::testing::WaitFor;
using namespace std::chrono_literals;

constexpr char kNumber[] = "100000000000001";  // "+34 612 345 678", GREEN
constexpr char kRotatedToken[] = "EAAG-rotated-at-meta-93c1";

// Replaces one key's file atomically (write aside, rename), so the operator's poller never
// reads it half written.
void WriteKey(const fs::path& dir, const std::string& key, const std::string& value) {
  std::ofstream(dir / (".tmp-" + key)) << value << "\n";
  fs::rename(dir / (".tmp-" + key), dir / key);
}

// Any change of the mounted Secret makes the operator list again at once.
void Touch(const fs::path& dir, const std::string& marker) {
  WriteKey(dir, "WHATSAPP_PHONE_NUMBER_ID", marker);
}

void WriteCredentials(const fs::path& dir, const std::string& token, const std::string& marker) {
  WriteKey(dir, "WHATSAPP_ACCESS_TOKEN", token);
  std::ofstream(dir / "WHATSAPP_BUSINESS_ACCOUNT_ID") << devserver::testing::kGraphWaba << "\n";
  std::ofstream(dir / "WHATSAPP_APP_SECRET") << devserver::testing::kGraphAppSecret << "\n";
  std::ofstream(dir / "WHATSAPP_WEBHOOK_VERIFY_TOKEN") << "verify-me\n";
  Touch(dir, marker);
}

TEST(MetaE2eTest, RatingsWebhookRotationAndFaults) {
  GraphDevserver graph(devserver::testing::GraphData(3));
  ASSERT_TRUE(graph.ok()) << graph.process().Stderr();
  E2eCluster cluster;
  ASSERT_TRUE(cluster.ok()) << "kube-devserver did not start";
  waop::testing::TempDir creds;
  WriteCredentials(creds.path(), devserver::testing::kGraphToken, "1");
  const int webhook_port = waop::testing::FreePort();
  // The operator's own Pod, as the chart names it through the downward API: changes of Meta's
  // health are Events on it.
  ASSERT_EQ(cluster.Kubectl({"create", "namespace", "whatsapp-system"}).exit_code, 0);
  OperatorProcess op(
      cluster,
      {"--credentials-dir", creds.path().string(), "--credentials-poll-interval=200ms",
       "--graph-api-url", graph.url(), "--quality-refresh-interval=1h",
       "--meta-webhook-bind-address", "127.0.0.1:" + std::to_string(webhook_port)},
      {{"POD_NAME", "whatsapp-operator-7d9f-abcde"}, {"POD_NAMESPACE", "whatsapp-system"}});
  ASSERT_TRUE(op.ok());
  ASSERT_TRUE(op.WaitReady(120s)) << "operator never ready";
  ASSERT_EQ(cluster.Kubectl({"create", "namespace", "bakery"}).exit_code, 0);
  auto applied = cluster.Kubectl(
      {"apply", "-f", "-"},
      "apiVersion: whatsapp.bakery-ia.io/v1alpha1\nkind: WhatsAppAssignment\nmetadata:\n"
      "  name: san-juan\n  namespace: bakery\nspec:\n  tenantId: san-juan\n"
      "  tenantName: \"Panadería San Juan\"\n  phoneNumberId: \"" +
          std::string(kNumber) + "\"\n");
  ASSERT_EQ(applied.exit_code, 0) << applied.Both();

  auto assignment = [&] { return cluster.GetJson({"wa", "san-juan", "-n", "bakery"}); };
  auto rating = [&] {
    auto a = assignment();
    return a ? (*a)["status"].value("qualityRating", "") : std::string();
  };
  auto synced_reason = [&] {
    auto a = assignment();
    auto c = a ? Condition(*a, "QualitySynced") : std::nullopt;
    return c ? (*c).value("reason", "") : std::string();
  };
  // The Events on the operator's Pod with `reason`.
  auto pod_events = [&](const std::string& reason) {
    std::vector<json> found;
    auto events = cluster.GetJson({"events", "-n", "whatsapp-system"});
    if (!events) return found;
    for (const json& e : (*events)["items"]) {
      const json& involved = e["involvedObject"];
      if (e.value("reason", "") == reason && involved.value("kind", "") == "Pod" &&
          involved.value("name", "") == "whatsapp-operator-7d9f-abcde") {
        found.push_back(e);
      }
    }
    return found;
  };

  // The inventory and the ratings, as an admin sees them.
  ASSERT_TRUE(
      WaitFor([&] { return rating() == "GREEN" && synced_reason() == "Synced"; }, 60s, 100ms))
      << "assignment never showed Meta's rating; reason " << synced_reason();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto l = cluster.GetJson({"wapn"});
        return l && (*l)["items"].size() == 3;
      },
      30s, 100ms));
  auto wapn = cluster.Kubectl({"get", "wapn"});
  ASSERT_EQ(wapn.exit_code, 0) << wapn.Both();
  std::cout << wapn.out;
  EXPECT_NE(wapn.out.find("Panadería San Juan"), std::string::npos) << wapn.out;
  EXPECT_NE(wapn.out.find("+34 612 345 678"), std::string::npos);
  EXPECT_NE(wapn.out.find("GREEN"), std::string::npos);
  auto wa = cluster.Kubectl({"get", "wa", "-n", "bakery"});
  std::cout << wa.out;
  EXPECT_NE(wa.out.find("GREEN"), std::string::npos) << wa.out;
  auto a = assignment();
  ASSERT_TRUE(a);
  EXPECT_EQ((*a)["status"]["displayPhoneNumber"], "+34 612 345 678");
  EXPECT_EQ((*a)["status"]["verifiedName"], "Bakery 1");
  EXPECT_EQ(Condition(*a, "TemplateApproved").value_or(json::object()).value("status", ""), "True");

  // A rating change announced by a signed webhook shows within 5 s.
  const auto sent = std::chrono::steady_clock::now();
  auto patched = graph.Control(
      "PATCH", std::string("/_control/phone-numbers/") + kNumber,
      {{"qualityRating", "RED"},
       {"webhook",
        {{"url", "http://127.0.0.1:" + std::to_string(webhook_port) + "/meta/webhook"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  ASSERT_TRUE(WaitFor([&] { return rating() == "RED"; }, 5s, 50ms))
      << "the webhook's rating did not arrive within 5 s";
  std::cout << "webhook to status: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - sent)
                   .count()
            << " ms\n";
  EXPECT_TRUE(WaitFor(
      [&] {
        auto events = cluster.GetJson({"events", "-n", "bakery"});
        if (!events) return false;
        for (const json& e : (*events)["items"]) {
          if (e.value("reason", "") == "QualityDropped" && e.value("type", "") == "Warning") {
            return true;
          }
        }
        return false;
      },
      10s, 100ms));

  // A webhook with a bad signature: 401, no call to Meta, nothing changes.
  ASSERT_EQ(graph
                .Control("PATCH", std::string("/_control/phone-numbers/") + kNumber,
                         {{"qualityRating", "YELLOW"}})
                .status,
            200);
  const long long calls_before = graph.RequestTotal();
  const std::string forged =
      R"({"object":"whatsapp_business_account","entry":[{"id":"x","changes":[{"field":)"
      R"("phone_number_quality_update","value":{"display_phone_number":"34612345678",)"
      R"("event":"UPGRADE"}}]}]})";
  auto rejected =
      devserver::testing::Http(webhook_port, "POST", "/meta/webhook", forged,
                               {{"X-Hub-Signature-256", "sha256=" + std::string(64, '0')},
                                {"Content-Type", "application/json"}});
  EXPECT_EQ(rejected.status, 401);
  std::this_thread::sleep_for(1s);  // what the forged webhook would have caused, had it worked
  EXPECT_EQ(graph.RequestTotal(), calls_before);
  EXPECT_EQ(rating(), "RED");

  // Meta rotates the token: refused (one health change), until the Secret follows.
  ASSERT_EQ(graph.Control("PUT", "/_control/token", {{"token", kRotatedToken}}).status, 200);
  Touch(creds.path(), "2");  // a refresh, with the old token
  ASSERT_TRUE(WaitFor([&] { return synced_reason() == "TokenRejected"; }, 15s, 100ms))
      << synced_reason();
  EXPECT_EQ(rating(), "RED") << "the last known rating is kept";
  WriteKey(creds.path(), "WHATSAPP_ACCESS_TOKEN", kRotatedToken);
  ASSERT_TRUE(
      WaitFor([&] { return synced_reason() == "Synced" && rating() == "YELLOW"; }, 15s, 100ms))
      << "the rotated token never reached graph-devserver; reason " << synced_reason();
  // The refused token was one Warning on the operator's Pod (one health change, not one per
  // refresh), and the recovery a Normal one.
  ASSERT_TRUE(WaitFor([&] { return pod_events("TokenRejected").size() == 1; }, 10s, 100ms));
  {
    const json e = pod_events("TokenRejected").front();
    EXPECT_EQ(e.value("type", ""), "Warning");
    EXPECT_EQ(e.value("count", 1), 1) << e.dump();
    EXPECT_NE(e.value("message", "").find("token"), std::string::npos) << e.dump();
  }
  EXPECT_TRUE(WaitFor([&] { return !pod_events("Synced").empty(); }, 10s, 100ms));
  for (const json& e : pod_events("Synced")) EXPECT_EQ(e.value("type", ""), "Normal");

  // A rate limit: last rating kept, marked stale, and no retry storm.
  ASSERT_EQ(graph
                .Control("POST", "/_control/faults",
                         {{"type", "graphError"}, {"code", 80007}, {"count", -1}})
                .status,
            201);
  const long long before_limit = graph.RequestTotal();
  Touch(creds.path(), "4");
  ASSERT_TRUE(WaitFor([&] { return synced_reason() == "RateLimited"; }, 15s, 100ms))
      << synced_reason();
  EXPECT_EQ(rating(), "YELLOW");
  EXPECT_TRUE(WaitFor([&] { return pod_events("RateLimited").size() == 1; }, 10s, 100ms));
  std::this_thread::sleep_for(3s);
  EXPECT_LE(graph.RequestTotal() - before_limit, 3) << "a rate limit must slow the refresher down";
  ASSERT_EQ(graph.Control("DELETE", "/_control/faults").status, 200);
  Touch(creds.path(), "5");
  ASSERT_TRUE(WaitFor([&] { return synced_reason() == "Synced"; }, 15s, 100ms));

  // No secret anywhere an admin or a log collector looks.
  ASSERT_TRUE(op.Stop().has_value());
  const std::string logs = op.Logs();
  for (const std::string& s :
       {std::string(devserver::testing::kGraphToken), std::string(kRotatedToken),
        std::string(devserver::testing::kGraphAppSecret)}) {
    EXPECT_EQ(logs.find(s), std::string::npos) << "a secret reached the logs";
    for (const char* kind : {"wa", "wapn", "events", "configmaps"}) {
      auto all = cluster.GetJson({kind, "-A"});
      ASSERT_TRUE(all);
      EXPECT_EQ(all->dump().find(s), std::string::npos) << "a secret reached " << kind;
    }
  }
}

}  // namespace
}  // namespace waop::e2e
