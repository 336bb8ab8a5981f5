// The cpprestsdk adapter: the only file of waop_kube that includes cpprest or Boost.Asio
// headers. Everything cpprest throws is caught here and becomes a Status.
#include <cpprest/http_client.h>
#include <cpprest/producerconsumerstream.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pplx/threadpool.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/ssl.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>

#include "kube/http.h"
#include "tls/cpprest_call.h"

namespace waop::kube {
namespace {

namespace http = web::http;
namespace client = web::http::client;

using ByteBuffer = concurrency::streams::producer_consumer_buffer<uint8_t>;

// Counts the certificates in a PEM bundle; InvalidArgument when there are none or one is
// malformed.
Result<int> CountPemCertificates(const std::string& pem, std::string_view what) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  int count = 0;
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    X509_free(cert);
    ++count;
  }
  ERR_clear_error();
  if (count == 0) {
    return Status::InvalidArgument(std::string(what) + ": no PEM certificate found");
  }
  return count;
}

Status CheckPrivateKey(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
  ERR_clear_error();
  // The message must not quote the key.
  if (key == nullptr) return Status::InvalidArgument("client key: not a PEM private key");
  EVP_PKEY_free(key);
  return Status::Ok();
}

Status FromHttpException(const std::exception& e, const std::string& what) {
  if (const auto* he = dynamic_cast<const http::http_exception*>(&e)) {
    if (he->error_code() == std::errc::timed_out) {
      return Status::DeadlineExceeded(what + ": timed out");
    }
    if (he->error_code() == std::errc::operation_canceled) {
      return Status::Cancelled(what + ": cancelled");
    }
  }
  return Status::Unavailable(what + ": " + e.what());
}

HttpHeaders ConvertHeaders(const http::http_headers& headers) {
  HttpHeaders out;
  for (const auto& [k, v] : headers) out.emplace_back(k, v);
  return out;
}

// How a streamed body ended, set by a continuation on content_ready(): cpprest does not
// close a caller-provided response stream when the body ends cleanly, so that continuation
// closes it, after recording whether the exchange failed.
class StreamEnd {
 public:
  void Set(Status status) {
    std::lock_guard lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }
  // The final status, waiting up to `timeout` for it; nullopt if it did not arrive.
  std::optional<Status> Wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, timeout, [&] { return done_; })) return std::nullopt;
    return status_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  Status status_;
};

// Reads the bytes of a producer/consumer buffer that cpprest fills as the body arrives.
class CpprestLineReader final : public LineReader {
 public:
  CpprestLineReader(std::shared_ptr<ByteBuffer> buffer, pplx::cancellation_token_source cts,
                    http::http_response response, std::shared_ptr<StreamEnd> end, std::string what)
      : buffer_(std::move(buffer)),
        cts_(std::move(cts)),
        response_(std::move(response)),
        end_(std::move(end)),
        what_(std::move(what)) {}

  ~CpprestLineReader() override { Cancel(); }

  Result<std::optional<std::string>> ReadLine() override {
    for (;;) {
      if (auto line = lines_.Next()) return std::optional<std::string>(std::move(*line));
      if (cancelled_.load()) return Status::Cancelled(what_ + ": cancelled");
      if (eof_) {
        // The buffer is closed before or just after the end is recorded; wait for it.
        std::optional<Status> end = end_->Wait(std::chrono::seconds(10));
        if (cancelled_.load()) return Status::Cancelled(what_ + ": cancelled");
        if (!end) return Status::Internal(what_ + ": stream closed without an end status");
        if (!end->ok()) return *end;
        if (!lines_.partial().empty()) {
          return Status::Unavailable(what_ + ": stream ended in the middle of a line");
        }
        return std::optional<std::string>();
      }
      WAOP_RETURN_IF_ERROR(Fill());
    }
  }

  void Cancel() override {
    if (cancelled_.exchange(true)) return;
    try {
      cts_.cancel();
      // Wake a reader blocked on the buffer even if cpprest is slow to notice the cancel.
      buffer_->close(std::ios_base::out);
    } catch (const std::exception&) {  // already closed
    }
  }

 private:
  // Blocks until at least one byte or the end of the body arrives.
  Status Fill() {
    try {
      std::size_t avail = buffer_->in_avail();
      if (avail == 0) {
        // bumpc waits for one byte; then take whatever else has arrived without blocking.
        const auto c = buffer_->bumpc().get();
        if (c == ByteBuffer::traits::eof()) {
          eof_ = true;
          return Status::Ok();
        }
        const char ch = static_cast<char>(c);
        WAOP_RETURN_IF_ERROR(lines_.Feed(std::string_view(&ch, 1)));
        avail = buffer_->in_avail();
        if (avail == 0) return Status::Ok();
      }
      // Into a buffer kept between reads (zero-filled only when it grows), at most 64 KiB a time.
      avail = std::min<std::size_t>(avail, 64 * 1024);
      if (chunk_.size() < avail) chunk_.resize(avail);
      const std::size_t n = buffer_->getn(chunk_.data(), avail).get();
      return lines_.Feed(std::string_view(reinterpret_cast<const char*>(chunk_.data()), n));
    } catch (const std::exception& e) {
      if (cancelled_.load()) return Status::Cancelled(what_ + ": cancelled");
      return FromHttpException(e, what_);
    }
  }

  std::shared_ptr<ByteBuffer> buffer_;
  std::vector<uint8_t> chunk_;
  pplx::cancellation_token_source cts_;
  http::http_response response_;  // keeps the exchange alive while we read
  std::shared_ptr<StreamEnd> end_;
  const std::string what_;
  std::atomic<bool> cancelled_{false};
  bool eof_ = false;
  LineSplitter lines_;
};

class CpprestTransport final : public HttpTransport {
 public:
  CpprestTransport(ClusterConfig config, web::uri base)
      : config_(std::move(config)), base_(std::move(base)) {
    endpoint_ =
        base_.host() + ":" +
        std::to_string(base_.port() > 0 ? base_.port() : (base_.scheme() == "https" ? 443 : 80));
  }

  std::string Endpoint() const override { return endpoint_; }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string what = Describe(request);
    auto req = Build(request);
    if (!req.ok()) return req.status();
    try {
      http::http_response response = ClientFor(request.timeout).request(*req).get();
      HttpResponse out;
      out.status = response.status_code();
      out.headers = ConvertHeaders(response.headers());
      const std::vector<unsigned char> body = response.extract_vector().get();
      out.body.assign(body.begin(), body.end());
      return out;
    } catch (const std::exception& e) {
      return FromHttpException(e, what);
    }
  }

  Result<StreamResponse> Stream(const HttpRequest& request) override {
    const std::string what = Describe(request);
    auto req = Build(request);
    if (!req.ok()) return req.status();
    auto buffer = std::make_shared<ByteBuffer>();
    pplx::cancellation_token_source cts;
    try {
      req->set_response_stream(buffer->create_ostream());
      http::http_response response =
          ClientFor(request.timeout).request(*req, cts.get_token()).get();
      StreamResponse out;
      out.status = response.status_code();
      out.headers = ConvertHeaders(response.headers());
      auto end = std::make_shared<StreamEnd>();
      response.content_ready().then([buffer, end, what](pplx::task<http::http_response> t) {
        Status status;
        try {
          t.get();
        } catch (const std::exception& e) {
          status = FromHttpException(e, what);
        }
        end->Set(status);
        try {
          buffer->close(std::ios_base::out);
        } catch (const std::exception&) {  // already closed by cpprest
        }
      });
      if (out.status < 200 || out.status > 299) {
        // An error answer is a short Status object: read it whole.
        auto result = end->Wait(request.timeout);
        if (!result) return Status::DeadlineExceeded(what + ": timed out reading the error body");
        if (!result->ok()) return *result;
        std::string body;
        std::vector<uint8_t> chunk(4096);
        for (;;) {
          const std::size_t n = buffer->getn(chunk.data(), chunk.size()).get();
          if (n == 0) break;
          body.append(chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        }
        out.error_body = std::move(body);
        return out;
      }
      out.lines = std::make_unique<CpprestLineReader>(buffer, cts, std::move(response), end, what);
      return out;
    } catch (const std::exception& e) {
      return FromHttpException(e, what);
    }
  }

 private:
  std::string Describe(const HttpRequest& request) const {
    // Path without the query: selectors are fine to log, but keep messages short.
    std::string path = request.path.substr(0, request.path.find('?'));
    return request.method + " " + base_.scheme() + "://" + endpoint_ + path;
  }

  Result<http::http_request> Build(const HttpRequest& request) const {
    try {
      http::http_request req(request.method);
      req.set_request_uri(web::uri(request.path));
      for (const auto& [k, v] : request.headers) req.headers().add(k, v);
      if (!req.headers().has("User-Agent")) {
        req.headers().add("User-Agent",
                          config_.user_agent.empty() ? UserAgent() : config_.user_agent);
      }
      if (!config_.tls_server_name.empty()) {
        // cpprest verifies the certificate (and sends SNI) for the Host header's name.
        req.headers().add("Host", config_.tls_server_name);
      }
      if (config_.token_source) {
        auto token = config_.token_source->Token();
        if (!token.ok()) return token.status();
        req.headers().add("Authorization", "Bearer " + *token);
      }
      if (!request.body.empty()) {
        const auto ct = FindHeader(request.headers, "Content-Type").value_or("application/json");
        req.set_body(request.body, ct);
      }
      return req;
    } catch (const std::exception& e) {
      return Status::InvalidArgument(request.method + " " + request.path.substr(0, 200) +
                                     ": cannot build request: " + e.what());
    }
  }

  // One http_client per timeout value: cpprest's timeout is per client, and a client's
  // connection pool gives keep-alive.
  client::http_client& ClientFor(std::chrono::milliseconds timeout) {
    // Watches ask for random timeouts; round long ones up to 5-minute steps so that only a
    // few clients (and connection pools) ever exist.
    constexpr std::chrono::milliseconds kStep = std::chrono::minutes(5);
    if (timeout > std::chrono::minutes(1))
      timeout = ((timeout + kStep - std::chrono::milliseconds(1)) / kStep) * kStep;
    std::lock_guard lock(mu_);
    auto it = clients_.find(timeout.count());
    if (it != clients_.end()) return *it->second;
    const std::string ca = config_.ca_pem;
    const std::string cert = config_.client_cert_pem;
    const std::string key = config_.client_key_pem;
    auto ssl_context = [ca, cert, key](boost::asio::ssl::context& ctx) {
      // Errors here were ruled out by NewCpprestTransport; a throw would fail the
      // handshake, which cpprest reports as an exception we convert.
      if (!ca.empty()) {
        // Trust only the cluster's CA, not the system roots cpprest loaded (as client-go).
        SSL_CTX_set_cert_store(ctx.native_handle(), X509_STORE_new());
        ctx.add_certificate_authority(boost::asio::buffer(ca.data(), ca.size()));
      }
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert.data(), cert.size()));
        ctx.use_private_key(boost::asio::buffer(key.data(), key.size()),
                            boost::asio::ssl::context::pem);
      }
    };
    client::http_client_config cfg = tls::ClientConfig(timeout, ssl_context);
    cfg.set_validate_certificates(!config_.insecure_skip_tls_verify);
    auto c = std::make_unique<client::http_client>(base_, cfg);
    auto& ref = *c;
    clients_.emplace(timeout.count(), std::move(c));
    return ref;
  }

  const ClusterConfig config_;
  const web::uri base_;
  std::string endpoint_;
  std::mutex mu_;
  std::map<long long, std::unique_ptr<client::http_client>> clients_;  // guarded by mu_
};

}  // namespace

Result<std::shared_ptr<HttpTransport>> NewCpprestTransport(const ClusterConfig& config) {
  web::uri base;
  try {
    base = web::uri(config.server);
  } catch (const std::exception& e) {
    return Status::InvalidArgument("server \"" + config.server + "\": not a valid URL");
  }
  if (base.scheme() != "https" && base.scheme() != "http") {
    return Status::InvalidArgument("server \"" + config.server + "\": expected http or https");
  }
  if (base.host().empty())
    return Status::InvalidArgument("server \"" + config.server + "\": no host");
  if (!config.ca_pem.empty()) {
    auto n = CountPemCertificates(config.ca_pem, "certificate authority");
    if (!n.ok()) return n.status();
  }
  if (!config.client_cert_pem.empty()) {
    auto n = CountPemCertificates(config.client_cert_pem, "client certificate");
    if (!n.ok()) return n.status();
    WAOP_RETURN_IF_ERROR(CheckPrivateKey(config.client_key_pem));
  }
  return std::shared_ptr<HttpTransport>(std::make_shared<CpprestTransport>(config, base));
}

int DefaultHttpThreads() {
  return std::max(2, static_cast<int>(std::thread::hardware_concurrency()));
}

void SetHttpThreads(int threads) {
  if (threads < 1) return;
  try {
    crossplat::threadpool::initialize_with_threads(static_cast<std::size_t>(threads));
  } catch (const std::exception&) {  // already initialised: keep the pool we have
  }
}

}  // namespace waop::kube
