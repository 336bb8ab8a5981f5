// Runnables for the parts the operator has: an informer (a Cache), a controller's workers, a
// periodic job, the probes and metrics HTTP server. Each adapts an existing class to
// Start()/Stop(); see runnable.h for the contract.
//
// Thread-safety: as runnable.h says (Start/Stop from the manager; Name and the cache queries
// from any thread).
// Ownership: each borrows what it wraps (Informer, Controller, Registry, HealthChecks), which
// must outlive it; PeriodicRunnable and HttpServerRunnable own their thread / server.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "controller/workqueue.h"
#include "kube/informer.h"
#include "manager/runnable.h"
#include "server/http_server.h"

namespace waop::manager {

// An informer, named by its `name` (the resource, for logs).
class InformerCache final : public Cache {
 public:
  InformerCache(std::string name, kube::Informer& informer)
      : name_(std::move(name)), informer_(informer) {}
  std::string Name() const override { return name_; }
  // Informer::Start's error (FailedPrecondition if already started, InvalidArgument for a bad
  // option).
  Status Start() override { return informer_.Start(); }
  void Stop() override { informer_.Stop(); }
  bool HasSynced() const override { return informer_.HasSynced(); }
  bool WaitForSync(std::chrono::milliseconds timeout) const override {
    return informer_.WaitForSync(timeout);
  }

 private:
  const std::string name_;
  kube::Informer& informer_;
};

// A controller's workers: Start runs `workers` threads calling `reconcile` for keys from the
// controller's queue; Stop drains (reconciles in flight finish) and drops the queue. Started
// again (a leader's next term), it runs fresh workers on the reopened, empty queue. `on_started`
// runs after the workers started (the "reconciling" log line).
class ControllerRunnable final : public Runnable {
 public:
  ControllerRunnable(controller::Controller& controller, int workers,
                     controller::ReconcileFunc reconcile, std::function<void()> on_started = {})
      : controller_(controller),
        workers_(workers),
        reconcile_(std::move(reconcile)),
        on_started_(std::move(on_started)) {}
  std::string Name() const override { return "controller " + controller_.name(); }
  // Controller::RunWorkers' error (InvalidArgument for workers < 1 or no reconcile function).
  Status Start() override;
  void Stop() override { controller_.Stop(); }

 private:
  controller::Controller& controller_;
  const int workers_;
  controller::ReconcileFunc reconcile_;
  std::function<void()> on_started_;
};

// Calls `tick` every `period` on its own thread, first one period after Start (a resync).
// Started again after a Stop (a leader's next term), it ticks at once when
// `tick_when_restarted`: a resync that refills a queue the step-down dropped.
class PeriodicRunnable final : public Runnable {
 public:
  PeriodicRunnable(std::string name, std::chrono::milliseconds period, std::function<void()> tick,
                   bool tick_when_restarted = false)
      : name_(std::move(name)),
        period_(period),
        tick_(std::move(tick)),
        tick_when_restarted_(tick_when_restarted) {}
  ~PeriodicRunnable() override { Stop(); }
  PeriodicRunnable(const PeriodicRunnable&) = delete;
  PeriodicRunnable& operator=(const PeriodicRunnable&) = delete;
  std::string Name() const override { return name_; }
  // InvalidArgument for a period that is not positive; FailedPrecondition while running.
  Status Start() override;
  // Waits for a tick in progress. Idempotent.
  void Stop() override;

 private:
  void Tick();

  const std::string name_;
  const std::chrono::milliseconds period_;
  const std::function<void()> tick_;
  const bool tick_when_restarted_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  int starts_ = 0;     // Start() calls that succeeded; Start/Stop thread only
  std::thread thread_;
};

// The probes (/healthz, /readyz) and /metrics endpoints (server::HttpServer). The Manager adds
// one to its servers group when Options enable an address.
class HttpServerRunnable final : public Runnable {
 public:
  HttpServerRunnable(server::HttpServerOptions options, const server::Registry* registry,
                     const server::HealthChecks* checks)
      : options_(options), registry_(registry), checks_(checks) {}
  std::string Name() const override { return "probes and metrics server"; }
  // Unavailable, naming the address, when a port cannot be bound.
  Status Start() override;
  void Stop() override;

 private:
  const server::HttpServerOptions options_;
  const server::Registry* registry_;
  const server::HealthChecks* checks_;
  std::unique_ptr<server::HttpServer> server_;
};

}  // namespace waop::manager
