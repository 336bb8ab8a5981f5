// The HTTP listener for Meta's webhook (--meta-webhook-bind-address, default :8082): moves
// requests to a meta::MetaWebhookHandler and its answers back, nothing else. Served by every
// replica (Meta may deliver to any pod behind the Service). The raw body bytes are read with a
// bound: a Content-Length over meta::kMaxWebhookBodyBytes is refused with 413 without the body
// being copied for the handler, and a body without one (chunked) is read up to the limit plus
// one byte. (cpprest's listener still receives an announced body before it sends the reply;
// the bound keeps the operator from buffering it twice or parsing it.)
//
// Plain HTTP: TLS is expected to end at the Ingress (Meta requires an https URL with a publicly
// trusted certificate, which the operator cannot mint). Built on cpprestsdk's http_listener; its
// exceptions stay inside.
//
// Thread-safety: Stop() is thread-safe and idempotent; requests are handled on cpprest's thread
// pool, concurrently. Ownership: borrows the handler, which must outlive the server.
#pragma once

#include <memory>

#include "common/status.h"
#include "meta/webhook.h"
#include "server/http_server.h"

namespace waop::server {

class MetaWebhookServer {
 public:
  // Starts listening on `address`. Unavailable, naming the address, when it cannot be bound.
  static Result<std::unique_ptr<MetaWebhookServer>> Start(const BindAddress& address,
                                                          const meta::MetaWebhookHandler* handler);
  ~MetaWebhookServer();  // Stop()
  MetaWebhookServer(const MetaWebhookServer&) = delete;
  MetaWebhookServer& operator=(const MetaWebhookServer&) = delete;
  // Closes the listener; requests in progress finish. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit MetaWebhookServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waop::server
