// Support for the operator's end-to-end tests: a kube-devserver over TLS with a bearer token and
// the CRDs loaded (`E2eCluster`), the real kubectl pointed at it, its debug endpoints (request
// counts, fault injection) reached through `kubectl get/create --raw` so they carry the token,
// and the whatsapp-operator binary as a child process with its probe and metrics ports
// (`OperatorProcess`).
//
// Thread-safety: each object is used by one test thread.
// Ownership: E2eCluster owns the devserver process, OperatorProcess the operator process; each
// stops its process (SIGTERM, then SIGKILL) on destruction.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "devserver_test_util.h"
#include "harness.h"

namespace waop::e2e {

// The path of the real kubectl (v1.32 on this machine).
std::string KubectlBinary();
// The path of the built operator binary.
std::string OperatorBinary();

class E2eCluster {
 public:
  // Starts kube-devserver with --tls (generated token), the repository's CRDs, and `extra_args`
  // (fault flags). Check ok() before use.
  explicit E2eCluster(std::vector<std::string> extra_args = {});
  bool ok() const { return ds_->ok() && !token_.empty(); }
  const std::string& kubeconfig_path() const { return kubeconfig_; }
  // The bearer token from the kubeconfig: tests assert it never reaches logs.
  const std::string& token() const { return token_; }
  std::string dir() const { return ds_->dir(); }
  waop::testing::Process& process() { return ds_->process(); }

  // Runs kubectl with this cluster's kubeconfig and a private cache directory.
  waop::testing::CommandResult Kubectl(
      const std::vector<std::string>& args, const std::string& stdin_text = "",
      std::chrono::milliseconds timeout = std::chrono::seconds(90));
  // `kubectl apply -f -` of `yaml`, repeated (up to `attempts`) while it fails: with injected
  // write faults, some creates are refused and a second apply sends only what is missing.
  // Returns the last result.
  waop::testing::CommandResult ApplyRetrying(const std::string& yaml, int attempts = 20);
  // `kubectl get <args> -o json`, parsed; nullopt when kubectl fails or prints no JSON.
  std::optional<nlohmann::json> GetJson(const std::vector<std::string>& args);

  // GET /debug/requests: {"total":{verb:n},"by":[{verb,resource,subresource,client,count}],
  // ...}, of every client or only of `client` (a User-Agent's product token, e.g.
  // "whatsapp-operator").
  std::optional<nlohmann::json> Requests(const std::string& client = "");
  bool ResetRequests();
  // POST /debug/faults with `body` (see devserver/faults.h). Returns false on error.
  bool SetFaults(const nlohmann::json& body);

 private:
  std::unique_ptr<devserver::testing::Devserver> ds_;
  std::string kubeconfig_;
  std::string token_;
};

// Sum of create/update/patch/delete/deletecollection in a /debug/requests answer.
int64_t WriteCount(const nlohmann::json& requests);
// "verb resource/subresource=count (client)" lines for the write requests, for failure
// messages.
std::string DescribeWrites(const nlohmann::json& requests);
// The "verb resource[/subresource]" of every row of a /debug/requests answer.
std::set<std::string> RequestedPermissions(const nlohmann::json& requests);
// The "verb resource[/subresource]" pairs granted by the table under "## Permissions" in
// docs/operating.md (resource in the first cell's backticks, verbs comma-separated in the
// second); empty when the file or the table is missing.
std::set<std::string> DocumentedPermissions();
// The "verb resource[/subresource]" of a /debug/requests answer that `documented` lacks.
std::set<std::string> Ungranted(const std::set<std::string>& documented,
                                const nlohmann::json& requests);

class OperatorProcess {
 public:
  // Starts whatsapp-operator against `cluster` with free metrics and probe ports and
  // `extra_args`, and `env` added to its environment (e.g. POD_NAME and POD_NAMESPACE, which the
  // chart sets from the downward API). Check ok() (the process started) before use.
  OperatorProcess(const E2eCluster& cluster, std::vector<std::string> extra_args = {},
                  std::map<std::string, std::string> env = {});
  ~OperatorProcess();
  OperatorProcess(const OperatorProcess&) = delete;
  OperatorProcess& operator=(const OperatorProcess&) = delete;

  bool ok() const { return proc_ != nullptr; }
  int metrics_port() const { return metrics_port_; }
  int probe_port() const { return probe_port_; }
  waop::testing::Process& process() { return *proc_; }

  // Polls /readyz until it answers 200 or `timeout` passes (or the process exits). Restarts the
  // process on other ports if it exited because a port was taken in the meantime.
  bool WaitReady(std::chrono::milliseconds timeout = std::chrono::seconds(90));
  devserver::testing::HttpResult Probe(const std::string& path) const;
  devserver::testing::HttpResult Metrics() const;
  // Sends SIGTERM and waits; returns the exit code, nullopt if still running after `timeout`.
  std::optional<int> Stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Everything the process wrote, stdout then stderr.
  std::string Logs() const;

 private:
  void Launch();
  const E2eCluster& cluster_;
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  waop::testing::TempDir dir_;
  std::unique_ptr<waop::testing::Process> proc_;
  int metrics_port_ = 0;
  int probe_port_ = 0;
  int launches_ = 0;
};

// The condition of `type` in obj.status.conditions, nullopt if absent.
std::optional<nlohmann::json> Condition(const nlohmann::json& obj, const std::string& type);

// The notification_settings.json SPEC section 4 prescribes for an assignment with these
// values, keys in the contract's order.
std::string ExpectedSettings(bool enabled, const std::string& phone_number_id,
                             const std::string& display_phone_number, const std::string& language);

}  // namespace waop::e2e
