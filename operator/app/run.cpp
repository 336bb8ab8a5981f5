#include "app/run.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "api/types.h"
#include "app/lease_client.h"
#include "app/ready_reasons.h"
#include "common/logging.h"
#include "controller/assignment_reconciler.h"
#include "controller/leader_election.h"
#include "controller/workqueue.h"
#include "core/settings.h"
#include "kube/config.h"
#include "kube/http.h"
#include "kube/informer.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/runtime_metrics.h"

namespace waop::app {
namespace {

using json = nlohmann::json;
using logging::Log;
namespace lvl = spdlog::level;

constexpr char kControllerName[] = "whatsappassignment";
constexpr char kPhoneIndex[] = "phoneNumberId";
constexpr char kTenantIndex[] = "tenantId";

std::vector<std::string> SpecIndex(const json& obj, const char* field) {
  auto spec = obj.find("spec");
  if (spec == obj.end() || !spec->is_object()) return {};
  auto v = spec->find(field);
  if (v == spec->end() || !v->is_string()) return {};
  return {v->get<std::string>()};
}

// The cluster as the reconciler sees it: the informers' stores.
class InformerView final : public controller::ClusterView {
 public:
  InformerView(const kube::Informer& assignments, const kube::Informer& config_maps,
               const kube::Informer& phone_numbers)
      : assignments_(assignments), config_maps_(config_maps), phone_numbers_(phone_numbers) {}
  controller::ObjectPtr GetAssignment(std::string_view key) const override {
    return assignments_.store().Get(key);
  }
  std::vector<controller::ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    auto r = assignments_.store().ByIndex(kPhoneIndex, id);
    return r.ok() ? std::move(*r) : std::vector<controller::ObjectPtr>{};
  }
  std::vector<controller::ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    auto r = assignments_.store().ByIndex(kTenantIndex, id);
    return r.ok() ? std::move(*r) : std::vector<controller::ObjectPtr>{};
  }
  controller::ObjectPtr GetConfigMap(std::string_view ns, std::string_view name) const override {
    return config_maps_.store().Get(ns, name);
  }
  controller::ObjectPtr GetPhoneNumber(std::string_view id) const override {
    return phone_numbers_.store().Get(id);
  }

 private:
  const kube::Informer& assignments_;
  const kube::Informer& config_maps_;
  const kube::Informer& phone_numbers_;
};

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
  auto transport = kube::NewCpprestTransport(*config);
  if (!transport.ok()) {
    Log(lvl::err, "cannot set up the Kubernetes client", {{"error", transport.status().message()}});
    return 1;
  }
  std::unique_ptr<kube::Client> client = kube::NewRestClient(*transport);
  Log(lvl::info, "starting",
      {{"server", config->server},
       {"source", config->source},
       {"namespace", o.watch_namespace.empty() ? "(all)" : o.watch_namespace},
       {"leaderElection", o.leader_elect ? "true" : "false"}});

  // Metrics and probes, served by every replica.
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
    return io;
  };
  kube::Informer assignments(*client, informer_options(kube::resources::kWhatsAppAssignments, ""));
  kube::Informer config_maps(*client, informer_options(kube::resources::kConfigMaps,
                                                       std::string(core::kManagedByLabel) + "=" +
                                                           std::string(core::kOperatorName)));
  kube::Informer phone_numbers(*client,
                               informer_options(kube::resources::kWhatsAppPhoneNumbers, ""));
  for (auto [index, field] :
       {std::pair{kPhoneIndex, "phoneNumberId"}, std::pair{kTenantIndex, "tenantId"}}) {
    Status s =
        assignments.AddIndex(index, [f = field](const json& obj) { return SpecIndex(obj, f); });
    if (!s.ok()) {
      Log(lvl::err, "cannot add index", {{"error", s.message()}});
      return 1;
    }
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

  InformerView view(assignments, config_maps, phone_numbers);
  const std::string identity = Identity();
  controller::EventRecorder events(*client, clock, std::string(core::kOperatorName), identity);
  controller::AssignmentReconciler reconciler(view, *client, events, clock);
  controller::WorkQueue queue(clock, nullptr, (*metrics)->queue_metrics());
  (*metrics)->WatchQueue(&queue);

  auto enqueue = [&queue](const std::vector<std::string>& keys) {
    for (const auto& k : keys) queue.Add(k);
  };
  assignments.AddEventHandler(
      {[&](const kube::ObjectPtr& obj) {
         ready_reasons.Added(*obj);
         enqueue(reconciler.KeysForAssignmentChange(nullptr, obj.get()));
       },
       [&](const kube::ObjectPtr& old_obj, const kube::ObjectPtr& new_obj) {
         ready_reasons.Updated(*old_obj, *new_obj);
         enqueue(reconciler.KeysForAssignmentChange(old_obj.get(), new_obj.get()));
       },
       [&](const kube::ObjectPtr& obj) {
         ready_reasons.Deleted(*obj);
         enqueue(reconciler.KeysForAssignmentChange(obj.get(), nullptr));
       }});
  auto config_map_changed = [&](const kube::ObjectPtr& obj) {
    enqueue(reconciler.KeysForConfigMap(*obj));
  };
  config_maps.AddEventHandler(
      {config_map_changed,
       [&](const kube::ObjectPtr&, const kube::ObjectPtr& obj) { config_map_changed(obj); },
       [&](const kube::ObjectPtr& obj) {
         // Mostly garbage collection after the owner was deleted, whose event arrives on the
         // assignments watch a moment later. Reconciling at once would find the owner still in
         // its cache and write the deleted assignment's settings again (a dependent the API
         // server then has to collect); a pause lets that event land first.
         std::string key = controller::AssignmentReconciler::KeyForConfigMap(*obj);
         if (!key.empty()) queue.AddAfter(key, std::chrono::seconds(1));
       }});
  auto phone_changed = [&](const kube::ObjectPtr& obj) {
    enqueue(reconciler.KeysForPhoneNumber(*obj));
  };
  phone_numbers.AddEventHandler(
      {phone_changed,
       [&](const kube::ObjectPtr&, const kube::ObjectPtr& obj) { phone_changed(obj); },
       phone_changed});

  auto synced = [&] {
    return assignments.HasSynced() && config_maps.HasSynced() && phone_numbers.HasSynced();
  };
  server::HealthChecks checks;
  checks.Add(server::HealthChecks::Kind::kHealthz, "ping", [] { return Status::Ok(); });
  checks.Add(server::HealthChecks::Kind::kReadyz, "informers-synced", [&] {
    return synced() ? Status::Ok() : Status::Unavailable("caches not synced yet");
  });
  auto http = server::HttpServer::Start({o.metrics_bind_address, o.health_probe_bind_address},
                                        &registry, &checks);
  if (!http.ok()) {
    Log(lvl::err, "cannot serve probes and metrics", {{"error", http.status().message()}});
    return 1;
  }

  for (kube::Informer* inf : {&assignments, &config_maps, &phone_numbers}) {
    Status s = inf->Start();
    if (!s.ok()) {
      Log(lvl::err, "cannot start informer", {{"error", s.message()}});
      return 1;
    }
  }

  controller::Controller workers(kControllerName, queue, clock, (*metrics)->reconcile_metrics());
  std::atomic<bool> leading{false};
  std::atomic<int> exit_code{0};
  auto start_workers = [&] {
    // Reconcile only from synced caches: an empty cache would look like "nothing exists".
    while (!synced() && !signals.StopRequested()) {
      assignments.WaitForSync(std::chrono::milliseconds(200));
    }
    if (signals.StopRequested()) return;
    leading = true;
    Status s = workers.RunWorkers(o.max_concurrent_reconciles, [&](const std::string& key) {
      return reconciler.Reconcile(key);
    });
    if (!s.ok()) Log(lvl::err, "cannot start workers", {{"error", s.message()}});
    Log(lvl::info, "reconciling", {{"workers", std::to_string(o.max_concurrent_reconciles)}});
  };

  KubeLeaseClient lease_client(*client);
  std::unique_ptr<controller::LeaderElector> elector;
  // Standbys watch the Lease, so a release (the leader's SIGTERM) is taken at once rather than
  // at the next retry period.
  std::unique_ptr<kube::Informer> lease_watch;
  std::thread starter;
  if (o.leader_elect) {
    controller::LeaderElectionConfig lc;
    lc.lease_namespace = LeaseNamespace(o, *config);
    lc.lease_name = o.leader_election_id;
    lc.identity = identity;
    controller::LeaderCallbacks callbacks;
    // `lc` ends with this block while the elector's thread runs on: copy what is logged.
    callbacks.on_started_leading = [&, lease_name = lc.lease_name] {
      Log(lvl::info, "became leader", {{"identity", identity}, {"lease", lease_name}});
      // Off the election thread: waiting for the caches must not delay renewals.
      starter = std::thread(start_workers);
    };
    callbacks.on_stopped_leading = [&] {
      if (signals.StopRequested()) return;
      Log(lvl::err, "leader election lost; exiting so a clean process takes over",
          {{"identity", identity}});
      exit_code = 1;
      signals.RequestStop();
    };
    callbacks.on_new_leader = [&](const std::string& holder) {
      if (!holder.empty() && holder != identity) {
        Log(lvl::info, "another replica leads", {{"leader", holder}});
      }
    };
    auto created = controller::LeaderElector::Create(lease_client, lc, clock, callbacks);
    if (!created.ok()) {
      Log(lvl::err, "bad leader election settings", {{"error", created.status().message()}});
      return 1;
    }
    elector = std::move(*created);
    Status s = elector->Start();
    if (!s.ok()) {
      Log(lvl::err, "cannot start leader election", {{"error", s.message()}});
      return 1;
    }
    kube::InformerOptions lo = informer_options(kube::resources::kLeases, "");
    lo.namespace_name = lc.lease_namespace;
    lo.field_selector = "metadata.name=" + lc.lease_name;
    lease_watch = std::make_unique<kube::Informer>(*client, lo);
    // The handlers outlive this block: they hold the elector itself, which outlives the watch
    // (stopped first at shutdown), never references to block locals.
    controller::LeaderElector* poked = elector.get();
    auto poke_if_free = [poked](const kube::ObjectPtr& lease) {
      const auto spec = lease->find("spec");
      const bool free =
          spec == lease->end() || !spec->is_object() || spec->value("holderIdentity", "").empty();
      if (free) poked->Poke();
    };
    lease_watch->AddEventHandler(
        {poke_if_free,
         [poke_if_free](const kube::ObjectPtr&, const kube::ObjectPtr& l) { poke_if_free(l); },
         [poked](const kube::ObjectPtr&) { poked->Poke(); }});
    // Without the watch, the election still works at the retry period: not fatal.
    if (Status w = lease_watch->Start(); !w.ok()) {
      Log(lvl::warn, "cannot watch the lease", {{"error", w.message()}});
    }
  } else {
    starter = std::thread(start_workers);
  }

  // Periodic full resync: every assignment and inventory object is looked at again, which
  // corrects drift the watches cannot see. A converged cluster makes no write.
  std::thread resync([&] {
    while (!signals.WaitFor(o.sync_period)) {
      if (!leading) continue;
      for (const auto& key : assignments.store().Keys()) queue.Add(key);
      for (const auto& key : phone_numbers.store().Keys()) {
        queue.Add(controller::AssignmentReconciler::PhoneKey(key));
      }
    }
  });

  signals.Wait();
  Log(lvl::info, "shutting down", {{"signal", std::to_string(signals.ReceivedSignal())}});
  if (starter.joinable()) starter.join();
  if (lease_watch) lease_watch->Stop();
  workers.Stop();  // in-flight reconciles finish
  if (elector) {
    Status s = elector->Release();
    if (!s.ok()) Log(lvl::warn, "could not release the lease", {{"error", s.message()}});
  }
  resync.join();
  for (kube::Informer* inf : {&assignments, &config_maps, &phone_numbers}) inf->Stop();
  (*http)->Stop();
  Log(lvl::info, "stopped", {{"exitCode", std::to_string(exit_code.load())}});
  return exit_code.load();
}

}  // namespace waop::app
