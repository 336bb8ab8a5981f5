// A cpprest http_listener on 127.0.0.1 for the REST client tests, plain or HTTPS, recording
// each request. cpprest's listener cannot bind port 0, so a free port is found by binding a
// socket to 127.0.0.1:0 and the listen is retried on a collision.
#pragma once

#include <arpa/inet.h>
#include <cpprest/http_listener.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "tls/ssl_context.h"

namespace waop::kube::testing {

struct RecordedRequest {
  std::string method;
  std::string path_and_query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  std::string Header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return "";
  }
};

inline int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class TestServer {
 public:
  // Gets the request (already recorded) and must reply.
  using Handler = std::function<void(web::http::http_request, const RecordedRequest&)>;

  // nullptr when no port could be bound. With `tls`, serves HTTPS with that certificate.
  static std::unique_ptr<TestServer> Start(Handler handler,
                                           std::optional<tls::KeyPair> tls = std::nullopt) {
    auto server = std::unique_ptr<TestServer>(new TestServer(std::move(handler)));
    for (int attempt = 0; attempt < 20; ++attempt) {
      const int port = FreeLoopbackPort();
      if (port <= 0) continue;
      web::http::experimental::listener::http_listener_config config;
      std::string scheme = "http";
      if (tls) {
        auto cb = tls::MakeServerSslCallback(tls->cert_pem, tls->key_pem);
        if (!cb.ok()) return nullptr;
        config.set_ssl_context_callback(*cb);
        scheme = "https";
      }
      server->url_ = scheme + "://127.0.0.1:" + std::to_string(port);
      try {
        server->listener_ = std::make_unique<web::http::experimental::listener::http_listener>(
            web::uri(server->url_), config);
        TestServer* self = server.get();
        server->listener_->support(
            [self](web::http::http_request request) { self->Dispatch(std::move(request)); });
        server->listener_->open().wait();
        return server;
      } catch (const std::exception&) {
        server->listener_.reset();
      }
    }
    return nullptr;
  }

  ~TestServer() {
    try {
      if (listener_) listener_->close().wait();
    } catch (const std::exception&) {
    }
  }

  const std::string& url() const { return url_; }

  std::vector<RecordedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  explicit TestServer(Handler handler) : handler_(std::move(handler)) {}

  void Dispatch(web::http::http_request request) {
    RecordedRequest r;
    r.method = request.method();
    r.path_and_query = request.relative_uri().to_string();
    for (const auto& [k, v] : request.headers()) r.headers.emplace_back(k, v);
    try {
      auto bytes = request.extract_vector().get();
      r.body.assign(bytes.begin(), bytes.end());
    } catch (const std::exception&) {
    }
    {
      std::lock_guard lock(mu_);
      requests_.push_back(r);
    }
    handler_(std::move(request), r);
  }

  Handler handler_;
  std::string url_;
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  mutable std::mutex mu_;
  std::vector<RecordedRequest> requests_;
};

}  // namespace waop::kube::testing
