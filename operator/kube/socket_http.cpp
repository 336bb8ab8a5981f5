// The Kubernetes client's HTTP/1.1 transport, over POSIX sockets and OpenSSL.
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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <mutex>
#include <system_error>
#include <vector>

#include "kube/http.h"

namespace waop::kube {
namespace {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Bounds on what a server may send us: a response head, a chunk-size line, a whole non-watch
// body (the largest list page of 500 objects is a few MB), and a streamed error body.
constexpr std::size_t kMaxHeadBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxChunkLineBytes = 4096;
constexpr std::size_t kMaxBodyBytes = std::size_t{1} << 30;
constexpr std::size_t kMaxErrorBodyBytes = std::size_t{1} << 20;
constexpr std::size_t kReadBytes = std::size_t{64} * 1024;
// Idle connections kept, and for how long (client-go: 90 s).
constexpr std::size_t kMaxIdle = 64;
constexpr auto kIdleFor = std::chrono::seconds(90);

// strerror is not thread-safe; the system_category message is.
std::string ErrnoText(int err) { return std::system_category().message(err); }

// The first OpenSSL error of this thread, as text, and the queue cleared.
std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool ContainsTokenIgnoreCase(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

// The server URL: scheme://host[:port][/base/path], host possibly a bracketed IPv6 address.
struct ServerUrl {
  bool tls = false;
  std::string host;       // without brackets
  std::string port;       // decimal
  std::string authority;  // as written, for the Host header
  std::string base_path;  // "" or "/prefix", no trailing slash
};

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

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A socket BIO that sends with MSG_NOSIGNAL: OpenSSL's own uses write(), and a write to a
// connection the server closed would raise SIGPIPE and end the process.
int BioWrite(BIO* bio, const char* data, size_t size, size_t* written) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n >= 0) {
      *written = static_cast<size_t>(n);
      return 1;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(bio);
    return 0;
  }
}

int BioRead(BIO* bio, char* data, size_t size, size_t* read_bytes) {
  const int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(fd, data, size, 0);
    if (n > 0) {
      *read_bytes = static_cast<size_t>(n);
      return 1;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
    if (n == 0) errno = 0;  // end of stream, not an error of the socket
    return 0;
  }
}

long BioCtrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

const BIO_METHOD* SocketBioMethod() {
  static const BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "waop socket");
    BIO_meth_set_write_ex(m, BioWrite);
    BIO_meth_set_read_ex(m, BioRead);
    BIO_meth_set_ctrl(m, BioCtrl);
    BIO_meth_set_create(m, [](BIO* bio) {
      BIO_set_init(bio, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

// Received bytes not yet consumed, [start_, end_) of one heap block that reads append to.
class InBuffer {
 public:
  std::string_view view() const { return {block_.get() + start_, end_ - start_}; }
  bool empty() const { return start_ == end_; }
  void Consume(std::size_t n) {
    start_ += n;
    if (start_ == end_) start_ = end_ = 0;
  }
  void Clear() { start_ = end_ = 0; }
  // Room for `n` more bytes at the back (not zero-filled), moving or growing the block.
  char* Reserve(std::size_t n) {
    if (capacity_ - end_ >= n) return block_.get() + end_;
    const std::size_t used = end_ - start_;
    if (capacity_ - used >= n && start_ > 0) {
      std::memmove(block_.get(), block_.get() + start_, used);
    } else {
      const std::size_t capacity = std::max(capacity_ * 2, used + n);
      std::unique_ptr<char[]> block(new char[capacity]);
      if (used > 0) std::memcpy(block.get(), block_.get() + start_, used);
      block_ = std::move(block);
      capacity_ = capacity;
    }
    start_ = 0;
    end_ = used;
    return block_.get() + end_;
  }
  void Commit(std::size_t n) { end_ += n; }

 private:
  std::unique_ptr<char[]> block_;
  std::size_t capacity_ = 0;
  std::size_t start_ = 0;
  std::size_t end_ = 0;
};

// One TCP (and TLS) connection, used by one thread at a time, with a read buffer and the
// HTTP/1.1 response framing on top.
class Connection {
 public:
  Connection(int fd, std::string what) : fd_(fd), what_(std::move(what)) {}
  ~Connection() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) ::close(fd_);
    if (cancel_fd_ >= 0) ::close(cancel_fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to host:port within `timeout`, trying each address the name resolves to.
  static Result<std::unique_ptr<Connection>> Open(const ServerUrl& url, milliseconds timeout,
                                                  const std::string& what) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found);
    if (rc != 0) {
      return Status::Unavailable(what + ": cannot resolve \"" + url.host +
                                 "\": " + gai_strerror(rc));
    }
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
    Status last = Status::Unavailable(what + ": no address for \"" + url.host + "\"");
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
      const int fd =
          ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) {
        last = Status::Unavailable(what + ": socket: " + ErrnoText(errno));
        continue;
      }
      auto conn = std::make_unique<Connection>(fd, what);
      const int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
          last = Status::Unavailable(what + ": connect: " + ErrnoText(errno));
          continue;
        }
        Status waited = conn->Wait(POLLOUT, timeout);
        if (!waited.ok()) {
          last = waited;
          continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
          last = Status::Unavailable(what + ": connect: " + ErrnoText(err));
          continue;
        }
      }
      return conn;
    }
    return last;
  }

  // The TLS handshake; the certificate is checked against `verify_name` unless `verify` is
  // false.
  Status StartTls(SSL_CTX* ctx, const std::string& verify_name, bool verify, milliseconds timeout) {
    ssl_ = SSL_new(ctx);
    BIO* bio = ssl_ != nullptr ? BIO_new(SocketBioMethod()) : nullptr;
    if (bio == nullptr) return Status::Internal(what_ + ": TLS: " + OpenSslError());
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(fd_)));
    SSL_set_bio(ssl_, bio, bio);
    const bool ip = IsIpLiteral(verify_name);
    if (!ip) SSL_set_tlsext_host_name(ssl_, verify_name.c_str());
    if (verify) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
      const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, verify_name.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, verify_name.c_str(), 0);
      if (set != 1) return Status::Internal(what_ + ": TLS: " + OpenSslError());
    }
    SSL_set_connect_state(ssl_);
    for (;;) {
      ERR_clear_error();
      const int rc = SSL_do_handshake(ssl_);
      if (rc == 1) return Status::Ok();
      const int err = SSL_get_error(ssl_, rc);
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
        WAOP_RETURN_IF_ERROR(Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout));
        continue;
      }
      std::string why;
      const long verified = SSL_get_verify_result(ssl_);
      if (verified != X509_V_OK) {
        why = std::string("certificate verify failed: ") + X509_verify_cert_error_string(verified);
        ERR_clear_error();
      } else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
        why = errno != 0 ? ErrnoText(errno) : "connection closed";
      } else {
        why = OpenSslError();
      }
      return Status::Unavailable(what_ + ": TLS handshake: " + why);
    }
  }

  // Lets Cancel() unblock a reader on another thread.
  Status EnableCancel() {
    cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (cancel_fd_ < 0) return Status::Internal(what_ + ": eventfd: " + ErrnoText(errno));
    return Status::Ok();
  }
  // Any thread.
  void Cancel() {
    if (cancel_fd_ < 0) return;
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(cancel_fd_, &one, sizeof one);
  }

  void set_what(std::string what) { what_ = std::move(what); }

  Status WriteAll(std::string_view data, milliseconds timeout) {
    while (!data.empty()) {
      std::size_t n = 0;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        if (SSL_write_ex(ssl_, data.data(), data.size(), &n) != 1) {
          const int err = SSL_get_error(ssl_, 0);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            WAOP_RETURN_IF_ERROR(Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout));
            continue;
          }
          return TlsIoError(err, "write");
        }
      } else {
        const ssize_t sent = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            WAOP_RETURN_IF_ERROR(Wait(POLLOUT, timeout));
            continue;
          }
          return Status::Unavailable(what_ + ": write: " + ErrnoText(errno));
        }
        n = static_cast<std::size_t>(sent);
      }
      data.remove_prefix(n);
    }
    return Status::Ok();
  }

  // True when the idle connection has something to read (the server closed it, or sent
  // bytes nobody asked for): it cannot carry another request.
  bool IdleButReadable() const {
    if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
    pollfd p{fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) != 0;
  }

  // ---- The response.

  // Reads the status line and headers of the next response, skipping 1xx ones.
  Status ReadHead(HttpResponse& out, milliseconds timeout) {
    for (;;) {
      std::size_t end;
      for (;;) {
        end = in_.view().find("\r\n\r\n");
        if (end != std::string_view::npos) break;
        if (in_.view().size() > kMaxHeadBytes)
          return Malformed("response head longer than " + std::to_string(kMaxHeadBytes) + " bytes");
        WAOP_ASSIGN_OR_RETURN(const bool more, Fill(timeout));
        if (!more) {
          if (in_.empty() && !got_bytes_)
            return Status::Unavailable(what_ + ": connection closed before an answer");
          return Malformed("connection closed in the response head");
        }
      }
      const Status parsed = ParseHead(in_.view().substr(0, end), out);
      in_.Consume(end + 4);
      WAOP_RETURN_IF_ERROR(parsed);
      if (out.status >= 200 || out.status < 100) return Status::Ok();
      out.headers.clear();  // 1xx: informational, the real answer follows
    }
  }

  // Chooses the body framing from the head; `head_request` answers carry none.
  Status StartBody(const HttpResponse& head, bool head_request) {
    keep_alive_ = http11_;
    if (const auto connection = FindHeader(head.headers, "Connection")) {
      if (ContainsTokenIgnoreCase(*connection, "close")) keep_alive_ = false;
      if (ContainsTokenIgnoreCase(*connection, "keep-alive")) keep_alive_ = true;
    }
    chunk_left_ = 0;
    first_chunk_ = true;
    if (head_request || head.status == 204 || head.status == 304) {
      framing_ = Framing::kDone;
      return Status::Ok();
    }
    if (const auto te = FindHeader(head.headers, "Transfer-Encoding")) {
      if (!EqualsIgnoreCase(*te, "chunked"))
        return Malformed("unsupported Transfer-Encoding \"" + te->substr(0, 40) + "\"");
      framing_ = Framing::kChunked;
      return Status::Ok();
    }
    if (const auto length = FindHeader(head.headers, "Content-Length")) {
      std::size_t n = 0;
      const auto [p, ec] = std::from_chars(length->data(), length->data() + length->size(), n);
      if (ec != std::errc() || p != length->data() + length->size())
        return Malformed("Content-Length \"" + length->substr(0, 40) + "\" is not a number");
      framing_ = n == 0 ? Framing::kDone : Framing::kLength;
      body_left_ = n;
      return Status::Ok();
    }
    framing_ = Framing::kUntilClose;
    keep_alive_ = false;
    return Status::Ok();
  }

  // The next piece of the body; an empty view at its end. The view is valid until the next
  // call.
  Result<std::string_view> NextBodyPiece(milliseconds timeout) {
    switch (framing_) {
      case Framing::kDone:
        return std::string_view();
      case Framing::kLength: {
        WAOP_RETURN_IF_ERROR(NeedBytes(timeout, "the body"));
        const std::string_view piece = in_.view().substr(0, body_left_);
        in_.Consume(piece.size());
        body_left_ -= piece.size();
        if (body_left_ == 0) framing_ = Framing::kDone;
        return piece;
      }
      case Framing::kChunked: {
        if (chunk_left_ == 0) {
          if (!first_chunk_) {
            WAOP_ASSIGN_OR_RETURN(const std::string_view crlf, ReadCrlfLine(timeout));
            if (!crlf.empty()) return Malformed("chunk not followed by CRLF");
          }
          first_chunk_ = false;
          WAOP_ASSIGN_OR_RETURN(std::string_view size_line, ReadCrlfLine(timeout));
          size_line = size_line.substr(0, size_line.find(';'));
          while (!size_line.empty() && (size_line.back() == ' ' || size_line.back() == '\t'))
            size_line.remove_suffix(1);
          std::size_t size = 0;
          const auto [p, ec] =
              std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
          if (size_line.empty() || ec != std::errc() || p != size_line.data() + size_line.size())
            return Malformed("bad chunk size line");
          if (size == 0) {
            for (;;) {  // trailers, up to the empty line
              WAOP_ASSIGN_OR_RETURN(const std::string_view trailer, ReadCrlfLine(timeout));
              if (trailer.empty()) break;
            }
            framing_ = Framing::kDone;
            return std::string_view();
          }
          chunk_left_ = size;
        }
        WAOP_RETURN_IF_ERROR(NeedBytes(timeout, "a chunk"));
        const std::string_view piece = in_.view().substr(0, chunk_left_);
        in_.Consume(piece.size());
        chunk_left_ -= piece.size();
        return piece;
      }
      case Framing::kUntilClose: {
        if (in_.empty()) {
          WAOP_ASSIGN_OR_RETURN(const bool more, Fill(timeout));
          if (!more) {
            framing_ = Framing::kDone;
            return std::string_view();
          }
        }
        const std::string_view piece = in_.view();
        in_.Consume(piece.size());
        return piece;
      }
    }
    return Status::Internal(what_ + ": bad body state");
  }

  // Whether the connection can carry another request after this answer's body was read.
  bool Reusable() const { return keep_alive_ && framing_ == Framing::kDone && in_.empty(); }

  // Whether any byte of an answer arrived since the request was written.
  bool got_bytes() const { return got_bytes_; }
  void StartExchange() {
    got_bytes_ = false;
    in_.Clear();
  }

  SteadyClock::time_point idle_since;

 private:
  enum class Framing { kDone, kLength, kChunked, kUntilClose };

  Status Malformed(const std::string& why) const {
    return Status::Unavailable(what_ + ": malformed answer: " + why);
  }

  // Waits until the socket is ready for `events`, the timeout passes, or Cancel() is called.
  Status Wait(short events, milliseconds timeout) {
    const auto deadline = SteadyClock::now() + timeout;
    for (;;) {
      pollfd fds[2] = {{fd_, events, 0}, {cancel_fd_, POLLIN, 0}};
      const auto left =
          std::chrono::duration_cast<milliseconds>(deadline - SteadyClock::now()).count();
      const int rc = ::poll(fds, cancel_fd_ >= 0 ? 2 : 1,
                            static_cast<int>(std::clamp<long long>(left, 0, INT32_MAX)));
      if (rc < 0 && errno == EINTR) continue;
      if (rc < 0) return Status::Internal(what_ + ": poll: " + ErrnoText(errno));
      if (cancel_fd_ >= 0 && (fds[1].revents & POLLIN) != 0)
        return Status::Cancelled(what_ + ": cancelled");
      if (rc == 0) return Status::DeadlineExceeded(what_ + ": timed out");
      return Status::Ok();  // ready, or an error the next read or write reports
    }
  }

  Status TlsIoError(int err, const char* op) {
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      return Status::Unavailable(what_ + ": " + op + ": " +
                                 (errno != 0 ? ErrnoText(errno) : "connection closed"));
    }
    return Status::Unavailable(what_ + ": " + op + ": " + OpenSslError());
  }

  // Appends what arrives (at least one byte) to the buffer; false at the end of the stream.
  Result<bool> Fill(milliseconds timeout) {
    char* const into = in_.Reserve(kReadBytes);
    for (;;) {
      std::size_t n = 0;
      if (ssl_ != nullptr) {
        ERR_clear_error();
        if (SSL_read_ex(ssl_, into, kReadBytes, &n) != 1) {
          const int err = SSL_get_error(ssl_, 0);
          if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            Status waited = Wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout);
            if (!waited.ok()) {
              return waited;
            }
            continue;
          }
          if (err == SSL_ERROR_ZERO_RETURN) return false;
          return TlsIoError(err, "read");
        }
      } else {
        const ssize_t got = ::recv(fd_, into, kReadBytes, 0);
        if (got < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            Status waited = Wait(POLLIN, timeout);
            if (!waited.ok()) {
              return waited;
            }
            continue;
          }
          return Status::Unavailable(what_ + ": read: " + ErrnoText(errno));
        }
        if (got == 0) {
          return false;
        }
        n = static_cast<std::size_t>(got);
      }
      in_.Commit(n);
      got_bytes_ = true;
      return true;
    }
  }

  // At least one unread byte in the buffer; the connection closing first is an error.
  Status NeedBytes(milliseconds timeout, const char* in) {
    if (!in_.empty()) return Status::Ok();
    WAOP_ASSIGN_OR_RETURN(const bool more, Fill(timeout));
    if (!more) return Status::Unavailable(what_ + ": connection closed in " + in);
    return Status::Ok();
  }

  // The next CRLF-terminated line of the body framing, without the CRLF.
  Result<std::string_view> ReadCrlfLine(milliseconds timeout) {
    for (;;) {
      const auto end = in_.view().find("\r\n");
      if (end != std::string_view::npos) {
        const std::string_view line = in_.view().substr(0, end);
        in_.Consume(end + 2);
        return line;
      }
      if (in_.view().size() > kMaxChunkLineBytes) return Malformed("chunk line too long");
      WAOP_ASSIGN_OR_RETURN(const bool more, Fill(timeout));
      if (!more) return Status::Unavailable(what_ + ": connection closed in a chunked body");
    }
  }

  Status ParseHead(std::string_view head, HttpResponse& out) {
    auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' '))
      return Malformed("bad status line \"" + std::string(status_line.substr(0, 60)) + "\"");
    http11_ = status_line[7] == '1';
    int code = 0;
    const auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, code);
    if (ec != std::errc() || p != status_line.data() + 12 || code < 100)
      return Malformed("bad status line \"" + std::string(status_line.substr(0, 60)) + "\"");
    out.status = code;
    out.headers.clear();
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      const auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0 || line.front() == ' ' ||
          line.front() == '\t')
        return Malformed("bad header line");
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t'))
        value.remove_suffix(1);
      out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
    }
    return Status::Ok();
  }

  int fd_;
  SSL* ssl_ = nullptr;
  int cancel_fd_ = -1;
  std::string what_;
  InBuffer in_;
  bool got_bytes_ = false;
  bool http11_ = true;
  bool keep_alive_ = false;
  Framing framing_ = Framing::kDone;
  std::size_t body_left_ = 0;
  std::size_t chunk_left_ = 0;
  bool first_chunk_ = true;
};

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
