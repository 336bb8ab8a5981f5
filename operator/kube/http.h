// The narrow HTTP interface the Kubernetes client talks through, in std types only, so that
// cpprestsdk (in maintenance mode) stays inside one adapter and tests can script responses.
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
  // The longest silence tolerated: cpprest restarts its timer whenever bytes move, so for a
  // watch this bounds the gap between two events (or bookmarks), not the whole stream.
  std::chrono::milliseconds timeout{std::chrono::seconds(30)};
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;
};

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

// An HttpTransport over cpprestsdk for `config`: verifies the server with OpenSSL against
// config.ca_pem (only that CA when set) unless insecure_skip_tls_verify, presents the client
// certificate, adds the bearer token from config.token_source to every request, keeps
// connections alive. InvalidArgument when the server URL, CA or client key cannot be used.
Result<std::shared_ptr<HttpTransport>> NewCpprestTransport(const ClusterConfig& config);

// Sizes cpprestsdk's shared I/O thread pool (its default is 40 threads). Call once, before
// any HTTP use; later calls have no effect. Nothing may block a pool thread waiting for
// another HTTP exchange: our blocking waits run on the callers' own threads.
void SetHttpThreads(int threads);
// One pool thread per core, at least 2: the I/O is asynchronous, and more threads only add
// wake-ups (on 2 cores, 40 threads made the 10k-assignment benchmark 1.75x slower than 2).
int DefaultHttpThreads();

}  // namespace waop::kube
