// See http_connection.h.
#include "kube/http_connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <system_error>

namespace waop::kube::internal {
namespace {

// Bounds on what a server may send us: a response head and a chunk-size line.
constexpr std::size_t kMaxHeadBytes = std::size_t{1} << 20;
constexpr std::size_t kMaxChunkLineBytes = 4096;
constexpr std::size_t kReadBytes = std::size_t{64} * 1024;

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

}  // namespace

std::string ErrnoText(int err) { return std::system_category().message(err); }

std::string OpenSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Connection::~Connection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (fd_ >= 0) ::close(fd_);
  if (cancel_fd_ >= 0) ::close(cancel_fd_);
}

Result<std::unique_ptr<Connection>> Connection::Open(const ServerUrl& url, milliseconds timeout,
                                                     const std::string& what) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &found);
  if (rc != 0) {
    return Status::Unavailable(what + ": cannot resolve \"" + url.host + "\": " + gai_strerror(rc));
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

Status Connection::StartTls(SSL_CTX* ctx, const std::string& verify_name, bool verify,
                            milliseconds timeout) {
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

Status Connection::EnableCancel() {
  cancel_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancel_fd_ < 0) return Status::Internal(what_ + ": eventfd: " + ErrnoText(errno));
  return Status::Ok();
}

void Connection::Cancel() {
  if (cancel_fd_ < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(cancel_fd_, &one, sizeof one);
}

Status Connection::WriteAll(std::string_view data, milliseconds timeout) {
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

bool Connection::IdleButReadable() const {
  if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;
}

Status Connection::ReadHead(HttpResponse& out, milliseconds timeout) {
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

Status Connection::StartBody(const HttpResponse& head, bool head_request) {
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

Result<std::string_view> Connection::NextBodyPiece(milliseconds timeout) {
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

void Connection::StartExchange() {
  got_bytes_ = false;
  in_.Clear();
}

Status Connection::Malformed(const std::string& why) const {
  return Status::Unavailable(what_ + ": malformed answer: " + why);
}

Status Connection::Wait(short events, milliseconds timeout) {
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

Status Connection::TlsIoError(int err, const char* op) {
  if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
    return Status::Unavailable(what_ + ": " + op + ": " +
                               (errno != 0 ? ErrnoText(errno) : "connection closed"));
  }
  return Status::Unavailable(what_ + ": " + op + ": " + OpenSslError());
}

Result<bool> Connection::Fill(milliseconds timeout) {
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

Status Connection::NeedBytes(milliseconds timeout, const char* in) {
  if (!in_.empty()) return Status::Ok();
  WAOP_ASSIGN_OR_RETURN(const bool more, Fill(timeout));
  if (!more) return Status::Unavailable(what_ + ": connection closed in " + in);
  return Status::Ok();
}

Result<std::string_view> Connection::ReadCrlfLine(milliseconds timeout) {
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

Status Connection::ParseHead(std::string_view head, HttpResponse& out) {
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
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    out.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return Status::Ok();
}

}  // namespace waop::kube::internal
