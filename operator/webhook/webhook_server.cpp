#include "webhook/webhook_server.h"

#include <cpprest/http_listener.h>

#include <atomic>
#include <mutex>

#include "common/logging.h"

namespace waop::webhook {

using web::http::http_request;
using web::http::http_response;
using web::http::methods;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

namespace {

void Reply(http_request& request, const HttpAnswer& answer) {
  http_response response(static_cast<web::http::status_code>(answer.status));
  response.set_body(answer.body, "application/json");
  request.reply(response).then([](const pplx::task<void>& t) {
    try {
      t.get();
    } catch (const std::exception&) {
      // The client went away; nothing to do.
    }
  });
}

}  // namespace

class WebhookServer::Impl {
 public:
  Impl(std::string host, std::uint16_t port, const AdmissionHandler& handler,
       std::shared_ptr<tls::ReloadableServerCert> cert)
      : host_(std::move(host)), port_(port), handler_(handler), cert_(std::move(cert)) {}

  Status Start() {
    const std::string address = (host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_) +
                                ":" + std::to_string(port_);
    try {
      http_listener_config config;
      config.set_ssl_context_callback(tls::MakeReloadableServerSslCallback(cert_));
      auto listener = std::make_unique<http_listener>("https://" + address, config);
      listener->support([this](http_request request) { Handle(std::move(request)); });
      listener->open().wait();
      std::lock_guard lock(mu_);
      listener_ = std::move(listener);
    } catch (const std::exception& e) {
      return Status::Unavailable("cannot listen on " + address + " (--webhook-port): " + e.what());
    }
    return Status::Ok();
  }

  void Stop() {
    std::unique_ptr<http_listener> listener;
    {
      std::lock_guard lock(mu_);
      listener.swap(listener_);
    }
    if (!listener) return;
    try {
      listener->close().wait();
    } catch (const std::exception& e) {
      logging::Log(spdlog::level::warn, "closing the webhook listener", {{"error", e.what()}});
    }
  }

  bool listening() const {
    std::lock_guard lock(mu_);
    return listener_ != nullptr;
  }

 private:
  void Handle(http_request request) {
    try {
      const std::string path = request.request_uri().path();
      if (path != kValidatePath) {
        Reply(request, AdmissionHandler::Error(404, "no webhook at " + path + "; the webhook is " +
                                                        std::string(kValidatePath)));
        return;
      }
      if (request.method() != methods::POST) {
        Reply(request, AdmissionHandler::Error(405, "method " + request.method() +
                                                        " not allowed; POST an AdmissionReview"));
        return;
      }
      const auto length = request.headers().content_length();
      if (length > kMaxReviewBytes) {
        Reply(request, AdmissionHandler::TooLarge(length));
        return;
      }
      request.extract_utf8string(true).then([this, request](pplx::task<std::string> body) mutable {
        try {
          std::string text = body.get();
          Reply(request, handler_.Handle(text));
        } catch (const std::exception& e) {
          Reply(request, AdmissionHandler::Error(
                             400, std::string("cannot read the request body: ") + e.what()));
        }
      });
    } catch (const std::exception& e) {
      try {
        Reply(request, AdmissionHandler::Error(500, e.what()));
      } catch (const std::exception&) {
      }
    }
  }

  const std::string host_;
  const std::uint16_t port_;
  const AdmissionHandler& handler_;
  std::shared_ptr<tls::ReloadableServerCert> cert_;
  mutable std::mutex mu_;
  std::unique_ptr<http_listener> listener_;  // guarded by mu_
};

WebhookServer::WebhookServer(std::string host, std::uint16_t port, const AdmissionHandler& handler,
                             std::shared_ptr<tls::ReloadableServerCert> cert)
    : impl_(std::make_unique<Impl>(std::move(host), port, handler, std::move(cert))) {}
WebhookServer::~WebhookServer() { Stop(); }
Status WebhookServer::Start() { return impl_->Start(); }
void WebhookServer::Stop() { impl_->Stop(); }
bool WebhookServer::listening() const { return impl_->listening(); }

}  // namespace waop::webhook
