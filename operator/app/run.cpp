#include "app/run.h"

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <stop_token>

#include "api/types.h"
#include "app/credentials_wiring.h"
#include "app/meta_wiring.h"
#include "app/ready_reasons.h"
#include "app/tenant_wiring.h"
#include "app/webhook.h"
#include "common/logging.h"
#include "controller/assignment_reconciler.h"
#include "controller/informer_view.h"
#include "controller/workqueue.h"
#include "core/settings.h"
#include "kube/config.h"
#include "kube/http.h"
#include "kube/informer.h"
#include "manager/lease_client.h"
#include "manager/manager.h"
#include "manager/runnables.h"
#include "server/metrics.h"
#include "server/runtime_metrics.h"

namespace waop::app {
namespace {

using logging::Log;
namespace lvl = spdlog::level;

constexpr char kControllerName[] = "whatsappassignment";

// The replica's identity in the Lease: hostname (the pod name in a cluster) plus a random
// suffix, so two processes on one host never share it.
std::string Identity() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::random_device rd;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "%08x", rd());
  return std::string(host) + "_" + suffix;
}

std::string LeaseNamespace(const Options& o, const kube::ClusterConfig& config) {
  if (!o.leader_election_namespace.empty()) return o.leader_election_namespace;
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (in && std::getline(in, ns) && !ns.empty()) return ns;
  return config.default_namespace.empty() ? "default" : config.default_namespace;
}

}  // namespace

int Run(const Options& o, server::SignalHandler& signals) {
  const Clock& clock = RealClock::Get();
  auto config = kube::ResolveConfig(o.kubeconfig);
  if (!config.ok()) {
    Log(lvl::err, "cannot load Kubernetes client configuration",
        {{"error", config.status().message()}});
    return 1;
  }
  // The API token must never reach a log line, whatever logs it by accident.
  if (config->token_source) {
    if (auto token = config->token_source->Token(); token.ok()) logging::RegisterSecret(*token);
  }
  if (!config->client_key_pem.empty()) logging::RegisterSecret(config->client_key_pem);
  // ---- leader election: identity in the User-Agent, fenced writes (branch chaos) ----
  // The identity rides on every request, so an API server's audit (and kube-devserver's write
  // log) can tell the replicas apart.
  const std::string identity = Identity();
  config->user_agent = kube::UserAgent() + " (" + identity + ")";
  // ---- end ----
  auto transport = kube::NewSocketTransport(*config);
  if (!transport.ok()) {
    Log(lvl::err, "cannot set up the Kubernetes client", {{"error", transport.status().message()}});
    return 1;
  }
  std::unique_ptr<kube::Client> client = kube::NewRestClient(*transport);
  // ---- leader election (branch chaos): leader-only writers go through the fence, which the
  // manager opens for a term and which closes at the renew deadline (manager/write_fence.h).
  manager::WriteFence fence;
  manager::FencedClient leader_client(*client, fence);
  // ---- end ----
  Log(lvl::info, "starting",
      {{"server", config->server},
       {"source", config->source},
       {"namespace", o.watch_namespace.empty() ? "(all)" : o.watch_namespace},
       {"leaderElection", o.leader_elect ? "true" : "false"}});

  // Metrics, served by every replica.
  server::Registry registry;
  auto metrics = server::ControllerMetrics::Create(registry, kControllerName);
  if (!metrics.ok()) {
    Log(lvl::err, "cannot register metrics", {{"error", metrics.status().message()}});
    return 1;
  }
  (*metrics)->SetMaxConcurrentReconciles(o.max_concurrent_reconciles);

  // Informers: every replica keeps warm caches.
  auto informer_options = [&](const kube::ResourceType& type, std::string label_selector) {
    kube::InformerOptions io;
    io.type = type;
    io.namespace_name = type.namespaced ? o.watch_namespace : "";
    io.label_selector = std::move(label_selector);
    io.on_error = [name = type.resource](const Status& s) {
      Log(lvl::warn, "watch interrupted, will resume",
          {{"resource", name}, {"error", s.message()}});
    };
    io.on_bad_object = [name = type.resource](const Status& s) {
      Log(lvl::warn, "skipped an object that cannot be read",
          {{"resource", name}, {"error", s.message()}});
    };
    return io;
  };
  kube::Informer assignments(*client, informer_options(kube::resources::kWhatsAppAssignments, ""));
  kube::Informer config_maps(*client, informer_options(kube::resources::kConfigMaps,
                                                       std::string(core::kManagedByLabel) + "=" +
                                                           std::string(core::kOperatorName)));
  kube::Informer phone_numbers(*client,
                               informer_options(kube::resources::kWhatsAppPhoneNumbers, ""));
  if (Status s = controller::AddAssignmentIndexes(assignments); !s.ok()) {
    Log(lvl::err, "cannot add index", {{"error", s.message()}});
    return 1;
  }

  // Watch health, read from the informers at scrape time, and assignments by Ready reason.
  auto watch_restarts = registry.AddCounter("whatsapp_operator_watch_restarts_total",
                                            "Watches that ended and were reopened.", {"resource"});
  auto relists = registry.AddCounter("whatsapp_operator_relists_total",
                                     "Full relists after 410 Gone.", {"resource"});
  auto by_reason =
      registry.AddGauge("whatsapp_operator_assignments",
                        "Assignments by the reason of their Ready condition.", {"reason"});
  if (!watch_restarts.ok() || !relists.ok() || !by_reason.ok()) {
    Log(lvl::err, "cannot register metrics");
    return 1;
  }
  struct Scraped {
    std::map<std::string, kube::InformerStats> informers;
  };
  ReadyReasonCounts ready_reasons;  // fed by the assignment event handlers below
  auto scraped = std::make_shared<Scraped>();
  registry.AddCollectHook(
      [&, scraped, restarts = *watch_restarts, relist = *relists, reasons = *by_reason] {
        for (auto [name, inf] :
             {std::pair{"whatsappassignments", &assignments}, std::pair{"configmaps", &config_maps},
              std::pair{"whatsappphonenumbers", &phone_numbers}}) {
          kube::InformerStats now = inf->Stats();
          kube::InformerStats& seen = scraped->informers[name];
          restarts->WithLabels({name}).Inc(
              static_cast<double>(now.watch_restarts - seen.watch_restarts));
          relist->WithLabels({name}).Inc(static_cast<double>(now.relists - seen.relists));
          seen = now;
        }
        for (const auto& [reason, n] : ready_reasons.Snapshot()) {
          reasons->WithLabels({reason}).Set(static_cast<double>(n));
        }
      });

  controller::InformerView view(assignments, config_maps, phone_numbers);
  controller::EventRecorder events(leader_client, clock, std::string(core::kOperatorName),
                                   identity);
  // Meta's side of the inventory as last read (app/meta_wiring.h keeps it current).
  controller::MetaInventory inventory;
  controller::ReconcilerOptions reconciler_options;
  reconciler_options.meta = &inventory;
  // ---- Tenant-service sink (--tenant-service-url; app/tenant_wiring.h): with it, the finalizer.
  auto tenant_parts = TenantParts::Create(o, registry, &fence);
  if (!tenant_parts.ok()) {
    Log(lvl::err, "cannot set up the tenant service client",
        {{"error", tenant_parts.status().message()}});
    return 1;
  }
  reconciler_options.tenant = *tenant_parts ? (*tenant_parts)->sink() : nullptr;
  reconciler_options.use_finalizer = reconciler_options.tenant != nullptr;
  // ---- end of the tenant-service sink ----
  controller::AssignmentReconciler reconciler(view, leader_client, events, clock,
                                              reconciler_options);
  controller::WorkQueue queue(clock, nullptr, (*metrics)->queue_metrics());
  (*metrics)->WatchQueue(&queue);

  auto enqueue = [&queue](const std::vector<controller::Request>& requests) {
    for (const auto& r : requests) queue.Add(r.Key());
  };
  assignments.AddEventHandler(
      {[&](const kube::ObjectPtr& obj) {
         ready_reasons.Added(*obj);
         // Until the first list is in the cache, every assignment it holds is woken anyway.
         enqueue(assignments.HasSynced()
                     ? reconciler.RequestsForAssignmentChange(nullptr, obj.get())
                     : reconciler.RequestsForListedAssignment(*obj));
       },
       [&](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& new_obj) {
         ready_reasons.Updated(*old_obj, *new_obj);
         enqueue(reconciler.RequestsForAssignmentChange(old_obj.get(), new_obj.get()));
       },
       [&](const kube::ObjectPtr& obj) {
         ready_reasons.Deleted(*obj);
         enqueue(reconciler.RequestsForAssignmentChange(obj.get(), nullptr));
       }});
  auto config_map_changed = [&](const kube::ObjectPtr& obj) {
    enqueue(reconciler.RequestsForConfigMap(*obj));
  };
  config_maps.AddEventHandler(
      {config_map_changed,
       [&](const kube::ObjectPtr&, const kube::ObjectPtr& obj) { config_map_changed(obj); },
       [&](const kube::ObjectPtr& obj) {
         // Mostly garbage collection after the owner was deleted, whose event arrives on the
         // assignments watch a moment later. Reconciling at once would find the owner still in
         // its cache and write the deleted assignment's settings again (a dependent the API
         // server then has to collect); a pause lets that event land first.
         if (auto owner = reconciler.OwnerOfDeletedConfigMap(*obj)) {
           queue.AddAfter(owner->Key(), std::chrono::seconds(1));
         }
       }});
  auto phone_changed = [&](const kube::ObjectPtr& obj) {
    enqueue(reconciler.RequestsForPhoneNumber(*obj));
  };
  phone_numbers.AddEventHandler(
      {phone_changed,
       [&](const kube::ObjectPtr&, const kube::ObjectPtr& obj) { phone_changed(obj); },
       phone_changed});

  controller::Controller workers(kControllerName, queue, clock, (*metrics)->reconcile_metrics());

  // The runtime: probes and metrics, caches, then (once leading) the controller and resync.
  manager::ManagerOptions mo;
  mo.probes = {o.metrics_bind_address, o.health_probe_bind_address};
  mo.registry = &registry;
  mo.clock = &clock;
  mo.fence = &fence;
  manager::KubeLeaseClient lease_client(*client);
  if (o.leader_elect) {
    manager::LeaderElectionOptions le;
    le.config.lease_namespace = LeaseNamespace(o, *config);
    le.config.lease_name = o.leader_election_id;
    le.config.identity = identity;
    le.config.lease_duration = o.leader_elect_lease_duration;
    le.config.renew_deadline = o.leader_elect_renew_deadline;
    le.config.retry_period = o.leader_elect_retry_period;
    le.lease_client = &lease_client;
    le.watch_client = client.get();
    mo.leader_election = std::move(le);
  }
  manager::Manager mgr(std::move(mo));
  mgr.AddCache(std::make_unique<manager::InformerCache>("whatsappassignments", assignments));
  mgr.AddCache(std::make_unique<manager::InformerCache>("configmaps", config_maps));
  mgr.AddCache(std::make_unique<manager::InformerCache>("whatsappphonenumbers", phone_numbers));

  // ---- Master credentials: the mounted Secret, its publication into tenant namespaces, and
  // Meta's webhook (app/credentials_wiring.h). ----
  // Verified phone_number_quality_update deliveries from Meta go to the inventory refresher,
  // set up below once the credentials are (it needs them); until then they are refused.
  std::atomic<MetaParts*> meta_parts{nullptr};
  meta::MetaWebhookHandler::QualityUpdateCallback on_quality_update =
      [&meta_parts](const meta::QualityUpdate& u) {
        MetaParts* m = meta_parts.load();
        return m != nullptr && m->OnQualityUpdate(u);
      };
  auto credentials =
      CredentialsParts::SetUp(o, leader_client, assignments, events, mgr, clock, on_quality_update);
  if (!credentials.ok()) {
    Log(lvl::err, "cannot set up the master credentials",
        {{"error", credentials.status().message()}});
    return 1;
  }
  // ---- end of master credentials ----

  // Meta's inventory: the Graph client and the refresher (leader-only, before the controller).
  auto meta_wiring =
      MetaParts::SetUp(o, (*credentials)->credentials(), inventory, view, assignments,
                       phone_numbers, queue, events, registry, mgr, clock);
  if (!meta_wiring.ok()) {
    Log(lvl::err, "cannot set up the Meta Graph API client",
        {{"error", meta_wiring.status().message()}});
    return 1;
  }
  (*credentials)->OnCredentialsChange([m = meta_wiring->get()] { m->OnCredentialsChange(); });
  meta_parts.store(meta_wiring->get());

  // ---- Tenant-service sink: its drift pass (leader-only, before the controller). ----
  if (*tenant_parts) {
    (*tenant_parts)->Start((*credentials)->credentials(), view, assignments, queue, events, mgr);
  }
  // ---- end of the tenant-service sink ----

  // --- Admission webhook (SPEC 3 and 7; app/webhook.h): every replica serves it from the
  // informer cache, with certificates kept in a Secret or read from --webhook-cert-dir. ---
  if (Status s = AddWebhook(
          mgr, o, config->default_namespace, *client, view, [&mgr] { return mgr.CachesSynced(); },
          clock);
      !s.ok()) {
    Log(lvl::err, "cannot set up the admission webhook", {{"error", s.message()}});
    return 1;
  }
  // --- end of the admission webhook ---

  mgr.AddLeaderOnly(std::make_unique<manager::ControllerRunnable>(
      workers, o.max_concurrent_reconciles,
      [&](const std::string& key) {
        std::optional<controller::Request> request = controller::Request::Parse(key);
        if (!request)
          return controller::ReconcileResult::Terminal(
              Status::InvalidArgument("not a reconcile request: " + key));
        return reconciler.Reconcile(*request);
      },
      [workers_n = o.max_concurrent_reconciles] {
        Log(lvl::info, "reconciling", {{"workers", std::to_string(workers_n)}});
      }));
  // Periodic full resync: every assignment and inventory object is looked at again, which
  // corrects drift the watches cannot see. A converged cluster makes no write. It also runs at
  // once when a later term starts: the step-down dropped the queue.
  mgr.AddLeaderOnly(std::make_unique<manager::PeriodicRunnable>(
      "resync", o.sync_period,
      [&] {
        for (const auto& key : assignments.store().Keys()) {
          if (auto request = controller::Request::Parse(key)) queue.Add(request->Key());
        }
        for (const auto& id : phone_numbers.store().Keys()) {
          queue.Add(controller::Request::PhoneNumber(id).Key());
        }
      },
      /*tick_when_restarted=*/true));

  // SIGTERM / SIGINT stop the manager. The source is shared with the callback, which the
  // SignalHandler keeps (and may run) after this function returned.
  auto stop = std::make_shared<std::stop_source>();
  signals.OnStop([stop](int) { stop->request_stop(); });
  Status result = mgr.Run(stop->get_token());
  const int exit_code = result.ok() ? 0 : 1;
  if (!result.ok()) Log(lvl::err, "stopped with an error", {{"error", result.message()}});
  Log(lvl::info, "stopped",
      {{"exitCode", std::to_string(exit_code)},
       {"signal", std::to_string(signals.ReceivedSignal())}});
  return exit_code;
}

}  // namespace waop::app
