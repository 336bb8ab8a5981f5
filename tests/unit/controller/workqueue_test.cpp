#include "controller/workqueue.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;

constexpr auto kLongWait = std::chrono::seconds(30);

// Records every hook call so tests can assert exact metric values.
class RecordingQueueMetrics : public WorkQueueMetrics {
 public:
  void SetDepth(std::int64_t depth) override { depth_ = depth; }
  void IncAdds() override { ++adds_; }
  void IncRetries() override { ++retries_; }
  void ObserveQueueDuration(double seconds) override {
    std::lock_guard lock(mu_);
    queue_durations_.push_back(seconds);
  }
  void ObserveWorkDuration(double seconds) override {
    std::lock_guard lock(mu_);
    work_durations_.push_back(seconds);
  }
  std::atomic<std::int64_t> depth_{0};
  std::atomic<int> adds_{0};
  std::atomic<int> retries_{0};
  std::mutex mu_;
  std::vector<double> queue_durations_;
  std::vector<double> work_durations_;
};

class RecordingReconcileMetrics : public ReconcileMetrics {
 public:
  void ObserveReconcile(const std::string& result, double /*seconds*/) override {
    std::lock_guard lock(mu_);
    ++totals_[result];
  }
  void IncErrors(bool terminal) override {
    ++errors_;
    if (terminal) ++terminal_;
  }
  void SetActiveWorkers(int workers) override {
    max_active_ = std::max(max_active_.load(), workers);
  }
  std::map<std::string, int> Totals() {
    std::lock_guard lock(mu_);
    return totals_;
  }
  std::mutex mu_;
  std::map<std::string, int> totals_;
  std::atomic<int> errors_{0};
  std::atomic<int> terminal_{0};
  std::atomic<int> max_active_{0};
};

// Polls `cond` until true or a generous deadline; returns whether it became true.
template <typename F>
bool Eventually(F cond) {
  const auto end = std::chrono::steady_clock::now() + kLongWait;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return cond();
}

TEST(WorkQueueTest, DeduplicatesKeysAddedBeforeProcessing) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.Add("ns/a");
  q.Add("ns/b");
  q.Add("ns/a");
  q.Add("ns/a");
  EXPECT_EQ(q.Len(), 2);
  EXPECT_EQ(q.Get(), "ns/a");
  EXPECT_EQ(q.Get(), "ns/b");
  EXPECT_EQ(q.Len(), 0);
  EXPECT_EQ(q.GetFor(milliseconds(1)), std::nullopt);
  EXPECT_EQ(q.Stats().adds, 2u);
}

TEST(WorkQueueTest, KeyAddedWhileProcessingIsHandedOutAfterDone) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.Add("k");
  ASSERT_EQ(q.Get(), "k");
  q.Add("k");
  q.Add("k");
  // Not ready while a worker holds it.
  EXPECT_EQ(q.Len(), 0);
  EXPECT_EQ(q.GetFor(milliseconds(1)), std::nullopt);
  q.Done("k");
  EXPECT_EQ(q.Len(), 1);
  EXPECT_EQ(q.Get(), "k");
  q.Done("k");
  EXPECT_EQ(q.Len(), 0);
}

TEST(WorkQueueTest, AddAfterBecomesReadyInDueOrderWithFakeClock) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.AddAfter("c", seconds(3));
  q.AddAfter("a", seconds(1));
  q.AddAfter("b", seconds(2));
  q.AddAfter("a", seconds(10));  // a later due time does not postpone an earlier one
  q.AddAfter("now", Duration::zero());
  EXPECT_EQ(q.Len(), 1);
  EXPECT_EQ(q.Stats().waiting, 3);
  EXPECT_EQ(q.PollForTesting(), 0);
  clock.Advance(milliseconds(999));
  EXPECT_EQ(q.PollForTesting(), 0);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(q.PollForTesting(), 1);
  clock.Advance(seconds(5));
  EXPECT_EQ(q.PollForTesting(), 2);
  std::vector<std::string> order;
  while (auto k = q.GetFor(milliseconds(0))) order.push_back(*k);
  EXPECT_THAT(order, ElementsAre("now", "a", "b", "c"));
}

TEST(WorkQueueTest, EarlierAddAfterReplacesLaterDueTime) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.AddAfter("k", seconds(10));
  q.AddAfter("k", seconds(1));
  clock.Advance(seconds(1));
  EXPECT_EQ(q.PollForTesting(), 1);
  EXPECT_EQ(q.Stats().waiting, 0);
}

TEST(WorkQueueTest, BlockedGetWakesWhenARealDelayExpires) {
  WorkQueue q(RealClock::Get(), nullptr);
  const auto start = std::chrono::steady_clock::now();
  q.AddAfter("k", milliseconds(20));
  EXPECT_EQ(q.GetFor(kLongWait), "k");
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(20));
}

TEST(WorkQueueTest, PollWakesABlockedGet) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.AddAfter("k", seconds(3600));
  auto got = std::async(std::launch::async, [&] { return q.GetFor(kLongWait); });
  clock.Advance(seconds(3600));
  q.PollForTesting();
  EXPECT_EQ(got.get(), "k");
}

TEST(WorkQueueTest, RateLimitedBackoffSequenceAndForget) {
  FakeClock clock;
  WorkQueue q(clock, std::make_unique<ItemExponentialRateLimiter>(milliseconds(5), seconds(1000)));
  Duration expected = milliseconds(5);
  for (int i = 0; i < 20; ++i) {
    const Duration want = std::min<Duration>(expected, seconds(1000));
    q.AddRateLimited("k");
    clock.Advance(want - milliseconds(1));
    ASSERT_EQ(q.PollForTesting(), 0) << "retry " << i << " ready too early";
    clock.Advance(milliseconds(1));
    ASSERT_EQ(q.PollForTesting(), 1)
        << "retry " << i << " not ready after " << want.count() << "ns";
    ASSERT_EQ(q.Get(), "k");
    q.Done("k");
    expected *= 2;
  }
  EXPECT_EQ(q.NumRequeues("k"), 20);
  EXPECT_EQ(q.Stats().retries, 20u);
  q.Forget("k");
  EXPECT_EQ(q.NumRequeues("k"), 0);
  q.AddRateLimited("k");
  clock.Advance(milliseconds(5));
  EXPECT_EQ(q.PollForTesting(), 1);
}

TEST(WorkQueueTest, NoKeyIsProcessedByTwoWorkersAtOnce) {
  WorkQueue q(RealClock::Get(), nullptr);
  constexpr int kKeys = 8;
  constexpr int kAddsPerProducer = 3000;
  std::array<std::atomic<int>, kKeys> in_flight{};
  std::atomic<int> violations{0};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        const int idx = std::stoi(*key);
        if (in_flight[idx].fetch_add(1) != 0) ++violations;
        std::this_thread::yield();
        in_flight[idx].fetch_sub(1);
        ++processed;
        q.Done(*key);
      }
    });
  }
  std::vector<std::thread> producers;
  for (int p = 0; p < 3; ++p) {
    producers.emplace_back([&, p] {
      std::mt19937 rng(p + 1);
      for (int i = 0; i < kAddsPerProducer; ++i) q.Add(std::to_string(rng() % kKeys));
    });
  }
  for (auto& t : producers) t.join();
  // Every key added last must still get processed: the queue empties out.
  EXPECT_TRUE(Eventually([&] {
    auto s = q.Stats();
    return s.depth == 0 && s.processing == 0;
  }));
  q.ShutDown();
  for (auto& t : workers) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_GT(processed.load(), 0);
  EXPECT_LE(processed.load(), 3 * kAddsPerProducer);
}

TEST(WorkQueueTest, ShutDownWakesGetAndIgnoresLaterAdds) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  auto got = std::async(std::launch::async, [&] { return q.Get(); });
  q.ShutDown();
  EXPECT_EQ(got.get(), std::nullopt);
  q.Add("k");
  q.AddAfter("k", seconds(1));
  EXPECT_EQ(q.Len(), 0);
  EXPECT_TRUE(q.ShuttingDown());
}

TEST(WorkQueueTest, ShutDownWithDrainWaitsForInFlightKeys) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  q.Add("held");
  q.Add("queued");
  ASSERT_EQ(q.Get(), "held");
  std::atomic<bool> drained{false};
  std::thread drainer([&] {
    q.ShutDownWithDrain();
    drained = true;
  });
  ASSERT_TRUE(Eventually([&] { return q.ShuttingDown(); }));
  EXPECT_FALSE(drained.load());
  // Ready keys are dropped at shutdown; only the held one is waited for.
  EXPECT_EQ(q.Get(), std::nullopt);
  q.Done("held");
  drainer.join();
  EXPECT_TRUE(drained.load());
}

TEST(WorkQueueTest, MetricsHooksSeeDepthAddsLatencyAndWork) {
  FakeClock clock;
  RecordingQueueMetrics metrics;
  WorkQueue q(clock, nullptr, &metrics);
  q.Add("a");
  q.Add("b");
  q.Add("a");
  EXPECT_EQ(metrics.depth_.load(), 2);
  EXPECT_EQ(metrics.adds_.load(), 2);
  clock.Advance(seconds(2));
  ASSERT_EQ(q.Get(), "a");
  EXPECT_EQ(metrics.depth_.load(), 1);
  clock.Advance(seconds(3));
  auto stats = q.Stats();
  EXPECT_DOUBLE_EQ(stats.unfinished_work_seconds, 3.0);
  EXPECT_DOUBLE_EQ(stats.longest_running_processor_seconds, 3.0);
  q.Done("a");
  q.AddRateLimited("a");
  EXPECT_EQ(metrics.retries_.load(), 1);
  std::lock_guard lock(metrics.mu_);
  EXPECT_THAT(metrics.queue_durations_, ElementsAre(2.0));
  EXPECT_THAT(metrics.work_durations_, ElementsAre(3.0));
}

TEST(ControllerTest, AppliesEachResultKind) {
  FakeClock clock;
  RecordingReconcileMetrics metrics;
  WorkQueue q(clock, nullptr);
  Controller controller("test", q, clock, &metrics);
  std::mutex mu;
  std::map<std::string, int> calls;
  ASSERT_TRUE(controller
                  .RunWorkers(2,
                              [&](const std::string& key) {
                                int n;
                                {
                                  std::lock_guard lock(mu);
                                  n = ++calls[key];
                                }
                                if (key == "ok") return ReconcileResult::Ok();
                                if (key == "later")
                                  return ReconcileResult::RequeueAfter(seconds(60));
                                if (key == "flaky" && n < 3)
                                  return ReconcileResult::Error(Status::Unavailable("down"));
                                if (key == "flaky") return ReconcileResult::Ok();
                                if (key == "throws") throw std::runtime_error("boom");
                                return ReconcileResult::Terminal(Status::InvalidArgument("bad"));
                              })
                  .ok());
  auto count = [&](const std::string& key) {
    std::lock_guard lock(mu);
    return calls[key];
  };
  for (const char* key : {"ok", "later", "flaky", "terminal", "throws"}) q.Add(key);
  ASSERT_TRUE(Eventually([&] {
    return count("ok") == 1 && count("later") == 1 && count("flaky") == 1 &&
           count("terminal") == 1 && count("throws") == 1 && q.Stats().processing == 0;
  }));
  // flaky retries after 5 ms then 10 ms (FakeClock); throws is retried like an error too.
  clock.Advance(milliseconds(5));
  q.PollForTesting();
  ASSERT_TRUE(Eventually([&] { return count("flaky") == 2 && count("throws") == 2; }));
  ASSERT_TRUE(Eventually([&] { return q.Stats().waiting == 3; }));
  clock.Advance(milliseconds(10));
  q.PollForTesting();
  ASSERT_TRUE(Eventually([&] { return count("flaky") == 3; }));
  EXPECT_EQ(q.NumRequeues("flaky"), 0) << "success must Forget the backoff";
  clock.Advance(seconds(60));
  q.PollForTesting();
  ASSERT_TRUE(Eventually([&] { return count("later") == 2; }));
  ASSERT_TRUE(Eventually([&] { return q.Stats().processing == 0; }));
  controller.Stop();
  EXPECT_EQ(count("terminal"), 1) << "terminal errors are not retried";
  EXPECT_EQ(count("ok"), 1);
  auto totals = metrics.Totals();
  EXPECT_EQ(totals["success"], 2);  // ok, flaky's third try
  EXPECT_EQ(totals["requeue_after"], 2);
  EXPECT_EQ(metrics.terminal_.load(), 1);
  EXPECT_EQ(totals["error"], metrics.errors_.load());
  EXPECT_GE(metrics.errors_.load(), 5);  // flaky x2, terminal, throws x>=2
  EXPECT_LE(metrics.max_active_.load(), 2);
}

TEST(ControllerTest, StopLetsInFlightReconcilesFinish) {
  RecordingReconcileMetrics metrics;
  WorkQueue q(RealClock::Get(), nullptr);
  Controller controller("drain", q, RealClock::Get(), &metrics);
  std::promise<void> entered;
  std::promise<void> release;
  auto release_future = release.get_future().share();
  std::atomic<bool> finished{false};
  ASSERT_TRUE(controller
                  .RunWorkers(1,
                              [&](const std::string&) {
                                entered.set_value();
                                release_future.wait();
                                finished = true;
                                return ReconcileResult::Ok();
                              })
                  .ok());
  q.Add("k");
  entered.get_future().wait();
  std::thread stopper([&] { controller.Stop(); });
  ASSERT_TRUE(Eventually([&] { return q.ShuttingDown(); }));
  release.set_value();
  stopper.join();
  EXPECT_TRUE(finished.load());
  EXPECT_EQ(metrics.Totals()["success"], 1);
}

TEST(ControllerTest, RejectsBadArguments) {
  FakeClock clock;
  WorkQueue q(clock, nullptr);
  Controller controller("c", q, clock);
  auto fn = [](const std::string&) { return ReconcileResult::Ok(); };
  EXPECT_EQ(controller.RunWorkers(0, fn).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(controller.RunWorkers(1, nullptr).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(controller.RunWorkers(1, fn).ok());
  EXPECT_EQ(controller.RunWorkers(1, fn).code(), StatusCode::kFailedPrecondition);
}

// A leader that stepped down stops its controller (the queue is dropped) and starts it again in
// its next term: fresh workers on an empty queue, keys added while stopped ignored.
TEST(ControllerTest, RestartsOnAnEmptyQueueAfterStop) {
  WorkQueue q(RealClock::Get(), nullptr);
  Controller controller("restart", q, RealClock::Get());
  std::mutex mu;
  std::vector<std::string> seen;
  auto fn = [&](const std::string& key) {
    std::lock_guard lock(mu);
    seen.push_back(key);
    return ReconcileResult::Ok();
  };
  auto seen_has = [&](const std::string& key) {
    std::lock_guard lock(mu);
    return std::find(seen.begin(), seen.end(), key) != seen.end();
  };
  ASSERT_TRUE(controller.RunWorkers(2, fn).ok());
  q.Add("first-term");
  ASSERT_TRUE(Eventually([&] { return seen_has("first-term"); }));
  controller.Stop();
  q.Add("while-standing-by");  // ignored: the queue is shut down
  q.AddAfter("later", std::chrono::hours(1));
  EXPECT_TRUE(q.ShuttingDown());

  ASSERT_TRUE(controller.RunWorkers(2, fn).ok());
  EXPECT_FALSE(q.ShuttingDown());
  EXPECT_EQ(q.Stats().waiting, 0);
  q.Add("second-term");
  ASSERT_TRUE(Eventually([&] { return seen_has("second-term"); }));
  EXPECT_FALSE(seen_has("while-standing-by"));
  EXPECT_EQ(controller.RunWorkers(1, fn).code(), StatusCode::kFailedPrecondition);
  controller.Stop();
}

}  // namespace
}  // namespace waop::controller
