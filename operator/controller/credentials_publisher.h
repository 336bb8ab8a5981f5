// Publishes the master credentials (SPEC section 4) as Secret `whatsapp-master-credentials` into
// every namespace that holds at least one WhatsAppAssignment, so the notification service there
// mounts or `envFrom`s it. Level-based and keyed by namespace:
//
//   desired  = the namespace holds an assignment AND the credentials have at least one key
//              -> Secret whatsapp-master-credentials, type Opaque, `data` = every key present
//                 but WHATSAPP_APP_SECRET and TENANT_SERVICE_TOKEN (base64), label
//                 app.kubernetes.io/managed-by: whatsapp-operator, annotation
//                 whatsapp.bakery-ia.io/content-hash: MasterCredentials::PublishedHash() (a hash,
//                 never the token: consumers roll on a change of it);
//   no assignment left in the namespace -> our Secret is deleted;
//   no credentials at all (nothing mounted, a wrong --credentials-dir) -> nothing is created
//              and nothing deleted: a mistake in the operator's own Deployment must not take
//              the credentials away from running notification services.
//
// The operator owns the whole Secret it made (its data, the label, the annotation). A Secret of
// that name without our managed-by label is someone else's and is never written or deleted: the
// reconcile logs it once, records a Warning Event on that Secret (reason
// CredentialsNotPublished) and looks again every 10 minutes.
//
// A converged namespace costs no request: the cached Secret (from an informer selecting our
// label) is compared by hash annotation and data. Writes use the cached resourceVersion; a 409
// is answered with one fresh read.
//
// Logs and Events name the namespace and a 12-digit prefix of the content hash only; the
// Secret's data never appears anywhere.
//
// Thread-safety: Reconcile may run on several workers at once (never for one namespace at once,
// the work queue guarantees it). Borrows the view, credentials source, client and recorder;
// they must outlive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "controller/cluster_view.h"
#include "controller/event_recorder.h"
#include "controller/workqueue.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "meta/credentials.h"

namespace waop::controller {

// What the publisher reads of the cluster: the informers' caches.
class PublishView {
 public:
  virtual ~PublishView() = default;
  // Whether namespace `ns` holds at least one WhatsAppAssignment.
  virtual bool HasAssignments(std::string_view ns) const = 0;
  // Every namespace holding an assignment, and every namespace holding a Secret with our
  // managed-by label named whatsapp-master-credentials (sorted, no duplicates).
  virtual std::vector<std::string> Namespaces() const = 0;
  // Our published Secret in `ns` (the cache holds only Secrets with our managed-by label), or
  // nullptr.
  virtual ObjectPtr GetPublishedSecret(std::string_view ns) const = 0;
};

// The PublishView over the assignments informer and a Secrets informer selecting our label.
// Borrows both; they must outlive it.
class InformerPublishView final : public PublishView {
 public:
  InformerPublishView(const kube::Informer& assignments, const kube::Informer& secrets)
      : assignments_(assignments), secrets_(secrets) {}
  bool HasAssignments(std::string_view ns) const override;
  std::vector<std::string> Namespaces() const override;
  ObjectPtr GetPublishedSecret(std::string_view ns) const override;

 private:
  const kube::Informer& assignments_;
  const kube::Informer& secrets_;
};

struct PublisherCounters {
  std::atomic<int64_t> secret_writes{0};  // creates, patches and deletes
};

class CredentialsPublisher {
 public:
  CredentialsPublisher(const PublishView& view, const meta::CredentialsSource& credentials,
                       kube::Client& client, EventRecorder& events);

  // Makes namespace `ns` hold what it should (see above). An API error requeues with backoff; a
  // foreign Secret looks again after 10 minutes.
  ReconcileResult Reconcile(const std::string& ns);

  // The Secret to publish into `ns` for `credentials` (no resourceVersion).
  static nlohmann::json DesiredSecret(std::string_view ns, const meta::MasterCredentials& c);
  // Whether `live` carries our label and the content `desired` prescribes.
  static bool Matches(const nlohmann::json& live, const nlohmann::json& desired);
  // Whether `secret` carries our managed-by label.
  static bool IsOurs(const nlohmann::json& secret);

  const PublisherCounters& counters() const { return counters_; }

 private:
  Status Publish(const std::string& ns, const ObjectPtr& cached, const nlohmann::json& desired,
                 const std::string& hash);
  Status Patch(const std::string& ns, const nlohmann::json& live, const nlohmann::json& desired);
  Status Remove(const std::string& ns, const ObjectPtr& cached);
  // Logs (once per namespace until resolved) and records an Event about a foreign Secret.
  void ReportForeign(const std::string& ns, const nlohmann::json& secret);

  const PublishView& view_;
  const meta::CredentialsSource& credentials_;
  kube::Client& client_;
  EventRecorder& events_;
  PublisherCounters counters_;
  std::mutex mu_;
  std::set<std::string> foreign_reported_;  // guarded by mu_
};

}  // namespace waop::controller
