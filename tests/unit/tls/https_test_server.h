// Test helpers for servers on ephemeral loopback ports. cpprest's http_listener cannot bind
// port 0, so PickFreeLoopbackPort binds a socket to 127.0.0.1:0, reads the port the kernel
// chose and closes it; HttpsTestServer then opens a listener there and retries with a new
// port if another process took it in between.
//
// Thread-safety: HttpsTestServer's handler runs on cpprest's thread pool; the handler must be
// thread-safe. Ownership: the server owns its listener and closes it in the destructor.
#pragma once

#include <cpprest/http_listener.h>

#include <functional>
#include <memory>
#include <string>

#include "common/net.h"
#include "common/status.h"
#include "tls/certs.h"

namespace waop::testing {

class HttpsTestServer {
 public:
  using Handler = std::function<void(web::http::http_request)>;

  // Serves `handler` on https://127.0.0.1:<ephemeral> with `serving` (certificate + key).
  // Unavailable when no port could be opened after several tries.
  static Result<std::unique_ptr<HttpsTestServer>> Start(const tls::KeyPair& serving,
                                                        Handler handler);
  // Plain HTTP, for tests that need a server that speaks no TLS.
  static Result<std::unique_ptr<HttpsTestServer>> StartPlain(Handler handler);

  ~HttpsTestServer();
  HttpsTestServer(const HttpsTestServer&) = delete;
  HttpsTestServer& operator=(const HttpsTestServer&) = delete;

  // "https://127.0.0.1:PORT" (no trailing slash).
  const std::string& url() const { return url_; }
  int port() const { return port_; }

 private:
  HttpsTestServer() = default;
  static Result<std::unique_ptr<HttpsTestServer>> StartImpl(const tls::KeyPair* serving,
                                                            Handler handler);
  std::unique_ptr<web::http::experimental::listener::http_listener> listener_;
  std::string url_;
  int port_ = 0;
};

}  // namespace waop::testing
