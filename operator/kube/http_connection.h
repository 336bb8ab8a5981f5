// One HTTP/1.1 connection of the Kubernetes transport (socket_http.cpp): a non-blocking TCP
// socket, TLS through OpenSSL when asked, and the framing of the answers read from it (status
// line, headers, Content-Length, chunked and read-to-close bodies). Internal to waop_kube: the
// transport's public entry points are in http.h.
//
// Thread-safety: a Connection is used by one thread at a time, except Cancel(), which any thread
// may call once EnableCancel() succeeded. Ownership: it owns its socket, TLS session and eventfd.
#pragma once

#include <openssl/ssl.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "kube/http.h"

namespace waop::kube::internal {

using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The server URL: scheme://host[:port][/base/path], host possibly a bracketed IPv6 address.
struct ServerUrl {
  bool tls = false;
  std::string host;       // without brackets
  std::string port;       // decimal
  std::string authority;  // as written, for the Host header
  std::string base_path;  // "" or "/prefix", no trailing slash
};

// strerror is not thread-safe; the system_category message is.
std::string ErrnoText(int err);
// The first OpenSSL error of this thread, as text, and the queue cleared.
std::string OpenSslError();

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
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Connects to host:port within `timeout`, trying each address the name resolves to.
  static Result<std::unique_ptr<Connection>> Open(const ServerUrl& url, milliseconds timeout,
                                                  const std::string& what);

  // The TLS handshake; the certificate is checked against `verify_name` unless `verify` is
  // false.
  Status StartTls(SSL_CTX* ctx, const std::string& verify_name, bool verify, milliseconds timeout);

  // Lets Cancel() unblock a reader on another thread.
  Status EnableCancel();
  // Any thread.
  void Cancel();

  void set_what(std::string what) { what_ = std::move(what); }

  Status WriteAll(std::string_view data, milliseconds timeout);

  // True when the idle connection has something to read (the server closed it, or sent
  // bytes nobody asked for): it cannot carry another request.
  bool IdleButReadable() const;

  // ---- The response.

  // Reads the status line and headers of the next response, skipping 1xx ones.
  Status ReadHead(HttpResponse& out, milliseconds timeout);

  // Chooses the body framing from the head; `head_request` answers carry none.
  Status StartBody(const HttpResponse& head, bool head_request);

  // The next piece of the body; an empty view at its end. The view is valid until the next
  // call.
  Result<std::string_view> NextBodyPiece(milliseconds timeout);

  // Whether the connection can carry another request after this answer's body was read.
  bool Reusable() const { return keep_alive_ && framing_ == Framing::kDone && in_.empty(); }

  // Whether any byte of an answer arrived since the request was written.
  bool got_bytes() const { return got_bytes_; }
  void StartExchange();

  SteadyClock::time_point idle_since;

 private:
  enum class Framing { kDone, kLength, kChunked, kUntilClose };

  Status Malformed(const std::string& why) const;

  // Waits until the socket is ready for `events`, the timeout passes, or Cancel() is called.
  Status Wait(short events, milliseconds timeout);

  Status TlsIoError(int err, const char* op);

  // Appends what arrives (at least one byte) to the buffer; false at the end of the stream.
  Result<bool> Fill(milliseconds timeout);

  // At least one unread byte in the buffer; the connection closing first is an error.
  Status NeedBytes(milliseconds timeout, const char* in);

  // The next CRLF-terminated line of the body framing, without the CRLF.
  Result<std::string_view> ReadCrlfLine(milliseconds timeout);

  Status ParseHead(std::string_view head, HttpResponse& out);

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

}  // namespace waop::kube::internal
