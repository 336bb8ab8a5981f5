// The admission webhook's HTTPS endpoint (SPEC section 3): POST kValidatePath on
// --webhook-port, every replica, TLS 1.2 or newer with the certificate a ReloadableServerCert
// holds at each handshake (renewed or rotated certificates are served without reopening the
// port; handshakes fail until one is loaded). A body whose Content-Length is over
// kMaxReviewBytes gets 413 without being read; other paths 404, other methods 405.
// Built on cpprestsdk's http_listener; its exceptions stay inside.
//
// Thread-safety: Start and Stop from one thread; requests run on cpprest's pool.
// Ownership: borrows the handler (which must outlive the server); shares the certificate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"
#include "tls/ssl_context.h"
#include "webhook/admission_handler.h"

namespace waop::webhook {

class WebhookServer {
 public:
  WebhookServer(std::string host, std::uint16_t port, const AdmissionHandler& handler,
                std::shared_ptr<tls::ReloadableServerCert> cert);
  ~WebhookServer();  // Stop()
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  // Opens the port. Unavailable, naming the address, when it cannot be bound.
  [[nodiscard]] Status Start();
  // Closes the listener; requests in progress finish. Idempotent.
  void Stop();
  // True between a successful Start and Stop.
  bool listening() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace waop::webhook
