#include "manager/runnables.h"

#include <exception>

#include "common/logging.h"

namespace waop::manager {

Status ControllerRunnable::Start() {
  WAOP_RETURN_IF_ERROR(controller_.RunWorkers(workers_, reconcile_));
  if (on_started_) on_started_();
  return Status::Ok();
}

Status PeriodicRunnable::Start() {
  if (period_.count() <= 0) return Status::InvalidArgument(name_ + ": period must be positive");
  if (thread_.joinable()) return Status::FailedPrecondition(name_ + " already started");
  const bool tick_now = tick_when_restarted_ && starts_ > 0;
  ++starts_;
  {
    std::lock_guard lock(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this, tick_now] {
    if (tick_now) Tick();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, period_, [this] { return stop_; })) {
      lock.unlock();
      Tick();
      lock.lock();
    }
  });
  return Status::Ok();
}

void PeriodicRunnable::Tick() {
  // The top of the periodic thread: a throwing tick is logged and the next one runs.
  try {
    tick_();
  } catch (const std::exception& e) {
    logging::Log(spdlog::level::err, "periodic task threw; continuing",
                 {{"runnable", name_}, {"error", e.what()}});
  } catch (...) {
    logging::Log(spdlog::level::err, "periodic task threw; continuing",
                 {{"runnable", name_}, {"error", "a non-standard exception"}});
  }
}

void PeriodicRunnable::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status HttpServerRunnable::Start() {
  auto started = server::HttpServer::Start(options_, registry_, checks_);
  if (!started.ok()) return started.status();
  server_ = std::move(*started);
  return Status::Ok();
}

void HttpServerRunnable::Stop() {
  if (server_) server_->Stop();
}

}  // namespace waop::manager
