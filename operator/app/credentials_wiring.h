// The wiring of the master credentials into the process (SPEC sections 4 and 5), kept out of
// run.cpp so it is one call there:
//   - a meta::DirCredentialsSource over --credentials-dir, read once at set-up and again every
//     --credentials-poll-interval on every replica (a manager::PeriodicRunnable in the servers
//     group: the webhook on a standby needs fresh secrets too);
//   - Meta's webhook on --meta-webhook-bind-address, every replica (servers group);
//   - with --publish-credentials: a Secrets informer (our managed-by label and the name
//     whatsapp-master-credentials only), the CredentialsPublisher with its own work queue and
//     controller (leader-only), woken by assignment add/delete (their namespace), by a change to
//     one of our Secrets (its namespace), by a credentials change and the periodic resync (every
//     namespace with assignments or our Secret).
//   With --publish-credentials=false nothing watches or writes Secrets: copies published before
//   stay as they are, unmanaged.
//
// Thread-safety: SetUp and OnCredentialsChange before Manager::Run, from one thread; credentials()
// is thread-safe. Ownership: CredentialsParts owns what it creates and borrows the client,
// assignments informer, event recorder and clock, which must outlive it; it must itself outlive
// the Manager's Run (the runnables it registers point into it).
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "app/options.h"
#include "common/clock.h"
#include "common/status.h"
#include "controller/credentials_publisher.h"
#include "controller/event_recorder.h"
#include "controller/workqueue.h"
#include "kube/client.h"
#include "kube/informer.h"
#include "manager/manager.h"
#include "meta/credentials_dir.h"
#include "meta/webhook.h"

namespace waop::app {

class CredentialsParts {
 public:
  // Reads the credentials once, registers the runnables above with `mgr` and the event handlers
  // with `assignments` (not started yet). `on_quality_update` receives every verified
  // phone_number_quality_update from Meta's webhook (on an HTTP thread; it must not block).
  static Result<std::unique_ptr<CredentialsParts>> SetUp(
      const Options& options, kube::Client& client, kube::Informer& assignments,
      controller::EventRecorder& events, manager::Manager& mgr, const Clock& clock,
      meta::MetaWebhookHandler::QualityUpdateCallback on_quality_update);
  ~CredentialsParts();
  CredentialsParts(const CredentialsParts&) = delete;
  CredentialsParts& operator=(const CredentialsParts&) = delete;

  // The current credentials, for the Graph API client.
  const meta::DirCredentialsSource& credentials() const { return *source_; }
  // Called (on the poller's thread) after the credentials changed. Before Run.
  void OnCredentialsChange(std::function<void()> callback);

 private:
  CredentialsParts() = default;
  void Poll();
  void EnqueueAll();

  std::unique_ptr<meta::DirCredentialsSource> source_;
  std::unique_ptr<meta::MetaWebhookHandler> webhook_;
  std::vector<std::function<void()>> on_change_;
  // With --publish-credentials only.
  std::unique_ptr<kube::Informer> secrets_;
  std::unique_ptr<controller::InformerPublishView> view_;
  std::unique_ptr<controller::CredentialsPublisher> publisher_;
  std::unique_ptr<controller::WorkQueue> queue_;
  std::unique_ptr<controller::Controller> controller_;
};

}  // namespace waop::app
