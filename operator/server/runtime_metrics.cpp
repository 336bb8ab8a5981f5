#include "server/runtime_metrics.h"

namespace waop::server {
namespace {

// controller-runtime's reconcile time buckets (pkg/internal/controller/metrics).
std::vector<double> ReconcileBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1,  0.15, 0.2,  0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6,
          0.7,   0.8,  0.9,   1.0,  1.25, 1.5,  1.75, 2.0,  2.5, 3.0,  3.5, 4.0,  4.5, 5,
          6,     7,    8,     9,    10,   15,   20,   25,   30,  40,   50,  60};
}

}  // namespace

Result<std::unique_ptr<ControllerMetrics>> ControllerMetrics::Create(
    Registry& registry, const std::string& controller_name) {
  std::unique_ptr<ControllerMetrics> m(new ControllerMetrics());
  const std::vector<std::string> c = {"controller"};
  const std::vector<std::string> n = {"name"};
  const std::vector<std::string> cv = {controller_name};
  const std::vector<std::string> nv = {controller_name};

  auto totals = registry.AddCounter("controller_runtime_reconcile_total",
                                    "Total number of reconciliations per controller",
                                    {"controller", "result"});
  if (!totals.ok()) return totals.status();
  auto errors = registry.AddCounter("controller_runtime_reconcile_errors_total",
                                    "Total number of reconciliation errors per controller", c);
  if (!errors.ok()) return errors.status();
  auto terminal =
      registry.AddCounter("controller_runtime_terminal_reconcile_errors_total",
                          "Total number of terminal reconciliation errors per controller", c);
  if (!terminal.ok()) return terminal.status();
  auto time = registry.AddHistogram("controller_runtime_reconcile_time_seconds",
                                    "Length of time per reconciliation per controller", c,
                                    ReconcileBuckets());
  if (!time.ok()) return time.status();
  auto max_concurrent =
      registry.AddGauge("controller_runtime_max_concurrent_reconciles",
                        "Maximum number of concurrent reconciles per controller", c);
  if (!max_concurrent.ok()) return max_concurrent.status();
  auto active = registry.AddGauge("controller_runtime_active_workers",
                                  "Number of currently used workers per controller", c);
  if (!active.ok()) return active.status();

  const auto latency_buckets = ExponentialBuckets(10e-9, 10, 12);
  auto depth = registry.AddGauge("workqueue_depth", "Current depth of workqueue", n);
  if (!depth.ok()) return depth.status();
  auto adds =
      registry.AddCounter("workqueue_adds_total", "Total number of adds handled by workqueue", n);
  if (!adds.ok()) return adds.status();
  auto retries = registry.AddCounter("workqueue_retries_total",
                                     "Total number of retries handled by workqueue", n);
  if (!retries.ok()) return retries.status();
  auto queue_duration = registry.AddHistogram(
      "workqueue_queue_duration_seconds",
      "How long in seconds an item stays in workqueue before being requested", n, latency_buckets);
  if (!queue_duration.ok()) return queue_duration.status();
  auto work_duration = registry.AddHistogram(
      "workqueue_work_duration_seconds",
      "How long in seconds processing an item from workqueue takes", n, latency_buckets);
  if (!work_duration.ok()) return work_duration.status();
  auto unfinished = registry.AddGauge(
      "workqueue_unfinished_work_seconds",
      "How many seconds of work has been done that is in progress and hasn't been observed by "
      "work_duration. Large values indicate stuck threads.",
      n);
  if (!unfinished.ok()) return unfinished.status();
  auto longest = registry.AddGauge(
      "workqueue_longest_running_processor_seconds",
      "How many seconds has the longest running processor for workqueue been running", n);
  if (!longest.ok()) return longest.status();

  m->reconcile_.totals = *totals;
  m->reconcile_.controller = controller_name;
  m->reconcile_.errors = &(*errors)->WithLabels(cv);
  m->reconcile_.terminal_errors = &(*terminal)->WithLabels(cv);
  m->reconcile_.time = &(*time)->WithLabels(cv);
  m->reconcile_.active = &(*active)->WithLabels(cv);
  m->max_concurrent_ = &(*max_concurrent)->WithLabels(cv);
  m->queue_.depth = &(*depth)->WithLabels(nv);
  m->queue_.adds = &(*adds)->WithLabels(nv);
  m->queue_.retries = &(*retries)->WithLabels(nv);
  m->queue_.queue_duration = &(*queue_duration)->WithLabels(nv);
  m->queue_.work_duration = &(*work_duration)->WithLabels(nv);
  m->watched_->unfinished = &(*unfinished)->WithLabels(nv);
  m->watched_->longest = &(*longest)->WithLabels(nv);
  // Both results start at zero so rate() works from the first scrape.
  (*totals)->WithLabels({controller_name, "success"});
  (*totals)->WithLabels({controller_name, "error"});

  std::weak_ptr<Watched> weak = m->watched_;
  registry.AddCollectHook([weak] {
    auto watched = weak.lock();
    if (!watched) return;
    std::lock_guard lock(watched->mu);
    if (!watched->queue) return;
    const auto stats = watched->queue->Stats();
    watched->unfinished->Set(stats.unfinished_work_seconds);
    watched->longest->Set(stats.longest_running_processor_seconds);
  });
  return m;
}

ControllerMetrics::~ControllerMetrics() { WatchQueue(nullptr); }

void ControllerMetrics::WatchQueue(const controller::WorkQueue* queue) {
  std::lock_guard lock(watched_->mu);
  watched_->queue = queue;
}

Result<Gauge*> LeaderElectionStatusGauge(Registry& registry, const std::string& lease_name) {
  auto family = registry.AddGauge(
      "leader_election_master_status",
      "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 "
      "indicates master. 'name' is the string used to identify the lease.",
      {"name"});
  if (!family.ok()) return family.status();
  return &(*family)->WithLabels({lease_name});
}

}  // namespace waop::server
