// The Kubernetes client and informer against the real kube-devserver binary (HTTP and HTTPS
// with a bearer token, paging, conflicts, watch bookmarks, dropped watches).
#include <gtest/gtest.h>

#include <functional>
#include <thread>

#include "devserver_test_util.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/http.h"
#include "kube/informer.h"

namespace waop::kube {
namespace {

using nlohmann::json;

bool Eventually(const std::function<bool()>& condition,
                std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

std::unique_ptr<Client> ClientFor(const devserver::testing::Devserver& server) {
  auto config = LoadKubeconfig(server.kubeconfig());
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return nullptr;
  auto transport = NewSocketTransport(*config);
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  if (!transport.ok()) return nullptr;
  return NewRestClient(*transport);
}

json Cm(const std::string& name, const std::string& value, bool managed = true) {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"namespace", "default"}, {"name", name}}},
             {"data", {{"k", value}}}};
  if (managed) cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] = "whatsapp-operator";
  return cm;
}

TEST(DevserverClientTest, CrudPagingAndConflictsOverHttpsWithToken) {
  devserver::testing::Devserver server({"--tls"});
  ASSERT_TRUE(server.ok());
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);

  auto created = client->Create(resources::kConfigMaps, Cm("a", "1"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(client->Create(resources::kConfigMaps, Cm("a", "1")).status().code(),
            StatusCode::kAlreadyExists);
  json changed = *created;
  changed["data"]["k"] = "2";
  ASSERT_TRUE(client->Update(resources::kConfigMaps, changed).ok());
  EXPECT_EQ(client->Update(resources::kConfigMaps, changed).status().code(), StatusCode::kConflict);
  auto patched = client->Patch(resources::kConfigMaps, "default", "a", PatchType::kMerge,
                               {{"data", {{"k", "3"}}}});
  ASSERT_TRUE(patched.ok()) << patched.status().ToString();
  EXPECT_EQ((*patched)["data"]["k"], "3");

  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client->Create(resources::kConfigMaps, Cm("p" + std::to_string(i), "x")).ok());
  }
  ListOptions options;
  options.limit = 2;
  options.label_selector = "app.kubernetes.io/managed-by=whatsapp-operator";
  std::size_t total = 0;
  int pages = 0;
  for (;;) {
    auto page = client->List(resources::kConfigMaps, "default", options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    total += page->items.size();
    ++pages;
    if (page->continue_token.empty()) break;
    options.continue_token = page->continue_token;
  }
  EXPECT_EQ(total, 6u);
  EXPECT_EQ(pages, 3);

  ASSERT_TRUE(client->Delete(resources::kConfigMaps, "default", "a").ok());
  EXPECT_EQ(client->Get(resources::kConfigMaps, "default", "a").status().code(),
            StatusCode::kNotFound);

  // Without the token the server refuses us, and says so as Unauthenticated.
  auto config = LoadKubeconfig(server.kubeconfig());
  ASSERT_TRUE(config.ok());
  config->token_source = nullptr;
  auto transport = NewSocketTransport(*config);
  ASSERT_TRUE(transport.ok());
  EXPECT_EQ(NewRestClient(*transport)->Get(resources::kConfigMaps, "default", "p0").status().code(),
            StatusCode::kUnauthenticated);
}

TEST(DevserverInformerTest, ConvergesThroughBookmarksAndDroppedWatches) {
  devserver::testing::Devserver server(
      {"--bookmark-interval-ms", "100", "--drop-watches-every", "1"});
  ASSERT_TRUE(server.ok());
  auto client = ClientFor(server);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Create(resources::kConfigMaps, Cm("seed", "0")).ok());
  ASSERT_TRUE(client->Create(resources::kConfigMaps, Cm("unrelated", "0", false)).ok());

  InformerOptions options;
  options.type = resources::kConfigMaps;
  options.label_selector = "app.kubernetes.io/managed-by=whatsapp-operator";
  options.page_size = 2;
  options.initial_backoff = std::chrono::milliseconds(10);
  options.max_backoff = std::chrono::milliseconds(100);
  Informer informer(*client, options);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(30)));
  EXPECT_EQ(informer.store().Keys(), (std::vector<std::string>{"default/seed"}));

  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(client->Create(resources::kConfigMaps, Cm("c" + std::to_string(i), "0")).ok());
  }
  ASSERT_TRUE(client->Delete(resources::kConfigMaps, "default", "seed").ok());
  ASSERT_TRUE(client
                  ->Patch(resources::kConfigMaps, "default", "c3", PatchType::kMerge,
                          {{"data", {{"k", "changed"}}}})
                  .ok());
  // Watches are dropped every second; the informer resumes and still sees everything.
  ASSERT_TRUE(Eventually([&] {
    auto c3 = informer.store().Get("default", "c3");
    return informer.store().Size() == 10u && informer.store().Get("default", "seed") == nullptr &&
           c3 && c3->at("data").at("k") == "changed";
  }));
  ASSERT_TRUE(Eventually([&] { return informer.Stats().watch_restarts >= 2; }));
  ASSERT_TRUE(Eventually([&] { return informer.Stats().bookmarks >= 1; }));
  EXPECT_EQ(informer.store().Get("default", "unrelated"), nullptr);
  const auto start = std::chrono::steady_clock::now();
  informer.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace waop::kube
