// Shared helpers for the operator's end-to-end tests and its benchmark: a TLS kube-devserver
// with the project's CRDs, whatsapp-operator child processes on free ports, a keep-alive HTTPS
// client built from the devserver's kubeconfig (the operator's own cpprest transport), request
// counts from /debug/requests, Prometheus samples from /metrics, log lines from stderr.
//
// Thread-safety: KubeApi is thread-safe (its transport is); everything else is used by one
// thread. Ownership: TlsDevserver and OperatorProcess own their child processes and stop them
// on destruction. Secrets: the bearer token stays inside KubeApi and the kubeconfig file; no
// helper prints it.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "harness.h"
#include "kube/http.h"

namespace waop::testing {

// kube-devserver with --tls, a generated token, the CRDs from crds/ and `extra_args` (e.g.
// "--load", file). Waits up to `start_timeout` for the port file.
class TlsDevserver {
 public:
  explicit TlsDevserver(std::vector<std::string> extra_args = {},
                        std::chrono::milliseconds start_timeout = std::chrono::seconds(60));
  TlsDevserver(const TlsDevserver&) = delete;
  TlsDevserver& operator=(const TlsDevserver&) = delete;
  bool ok() const { return port_ > 0; }
  int port() const { return port_; }
  std::string kubeconfig() const { return dir_.File("kubeconfig"); }
  Process& process() { return *proc_; }
  // Stderr of the devserver, for failure messages.
  std::string Log() const { return proc_->Stderr(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> proc_;
  int port_ = 0;
};

// An HTTPS client for the API server of a kubeconfig, with keep-alive connections.
class KubeApi {
 public:
  // InvalidArgument / NotFound when the kubeconfig cannot be read or used. `user_agent` ""
  // sends kube::UserAgent().
  static Result<std::unique_ptr<KubeApi>> FromKubeconfig(const std::string& path,
                                                         const std::string& user_agent = "");

  // One request; fails only when no response arrived. `content_type` is sent with a body.
  Result<kube::HttpResponse> Send(const std::string& method, const std::string& path,
                                  const std::string& body = "",
                                  const std::string& content_type = "application/json");
  // GET `path` as a stream of lines (a watch); fails only when no response arrived.
  Result<kube::StreamResponse> Stream(const std::string& path);
  // GET `path` and parse JSON; fails on a transport error, a non-200 status (with the body
  // in the message) or a body that is not JSON.
  Result<nlohmann::json> GetJson(const std::string& path);

 private:
  explicit KubeApi(std::shared_ptr<kube::HttpTransport> transport)
      : transport_(std::move(transport)) {}
  std::shared_ptr<kube::HttpTransport> transport_;
};

// Request counts of kube-devserver's /debug/requests, keyed "verb resource[/subresource]".
struct RequestCounts {
  std::map<std::string, long> by;      // "create configmaps" -> 9900
  std::map<std::string, long> totals;  // "create" -> 19900
  // create + update + patch + delete.
  long Writes() const;
  // Writes as "create configmaps 9900, update whatsappassignments/status 10000, ...".
  std::string WriteBreakdown() const;
  long Count(const std::string& verb, const std::string& resource) const;
};
Result<RequestCounts> GetRequestCounts(KubeApi& api);
Status ResetRequestCounts(KubeApi& api);

// Every item of a list `path` (no query), read in pages of 500 following `continue`.
Result<std::vector<nlohmann::json>> ListAll(KubeApi& api, const std::string& path);

// Assignments in every namespace, read with a paged list (limit 500).
struct AssignmentCensus {
  long total = 0;
  long converged = 0;  // status.observedGeneration == generation and a Ready condition of it
  long ready_true = 0;
  std::map<std::string, long> reasons;  // Ready reason -> count
};
Result<AssignmentCensus> CountAssignments(KubeApi& api);

// whatsapp-operator with its metrics and probe servers on free 127.0.0.1 ports, the given
// kubeconfig and `extra_args`.
class OperatorProcess {
 public:
  OperatorProcess(const std::string& name, const std::string& kubeconfig,
                  std::vector<std::string> extra_args, const std::filesystem::path& log_dir);
  Process& process() { return *proc_; }
  int metrics_port() const { return metrics_port_; }
  int probe_port() const { return probe_port_; }
  // Sum of the samples of `metric` whose label text contains `label_filter` ("" = all), from
  // /metrics. nullopt when /metrics did not answer.
  std::optional<double> MetricSum(const std::string& metric, const std::string& label_filter = "");
  // controller_runtime_reconcile_total summed over results; nullopt as MetricSum.
  std::optional<double> ReconcileTotal();
  // True when GET /readyz answers 200.
  bool Ready();
  // The first JSON log line on stderr whose "msg" is `message`; nullopt when none yet.
  std::optional<nlohmann::json> FindLog(const std::string& message) const;

 private:
  int metrics_port_ = 0;
  int probe_port_ = 0;
  std::unique_ptr<Process> proc_;
};

std::string OperatorBinary();
std::string KubectlBinary();

// Sample in /metrics text format: sum of `metric{...}` lines matching `label_filter`.
double SumMetric(const std::string& metrics_text, const std::string& metric,
                 const std::string& label_filter);

// Seconds since `start`, as a double.
double SecondsSince(std::chrono::steady_clock::time_point start);

}  // namespace waop::testing
