#include "server/http_server.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>

#include "common/net.h"

namespace waop::server {
namespace {

using ::testing::HasSubstr;
using Kind = HealthChecks::Kind;

struct HttpResult {
  int status = 0;
  std::string headers;
  std::string body;
};

// A minimal HTTP/1.1 GET over a loopback socket, so the test exercises the real listener
// without another HTTP library. Returns status 0 on connection failure.
HttpResult HttpGet(std::uint16_t port, const std::string& target,
                   const std::string& method = "GET") {
  HttpResult result;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{30, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return result;
  }
  const std::string request =
      method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  ::send(fd, request.data(), request.size(), 0);
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  const size_t split = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || split == std::string::npos) return result;
  result.status = std::stoi(raw.substr(9, 3));
  result.headers = raw.substr(0, split);
  result.body = raw.substr(split + 4);
  return result;
}

// Starts a server on free loopback ports, retrying if another process takes a port first.
std::unique_ptr<HttpServer> StartOnFreePorts(const Registry* registry, const HealthChecks* checks,
                                             std::uint16_t& metrics_port,
                                             std::uint16_t& health_port, bool same = false) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto m = PickFreeLoopbackPort();
    auto h = PickFreeLoopbackPort();
    if (!m.ok() || !h.ok() || *m == *h) continue;
    HttpServerOptions options;
    options.metrics = {"127.0.0.1", *m};
    options.health = {"127.0.0.1", same ? *m : *h};
    auto server = HttpServer::Start(options, registry, checks);
    if (server.ok()) {
      metrics_port = *m;
      health_port = same ? *m : *h;
      return std::move(server).value();
    }
  }
  return nullptr;
}

TEST(BindAddressTest, ParsesFlagForms) {
  auto any = ParseBindAddress(":8080", "metrics-bind-address");
  ASSERT_TRUE(any.ok());
  EXPECT_EQ(any->host, "0.0.0.0");
  EXPECT_EQ(any->port, 8080);
  auto local = ParseBindAddress("127.0.0.1:8081", "health-probe-bind-address");
  ASSERT_TRUE(local.ok());
  EXPECT_EQ(local->ToString(), "127.0.0.1:8081");
  auto v6 = ParseBindAddress("[::1]:9000", "x");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:9000");
  auto off = ParseBindAddress("0", "metrics-bind-address");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->enabled());
}

TEST(BindAddressTest, RejectsBadValuesNamingTheFlag) {
  auto missing = ParseBindAddress("8080", "metrics-bind-address");
  EXPECT_THAT(missing.status().message(), HasSubstr("--metrics-bind-address=\"8080\""));
  EXPECT_THAT(missing.status().message(), HasSubstr("missing port"));
  EXPECT_THAT(ParseBindAddress(":http", "m").status().message(), HasSubstr("not a number"));
  EXPECT_THAT(ParseBindAddress(":70000", "m").status().message(), HasSubstr("out of range"));
  EXPECT_THAT(ParseBindAddress(":0", "m").status().message(), HasSubstr("ephemeral"));
  EXPECT_THAT(ParseBindAddress("::1:80", "m").status().message(), HasSubstr("brackets"));
  EXPECT_THAT(ParseBindAddress("[::1", "m").status().message(), HasSubstr("unterminated"));
}

TEST(HealthChecksTest, FollowsKubernetesHealthzConventions) {
  HealthChecks checks;
  std::atomic<bool> synced{false};
  checks.Add(Kind::kReadyz, "ping", [] { return Status::Ok(); });
  checks.Add(Kind::kReadyz, "informers",
             [&] { return synced ? Status::Ok() : Status::Unavailable("informers not synced"); });
  auto failing = checks.Evaluate(Kind::kReadyz, "", "");
  EXPECT_EQ(failing.status, 500);
  EXPECT_EQ(failing.body,
            "[-]informers failed: reason withheld\n[+]ping ok\nreadyz check failed\n");
  EXPECT_EQ(checks.Evaluate(Kind::kReadyz, "", "exclude=informers").status, 200);
  EXPECT_EQ(checks.Evaluate(Kind::kReadyz, "ping", "").body, "ok");
  EXPECT_EQ(checks.Evaluate(Kind::kReadyz, "informers", "").status, 500);
  EXPECT_EQ(checks.Evaluate(Kind::kReadyz, "nope", "").status, 404);
  synced = true;
  auto ok = checks.Evaluate(Kind::kReadyz, "", "");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "ok");
  EXPECT_EQ(checks.Evaluate(Kind::kReadyz, "", "verbose").body,
            "[+]informers ok\n[+]ping ok\nreadyz check passed\n");
  // No healthz checks registered: healthy.
  EXPECT_EQ(checks.Evaluate(Kind::kHealthz, "", "").status, 200);
}

TEST(HttpServerTest, ServesProbesAndMetricsOnSeparateAddresses) {
  Registry registry;
  auto counter = registry.AddCounter("test_requests_total", "Requests.", {"code"});
  ASSERT_TRUE(counter.ok());
  (*counter)->WithLabels({"200"}).Inc(7);
  HealthChecks checks;
  std::atomic<bool> ready{false};
  checks.Add(Kind::kHealthz, "ping", [] { return Status::Ok(); });
  checks.Add(Kind::kReadyz, "caches",
             [&] { return ready ? Status::Ok() : Status::Unavailable("caches not synced"); });
  std::uint16_t metrics_port = 0, health_port = 0;
  auto server = StartOnFreePorts(&registry, &checks, metrics_port, health_port);
  ASSERT_NE(server, nullptr);

  auto healthz = HttpGet(health_port, "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_EQ(healthz.body, "ok");
  auto not_ready = HttpGet(health_port, "/readyz?verbose");
  EXPECT_EQ(not_ready.status, 500);
  EXPECT_THAT(not_ready.body, HasSubstr("[-]caches failed: reason withheld"));
  EXPECT_THAT(not_ready.body, ::testing::Not(HasSubstr("not synced")));
  ready = true;
  auto is_ready = HttpGet(health_port, "/readyz?verbose");
  EXPECT_EQ(is_ready.status, 200);
  EXPECT_EQ(is_ready.body, "[+]caches ok\nreadyz check passed\n");
  EXPECT_EQ(HttpGet(health_port, "/readyz/caches").body, "ok");

  auto metrics = HttpGet(metrics_port, "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics.body, HasSubstr("test_requests_total{code=\"200\"} 7\n"));
  // Each endpoint lives only on its own address.
  EXPECT_EQ(HttpGet(health_port, "/metrics").status, 404);
  EXPECT_EQ(HttpGet(metrics_port, "/healthz").status, 404);
  EXPECT_EQ(HttpGet(health_port, "/healthz", "POST").status, 405);

  server->Stop();
  EXPECT_EQ(HttpGet(health_port, "/healthz").status, 0) << "still listening after Stop()";
}

TEST(HttpServerTest, OneListenerWhenAddressesAreEqual) {
  Registry registry;
  HealthChecks checks;
  std::uint16_t metrics_port = 0, health_port = 0;
  auto server = StartOnFreePorts(&registry, &checks, metrics_port, health_port, /*same=*/true);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HttpGet(metrics_port, "/metrics").status, 200);
  EXPECT_EQ(HttpGet(metrics_port, "/readyz").status, 200);
}

TEST(HttpServerTest, PortTakenByAnotherSocketIsAnErrorNamingTheAddress) {
  // Another "process" holds a loopback port: a listening socket.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::uint16_t port = ntohs(addr.sin_port);
  Registry registry;
  HttpServerOptions clash;
  clash.metrics = {"127.0.0.1", port};
  auto server = HttpServer::Start(clash, &registry, nullptr);
  ::close(fd);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(server.status().message(), HasSubstr("127.0.0.1:" + std::to_string(port)));
}

TEST(HttpServerTest, SecondServerOnAPortOfThisProcessIsRefusedAndFirstKeepsServing) {
  Registry registry;
  HealthChecks checks;
  std::uint16_t metrics_port = 0, health_port = 0;
  auto first = StartOnFreePorts(&registry, &checks, metrics_port, health_port);
  ASSERT_NE(first, nullptr);
  HttpServerOptions clash;
  clash.health = {"127.0.0.1", health_port};
  auto second = HttpServer::Start(clash, &registry, &checks);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(second.status().message(), HasSubstr("already served by this process"));
  EXPECT_EQ(HttpGet(health_port, "/healthz").status, 200) << "the first server must keep serving";
  // After Stop() the port can be served again.
  first->Stop();
  auto again = HttpServer::Start(clash, &registry, &checks);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(HttpGet(health_port, "/healthz").status, 200);
}

}  // namespace
}  // namespace waop::server
