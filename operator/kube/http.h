// The narrow HTTP interface the Kubernetes client talks through, in std types only, so that
// the transport (kube/socket_http.cpp) stays behind it and tests can script responses.
//
// Thread-safety: HttpTransport implementations are thread-safe. A LineReader is used by one
// thread, except Cancel(), which any thread may call to unblock it.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "kube/config.h"

namespace waop::kube {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // absolute path with query: "/api/v1/namespaces/x/configmaps?limit=500"
  HttpHeaders headers;
  std::string body;
  // The longest silence tolerated: each wait for the socket (connect, handshake, write, read)
  // is bounded by it, so for a watch this bounds the gap between two events (or bookmarks),
  // not the whole stream.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

// ASCII case-insensitive equality (header names, tokens, URL schemes).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Case-insensitive header lookup; nullopt when absent.
std::optional<std::string> FindHeader(const HttpHeaders& headers, std::string_view name);

// Splits a byte stream into '\n'-terminated lines, whatever the chunk boundaries (a multi-byte
// UTF-8 character split across chunks is simply buffered). A trailing "\r" is dropped.
class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line_bytes = 16 << 20) : max_line_(max_line_bytes) {}
  // Appends bytes. InvalidArgument when a line grows past the limit (a garbage stream).
  Status Feed(std::string_view chunk);
  // The next complete line, without its terminator; nullopt when none is complete yet.
  std::optional<std::string> Next();
  // Bytes of an unterminated last line.
  const std::string& partial() const { return partial_; }

 private:
  std::size_t max_line_;
  std::string partial_;
  std::vector<std::string> ready_;
  std::size_t ready_pos_ = 0;
};

// A streamed response body, read line by line as it arrives (watches).
class LineReader {
 public:
  virtual ~LineReader() = default;
  // Blocks for the next line. nullopt when the server ended the stream cleanly; Cancelled
  // after Cancel(); Unavailable / DeadlineExceeded when the connection broke or went silent.
  virtual Result<std::optional<std::string>> ReadLine() = 0;
  // Unblocks ReadLine and closes the connection. Idempotent; any thread.
  virtual void Cancel() = 0;
};

// The response of a Stream call: status and headers, and the body as lines. When the status
// is not 2xx the body has been read whole into `error_body` and `lines` is null.
struct StreamResponse {
  int status = 0;
  HttpHeaders headers;
  std::string error_body;
  std::unique_ptr<LineReader> lines;
};

class HttpTransport {
 public:
  virtual ~HttpTransport() = default;
  // Sends one request and reads the whole response. An HTTP error status is a response, not
  // a failed Result; the Result fails (Unavailable, DeadlineExceeded, Unauthenticated when
  // no token can be read) only when no response was received.
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
  // Sends a request whose response body is a stream of lines (watch).
  virtual Result<StreamResponse> Stream(const HttpRequest& request) = 0;
  // "host:port" of the server, for messages.
  virtual std::string Endpoint() const = 0;
};

// The user agent sent on every request that does not set its own: "whatsapp-operator/<version>".
std::string UserAgent();

// An HttpTransport over POSIX sockets and OpenSSL for `config` (kube/socket_http.cpp): the
// exchange runs on the calling thread; verifies the server against config.ca_pem (only that CA
// when set, else the system's roots) unless insecure_skip_tls_verify, checking the name
// config.tls_server_name or the URL's host, presents the client certificate, adds the bearer
// token from config.token_source to every request, keeps connections alive, never follows a
// redirect. InvalidArgument when the server URL, CA or client key cannot be used.
Result<std::shared_ptr<HttpTransport>> NewSocketTransport(const ClusterConfig& config);

// Reads `bytes` (at most 64 KiB) as the transport reads a server's answer, head and body, over a
// socket pair, for the fuzz target and tests: the answer, or the error the transport would
// report.
Result<HttpResponse> ReadHttpAnswerForTesting(std::string_view bytes);

}  // namespace waop::kube
