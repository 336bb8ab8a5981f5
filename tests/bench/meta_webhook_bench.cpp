// Time from Meta's quality webhook to the assignment's status: whatsapp-operator against
// kube-devserver (TLS) and graph-devserver, 20 assignments on 20 numbers. For each of 40 rating
// changes, graph-devserver changes the rating and sends a signed phone_number_quality_update
// to the operator's Meta webhook listener; the clock runs from that control call until the
// assignment's status.qualityRating shows the new rating (read over a keep-alive HTTPS
// connection every 2 ms). Prints min / p50 / p90 / max and the Graph calls each webhook cost.
// Exits non-zero only on a wrong result (a rating that never arrives within 10 s).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "bench_util.h"
#include "graph_devserver_util.h"

namespace {

using devserver::testing::GraphDevserver;
using nlohmann::json;
using namespace std::chrono_literals;
using waop::testing::KubeApi;

constexpr int kNumbers = 20;
constexpr int kChanges = 40;

std::string NumberId(int i) { return std::to_string(100000000000001LL + i); }

std::string RatingOf(KubeApi& api, int i) {
  auto a = api.GetJson(
      "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/bakery/"
      "whatsappassignments/tenant-" +
      std::to_string(i));
  if (!a.ok() || !a->contains("status") || !(*a)["status"].is_object()) return "";
  return (*a)["status"].value("qualityRating", "");
}

bool WaitRating(KubeApi& api, int i, const std::string& want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (RatingOf(api, i) == want) return true;
    std::this_thread::sleep_for(2ms);
  }
  return false;
}

int Run() {
  GraphDevserver graph(devserver::testing::GraphData(kNumbers));
  if (!graph.ok()) {
    std::fprintf(stderr, "graph-devserver did not start: %s\n", graph.process().Stderr().c_str());
    return 1;
  }
  waop::testing::TlsDevserver ds;
  if (!ds.ok()) {
    std::fprintf(stderr, "kube-devserver did not start: %s\n", ds.Log().c_str());
    return 1;
  }
  auto api = KubeApi::FromKubeconfig(ds.kubeconfig());
  if (!api.ok()) return 1;

  waop::testing::TempDir creds;
  auto key = [&](const std::string& name, const std::string& value) {
    std::ofstream(creds.File(name)) << value << "\n";
  };
  key("WHATSAPP_ACCESS_TOKEN", devserver::testing::kGraphToken);
  key("WHATSAPP_BUSINESS_ACCOUNT_ID", devserver::testing::kGraphWaba);
  key("WHATSAPP_APP_SECRET", devserver::testing::kGraphAppSecret);
  key("WHATSAPP_WEBHOOK_VERIFY_TOKEN", "verify-me");

  if (!(*api)
           ->Send(
               "POST", "/api/v1/namespaces",
               json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", "bakery"}}}}
                   .dump())
           .ok()) {
    return 1;
  }
  for (int i = 0; i < kNumbers; ++i) {
    json a = {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppAssignment"},
              {"metadata", {{"name", "tenant-" + std::to_string(i)}, {"namespace", "bakery"}}},
              {"spec",
               {{"tenantId", "tenant-" + std::to_string(i)},
                {"tenantName", "Bakery " + std::to_string(i)},
                {"phoneNumberId", NumberId(i)}}}};
    auto r = (*api)->Send("POST",
                          "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/bakery/"
                          "whatsappassignments",
                          a.dump());
    if (!r.ok() || r->status != 201) {
      std::fprintf(stderr, "create tenant-%d failed\n", i);
      return 1;
    }
  }

  waop::testing::TempDir logs;
  const int webhook_port = waop::testing::FreePort();
  waop::testing::OperatorProcess op(
      "operator", ds.kubeconfig(),
      {"--credentials-dir", creds.path().string(), "--graph-api-url", graph.url(),
       "--quality-refresh-interval=1h", "--meta-webhook-bind-address",
       "127.0.0.1:" + std::to_string(webhook_port), "--log-level=warn"},
      logs.path());
  // Every assignment shows Meta's first rating (the first listing) before the clock starts.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kNumbers; ++i) {
    while (RatingOf(**api, i).empty() || RatingOf(**api, i) == "UNKNOWN") {
      if (std::chrono::steady_clock::now() - start > 120s) {
        std::fprintf(stderr, "tenant-%d never showed a rating\n", i);
        return 1;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  const std::string hook = "http://127.0.0.1:" + std::to_string(webhook_port) + "/meta/webhook";
  const char* ratings[] = {"YELLOW", "RED", "GREEN"};
  std::vector<double> ms;
  const long long calls_before = graph.RequestTotal();
  for (int c = 0; c < kChanges; ++c) {
    const int i = c % kNumbers;
    std::string want = ratings[c % 3];
    if (want == RatingOf(**api, i)) want = ratings[(c + 1) % 3];
    const auto sent = std::chrono::steady_clock::now();
    auto r = graph.Control("PATCH", "/_control/phone-numbers/" + NumberId(i),
                           {{"qualityRating", want}, {"webhook", {{"url", hook}}}});
    if (r.status != 200) {
      std::fprintf(stderr, "graph-devserver control call failed: %d %s\n", r.status,
                   r.body.c_str());
      return 1;
    }
    if (!WaitRating(**api, i, want, 10s)) {
      std::fprintf(stderr, "change %d: tenant-%d never showed %s\n", c, i, want.c_str());
      return 1;
    }
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
  }
  // The listing calls made meanwhile are the webhooks' refreshes (the periodic one is 1 h).
  const double calls_per_webhook =
      static_cast<double>(graph.RequestTotal() - calls_before) / kChanges;
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * static_cast<double>(ms.size())))];
  };
  std::printf(
      "Meta webhook to assignment status (%d changes, %d assignments): min %.0f ms, p50 %.0f ms, "
      "p90 %.0f ms, max %.0f ms; %.1f Graph calls per webhook\n",
      kChanges, kNumbers, ms.front(), pct(0.5), pct(0.9), ms.back(), calls_per_webhook);
  return 0;
}

}  // namespace

int main() { return Run(); }
