// The wiring of Meta's inventory into the process (SPEC sections 2 and 5), kept out of run.cpp:
//   - the Graph API client (--graph-api-url, --graph-ca-file), counting requests by outcome;
//   - the InventoryRefresher (--quality-refresh-interval, --required-template) as a leader-only
//     part started before the controller, which waits (up to 10 s) for its first refresh as for
//     a cache sync, so first statuses show Meta's answer instead of "pending" and a rewrite;
//     its delays follow meta::NextRefreshDelay (back-off on errors, slower when X-App-Usage
//     runs high), a credentials change asks for a refresh at once, and Meta's webhook for one
//     number (refused on a standby, whose refresher does not run);
//   - one log line and one Event per change of the inventory's health (the Event on the
//     operator's Pod, named by the POD_NAME and POD_NAMESPACE environment variables the Helm
//     chart sets; without them, the log line only);
//   - metrics: whatsapp_phone_quality, whatsapp_operator_graph_requests_total,
//     whatsapp_operator_quality_sync_state.
//
// Thread-safety: SetUp before Manager::Run from one thread; OnQualityUpdate and
// OnCredentialsChange from any thread. Ownership: MetaParts owns the client and the refresher
// and borrows everything else, which must outlive it; it must itself outlive the Manager's Run.
#pragma once

#include <memory>

#include "app/options.h"
#include "common/clock.h"
#include "controller/event_recorder.h"
#include "controller/meta_inventory.h"
#include "controller/workqueue.h"
#include "kube/informer.h"
#include "manager/manager.h"
#include "meta/credentials.h"
#include "meta/graph.h"
#include "meta/webhook.h"
#include "server/metrics.h"

namespace waop::app {

class MetaParts {
 public:
  static Result<std::unique_ptr<MetaParts>> SetUp(
      const Options& options, const meta::CredentialsSource& credentials,
      controller::MetaInventory& inventory, const controller::ClusterView& view,
      kube::Informer& assignments, kube::Informer& phone_numbers, controller::WorkQueue& queue,
      controller::EventRecorder& events, server::Registry& registry, manager::Manager& mgr,
      const Clock& clock);
  ~MetaParts();
  MetaParts(const MetaParts&) = delete;
  MetaParts& operator=(const MetaParts&) = delete;

  // A verified phone_number_quality_update from Meta's webhook: refresh that number. False when
  // this replica does not lead (the webhook answers 503 and Meta delivers again).
  bool OnQualityUpdate(const meta::QualityUpdate& update);
  // The mounted credentials changed: list again at once.
  void OnCredentialsChange();

 private:
  MetaParts() = default;
  std::unique_ptr<meta::GraphClient> graph_;
  std::unique_ptr<controller::InventoryRefresher> refresher_;
};

}  // namespace waop::app
