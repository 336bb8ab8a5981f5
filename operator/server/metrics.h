// A small Prometheus metrics registry: counters, gauges and histograms with label sets, and the
// text exposition format 0.0.4 served at /metrics.
//
// Output is deterministic: families sorted by name, series by label values, so tests can compare
// exact text. Label values are exported verbatim (escaped): never put a secret, token or other
// credential in a label value or help text. Use object names, reasons and outcomes only.
//
// Thread-safety: everything is thread-safe. Families and series are created once and live as
// long as the Registry; the pointers/references handed out stay valid until it is destroyed, so
// hot paths resolve a series once and keep it.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace waop::server {

class Counter {
 public:
  // Negative increments are ignored: a counter only goes up.
  void Inc(double by = 1.0);
  double Value() const;

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void Set(double value) { value_.store(value); }
  void Inc(double by = 1.0);
  void Dec(double by = 1.0) { Inc(-by); }
  double Value() const { return value_.load(); }

 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double value);
  struct Snapshot {
    std::vector<double> upper_bounds;       // without +Inf
    std::vector<std::uint64_t> cumulative;  // per bound, then +Inf (size bounds + 1)
    double sum = 0;
    std::uint64_t count = 0;
  };
  Snapshot Collect() const;

 private:
  const std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<std::uint64_t> counts_;  // per bucket (non-cumulative), last is +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Default buckets as client_golang's DefBuckets (seconds).
std::vector<double> DefaultBuckets();
// start, start*factor, ... (count values). Used for controller-runtime's reconcile time buckets.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

// All series of one metric name. T is Counter, Gauge or Histogram.
template <typename T>
class Family {
 public:
  // The series for these label values, created on first use. The number of values must match
  // the family's label names: a mismatch is a programming error and aborts with a message
  // naming the metric (it is caught by the first test that touches the code path).
  T& WithLabels(const std::vector<std::string>& values);
  // The series with no labels (for families declared without label names).
  T& Get() { return WithLabels({}); }
  // Drops every series whose label values are not in `keep` (a gauge per phone number whose
  // number is gone). References to dropped series must not be used afterwards: only for series
  // that are looked up at each use, as a collect hook does.
  void RetainOnly(const std::set<std::vector<std::string>>& keep);

 private:
  friend class Registry;
  Family(std::string name, std::vector<std::string> label_names, std::vector<double> buckets)
      : name_(std::move(name)),
        label_names_(std::move(label_names)),
        buckets_(std::move(buckets)) {}
  const std::string name_;
  const std::vector<std::string> label_names_;
  const std::vector<double> buckets_;  // histograms only
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_;
};

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registers a family, or returns the existing one when name, type, labels (and buckets)
  // match. InvalidArgument for a bad metric or label name (Prometheus data model), a reserved
  // label ("le" on histograms, "__" prefix), duplicate label names or unsorted buckets;
  // AlreadyExists when the name is taken by a different definition.
  Result<Family<Counter>*> AddCounter(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names = {});
  Result<Family<Gauge>*> AddGauge(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names = {});
  Result<Family<Histogram>*> AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names,
                                          std::vector<double> buckets = DefaultBuckets());

  // Runs before every exposition, outside the registry lock: for gauges computed on scrape
  // (e.g. a work queue's unfinished work).
  void AddCollectHook(std::function<void()> hook);

  // The whole registry in text format 0.0.4.
  std::string Expose() const;

 private:
  struct Entry {
    MetricType type;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> buckets;
    std::shared_ptr<void> family;  // Family<T> for the type
  };
  Result<std::shared_ptr<void>> Add(const std::string& name, const std::string& help,
                                    MetricType type, std::vector<std::string> label_names,
                                    std::vector<double> buckets);

  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
  std::vector<std::function<void()>> hooks_;
};

// Text-format helpers, exposed for tests and other exporters.
// Go's strconv.FormatFloat(v, 'g', -1, 64) as Prometheus clients print values, plus "+Inf",
// "-Inf", "NaN".
std::string FormatMetricValue(double value);
// Escapes backslash, double quote and newline for a label value.
std::string EscapeLabelValue(std::string_view value);
// Escapes backslash and newline for HELP text.
std::string EscapeHelp(std::string_view help);

}  // namespace waop::server
