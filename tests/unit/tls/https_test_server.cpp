#include "https_test_server.h"

#include "tls/ssl_context.h"

namespace waop::testing {

Result<std::unique_ptr<HttpsTestServer>> HttpsTestServer::Start(const tls::KeyPair& serving,
                                                                Handler handler) {
  return StartImpl(&serving, std::move(handler));
}

Result<std::unique_ptr<HttpsTestServer>> HttpsTestServer::StartPlain(Handler handler) {
  return StartImpl(nullptr, std::move(handler));
}

Result<std::unique_ptr<HttpsTestServer>> HttpsTestServer::StartImpl(const tls::KeyPair* serving,
                                                                    Handler handler) {
  web::http::experimental::listener::http_listener_config config;
  if (serving != nullptr) {
    auto callback = tls::MakeServerSslCallback(serving->cert_pem, serving->key_pem);
    if (!callback.ok()) return callback.status();
    config.set_ssl_context_callback(*callback);
  }
  std::string last_error;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto port = waop::PickFreeLoopbackPort();
    if (!port.ok()) return port.status();
    std::unique_ptr<HttpsTestServer> server(new HttpsTestServer());
    server->port_ = *port;
    server->url_ = std::string(serving != nullptr ? "https" : "http") +
                   "://127.0.0.1:" + std::to_string(*port);
    try {
      server->listener_ = std::make_unique<web::http::experimental::listener::http_listener>(
          web::uri(server->url_), config);
      server->listener_->support(handler);
      server->listener_->open().wait();
      return server;
    } catch (const std::exception& e) {
      last_error = e.what();  // Port taken in between: try another.
      server->listener_.reset();
    }
  }
  return Status::Unavailable("could not open a test listener: " + last_error);
}

HttpsTestServer::~HttpsTestServer() {
  if (!listener_) return;
  try {
    listener_->close().wait();
  } catch (const std::exception&) {
    // Closing a listener whose connections already broke may throw; nothing to do in a test.
  }
}

}  // namespace waop::testing
