#include "tenant_http.h"

#include <cpprest/http_listener.h>
#include <cpprest/uri.h>

#include <algorithm>

#include "common/net.h"

namespace tenantdev {

using devserver::HttpRequest;
using devserver::HttpResponse;
using waop::Result;
using waop::Status;
using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;

namespace {

constexpr size_t kMaxBody = 1 << 20;

std::string DecodeQueryValue(std::string v) {
  std::replace(v.begin(), v.end(), '+', ' ');
  try {
    return web::uri::decode(v);
  } catch (const std::exception&) {
    return v;
  }
}

void Reply(http_request req, const HttpResponse& resp) {
  try {
    http_response r(static_cast<web::http::status_code>(resp.status));
    for (const auto& [k, v] : resp.headers) r.headers().add(k, v);
    r.set_body(resp.body, resp.content_type);
    req.reply(r).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {  // the client went away
      }
    });
  } catch (const std::exception&) {
  }
}

}  // namespace

struct TenantHttpServer::Impl {
  TenantServer* server = nullptr;
  std::unique_ptr<http_listener> listener;

  void Serve(http_request req) {
    try {
      if (req.headers().content_length() > kMaxBody) {
        HttpResponse r;
        r.status = 413;
        r.body = R"({"error":"request body too large"})";
        Reply(req, r);
        return;
      }
      req.extract_utf8string(true).then([this, req](pplx::task<std::string> t) {
        HttpRequest in;
        try {
          in.body = t.get();
          in.method = req.method();
          in.path = web::uri::decode(req.relative_uri().path());
          for (const auto& [k, v] : web::uri::split_query(req.relative_uri().query())) {
            in.query[DecodeQueryValue(k)] = DecodeQueryValue(v);
          }
          for (const auto& [k, v] : req.headers()) {
            std::string key = k;
            std::transform(key.begin(), key.end(), key.begin(), ::tolower);
            in.headers[key] = v;
          }
        } catch (const std::exception& e) {
          HttpResponse r;
          r.status = 400;
          r.body = nlohmann::json{{"error", std::string("malformed request: ") + e.what()}}.dump();
          Reply(req, r);
          return;
        }
        Reply(req, server->Handle(in));
      });
    } catch (const std::exception& e) {
      try {
        req.reply(500, std::string("internal error: ") + e.what());
      } catch (const std::exception&) {
      }
    }
  }
};

Result<std::unique_ptr<TenantHttpServer>> TenantHttpServer::Start(TenantServer* server,
                                                                  const std::string& host,
                                                                  int port) {
  std::unique_ptr<TenantHttpServer> s(new TenantHttpServer());
  s->impl_ = std::make_unique<Impl>();
  s->impl_->server = server;
  web::http::experimental::listener::http_listener_config config;
  config.set_timeout(std::chrono::seconds(600));
  std::string last_error;
  for (int attempt = 0; attempt < 20; ++attempt) {
    int p = port;
    if (p == 0) {
      auto picked = waop::PickFreeLoopbackPort();
      p = picked.ok() ? *picked : 0;
    }
    if (p == 0) continue;
    const std::string url = "http://" + host + ":" + std::to_string(p);
    try {
      auto listener = std::make_unique<http_listener>(web::uri(url), config);
      Impl* impl = s->impl_.get();
      listener->support([impl](http_request req) { impl->Serve(std::move(req)); });
      listener->open().wait();
      s->impl_->listener = std::move(listener);
      s->port_ = p;
      s->url_ = url;
      return s;
    } catch (const std::exception& e) {
      last_error = e.what();
      if (port != 0) break;
    }
  }
  return Status::Unavailable("cannot listen on " + host + ": " + last_error);
}

void TenantHttpServer::Stop() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
  impl_->listener.reset();
}

TenantHttpServer::~TenantHttpServer() { Stop(); }

}  // namespace tenantdev
