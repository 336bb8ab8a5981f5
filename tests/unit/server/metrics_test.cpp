#include "server/metrics.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "server/runtime_metrics.h"
#include "support/fake_clock.h"

namespace waop::server {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, ExposesExactTextInDeterministicOrder) {
  Registry registry;
  auto requests =
      registry.AddCounter("graph_requests_total", "Graph API requests by outcome.", {"outcome"});
  ASSERT_TRUE(requests.ok());
  auto quality = registry.AddGauge("whatsapp_quality", "Quality per number\nwith \\ escapes.",
                                   {"phone_number_id", "rating"});
  ASSERT_TRUE(quality.ok());
  auto latency = registry.AddHistogram("graph_request_seconds", "Latency.", {}, {0.1, 1});
  ASSERT_TRUE(latency.ok());
  auto up = registry.AddGauge("up", "Always 1.");
  ASSERT_TRUE(up.ok());

  (*requests)->WithLabels({"success"}).Inc(3);
  (*requests)->WithLabels({"rate_limited"}).Inc();
  (*quality)->WithLabels({"123", "GREEN"}).Set(1);
  (*quality)->WithLabels({"1\"2\\3\n", "RED"}).Set(-0.5);
  (*latency)->Get().Observe(0.05);
  (*latency)->Get().Observe(0.1);
  (*latency)->Get().Observe(3);
  (*up)->Get().Set(1);

  EXPECT_EQ(registry.Expose(),
            "# HELP graph_request_seconds Latency.\n"
            "# TYPE graph_request_seconds histogram\n"
            "graph_request_seconds_bucket{le=\"0.1\"} 2\n"
            "graph_request_seconds_bucket{le=\"1\"} 2\n"
            "graph_request_seconds_bucket{le=\"+Inf\"} 3\n"
            "graph_request_seconds_sum 3.15\n"
            "graph_request_seconds_count 3\n"
            "# HELP graph_requests_total Graph API requests by outcome.\n"
            "# TYPE graph_requests_total counter\n"
            "graph_requests_total{outcome=\"rate_limited\"} 1\n"
            "graph_requests_total{outcome=\"success\"} 3\n"
            "# HELP up Always 1.\n"
            "# TYPE up gauge\n"
            "up 1\n"
            "# HELP whatsapp_quality Quality per number\\nwith \\\\ escapes.\n"
            "# TYPE whatsapp_quality gauge\n"
            "whatsapp_quality{phone_number_id=\"1\\\"2\\\\3\\n\",rating=\"RED\"} -0.5\n"
            "whatsapp_quality{phone_number_id=\"123\",rating=\"GREEN\"} 1\n");
}

TEST(MetricsTest, FamiliesWithoutSeriesAreOmittedAndLabelessOnesStartAtZero) {
  Registry registry;
  ASSERT_TRUE(registry.AddCounter("vec_total", "v", {"a"}).ok());
  ASSERT_TRUE(registry.AddCounter("plain_total", "p").ok());
  EXPECT_EQ(registry.Expose(), "# HELP plain_total p\n# TYPE plain_total counter\nplain_total 0\n");
}

TEST(MetricsTest, FormatsValuesLikePrometheusClients) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(42), "42");
  EXPECT_EQ(FormatMetricValue(0.005), "0.005");
  EXPECT_EQ(FormatMetricValue(1e-9), "1e-09");
  EXPECT_EQ(FormatMetricValue(123456789), "123456789");
  EXPECT_EQ(FormatMetricValue(1e22), "1e+22");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTest, RejectsBadDefinitionsWithSpecificErrors) {
  Registry registry;
  EXPECT_THAT(registry.AddCounter("1bad", "h").status().message(), HasSubstr("'1bad'"));
  EXPECT_THAT(registry.AddCounter("ok_total", "h", {"bad-label"}).status().message(),
              HasSubstr("'bad-label'"));
  EXPECT_THAT(registry.AddCounter("ok_total", "h", {"__x"}).status().message(),
              HasSubstr("reserved"));
  EXPECT_THAT(registry.AddCounter("ok_total", "h", {"a", "a"}).status().message(),
              HasSubstr("duplicate"));
  EXPECT_THAT(registry.AddHistogram("h_seconds", "h", {"le"}).status().message(),
              HasSubstr("'le'"));
  EXPECT_THAT(registry.AddHistogram("h_seconds", "h", {}, {1, 0.5}).status().message(),
              HasSubstr("increasing"));
  auto first = registry.AddCounter("ok_total", "h", {"a"});
  ASSERT_TRUE(first.ok());
  auto again = registry.AddCounter("ok_total", "h", {"a"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*first, *again);
  EXPECT_EQ(registry.AddGauge("ok_total", "h", {"a"}).status().code(), StatusCode::kAlreadyExists);
}

TEST(MetricsTest, CountersIgnoreNegativeIncrementsAndAreThreadSafe) {
  Registry registry;
  auto family = registry.AddCounter("c_total", "c", {"worker"});
  ASSERT_TRUE(family.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) (*family)->WithLabels({"w"}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  (*family)->WithLabels({"w"}).Inc(-5);
  EXPECT_EQ((*family)->WithLabels({"w"}).Value(), 40000);
}

TEST(MetricsDeathTest, WrongLabelArityAbortsNamingTheMetric) {
  Registry registry;
  auto family = registry.AddCounter("arity_total", "a", {"x", "y"});
  ASSERT_TRUE(family.ok());
  EXPECT_DEATH((*family)->WithLabels({"only-one"}), "arity_total: got 1 label values, want 2");
}

TEST(ControllerMetricsTest, RecordsQueueAndReconcileMetricsUnderControllerRuntimeNames) {
  Registry registry;
  auto metrics = ControllerMetrics::Create(registry, "assignment");
  ASSERT_TRUE(metrics.ok()) << metrics.status().ToString();
  FakeClock clock;
  controller::WorkQueue queue(clock, nullptr, (*metrics)->queue_metrics());
  (*metrics)->WatchQueue(&queue);
  (*metrics)->SetMaxConcurrentReconciles(2);
  queue.Add("ns/a");
  queue.Add("ns/b");
  auto key = queue.Get();
  ASSERT_TRUE(key.has_value());
  clock.Advance(std::chrono::seconds(4));
  auto* reconcile = (*metrics)->reconcile_metrics();
  reconcile->ObserveReconcile("error", 0.2);
  reconcile->IncErrors(false);
  reconcile->ObserveReconcile("success", 0.01);
  queue.AddRateLimited("ns/c");
  const std::string text = registry.Expose();
  EXPECT_THAT(text, HasSubstr("workqueue_depth{name=\"assignment\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("workqueue_adds_total{name=\"assignment\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("workqueue_retries_total{name=\"assignment\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("workqueue_unfinished_work_seconds{name=\"assignment\"} 4\n"));
  EXPECT_THAT(text,
              HasSubstr("workqueue_longest_running_processor_seconds{name=\"assignment\"} 4\n"));
  EXPECT_THAT(text, HasSubstr("workqueue_queue_duration_seconds_count{name=\"assignment\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("controller_runtime_reconcile_total{controller=\"assignment\","
                              "result=\"error\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("controller_runtime_reconcile_total{controller=\"assignment\","
                              "result=\"success\"} 1\n"));
  EXPECT_THAT(
      text, HasSubstr("controller_runtime_reconcile_errors_total{controller=\"assignment\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("controller_runtime_reconcile_time_seconds_count{controller="
                              "\"assignment\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("controller_runtime_max_concurrent_reconciles{controller="
                              "\"assignment\"} 2\n"));
  queue.Done(*key);
  (*metrics)->WatchQueue(nullptr);
}

TEST(ControllerMetricsTest, LeaderElectionStatusGauge) {
  Registry registry;
  auto gauge = LeaderElectionStatusGauge(registry, "whatsapp-operator");
  ASSERT_TRUE(gauge.ok());
  EXPECT_THAT(registry.Expose(),
              HasSubstr("leader_election_master_status{name=\"whatsapp-operator\"} 0\n"));
  (*gauge)->Set(1);
  EXPECT_THAT(registry.Expose(),
              HasSubstr("leader_election_master_status{name=\"whatsapp-operator\"} 1\n"));
}

}  // namespace
}  // namespace waop::server
