// Prometheus metrics for the controller runtime, under controller-runtime's names, so existing
// dashboards and alerts for kubebuilder operators work unchanged:
//   controller_runtime_reconcile_total{controller,result}      result: success|error|requeue_after
//   controller_runtime_reconcile_errors_total{controller}
//   controller_runtime_terminal_reconcile_errors_total{controller}
//   controller_runtime_reconcile_time_seconds{controller}      histogram
//   controller_runtime_max_concurrent_reconciles{controller}
//   controller_runtime_active_workers{controller}
//   workqueue_depth{name}, workqueue_adds_total{name}, workqueue_retries_total{name},
//   workqueue_queue_duration_seconds{name}, workqueue_work_duration_seconds{name} (histograms),
//   workqueue_unfinished_work_seconds{name}, workqueue_longest_running_processor_seconds{name}
//     (gauges computed at scrape time from the watched queue).
//
// Use: auto m = ControllerMetrics::Create(registry, "whatsappassignment"); pass
// m->queue_metrics() to the WorkQueue, m->reconcile_metrics() to the Controller, then
// m->WatchQueue(&queue).
//
// Thread-safety: thread-safe. Ownership: borrows the Registry (must outlive this object); a
// watched queue must outlive this object or be unwatched with WatchQueue(nullptr).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"
#include "controller/workqueue.h"
#include "server/metrics.h"

namespace waop::server {

class ControllerMetrics {
 public:
  // Errors only if the names are already registered with other definitions.
  static Result<std::unique_ptr<ControllerMetrics>> Create(Registry& registry,
                                                           const std::string& controller_name);
  ~ControllerMetrics();
  ControllerMetrics(const ControllerMetrics&) = delete;
  ControllerMetrics& operator=(const ControllerMetrics&) = delete;

  controller::WorkQueueMetrics* queue_metrics() { return &queue_; }
  controller::ReconcileMetrics* reconcile_metrics() { return &reconcile_; }
  void SetMaxConcurrentReconciles(int n) { max_concurrent_->Set(n); }
  // Unfinished-work gauges are read from this queue at every scrape.
  void WatchQueue(const controller::WorkQueue* queue);

 private:
  struct QueueHooks : controller::WorkQueueMetrics {
    Gauge* depth;
    Counter* adds;
    Counter* retries;
    Histogram* queue_duration;
    Histogram* work_duration;
    void SetDepth(std::int64_t d) override { depth->Set(static_cast<double>(d)); }
    void IncAdds() override { adds->Inc(); }
    void IncRetries() override { retries->Inc(); }
    void ObserveQueueDuration(double s) override { queue_duration->Observe(s); }
    void ObserveWorkDuration(double s) override { work_duration->Observe(s); }
  };
  struct ReconcileHooks : controller::ReconcileMetrics {
    Family<Counter>* totals;
    std::string controller;
    Counter* errors;
    Counter* terminal_errors;
    Histogram* time;
    Gauge* active;
    void ObserveReconcile(const std::string& result, double seconds) override {
      totals->WithLabels({controller, result}).Inc();
      time->Observe(seconds);
    }
    void IncErrors(bool terminal) override {
      errors->Inc();
      if (terminal) terminal_errors->Inc();
    }
    void SetActiveWorkers(int n) override { active->Set(n); }
  };
  struct Watched {
    std::mutex mu;
    const controller::WorkQueue* queue = nullptr;
    Gauge* unfinished = nullptr;
    Gauge* longest = nullptr;
  };

  ControllerMetrics() = default;
  QueueHooks queue_;
  ReconcileHooks reconcile_;
  Gauge* max_concurrent_ = nullptr;
  std::shared_ptr<Watched> watched_ = std::make_shared<Watched>();
};

// client-go's leader_election_master_status{name}: set it to 1 in on_started_leading and 0 in
// on_stopped_leading. `lease_name` is the --leader-election-id. Errors as Registry::AddGauge.
Result<Gauge*> LeaderElectionStatusGauge(Registry& registry, const std::string& lease_name);

}  // namespace waop::server
