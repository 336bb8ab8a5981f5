#include "controller/workqueue.h"

#include <algorithm>
#include <exception>

#include "common/logging.h"

namespace waop::controller {
namespace {

double Seconds(MonoTime::duration d) { return std::chrono::duration<double>(d).count(); }

// Upper bound on one condition-variable sleep in Get(): due times are computed with the
// injected Clock, which may jump (FakeClock) or differ from the real steady clock, so a waiting
// worker re-checks at least this often even if nobody calls PollForTesting().
constexpr auto kMaxSleep = std::chrono::seconds(1);

}  // namespace

WorkQueue::WorkQueue(const Clock& clock, std::unique_ptr<RateLimiter> limiter,
                     WorkQueueMetrics* metrics)
    : clock_(clock),
      limiter_(limiter ? std::move(limiter) : DefaultControllerRateLimiter(clock)),
      metrics_(metrics) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::Add(const std::string& key) {
  Lock lock(mu_);
  AddLocked(key);
}

void WorkQueue::AddLocked(const std::string& key) {
  if (shutting_down_) return;
  if (!dirty_.insert(key).second) return;  // already pending: dedup
  ++adds_;
  if (metrics_) metrics_->IncAdds();
  enqueued_at_[key] = clock_.Mono();
  if (processing_.count(key)) return;  // handed out again by Done()
  queue_.push_back(key);
  UpdateDepthLocked();
  ready_cv_.notify_one();
}

void WorkQueue::AddAfter(const std::string& key, Duration delay) {
  if (delay <= Duration::zero()) {
    Add(key);
    return;
  }
  Lock lock(mu_);
  if (shutting_down_) return;
  const MonoTime due = clock_.Mono() + std::chrono::duration_cast<MonoTime::duration>(delay);
  auto it = waiting_due_.find(key);
  if (it != waiting_due_.end()) {
    if (it->second <= due) return;  // keep the earlier due time
    waiting_.erase({it->second, key});
    it->second = due;
  } else {
    waiting_due_.emplace(key, due);
  }
  waiting_.emplace(due, key);
  // A worker sleeping until a later due time must recompute its wake-up.
  ready_cv_.notify_all();
}

void WorkQueue::AddRateLimited(const std::string& key) {
  const Duration delay = limiter_->When(key);
  {
    Lock lock(mu_);
    if (shutting_down_) return;
    ++retries_;
    if (metrics_) metrics_->IncRetries();
  }
  AddAfter(key, delay);
}

void WorkQueue::Forget(const std::string& key) { limiter_->Forget(key); }

int WorkQueue::NumRequeues(const std::string& key) { return limiter_->NumRequeues(key); }

int WorkQueue::PromoteDueLocked() {
  const MonoTime now = clock_.Mono();
  int promoted = 0;
  while (!waiting_.empty() && waiting_.begin()->first <= now) {
    std::string key = waiting_.begin()->second;
    waiting_.erase(waiting_.begin());
    waiting_due_.erase(key);
    AddLocked(key);
    ++promoted;
  }
  return promoted;
}

int WorkQueue::PollForTesting() {
  Lock lock(mu_);
  const int promoted = PromoteDueLocked();
  if (promoted > 0) ready_cv_.notify_all();
  return promoted;
}

std::optional<std::string> WorkQueue::Get() { return GetUntil(std::nullopt); }

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  return GetUntil(std::chrono::steady_clock::now() + timeout);
}

std::optional<std::string> WorkQueue::GetUntil(
    std::optional<std::chrono::steady_clock::time_point> end) {
  Lock lock(mu_);
  while (true) {
    if (shutting_down_) return std::nullopt;
    PromoteDueLocked();
    if (!queue_.empty()) break;
    const auto real_now = std::chrono::steady_clock::now();
    if (end && real_now >= *end) return std::nullopt;
    auto wake = real_now + kMaxSleep;
    if (!waiting_.empty()) {
      const auto until_due = waiting_.begin()->first - clock_.Mono();
      wake = std::min(wake, real_now + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                           std::max(until_due, MonoTime::duration::zero())));
    }
    if (end) wake = std::min(wake, *end);
    ready_cv_.wait_until(lock, wake);
  }
  std::string key = std::move(queue_.front());
  queue_.pop_front();
  dirty_.erase(key);
  const MonoTime now = clock_.Mono();
  processing_[key] = now;
  if (auto it = enqueued_at_.find(key); it != enqueued_at_.end()) {
    if (metrics_) metrics_->ObserveQueueDuration(Seconds(now - it->second));
    enqueued_at_.erase(it);
  }
  UpdateDepthLocked();
  return key;
}

void WorkQueue::Done(const std::string& key) {
  Lock lock(mu_);
  auto it = processing_.find(key);
  if (it == processing_.end()) return;  // Done without Get: ignore rather than corrupt state
  if (metrics_) metrics_->ObserveWorkDuration(Seconds(clock_.Mono() - it->second));
  processing_.erase(it);
  if (dirty_.count(key) && !shutting_down_) {
    queue_.push_back(key);
    UpdateDepthLocked();
    ready_cv_.notify_one();
  }
  if (processing_.empty()) drained_cv_.notify_all();
}

int WorkQueue::Len() const {
  Lock lock(mu_);
  return static_cast<int>(queue_.size());
}

WorkQueueStats WorkQueue::Stats() const {
  Lock lock(mu_);
  WorkQueueStats stats;
  stats.depth = static_cast<std::int64_t>(queue_.size());
  stats.waiting = static_cast<std::int64_t>(waiting_.size());
  stats.processing = static_cast<std::int64_t>(processing_.size());
  stats.adds = adds_;
  stats.retries = retries_;
  const MonoTime now = clock_.Mono();
  for (const auto& [key, started] : processing_) {
    const double held = Seconds(now - started);
    stats.unfinished_work_seconds += held;
    stats.longest_running_processor_seconds =
        std::max(stats.longest_running_processor_seconds, held);
  }
  return stats;
}

void WorkQueue::ShutDown() {
  Lock lock(mu_);
  if (shutting_down_) return;
  shutting_down_ = true;
  waiting_.clear();
  waiting_due_.clear();
  queue_.clear();
  UpdateDepthLocked();
  ready_cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  ShutDown();
  Lock lock(mu_);
  drained_cv_.wait(lock, [this] { return processing_.empty(); });
}

Status WorkQueue::Reopen() {
  Lock lock(mu_);
  if (!shutting_down_) return Status::Ok();
  if (!processing_.empty()) {
    return Status::FailedPrecondition("work queue: cannot reopen while " +
                                      std::to_string(processing_.size()) +
                                      " handed-out keys are not done");
  }
  queue_.clear();
  dirty_.clear();
  enqueued_at_.clear();
  waiting_.clear();
  waiting_due_.clear();
  shutting_down_ = false;
  UpdateDepthLocked();
  return Status::Ok();
}

bool WorkQueue::ShuttingDown() const {
  Lock lock(mu_);
  return shutting_down_;
}

void WorkQueue::UpdateDepthLocked() {
  if (metrics_) metrics_->SetDepth(static_cast<std::int64_t>(queue_.size()));
}

Controller::Controller(std::string name, WorkQueue& queue, const Clock& clock,
                       ReconcileMetrics* metrics)
    : name_(std::move(name)), queue_(queue), clock_(clock), metrics_(metrics) {}

Controller::~Controller() { Stop(); }

Status Controller::RunWorkers(int workers, ReconcileFunc fn) {
  if (workers < 1) {
    return Status::InvalidArgument("controller " + name_ +
                                   ": max concurrent reconciles must be at least 1, got " +
                                   std::to_string(workers));
  }
  if (!fn) return Status::InvalidArgument("controller " + name_ + ": reconcile function is empty");
  std::lock_guard lock(mu_);
  if (running_) return Status::FailedPrecondition("controller " + name_ + " already started");
  // A queue that a previous Stop() shut down (and drained) starts again empty.
  WAOP_RETURN_IF_ERROR(queue_.Reopen());
  running_ = true;
  fn_ = std::move(fn);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { Worker(); });
  return Status::Ok();
}

void Controller::Stop() {
  std::vector<std::thread> threads;
  std::lock_guard lock(mu_);
  threads.swap(threads_);
  queue_.ShutDownWithDrain();
  for (auto& t : threads) t.join();
  running_ = false;
}

void Controller::Worker() {
  // The top of a worker thread. ProcessOne already turns a throwing reconcile into an error
  // result; this catches the rest (memory exhaustion, a throwing metrics hook), logs it and
  // keeps the worker serving the queue.
  for (;;) {
    try {
      while (auto key = queue_.Get()) ProcessOne(*key);
      return;
    } catch (const std::exception& e) {
      logging::Log(spdlog::level::err, "controller worker caught an exception; continuing",
                   {{"controller", name_}, {"error", e.what()}});
    } catch (...) {
      logging::Log(spdlog::level::err, "controller worker caught an exception; continuing",
                   {{"controller", name_}, {"error", "a non-standard exception"}});
    }
  }
}

void Controller::ProcessOne(const std::string& key) {
  if (metrics_) metrics_->SetActiveWorkers(++active_);
  const MonoTime start = clock_.Mono();
  ReconcileResult result;
  try {
    result = fn_(key);
  } catch (const std::exception& e) {
    result = ReconcileResult::Error(Status::Internal(std::string("reconcile threw: ") + e.what()));
  } catch (...) {
    result = ReconcileResult::Error(Status::Internal("reconcile threw a non-standard exception"));
  }
  std::string label;
  switch (result.kind) {
    case ReconcileResult::Kind::kOk:
      queue_.Forget(key);
      label = "success";
      break;
    case ReconcileResult::Kind::kRequeueAfter:
      queue_.Forget(key);
      queue_.AddAfter(key, result.after);
      label = "requeue_after";
      break;
    case ReconcileResult::Kind::kError:
      queue_.AddRateLimited(key);
      label = "error";
      break;
    case ReconcileResult::Kind::kTerminal:
      queue_.Forget(key);
      label = "error";
      break;
  }
  if (label == "error") {
    // Every failed reconcile, once, with its key (controller-runtime's "Reconciler error"). A
    // conflict is routine (the object moved on; its watch event brings the new one).
    const bool terminal = result.kind == ReconcileResult::Kind::kTerminal;
    logging::Log(
        result.error.code() == StatusCode::kConflict ? spdlog::level::info : spdlog::level::warn,
        terminal ? "reconcile failed; retried when the object changes"
                 : "reconcile failed; will retry with backoff",
        {{"controller", name_}, {"key", key}, {"error", result.error.ToString()}});
  }
  if (metrics_) {
    metrics_->ObserveReconcile(label, Seconds(clock_.Mono() - start));
    if (label == "error") metrics_->IncErrors(result.kind == ReconcileResult::Kind::kTerminal);
    metrics_->SetActiveWorkers(--active_);
  } else {
    --active_;
  }
  queue_.Done(key);
}

}  // namespace waop::controller
