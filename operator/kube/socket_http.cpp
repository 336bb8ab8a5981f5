// The Kubernetes client's HTTP/1.1 transport, over POSIX sockets and OpenSSL; one connection and
// the framing of its answers are in http_connection.cpp.
//
// Every caller of the transport blocks until its answer is in (workers, informers, the lease
// loop), so the exchange runs on the caller's own thread with non-blocking sockets and poll():
// no I/O thread pool, no task continuations, no copy of the body between threads. That path was
// most of the operator's CPU under cpprestsdk's client (its I/O threads alone were 43% at
// 10,000 assignments).
//
// Connections are kept alive in a pool shared by Send calls; a watch has a connection of its
// own, closed when its reader is dropped. Nothing here follows redirects, and the bearer token
// is never put into a Status message.
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <mutex>
#include <vector>

#include "kube/http.h"
#include "kube/http_connection.h"

namespace waop::kube {
namespace {

using internal::Connection;
using internal::ErrnoText;
using internal::OpenSslError;
using internal::ServerUrl;
using internal::SteadyClock;
using std::chrono::milliseconds;

// Bounds on a whole non-watch body (the largest list page of 500 objects is a few MB) and a
// streamed error body.
constexpr std::size_t kMaxBodyBytes = std::size_t{1} << 30;
constexpr std::size_t kMaxErrorBodyBytes = std::size_t{1} << 20;
// Idle connections kept, and for how long (client-go: 90 s).
constexpr std::size_t kMaxIdle = 64;
constexpr auto kIdleFor = std::chrono::seconds(90);

Result<ServerUrl> ParseServerUrl(const std::string& server) {
  const auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("server \"" + server + "\": " + why);
  };
  ServerUrl url;
  std::string_view rest = server;
  const auto scheme_end = rest.find("://");
  if (scheme_end == std::string_view::npos) return bad("not a valid URL");
  const std::string_view scheme = rest.substr(0, scheme_end);
  if (EqualsIgnoreCase(scheme, "https")) {
    url.tls = true;
  } else if (!EqualsIgnoreCase(scheme, "http")) {
    return bad("expected http or https");
  }
  rest.remove_prefix(scheme_end + 3);
  const auto path_start = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, path_start);
  std::string_view path = path_start == std::string_view::npos ? "" : rest.substr(path_start);
  if (path.find_first_of("?#") != std::string_view::npos)
    return bad("expected no query or fragment");
  if (authority.find('@') != std::string_view::npos) return bad("expected no user information");
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return bad("not a valid URL");
    const std::string_view after = host.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("not a valid URL");
      port = after.substr(1);
    }
    host = host.substr(1, close - 1);
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) return bad("no host");
  if (port.empty()) {
    port = url.tls ? "443" : "80";
  } else {
    int value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535)
      return bad("port \"" + std::string(port) + "\" is not a number from 1 to 65535");
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  url.host = host;
  url.port = port;
  url.authority = authority;
  url.base_path = path;
  return url;
}

// A watch body, read line by line from a connection of its own.
class SocketLineReader final : public LineReader {
 public:
  SocketLineReader(std::unique_ptr<Connection> conn, milliseconds timeout, std::string what)
      : conn_(std::move(conn)), timeout_(timeout), what_(std::move(what)) {}

  Result<std::optional<std::string>> ReadLine() override {
    for (;;) {
      if (auto line = lines_.Next()) return std::optional<std::string>(std::move(*line));
      if (cancelled_.load()) return Status::Cancelled(what_ + ": cancelled");
      if (ended_) {
        if (!lines_.partial().empty())
          return Status::Unavailable(what_ + ": stream ended in the middle of a line");
        return std::optional<std::string>();
      }
      auto piece = conn_->NextBodyPiece(timeout_);
      if (!piece.ok()) {
        if (cancelled_.load()) return Status::Cancelled(what_ + ": cancelled");
        return piece.status();
      }
      if (piece->empty()) {
        ended_ = true;
      } else {
        WAOP_RETURN_IF_ERROR(lines_.Feed(*piece));
      }
    }
  }

  void Cancel() override {
    if (cancelled_.exchange(true)) return;
    conn_->Cancel();
  }

 private:
  std::unique_ptr<Connection> conn_;
  const milliseconds timeout_;
  const std::string what_;
  std::atomic<bool> cancelled_{false};
  bool ended_ = false;
  LineSplitter lines_;
};

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};

// Reads every certificate of a PEM bundle; InvalidArgument when there is none.
Result<std::vector<X509*>> ReadPemCertificates(const std::string& pem, std::string_view what) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  std::vector<X509*> certs;
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    certs.push_back(cert);
  }
  ERR_clear_error();
  if (certs.empty()) {
    return Status::InvalidArgument(std::string(what) + ": no PEM certificate found");
  }
  return certs;
}

class SocketTransport final : public HttpTransport {
 public:
  SocketTransport(ClusterConfig config, ServerUrl url, std::unique_ptr<SSL_CTX, SslCtxFree> ctx)
      : config_(std::move(config)), url_(std::move(url)), ctx_(std::move(ctx)) {
    endpoint_ = (url_.host.find(':') != std::string::npos ? "[" + url_.host + "]" : url_.host) +
                ":" + url_.port;
    verify_name_ = config_.tls_server_name.empty() ? url_.host : config_.tls_server_name;
    user_agent_ = config_.user_agent.empty() ? UserAgent() : config_.user_agent;
  }

  std::string Endpoint() const override { return endpoint_; }

  Result<HttpResponse> Send(const HttpRequest& request) override {
    const std::string what = Describe(request);
    WAOP_ASSIGN_OR_RETURN(const std::string wire, Serialize(request));
    const bool head_request = request.method == "HEAD";
    // A pooled connection the server closed while idle fails before any answer byte; the
    // request is then sent once more on a new connection (as Go's transport does).
    for (int attempt = 0;; ++attempt) {
      bool reused = false;
      std::unique_ptr<Connection> conn;
      if (attempt == 0) conn = TakeIdle();
      if (conn) {
        reused = true;
        conn->set_what(what);
      } else {
        WAOP_ASSIGN_OR_RETURN(conn, Connect(what, request.timeout));
      }
      conn->StartExchange();
      HttpResponse out;
      Status status = conn->WriteAll(wire, request.timeout);
      if (status.ok()) status = conn->ReadHead(out, request.timeout);
      if (!status.ok()) {
        if (reused && !conn->got_bytes() && status.code() == StatusCode::kUnavailable) continue;
        return status;
      }
      WAOP_RETURN_IF_ERROR(conn->StartBody(out, head_request));
      for (;;) {
        WAOP_ASSIGN_OR_RETURN(const std::string_view piece, conn->NextBodyPiece(request.timeout));
        if (piece.empty()) break;
        if (out.body.size() + piece.size() > kMaxBodyBytes)
          return Status::Unavailable(what + ": answer body over " +
                                     std::to_string(kMaxBodyBytes >> 20) + " MiB");
        out.body.append(piece);
      }
      if (conn->Reusable()) PutIdle(std::move(conn));
      return out;
    }
  }

  Result<StreamResponse> Stream(const HttpRequest& request) override {
    const std::string what = Describe(request);
    WAOP_ASSIGN_OR_RETURN(const std::string wire, Serialize(request));
    WAOP_ASSIGN_OR_RETURN(auto conn, Connect(what, request.timeout));
    WAOP_RETURN_IF_ERROR(conn->EnableCancel());
    conn->StartExchange();
    WAOP_RETURN_IF_ERROR(conn->WriteAll(wire, request.timeout));
    StreamResponse out;
    HttpResponse head;
    WAOP_RETURN_IF_ERROR(conn->ReadHead(head, request.timeout));
    WAOP_RETURN_IF_ERROR(conn->StartBody(head, false));
    out.status = head.status;
    out.headers = std::move(head.headers);
    if (out.status < 200 || out.status > 299) {
      // An error answer is a short Status object: read it whole.
      for (;;) {
        WAOP_ASSIGN_OR_RETURN(const std::string_view piece, conn->NextBodyPiece(request.timeout));
        if (piece.empty()) break;
        if (out.error_body.size() + piece.size() > kMaxErrorBodyBytes)
          return Status::Unavailable(what + ": error answer over 1 MiB");
        out.error_body.append(piece);
      }
      return out;
    }
    out.lines = std::make_unique<SocketLineReader>(std::move(conn), request.timeout, what);
    return out;
  }

 private:
  std::string Describe(const HttpRequest& request) const {
    // Path without the query: selectors are fine to log, but keep messages short.
    const std::string path = request.path.substr(0, request.path.find('?'));
    return request.method + " " + (url_.tls ? "https://" : "http://") + endpoint_ + url_.base_path +
           path;
  }

  Result<std::string> Serialize(const HttpRequest& request) const {
    const auto bad_text = [](std::string_view s) {
      return s.find_first_of("\r\n", 0) != std::string_view::npos ||
             s.find('\0') != std::string_view::npos;
    };
    if (request.method.empty() || bad_text(request.method) ||
        request.method.find(' ') != std::string::npos || request.path.empty() ||
        request.path.front() != '/' || bad_text(request.path) ||
        request.path.find(' ') != std::string::npos) {
      return Status::InvalidArgument(request.method.substr(0, 20) + " " +
                                     request.path.substr(0, 200) +
                                     ": cannot build request: bad method or path");
    }
    std::string wire;
    wire.reserve(256 + request.path.size() + request.body.size());
    wire.append(request.method).append(" ").append(url_.base_path).append(request.path);
    wire.append(" HTTP/1.1\r\nHost: ").append(url_.authority).append("\r\n");
    bool has_agent = false;
    bool has_type = false;
    for (const auto& [name, value] : request.headers) {
      if (name.empty() || bad_text(name) || name.find(':') != std::string::npos ||
          bad_text(value)) {
        return Status::InvalidArgument(request.method + " " + request.path.substr(0, 200) +
                                       ": cannot build request: bad header \"" +
                                       name.substr(0, 40) + "\"");
      }
      has_agent = has_agent || EqualsIgnoreCase(name, "User-Agent");
      has_type = has_type || EqualsIgnoreCase(name, "Content-Type");
      wire.append(name).append(": ").append(value).append("\r\n");
    }
    if (!has_agent) wire.append("User-Agent: ").append(user_agent_).append("\r\n");
    if (config_.token_source) {
      auto token = config_.token_source->Token();
      if (!token.ok()) return token.status();
      if (bad_text(*token)) return Status::Unauthenticated("bearer token contains a line break");
      wire.append("Authorization: Bearer ").append(*token).append("\r\n");
    }
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
        request.method == "PATCH") {
      if (!request.body.empty() && !has_type) wire.append("Content-Type: application/json\r\n");
      wire.append("Content-Length: ").append(std::to_string(request.body.size())).append("\r\n");
    }
    wire.append("\r\n").append(request.body);
    return wire;
  }

  Result<std::unique_ptr<Connection>> Connect(const std::string& what, milliseconds timeout) {
    WAOP_ASSIGN_OR_RETURN(auto conn, Connection::Open(url_, timeout, what));
    if (url_.tls) {
      WAOP_RETURN_IF_ERROR(
          conn->StartTls(ctx_.get(), verify_name_, !config_.insecure_skip_tls_verify, timeout));
    }
    return conn;
  }

  std::unique_ptr<Connection> TakeIdle() {
    std::lock_guard lock(mu_);
    const auto now = SteadyClock::now();
    while (!idle_.empty()) {
      std::unique_ptr<Connection> conn = std::move(idle_.back());
      idle_.pop_back();
      if (now - conn->idle_since < kIdleFor && !conn->IdleButReadable()) return conn;
    }
    return nullptr;
  }

  void PutIdle(std::unique_ptr<Connection> conn) {
    conn->idle_since = SteadyClock::now();
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(conn));
  }

  const ClusterConfig config_;
  const ServerUrl url_;
  const std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::string endpoint_;
  std::string verify_name_;
  std::string user_agent_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mu_; most recent last
};

}  // namespace

Result<HttpResponse> ReadHttpAnswerForTesting(std::string_view bytes) {
  if (bytes.size() > 64 * 1024) return Status::InvalidArgument("answer over 64 KiB");
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0)
    return Status::Internal("socketpair: " + ErrnoText(errno));
  Connection conn(fds[0], "answer");
  const int one_way = fds[1];
  int buffer = 256 * 1024;
  ::setsockopt(one_way, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  const bool written = ::send(one_way, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
                       static_cast<ssize_t>(bytes.size());
  ::close(one_way);
  if (!bytes.empty() && !written) return Status::Internal("socketpair: answer not written");
  conn.StartExchange();
  HttpResponse out;
  WAOP_RETURN_IF_ERROR(conn.ReadHead(out, std::chrono::seconds(1)));
  WAOP_RETURN_IF_ERROR(conn.StartBody(out, false));
  for (;;) {
    WAOP_ASSIGN_OR_RETURN(const std::string_view piece,
                          conn.NextBodyPiece(std::chrono::seconds(1)));
    if (piece.empty()) break;
    out.body.append(piece);
  }
  return out;
}

Result<std::shared_ptr<HttpTransport>> NewSocketTransport(const ClusterConfig& config) {
  WAOP_ASSIGN_OR_RETURN(ServerUrl url, ParseServerUrl(config.server));
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx;
  if (!config.ca_pem.empty()) {  // checked even for http, so a bad kubeconfig is reported
    WAOP_ASSIGN_OR_RETURN(auto certs, ReadPemCertificates(config.ca_pem, "certificate authority"));
    for (X509* cert : certs) X509_free(cert);
  }
  if (url.tls || !config.client_cert_pem.empty()) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return Status::Internal("TLS: " + OpenSslError());
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(
        ctx.get(), config.insecure_skip_tls_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, nullptr);
    if (!config.ca_pem.empty()) {
      // Trust only the cluster's CA, not the system roots (as client-go).
      WAOP_ASSIGN_OR_RETURN(auto certs,
                            ReadPemCertificates(config.ca_pem, "certificate authority"));
      X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
      for (X509* cert : certs) {
        X509_STORE_add_cert(store, cert);
        X509_free(cert);
      }
      ERR_clear_error();  // a certificate listed twice is not an error
    } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      ERR_clear_error();  // no system roots: verification will fail and say so
    }
    if (!config.client_cert_pem.empty()) {
      WAOP_ASSIGN_OR_RETURN(auto chain,
                            ReadPemCertificates(config.client_cert_pem, "client certificate"));
      bool ok = SSL_CTX_use_certificate(ctx.get(), chain[0]) == 1;
      X509_free(chain[0]);
      for (std::size_t i = 1; i < chain.size(); ++i) {
        // add0 takes ownership on success.
        if (ok && SSL_CTX_add0_chain_cert(ctx.get(), chain[i]) == 1) continue;
        ok = false;
        X509_free(chain[i]);
      }
      if (!ok) return Status::InvalidArgument("client certificate: " + OpenSslError());
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(
          BIO_new_mem_buf(config.client_key_pem.data(),
                          static_cast<int>(config.client_key_pem.size())),
          &BIO_free);
      EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
      ERR_clear_error();
      // The messages must not quote the key.
      if (key == nullptr) return Status::InvalidArgument("client key: not a PEM private key");
      const bool used =
          SSL_CTX_use_PrivateKey(ctx.get(), key) == 1 && SSL_CTX_check_private_key(ctx.get()) == 1;
      EVP_PKEY_free(key);
      ERR_clear_error();
      if (!used)
        return Status::InvalidArgument("client key: does not match the client certificate");
    }
  }
  return std::shared_ptr<HttpTransport>(
      std::make_shared<SocketTransport>(config, std::move(url), std::move(ctx)));
}

}  // namespace waop::kube
