// The master credentials end to end: the operator binary reads a credentials directory laid out
// exactly as kubelet mounts a Secret, publishes Secret whatsapp-master-credentials into the two
// namespaces holding assignments, follows a rotation (a `..data` swap) within a few poll
// intervals, removes a copy when its namespace's last assignment goes, answers Meta's webhook
// verification, and never logs the token.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>

#include "e2e_util.h"
#include "kube/config.h"

namespace waop::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using waop::testing::WaitFor;
using namespace std::chrono_literals;

constexpr char kToken1[] = "EAAG-e2e-token-first-7f3a9c";
constexpr char kToken2[] = "EAAG-e2e-token-rotated-b81d2e";
constexpr char kAppSecret[] = "e2e-app-secret-5521";

std::map<std::string, std::string> Values(const std::string& token) {
  return {{"WHATSAPP_ACCESS_TOKEN", token},
          {"WHATSAPP_BUSINESS_ACCOUNT_ID", "1029384756"},
          {"WHATSAPP_PHONE_NUMBER_ID", "123456789012345"},
          {"WHATSAPP_API_VERSION", "v21.0"},
          {"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "e2e-verify"},
          {"WHATSAPP_APP_SECRET", kAppSecret}};
}

// kubelet's atomic writer: a new timestamped directory, a `..data_tmp` symlink renamed over
// `..data`, per-key symlinks through `..data`, the old directory removed.
void PublishVersion(const fs::path& dir, int version, const std::map<std::string, std::string>& v,
                    const std::string& previous) {
  const std::string name = "..2026_11_27_10_00_0" + std::to_string(version) + ".000";
  fs::create_directory(dir / name);
  for (const auto& [k, value] : v) std::ofstream(dir / name / k) << value << "\n";
  fs::create_directory_symlink(name, dir / "..data_tmp");
  fs::rename(dir / "..data_tmp", dir / "..data");
  for (const auto& [k, value] : v) {
    if (!fs::is_symlink(dir / k)) fs::create_symlink(fs::path("..data") / k, dir / k);
  }
  if (!previous.empty()) fs::remove_all(dir / previous);
}

std::string Assignment(const std::string& ns, const std::string& name, const std::string& tenant,
                       const std::string& phone) {
  return "apiVersion: whatsapp.bakery-ia.io/v1alpha1\nkind: WhatsAppAssignment\nmetadata:\n"
         "  name: " +
         name + "\n  namespace: " + ns + "\nspec:\n  tenantId: " + tenant +
         "\n  phoneNumberId: \"" + phone + "\"\n";
}

TEST(CredentialsE2eTest, PublishesRotatesAndNeverLogsTheToken) {
  E2eCluster cluster;
  ASSERT_TRUE(cluster.ok()) << "kube-devserver did not start";
  waop::testing::TempDir creds;
  PublishVersion(creds.path(), 1, Values(kToken1), "");
  const int webhook_port = waop::testing::FreePort();
  auto op = std::make_unique<OperatorProcess>(
      cluster, std::vector<std::string>{
                   "--credentials-dir", creds.path().string(), "--credentials-poll-interval=200ms",
                   // Meta is not part of this test: a closed loopback port, never the internet.
                   "--graph-api-url", "http://127.0.0.1:1", "--meta-webhook-bind-address",
                   "127.0.0.1:" + std::to_string(webhook_port)});
  ASSERT_TRUE(op->ok());
  ASSERT_TRUE(op->WaitReady(120s)) << "operator never ready";

  for (const char* ns : {"tenant-a", "tenant-b"}) {
    auto r = cluster.Kubectl({"create", "namespace", ns});
    ASSERT_EQ(r.exit_code, 0) << r.Both();
  }
  auto applied = cluster.Kubectl({"apply", "-f", "-"},
                                 Assignment("tenant-a", "one", "tenant-one", "111") + "---\n" +
                                     Assignment("tenant-b", "two", "tenant-two", "222"));
  ASSERT_EQ(applied.exit_code, 0) << applied.Both();

  auto secret = [&](const std::string& ns) {
    return cluster.GetJson({"secret", "whatsapp-master-credentials", "-n", ns});
  };
  auto token_in = [&](const std::string& ns) -> std::string {
    auto s = secret(ns);
    if (!s || !(*s)["data"].contains("WHATSAPP_ACCESS_TOKEN")) return "";
    auto d = kube::DecodeBase64((*s)["data"]["WHATSAPP_ACCESS_TOKEN"].get<std::string>());
    return d.ok() ? *d : "";
  };
  ASSERT_TRUE(WaitFor([&] { return token_in("tenant-a") == kToken1; }, 60s, 200ms));
  ASSERT_TRUE(WaitFor([&] { return token_in("tenant-b") == kToken1; }, 60s, 200ms));
  auto first = secret("tenant-a");
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["type"], "Opaque");
  EXPECT_EQ((*first)["metadata"]["labels"]["app.kubernetes.io/managed-by"], "whatsapp-operator");
  EXPECT_FALSE((*first)["data"].contains("WHATSAPP_APP_SECRET"));
  const std::string hash1 =
      (*first)["metadata"]["annotations"].value("whatsapp.bakery-ia.io/content-hash", "");
  EXPECT_EQ(hash1.size(), 64u);

  // Rotation: both copies follow within a few poll intervals.
  const auto rotated_at = std::chrono::steady_clock::now();
  PublishVersion(creds.path(), 2, Values(kToken2), "..2026_11_27_10_00_01.000");
  ASSERT_TRUE(
      WaitFor([&] { return token_in("tenant-a") == kToken2 && token_in("tenant-b") == kToken2; },
              30s, 100ms))
      << "the rotation did not reach both namespaces";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - rotated_at);
  std::cout << "rotation reached both namespaces in " << took.count() << " ms\n";
  EXPECT_LT(took, 10s);
  auto second = secret("tenant-b");
  ASSERT_TRUE(second);
  EXPECT_NE((*second)["metadata"]["annotations"].value("whatsapp.bakery-ia.io/content-hash", ""),
            hash1);

  // Meta's webhook verification answers with the challenge for the mounted verify token.
  auto verify = devserver::testing::Http(
      webhook_port, "GET",
      "/meta/webhook?hub.mode=subscribe&hub.verify_token=e2e-verify&hub.challenge=4242");
  EXPECT_EQ(verify.status, 200);
  EXPECT_EQ(verify.body, "4242");

  // The last assignment of tenant-b goes: so does its copy; tenant-a keeps its own.
  auto deleted = cluster.Kubectl({"delete", "wa", "two", "-n", "tenant-b"});
  ASSERT_EQ(deleted.exit_code, 0) << deleted.Both();
  EXPECT_TRUE(WaitFor([&] { return !secret("tenant-b"); }, 30s, 200ms));
  EXPECT_EQ(token_in("tenant-a"), kToken2);

  ASSERT_TRUE(op->Stop().has_value());
  const std::string logs = op->Logs();
  EXPECT_NE(logs.find("WhatsApp master account configured"), std::string::npos);
  EXPECT_NE(logs.find("WhatsApp master credentials changed"), std::string::npos);
  for (const char* secret_value : {kToken1, kToken2, kAppSecret}) {
    // Do not print the logs: they would carry the secret into the test output.
    EXPECT_EQ(logs.find(secret_value), std::string::npos) << "a secret value reached the logs";
  }
  EXPECT_EQ(logs.find(cluster.token()), std::string::npos);

  // Every request it made (the Secrets included) is granted by docs/operating.md's table.
  auto requests = cluster.Requests("whatsapp-operator");
  ASSERT_TRUE(requests);
  EXPECT_EQ(Ungranted(DocumentedPermissions(), *requests), std::set<std::string>{})
      << "the operator made requests docs/operating.md does not grant";
  EXPECT_TRUE(RequestedPermissions(*requests).count("create secrets")) << DescribeWrites(*requests);
}

}  // namespace
}  // namespace waop::e2e
