#include "server/meta_webhook_server.h"

#include <cpprest/http_listener.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <vector>

namespace waop::server {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;

// Reads at most `limit` + 1 bytes of the body: one more than allowed says "too large" without
// buffering an unbounded upload.
std::string ReadBody(http_request& request, std::size_t limit) {
  auto buffer = request.body().streambuf();
  std::string out;
  std::vector<unsigned char> chunk(64 * 1024);
  while (out.size() <= limit) {
    const std::size_t want = std::min(chunk.size(), limit + 1 - out.size());
    const std::size_t n = buffer.getn(chunk.data(), want).get();
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(chunk.data()), n);
  }
  return out;
}

}  // namespace

class MetaWebhookServer::Impl {
 public:
  explicit Impl(const meta::MetaWebhookHandler* handler) : handler_(handler) {}
  ~Impl() { Stop(); }

  Status Listen(const BindAddress& address) {
    try {
      listener_ = std::make_unique<http_listener>("http://" + address.ToString());
      listener_->support([this](http_request request) { Handle(std::move(request)); });
      listener_->open().wait();
    } catch (const std::exception& e) {
      listener_.reset();
      return Status::Unavailable("cannot listen on " + address.ToString() +
                                 " (--meta-webhook-bind-address): " + e.what());
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
      spdlog::warn("closing the Meta webhook listener: {}", e.what());
    }
  }

 private:
  void Handle(http_request request) {
    meta::WebhookResponse out;
    try {
      meta::WebhookRequest in;
      in.method = request.method();
      in.path = request.request_uri().path();
      in.query = request.request_uri().query();
      bool too_large = false;
      for (const auto& [name, value] : request.headers()) {
        in.headers.emplace_back(name, value);
        if (utility::details::str_iequal(name, "Content-Length") &&
            meta::ContentLengthTooLarge(value)) {
          too_large = true;
        }
      }
      // Read the body only for a request the handler will look at, and never past the limit.
      if (!too_large && in.method == "POST" && in.path == meta::kWebhookPath) {
        in.body = ReadBody(request, meta::kMaxWebhookBodyBytes);
      }
      out = handler_->Handle(in);
    } catch (const std::exception& e) {
      spdlog::warn("Meta webhook: cannot read the request: {}", e.what());
      out = {400, "text/plain; charset=utf-8", "cannot read the request\n"};
    }
    try {
      http_response response(static_cast<web::http::status_code>(out.status));
      response.headers().add("X-Content-Type-Options", "nosniff");
      if (out.status == 405) response.headers().add("Allow", "GET, POST");
      response.set_body(std::move(out.body), out.content_type);
      request.reply(response).then([](pplx::task<void> done) {
        try {
          done.get();
        } catch (const std::exception&) {
          // The client went away; nothing to do.
        }
      });
    } catch (const std::exception& e) {
      spdlog::warn("Meta webhook: cannot reply: {}", e.what());
    }
  }

  const meta::MetaWebhookHandler* handler_;
  std::mutex mu_;
  std::unique_ptr<http_listener> listener_;
};

Result<std::unique_ptr<MetaWebhookServer>> MetaWebhookServer::Start(
    const BindAddress& address, const meta::MetaWebhookHandler* handler) {
  if (handler == nullptr) return Status::InvalidArgument("Meta webhook server without a handler");
  auto impl = std::make_unique<Impl>(handler);
  WAOP_RETURN_IF_ERROR(impl->Listen(address));
  return std::unique_ptr<MetaWebhookServer>(new MetaWebhookServer(std::move(impl)));
}

MetaWebhookServer::MetaWebhookServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MetaWebhookServer::~MetaWebhookServer() { Stop(); }

void MetaWebhookServer::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace waop::server
