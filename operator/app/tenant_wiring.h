// The wiring of the tenant-service sink into the process (SPEC sections 3 and 4), kept out of
// run.cpp. Off unless --tenant-service-url is given; then:
//   - the client (tenant/tenant_client.h), its bearer token read at every request from
//     TENANT_SERVICE_TOKEN in --credentials-dir (optional; registered for log redaction by the
//     credentials loader, never published);
//   - the sink (controller/tenant_sink.h), handed to the reconciler, which then also keeps the
//     finalizer whatsapp.bakery-ia.io/finalizer on every assignment (without the sink it removes
//     its own finalizers, so nothing hangs on a sink that was turned off);
//   - the drift pass as a leader-only part started before the controller, which waits (up to
//     10 s) for the first listing so the first reconciles compare with real rows: every
//     --tenant-sync-interval after a success, sooner with back-off (0.5 s doubling to at most
//     30 s, never later than the interval) after a failure; one log line per change of the
//     service's health;
//   - metrics: whatsapp_operator_tenant_service_requests_total{method,outcome},
//     whatsapp_operator_tenant_service_up, whatsapp_operator_tenant_rows{state}.
//
// Thread-safety: Create and Start before Manager::Run, from one thread. Ownership: TenantParts
// owns the client, the sink and the drift pass and borrows the rest, which must outlive it; it
// must itself outlive the Manager's Run.
#pragma once

#include <memory>

#include "app/options.h"
#include "controller/cluster_view.h"
#include "controller/event_recorder.h"
#include "controller/tenant_sink.h"
#include "controller/workqueue.h"
#include "kube/informer.h"
#include "manager/manager.h"
#include "manager/write_fence.h"
#include "meta/credentials.h"
#include "server/metrics.h"

namespace waop::app {

class TenantParts {
 public:
  // Null (and OK) when --tenant-service-url is empty. InvalidArgument for a bad URL. With a
  // `fence`, assign and unassign calls are refused (Unavailable) while it is closed, as the
  // leader's Kubernetes writes are: a replica past its renew deadline changes nothing anywhere.
  static Result<std::unique_ptr<TenantParts>> Create(const Options& options,
                                                     server::Registry& registry,
                                                     const manager::WriteFence* fence = nullptr);
  ~TenantParts();
  TenantParts(const TenantParts&) = delete;
  TenantParts& operator=(const TenantParts&) = delete;

  controller::TenantSink* sink() { return sink_.get(); }
  // Registers the drift pass (leader-only; add it before the controller) and starts reading the
  // token from `credentials`.
  void Start(const meta::CredentialsSource& credentials, const controller::ClusterView& view,
             kube::Informer& assignments, controller::WorkQueue& queue,
             controller::EventRecorder& events, manager::Manager& mgr);

 private:
  class SyncRunnable;
  TenantParts() = default;
  const Options* options_ = nullptr;
  std::atomic<const meta::CredentialsSource*> credentials_{nullptr};
  std::unique_ptr<tenant::TenantServiceClient> client_;
  std::unique_ptr<controller::TenantSink> sink_;
  std::unique_ptr<controller::TenantSyncer> syncer_;
  server::Family<server::Gauge>* up_ = nullptr;
  server::Family<server::Gauge>* rows_ = nullptr;
};

}  // namespace waop::app
