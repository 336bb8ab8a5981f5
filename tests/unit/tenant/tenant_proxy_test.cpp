// The tenant-service client (and so every cpprest client of ours: the Graph client takes the
// same tls::ClientConfig) through an HTTP proxy: an https service on 127.0.0.1 reached by
// CONNECT through a loopback proxy that records what it was asked, with Basic credentials, and
// the errors when the proxy is down. All servers are started and stopped by the test.
#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/net.h"
#include "tenant/tenant_client.h"
#include "tls/certs.h"
#include "tls/ssl_context.h"

namespace waop::tenant {
namespace {

namespace http = web::http;

// A forward proxy for CONNECT only: records each request head, opens the tunnel to the target
// (127.0.0.1 only) and relays bytes both ways until either side closes.
class ConnectProxy {
 public:
  ConnectProxy() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return;
    }
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~ConnectProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    ::close(listen_fd_);
    for (auto& t : tunnels_) t.join();
  }
  int port() const { return port_; }
  std::vector<std::string> Heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      tunnels_.emplace_back([this, fd] { Tunnel(fd); });
    }
  }

  void Tunnel(int client) {
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(client, &c, 1, 0) == 1) {
      head.push_back(c);
    }
    {
      std::lock_guard lock(mu_);
      heads_.push_back(head);
    }
    int port = 0;
    if (std::sscanf(head.c_str(), "CONNECT 127.0.0.1:%d HTTP/1.1", &port) != 1) {
      const char refused[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
      (void)::send(client, refused, sizeof refused - 1, MSG_NOSIGNAL);
      ::close(client);
      return;
    }
    const int target = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(target, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
      (void)::send(client, ok, sizeof ok - 1, MSG_NOSIGNAL);
      pollfd fds[2] = {{client, POLLIN, 0}, {target, POLLIN, 0}};
      char buf[16384];
      while (!stop_ && ::poll(fds, 2, 200) >= 0) {
        bool closed = false;
        for (int i = 0; i < 2; ++i) {
          if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
          const ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
          if (n <= 0 || ::send(fds[1 - i].fd, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) {
            closed = true;
          }
        }
        if (closed) break;
      }
    }
    ::close(target);
    ::close(client);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread accept_thread_;
  std::vector<std::thread> tunnels_;  // touched by the accept thread, joined after it
  std::mutex mu_;
  std::vector<std::string> heads_;
};

// An https tenant service on 127.0.0.1 that lists one tenant, with its CA in a file.
class HttpsTenantService {
 public:
  HttpsTenantService() {
    auto ca = tls::GenerateCa("proxy-test-ca", std::chrono::hours(1));
    auto serving = ca.ok() ? tls::IssueServingCert(*ca, "tenants", {"localhost"}, {"127.0.0.1"},
                                                   std::chrono::hours(1))
                           : Result<tls::KeyPair>(ca.status());
    if (!serving.ok()) return;
    ca_file_ = std::filesystem::temp_directory_path() /
               ("waop-proxy-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream(ca_file_) << ca->cert_pem;
    auto ssl = tls::MakeServerSslCallback(serving->cert_pem, serving->key_pem);
    if (!ssl.ok()) return;
    http::experimental::listener::http_listener_config config;
    config.set_ssl_context_callback(*ssl);
    for (int attempt = 0; attempt < 20 && port_ == 0; ++attempt) {
      auto picked = PickFreeLoopbackPort();
      if (!picked.ok()) continue;
      const int port = *picked;
      try {
        listener_ = std::make_unique<http::experimental::listener::http_listener>(
            web::uri("https://127.0.0.1:" + std::to_string(port)), config);
        listener_->support([](http::http_request req) {
          req.reply(http::status_codes::OK,
                    R"([{"tenant_id":"t-1","tenant_name":"Panadería","phone_number_id":"111"}])",
                    "application/json");
        });
        listener_->open().wait();
        port_ = port;
      } catch (const std::exception&) {
        listener_.reset();
      }
    }
  }
  ~HttpsTenantService() {
    if (listener_) listener_->close().wait();
    std::error_code ec;
    std::filesystem::remove(ca_file_, ec);
  }
  bool ok() const { return port_ != 0; }
  int port() const { return port_; }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  std::string ca_file() const { return ca_file_.string(); }

 private:
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  std::filesystem::path ca_file_;
  int port_ = 0;
};

std::unique_ptr<TenantServiceClient> Client(const HttpsTenantService& service,
                                            std::optional<Proxy> proxy) {
  TenantClientOptions o;
  o.base_url = service.url();
  o.ca_file = service.ca_file();
  o.timeout = std::chrono::seconds(5);
  o.proxy = std::move(proxy);
  auto c = NewTenantServiceClient(std::move(o));
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? std::move(*c) : nullptr;
}

// A proxy on 127.0.0.1:`port` with the credentials ops / s3cret.
Proxy LoopbackProxy(int port) {
  Proxy p;
  p.display = "127.0.0.1:" + std::to_string(port);
  p.url = "http://" + p.display;
  p.username = "ops";
  p.password = "s3cret";
  return p;
}

TEST(TenantProxyTest, HttpsGoesThroughTheProxyWithBasicCredentials) {
  HttpsTenantService service;
  ASSERT_TRUE(service.ok());
  ConnectProxy proxy;
  ASSERT_NE(proxy.port(), 0);
  auto client = Client(service, LoopbackProxy(proxy.port()));
  ASSERT_TRUE(client);
  auto rows = client->ListTenants();
  ASSERT_TRUE(rows.ok()) << rows.status().message();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].phone_number_id, "111");
  auto heads = proxy.Heads();
  ASSERT_FALSE(heads.empty());
  EXPECT_EQ(heads[0].substr(0, heads[0].find("\r\n")),
            "CONNECT 127.0.0.1:" + std::to_string(service.port()) + " HTTP/1.1");
  // base64("ops:s3cret")
  EXPECT_NE(heads[0].find("Proxy-Authorization: Basic b3BzOnMzY3JldA=="), std::string::npos)
      << heads[0];
}

TEST(TenantProxyTest, WithoutAProxyNothingGoesThroughIt) {
  HttpsTenantService service;
  ASSERT_TRUE(service.ok());
  ConnectProxy proxy;
  auto client = Client(service, std::nullopt);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->ListTenants().ok());
  EXPECT_TRUE(proxy.Heads().empty());
}

TEST(TenantProxyTest, AProxyThatIsDownIsUnavailableAndItsPasswordIsNotInTheMessage) {
  HttpsTenantService service;
  ASSERT_TRUE(service.ok());
  int closed_port;
  {
    ConnectProxy gone;  // a port that was just free
    closed_port = gone.port();
  }
  auto client = Client(service, LoopbackProxy(closed_port));
  ASSERT_TRUE(client);
  auto rows = client->ListTenants();
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kUnavailable) << rows.status().message();
  EXPECT_EQ(rows.status().message().find("s3cret"), std::string::npos);
}

}  // namespace
}  // namespace waop::tenant
