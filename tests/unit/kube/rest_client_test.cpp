#include <cpprest/producerconsumerstream.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kube/client.h"
#include "kube/http.h"
#include "raw_stream_server.h"
#include "test_server.h"
#include "tls/certs.h"

namespace waop::kube {
namespace {

using nlohmann::json;
using testing::RecordedRequest;
using testing::TestServer;
using web::http::http_request;
using web::http::http_response;

constexpr char kToken[] = "bearer-secret-abc123";

class MutableTokenSource final : public TokenSource {
 public:
  Result<std::string> Token() override {
    std::lock_guard lock(mu_);
    return token_;
  }
  void Set(std::string t) {
    std::lock_guard lock(mu_);
    token_ = std::move(t);
  }

 private:
  std::mutex mu_;
  std::string token_ = kToken;
};

void ReplyJson(http_request& req, int status, const json& body) {
  http_response resp(static_cast<web::http::status_code>(status));
  resp.set_body(body.dump(), "application/json");
  req.reply(resp).wait();
}

std::unique_ptr<Client> MakeClient(const std::string& url,
                                   std::shared_ptr<TokenSource> token = nullptr) {
  ClusterConfig config;
  config.server = url;
  config.token_source = token ? token : std::make_shared<StaticTokenSource>(kToken);
  auto transport = NewSocketTransport(config);
  EXPECT_TRUE(transport.ok()) << transport.status().ToString();
  return NewRestClient(*transport, std::chrono::seconds(10));
}

json ConfigMap(const std::string& ns, const std::string& name, const std::string& rv = "") {
  json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"namespace", ns}, {"name", name}}},
             {"data", {{"k", "v"}}}};
  if (!rv.empty()) cm["metadata"]["resourceVersion"] = rv;
  return cm;
}

TEST(RestClientTest, GetSendsHeadersAndDecodes) {
  auto server = TestServer::Start([](http_request req, const RecordedRequest&) {
    ReplyJson(req, 200, ConfigMap("bakery-ia", "settings", "42"));
  });
  ASSERT_NE(server, nullptr);
  auto tokens = std::make_shared<MutableTokenSource>();
  auto client = MakeClient(server->url(), tokens);
  auto obj = client->Get(resources::kConfigMaps, "bakery-ia", "settings");
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(ObjectResourceVersion(*obj), "42");

  tokens->Set("rotated-token");
  ASSERT_TRUE(client->Get(resources::kConfigMaps, "bakery-ia", "settings").ok());

  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].method, "GET");
  EXPECT_EQ(reqs[0].path_and_query, "/api/v1/namespaces/bakery-ia/configmaps/settings");
  EXPECT_EQ(reqs[0].Header("Authorization"), std::string("Bearer ") + kToken);
  EXPECT_EQ(reqs[1].Header("Authorization"), "Bearer rotated-token");
  EXPECT_EQ(reqs[0].Header("User-Agent"), "whatsapp-operator/0.1.0");
  EXPECT_EQ(reqs[0].Header("Accept"), "application/json");
}

TEST(RestClientTest, TransportKeepsAUserAgentTheCallerSets) {
  auto server = TestServer::Start(
      [](http_request req, const RecordedRequest&) { ReplyJson(req, 200, json::object()); });
  ASSERT_NE(server, nullptr);
  ClusterConfig config;
  config.server = server->url();
  config.token_source = std::make_shared<StaticTokenSource>(kToken);
  auto transport = NewSocketTransport(config);
  ASSERT_TRUE(transport.ok()) << transport.status().ToString();
  HttpRequest request;
  request.method = "GET";
  request.path = "/version";
  request.headers.emplace_back("User-Agent", "waop-test-client/1");
  auto r = (*transport)->Send(request);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  request.headers.clear();
  ASSERT_TRUE((*transport)->Send(request).ok());
  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].Header("User-Agent"), "waop-test-client/1");
  EXPECT_EQ(reqs[1].Header("User-Agent"), "whatsapp-operator/0.1.0");
}

TEST(RestClientTest, ListEncodesOptionsAndFillsKinds) {
  auto server = TestServer::Start([](http_request req, const RecordedRequest&) {
    ReplyJson(req, 200,
              {{"kind", "WhatsAppAssignmentList"},
               {"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
               {"metadata", {{"resourceVersion", "77"}, {"continue", "next-page"}}},
               {"items", json::array({{{"metadata", {{"name", "a"}, {"namespace", "x"}}}}})}});
  });
  ASSERT_NE(server, nullptr);
  auto client = MakeClient(server->url());
  ListOptions options;
  options.label_selector = "app.kubernetes.io/managed-by=whatsapp-operator,tier in (a,b)";
  options.limit = 500;
  options.continue_token = "tok=";
  auto list = client->List(resources::kWhatsAppAssignments, "", options);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_EQ(list->resource_version, "77");
  EXPECT_EQ(list->continue_token, "next-page");
  ASSERT_EQ(list->items.size(), 1u);
  EXPECT_EQ(list->items[0]["kind"], "WhatsAppAssignment");
  EXPECT_EQ(list->items[0]["apiVersion"], "whatsapp.bakery-ia.io/v1alpha1");
  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path_and_query,
            "/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappassignments"
            "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Dwhatsapp-operator%2Ctier%20in%20%28a%"
            "2Cb%29&limit=500&continue=tok%3D");
}

TEST(RestClientTest, WriteVerbs) {
  auto server = TestServer::Start([](http_request req, const RecordedRequest& r) {
    if (r.method == "DELETE") {
      ReplyJson(req, 200, {{"kind", "Status"}, {"status", "Success"}});
      return;
    }
    json body = r.body.empty() ? json::object() : json::parse(r.body);
    if (r.method == "PATCH") body = ConfigMap("ns", "n", "5");
    ReplyJson(req, r.method == "POST" ? 201 : 200, body);
  });
  ASSERT_NE(server, nullptr);
  auto client = MakeClient(server->url());
  ASSERT_TRUE(client->Create(resources::kConfigMaps, ConfigMap("ns", "n")).ok());
  ASSERT_TRUE(client->Update(resources::kConfigMaps, ConfigMap("ns", "n", "3")).ok());
  json wa = {{"metadata", {{"namespace", "ns"}, {"name", "wa1"}, {"resourceVersion", "4"}}},
             {"status", {{"qualityRating", "GREEN"}}}};
  ASSERT_TRUE(client->UpdateStatus(resources::kWhatsAppAssignments, wa).ok());
  ASSERT_TRUE(client
                  ->Patch(resources::kWhatsAppPhoneNumbers, "", "123", PatchType::kMerge,
                          {{"status", {{"qualityRating", "RED"}}}}, "status")
                  .ok());
  ASSERT_TRUE(client
                  ->Patch(resources::kConfigMaps, "ns", "n", PatchType::kJsonPatch,
                          json::array({{{"op", "remove"}, {"path", "/data/k"}}}))
                  .ok());
  DeleteOptions del;
  del.propagation_policy = "Foreground";
  del.precondition_uid = "uid-1";
  ASSERT_TRUE(client->Delete(resources::kLeases, "ns", "leader", del).ok());

  // Refused locally: an Update without resourceVersion would silently overwrite.
  auto no_rv = client->Update(resources::kConfigMaps, ConfigMap("ns", "n"));
  EXPECT_EQ(no_rv.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(no_rv.status().message().find("metadata.resourceVersion is required"),
            std::string::npos);
  auto no_ns = client->Create(resources::kConfigMaps, ConfigMap("", "n"));
  EXPECT_EQ(no_ns.status().code(), StatusCode::kInvalidArgument);

  auto reqs = server->requests();
  ASSERT_EQ(reqs.size(), 6u);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path_and_query, "/api/v1/namespaces/ns/configmaps");
  EXPECT_EQ(json::parse(reqs[0].body)["metadata"]["name"], "n");
  EXPECT_EQ(reqs[0].Header("Content-Type"), "application/json");
  EXPECT_EQ(reqs[1].method, "PUT");
  EXPECT_EQ(reqs[1].path_and_query, "/api/v1/namespaces/ns/configmaps/n");
  EXPECT_EQ(reqs[2].path_and_query,
            "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/ns/whatsappassignments/wa1/status");
  EXPECT_EQ(reqs[3].method, "PATCH");
  EXPECT_EQ(reqs[3].path_and_query,
            "/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappphonenumbers/123/status");
  EXPECT_EQ(reqs[3].Header("Content-Type"), "application/merge-patch+json");
  EXPECT_EQ(reqs[4].Header("Content-Type"), "application/json-patch+json");
  EXPECT_EQ(reqs[5].method, "DELETE");
  EXPECT_EQ(reqs[5].path_and_query, "/apis/coordination.k8s.io/v1/namespaces/ns/leases/leader");
  json del_body = json::parse(reqs[5].body);
  EXPECT_EQ(del_body["propagationPolicy"], "Foreground");
  EXPECT_EQ(del_body["preconditions"]["uid"], "uid-1");
}

TEST(RestClientTest, ErrorsAreTyped) {
  auto server = TestServer::Start([](http_request req, const RecordedRequest& r) {
    if (r.method == "GET") {
      ReplyJson(req, 404,
                {{"kind", "Status"},
                 {"status", "Failure"},
                 {"message", "configmaps \"gone\" not found"},
                 {"reason", "NotFound"},
                 {"code", 404}});
    } else {
      ReplyJson(req, 409,
                {{"kind", "Status"},
                 {"status", "Failure"},
                 {"message",
                  "Operation cannot be fulfilled on configmaps \"n\": the object has been "
                  "modified; please apply your changes to the latest version and try again"},
                 {"reason", "Conflict"},
                 {"code", 409}});
    }
  });
  ASSERT_NE(server, nullptr);
  auto client = MakeClient(server->url());
  auto get = client->Get(resources::kConfigMaps, "ns", "gone");
  EXPECT_EQ(get.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(get.status().message(), "get configmaps ns/gone: configmaps \"gone\" not found");
  auto put = client->Update(resources::kConfigMaps, ConfigMap("ns", "n", "1"));
  EXPECT_EQ(put.status().code(), StatusCode::kConflict);
}

// A redirect is not followed: the API server never redirects an API request, and following one
// would send the bearer token to wherever it points. The 3xx is an error naming the status.
TEST(RestClientTest, RedirectsAreNotFollowedAndTheTokenStaysHome) {
  auto elsewhere = TestServer::Start(
      [](http_request req, const RecordedRequest&) { ReplyJson(req, 200, json::object()); });
  ASSERT_NE(elsewhere, nullptr);
  const std::string target = elsewhere->url() + "/stolen";
  auto server = TestServer::Start([target](http_request req, const RecordedRequest&) {
    web::http::http_response r(302);
    r.headers().add("Location", target);
    req.reply(r);
  });
  ASSERT_NE(server, nullptr);
  auto client = MakeClient(server->url());
  auto get = client->Get(resources::kConfigMaps, "ns", "x");
  ASSERT_FALSE(get.ok());
  EXPECT_NE(get.status().message().find("302"), std::string::npos) << get.status().ToString();
  auto put = client->Update(resources::kConfigMaps, ConfigMap("ns", "x", "1"));
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(server->requests().size(), 2u);
  EXPECT_TRUE(elsewhere->requests().empty());
}

TEST(RestClientTest, ConnectionRefusedIsUnavailableWithoutToken) {
  const int port = testing::FreeLoopbackPort();
  auto client = MakeClient("http://127.0.0.1:" + std::to_string(port));
  auto get = client->Get(resources::kConfigMaps, "ns", "x");
  ASSERT_FALSE(get.ok());
  EXPECT_EQ(get.status().code(), StatusCode::kUnavailable) << get.status().ToString();
  EXPECT_NE(get.status().message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << get.status().message();
  EXPECT_EQ(get.status().message().find(kToken), std::string::npos);
}

TEST(RestClientTest, WatchStreamsEventsAsTheyArrive) {
  testing::RawStreamServer server;
  auto client = MakeClient(server.url());
  WatchOptions options;
  options.resource_version = "10";
  options.timeout_seconds = 300;
  options.label_selector = "a=b";
  std::string request_line;
  std::thread accept([&] {
    request_line = server.Accept();
    // One event in two chunks split inside the type, then a keep-alive blank line.
    server.Write(R"({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"11"}}})"
                 "\n{\"type\":\"MODI");
  });
  auto stream = client->Watch(resources::kConfigMaps, "ns", options);
  accept.join();
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  EXPECT_EQ(
      request_line,
      "GET /api/v1/namespaces/ns/configmaps?watch=true&resourceVersion=10&labelSelector=a%3Db&"
      "timeoutSeconds=300&allowWatchBookmarks=true HTTP/1.1");

  // The first event is delivered while the second is still incomplete.
  auto first = (*stream)->Next();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->type, WatchEventType::kAdded);
  server.Write(R"(FIED","object":{"metadata":{"name":"a","resourceVersion":"12"}}})"
               "\n\n");
  auto second = (*stream)->Next();
  ASSERT_TRUE(second.ok() && second->has_value()) << second.status().ToString();
  EXPECT_EQ((*second)->type, WatchEventType::kModified);
  EXPECT_EQ(ObjectResourceVersion((*second)->object), "12");
  server.End();
  auto end = (*stream)->Next();
  ASSERT_TRUE(end.ok()) << end.status().ToString();
  EXPECT_FALSE(end->has_value());
}

TEST(RestClientTest, WatchBrokenConnectionIsUnavailable) {
  testing::RawStreamServer server;
  auto client = MakeClient(server.url());
  std::thread accept([&] {
    server.Accept();
    server.Write(R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})"
                 "\n{\"type\":");
  });
  auto stream = client->Watch(resources::kConfigMaps, "", {});
  accept.join();
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  auto first = (*stream)->Next();
  ASSERT_TRUE(first.ok() && first->has_value());
  server.CloseConnection();
  auto next = (*stream)->Next();
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), StatusCode::kUnavailable) << next.status().ToString();
}

TEST(RestClientTest, WatchCancelUnblocksPromptly) {
  testing::RawStreamServer server;
  auto client = MakeClient(server.url());
  std::thread accept([&] { server.Accept(); });
  auto stream = client->Watch(resources::kConfigMaps, "", {});
  accept.join();
  ASSERT_TRUE(stream.ok()) << stream.status().ToString();
  std::atomic<bool> returned{false};
  Status result;
  std::thread reader([&] {
    auto next = (*stream)->Next();
    result = next.status();
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(returned.load());
  const auto start = std::chrono::steady_clock::now();
  (*stream)->Cancel();
  reader.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(result.code(), StatusCode::kCancelled) << result.ToString();
}

TEST(RestClientTest, WatchGoneOnOpen) {
  testing::RawStreamServer server;
  auto client = MakeClient(server.url());
  std::thread accept([&] {
    server.Accept(410, json{{"kind", "Status"},
                            {"status", "Failure"},
                            {"message", "too old resource version: 1 (50)"},
                            {"reason", "Expired"},
                            {"code", 410}}
                           .dump());
  });
  WatchOptions options;
  options.resource_version = "1";
  auto stream = client->Watch(resources::kConfigMaps, "", options);
  accept.join();
  ASSERT_FALSE(stream.ok());
  EXPECT_EQ(stream.status().code(), StatusCode::kGone);
  EXPECT_NE(stream.status().message().find("too old resource version"), std::string::npos);
}

class HttpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = tls::GenerateCa("kube-test-ca", std::chrono::hours(1));
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    auto other = tls::GenerateCa("other-ca", std::chrono::hours(1));
    ASSERT_TRUE(other.ok());
    other_ca_ = *other;
    auto serving = tls::IssueServingCert(ca_, "apiserver", {"localhost", "api.internal"},
                                         {"127.0.0.1"}, std::chrono::hours(1));
    ASSERT_TRUE(serving.ok());
    server_ = TestServer::Start(
        [](http_request req, const RecordedRequest&) {
          ReplyJson(req, 200, ConfigMap("ns", "x", "1"));
        },
        *serving);
    ASSERT_NE(server_, nullptr);
  }

  Result<json> GetWith(ClusterConfig config) {
    config.token_source = std::make_shared<StaticTokenSource>(kToken);
    auto transport = NewSocketTransport(config);
    if (!transport.ok()) return transport.status();
    return NewRestClient(*transport, std::chrono::seconds(10))
        ->Get(resources::kConfigMaps, "ns", "x");
  }

  tls::KeyPair ca_, other_ca_;
  std::unique_ptr<TestServer> server_;
};

TEST_F(HttpsTest, VerifiesAgainstConfiguredCa) {
  ClusterConfig config;
  config.server = server_->url();
  config.ca_pem = ca_.cert_pem;
  auto obj = GetWith(config);
  ASSERT_TRUE(obj.ok()) << obj.status().ToString();
  EXPECT_EQ(ObjectName(*obj), "x");
  ASSERT_EQ(server_->requests().size(), 1u);
  EXPECT_EQ(server_->requests()[0].Header("Authorization"), std::string("Bearer ") + kToken);
}

TEST_F(HttpsTest, WrongCaFails) {
  ClusterConfig config;
  config.server = server_->url();
  config.ca_pem = other_ca_.cert_pem;
  auto obj = GetWith(config);
  ASSERT_FALSE(obj.ok());
  EXPECT_EQ(obj.status().code(), StatusCode::kUnavailable) << obj.status().ToString();
  EXPECT_EQ(obj.status().message().find(kToken), std::string::npos);
  EXPECT_TRUE(server_->requests().empty());  // the token was never sent
}

TEST_F(HttpsTest, TlsServerNameAndInsecure) {
  ClusterConfig named;
  named.server = server_->url();
  named.ca_pem = ca_.cert_pem;
  named.tls_server_name = "api.internal";
  EXPECT_TRUE(GetWith(named).ok());
  named.tls_server_name = "not-in-cert.example";
  EXPECT_FALSE(GetWith(named).ok());

  ClusterConfig insecure;
  insecure.server = server_->url();
  insecure.insecure_skip_tls_verify = true;
  EXPECT_TRUE(GetWith(insecure).ok());
}

TEST(TransportTest, RejectsBadConfig) {
  ClusterConfig config;
  config.server = "https://127.0.0.1:1";
  config.ca_pem = "not a pem";
  auto t = NewSocketTransport(config);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "certificate authority: no PEM certificate found");
  config.ca_pem.clear();
  config.client_cert_pem = "junk";
  config.client_key_pem = "SECRET-KEY-MATERIAL";
  t = NewSocketTransport(config);
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message().find("SECRET-KEY-MATERIAL"), std::string::npos);
  config = ClusterConfig();
  config.server = "ftp://x";
  EXPECT_FALSE(NewSocketTransport(config).ok());
}

}  // namespace
}  // namespace waop::kube
