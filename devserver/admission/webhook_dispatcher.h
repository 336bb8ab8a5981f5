// Calls validating admission webhooks the way kube-apiserver does, for the dev API server:
// picks the webhooks of every ValidatingWebhookConfiguration whose rules and selectors match
// the request, POSTs each an admission.k8s.io/v1 AdmissionReview over HTTPS (the server
// verified against clientConfig.caBundle), and folds the answers into one decision with the
// apiserver's messages ("admission webhook \"x\" denied the request: ...",
// "failed calling webhook \"x\": ...") and failurePolicy.
//
// Thread-safety: Validate may be called concurrently; the per-URL client cache is locked.
// Ownership: the dispatcher owns its HTTP clients; configurations are read, not kept.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace devserver {

struct AdmissionAttributes {
  std::string operation;  // CREATE UPDATE DELETE CONNECT
  std::string group, version, resource, subresource, kind, name, ns;
  nlohmann::json object, old_object;  // null when absent (CREATE has no old, DELETE no new)
  std::string user;
  bool dry_run = false;
};

struct AdmissionResult {
  bool allowed = true;
  int code = 200;
  std::string message;
  std::vector<std::string> warnings;
};

class WebhookDispatcher {
 public:
  WebhookDispatcher();
  ~WebhookDispatcher();
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // The decision for `attrs`. Webhooks are called in order (configuration order, then
  // webhook order); the first denial wins. `namespace_labels(ns)` returns the labels object
  // of a namespace (for namespaceSelector; for a Namespace object itself its own labels are
  // used). Never fails: a webhook that cannot be called is decided by its failurePolicy.
  AdmissionResult Validate(
      const std::vector<nlohmann::json>& validating_webhook_configurations,
      const AdmissionAttributes& attrs,
      const std::function<nlohmann::json(const std::string& ns)>& namespace_labels);

  // How many webhook HTTP calls were attempted since construction (for tests and metrics).
  int CallsAttempted() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace devserver
