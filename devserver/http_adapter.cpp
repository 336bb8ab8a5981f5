#include "http_adapter.h"

#include <cpprest/containerstream.h>
#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>
#include <cpprest/uri.h>

#include <algorithm>
#include <mutex>

#include "common/net.h"
#include "tls/ssl_context.h"

namespace devserver {

using waop::Result;
using waop::Status;
using web::http::http_request;
using web::http::http_response;
using web::http::experimental::listener::http_listener;
using web::http::experimental::listener::http_listener_config;

namespace {

// Streams bytes to one client through a producer/consumer buffer that cpprest reads from.
class PcbSink final : public StreamSink {
 public:
  explicit PcbSink(concurrency::streams::producer_consumer_buffer<uint8_t> buf)
      : buf_(std::move(buf)) {}
  ~PcbSink() override { Close(); }

  // Never waits on a pplx task: Write runs under the store's lock on a pool thread, and the
  // task continuations need pool threads too, so waiting could deadlock a small pool. The
  // producer/consumer buffer copies synchronously; sync() hands the bytes to the reader now
  // (without it a pending read waits for a full block).
  bool Write(std::string_view bytes) override {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    try {
      if (!buf_.can_write()) {
        closed_ = true;
        return false;
      }
      (void)buf_.putn_nocopy(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      (void)buf_.sync();
      return true;
    } catch (const std::exception&) {
      closed_ = true;
      return false;
    }
  }

  void Close() override {
    std::lock_guard lock(mu_);
    if (closed_out_) return;
    closed_ = true;
    closed_out_ = true;
    try {
      (void)buf_.close(std::ios_base::out);
    } catch (const std::exception&) {
    }
  }

  size_t Backlog() const override {
    try {
      return buf_.in_avail();
    } catch (const std::exception&) {
      return 0;
    }
  }

 private:
  std::mutex mu_;
  mutable concurrency::streams::producer_consumer_buffer<uint8_t> buf_;
  bool closed_ = false;
  bool closed_out_ = false;
};

std::string DecodeQueryValue(std::string v) {
  std::replace(v.begin(), v.end(), '+', ' ');
  try {
    return web::uri::decode(v);
  } catch (const std::exception&) {
    return v;
  }
}

}  // namespace

struct HttpServer::Impl {
  ApiServer* api = nullptr;
  size_t max_body = 0;
  std::unique_ptr<http_listener> listener;

  void Reply(http_request req, HttpResponse resp) {
    http_response r(static_cast<web::http::status_code>(resp.status));
    for (const auto& [k, v] : resp.headers) r.headers().add(k, v);
    if (resp.on_stream) {
      concurrency::streams::producer_consumer_buffer<uint8_t> buf;
      auto sink = std::make_shared<PcbSink>(buf);
      r.set_body(concurrency::streams::istream(buf), resp.content_type);
      // Events written before the reply is on the wire are simply buffered.
      resp.on_stream(sink);
      req.reply(r).then([sink](pplx::task<void> t) {
        try {
          t.get();
        } catch (const std::exception&) {
          sink->Close();
        }
      });
      return;
    }
    r.set_body(std::move(resp.body), resp.content_type);
    req.reply(r).then([](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {
        // The client went away; nothing to do.
      }
    });
  }

  void Serve(http_request req) {
    try {
      auto len = req.headers().content_length();
      if (len > max_body) {
        ApiError e =
            ApiError::TooLarge("Request entity too large: limit is " + std::to_string(max_body));
        Reply(req, ErrorResponse(e));
        return;
      }
      auto buf = std::make_shared<concurrency::streams::container_buffer<std::string>>();
      req.body().read_to_end(*buf).then([this, req, buf](pplx::task<size_t> t) {
        HttpRequest in;
        try {
          t.get();
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
          in.body = std::move(buf->collection());
        } catch (const std::exception& e) {
          Reply(req,
                ErrorResponse(ApiError::BadRequest(std::string("malformed request: ") + e.what())));
          return;
        }
        Reply(req, api->Handle(in));
      });
    } catch (const std::exception& e) {
      try {
        req.reply(500, std::string("internal error: ") + e.what());
      } catch (const std::exception&) {
      }
    }
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(ApiServer* api,
                                                      const ListenOptions& options) {
  std::unique_ptr<HttpServer> server(new HttpServer());
  server->impl_ = std::make_unique<Impl>();
  server->impl_->api = api;
  server->impl_->max_body = options.max_body_bytes;
  http_listener_config config;
  config.set_timeout(std::chrono::seconds(3600));
  bool tls = options.cert_pem.has_value();
  if (tls) {
    auto cb = waop::tls::MakeServerSslCallback(*options.cert_pem, options.key_pem.value_or(""));
    if (!cb.ok()) return cb.status();
    config.set_ssl_context_callback(*cb);
  }
  std::string last_error;
  for (int attempt = 0; attempt < 20; ++attempt) {
    int port = options.port;
    if (port == 0) {
      auto picked = waop::PickFreeLoopbackPort();
      port = picked.ok() ? *picked : 0;
    }
    if (port == 0) continue;
    std::string url =
        std::string(tls ? "https" : "http") + "://" + options.host + ":" + std::to_string(port);
    try {
      auto listener = std::make_unique<http_listener>(web::uri(url), config);
      Impl* impl = server->impl_.get();
      listener->support([impl](http_request req) { impl->Serve(std::move(req)); });
      listener->open().wait();
      server->impl_->listener = std::move(listener);
      server->port_ = port;
      server->url_ = url;
      return server;
    } catch (const std::exception& e) {
      last_error = e.what();
      if (options.port != 0) break;
    }
  }
  return Status::Unavailable("cannot listen on " + options.host + ": " + last_error);
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->listener) return;
  try {
    impl_->listener->close().wait();
  } catch (const std::exception&) {
  }
  impl_->listener.reset();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace devserver
