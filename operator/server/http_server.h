// The probes and metrics HTTP endpoints every replica serves (leader or not):
//   /healthz, /readyz   named checks, Kubernetes apiserver conventions:
//                       200 "ok"; "?verbose" lists "[+]name ok" lines; on failure 500 listing
//                       "[-]name failed: reason withheld" (the reason is logged, not served,
//                       since probes are unauthenticated); "/readyz/<name>" runs one check;
//                       "?exclude=<name>" skips checks.
//   /metrics            Prometheus text format 0.0.4 from a Registry.
// on the addresses of --health-probe-bind-address and --metrics-bind-address (one listener when
// both are the same address). Built on cpprestsdk's http_listener; its exceptions stay inside.
//
// Thread-safety: HealthChecks and HttpServer are thread-safe; checks run on cpprest's thread
// pool, concurrently, and must be quick and non-blocking (read an atomic flag).
// Ownership: HttpServer borrows the Registry and HealthChecks; they must outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/metrics.h"

namespace waop::server {

// A parsed "--*-bind-address" flag.
struct BindAddress {
  std::string host;        // "0.0.0.0" for ":port"
  std::uint16_t port = 0;  // 0 = disabled
  bool enabled() const { return port != 0; }
  // "host:port" ("[v6]:port" for IPv6), or "disabled".
  std::string ToString() const;
  friend bool operator==(const BindAddress&, const BindAddress&) = default;
};

// Accepts "host:port", ":port" (all interfaces, what a pod needs for kubelet probes),
// "[ipv6]:port", and "0" (disabled, as controller-runtime's --metrics-bind-address=0).
// InvalidArgument naming `flag` and what was expected otherwise (missing port, port out of
// 1-65535, ":0": cpprest cannot bind an ephemeral port).
Result<BindAddress> ParseBindAddress(std::string_view value, std::string_view flag);

// Named health and readiness checks. A check returns OK when healthy; its error message is
// logged (never served).
class HealthChecks {
 public:
  using Check = std::function<Status()>;
  enum class Kind { kHealthz, kReadyz };

  // Replaces a check of the same name.
  void Add(Kind kind, const std::string& name, Check check);

  struct Response {
    int status = 200;
    std::string body;
  };
  // The response for a GET of /healthz or /readyz (`subpath` is "" or a check name; `query` the
  // raw query string without '?').
  Response Evaluate(Kind kind, std::string_view subpath, std::string_view query) const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Check> healthz_;
  std::map<std::string, Check> readyz_;
};

struct HttpServerOptions {
  BindAddress metrics;  // disabled: no /metrics
  BindAddress health;   // disabled: no probes
};

class HttpServer {
 public:
  // Starts listening. Unavailable (naming the address) when a port cannot be bound; then
  // nothing is left listening.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   const Registry* registry,
                                                   const HealthChecks* checks);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  // Closes the listeners; requests in progress finish. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace waop::server
