// The cpprestsdk side of kube-devserver: an http_listener on 127.0.0.1 (HTTP, or HTTPS with a
// PEM certificate) that turns each cpprest request into an HttpRequest for ApiServer and its
// HttpResponse back, streaming watch bodies through a producer_consumer_buffer (chunked
// transfer encoding). cpprest exceptions stop here and become Status values or 500s.
//
// Thread-safety: Start/Stop from one thread; requests are served on cpprest's thread pool.
// Ownership: does not own the ApiServer, which must outlive Stop().
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "api_server.h"
#include "common/status.h"

namespace devserver {

struct ListenOptions {
  std::string host = "127.0.0.1";
  int port = 0;                         // 0 = pick a free port
  std::optional<std::string> cert_pem;  // HTTPS when set
  std::optional<std::string> key_pem;
  size_t max_body_bytes = 3 * 1024 * 1024;
};

class HttpServer {
 public:
  // Listens and serves `api`. Unavailable when the port cannot be bound (after retries when
  // the port was picked by us), InvalidArgument for a bad certificate.
  static waop::Result<std::unique_ptr<HttpServer>> Start(ApiServer* api,
                                                         const ListenOptions& options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  // "http://127.0.0.1:1234" or "https://..."
  std::string url() const { return url_; }
  void Stop();

 private:
  struct Impl;
  HttpServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
  std::string url_;
};

}  // namespace devserver
