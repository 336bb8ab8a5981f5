#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

namespace waop::server {
namespace {

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

bool ValidLabelName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && i > 0))) return false;
  }
  return true;
}

void AtomicAdd(std::atomic<double>& target, double by) {
  double current = target.load();
  while (!target.compare_exchange_weak(current, current + by)) {
  }
}

// `name{a="x",b="y"}` or `name` when there are no labels; `extra` is appended as a last label.
std::string SeriesName(const std::string& name, const std::vector<std::string>& label_names,
                       const std::vector<std::string>& values, const std::string& extra = {}) {
  std::string out = name;
  if (label_names.empty() && extra.empty()) return out;
  out += '{';
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (i > 0) out += ',';
    out += label_names[i] + "=\"" + EscapeLabelValue(values[i]) + "\"";
  }
  if (!extra.empty()) {
    if (!label_names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

}  // namespace

void Counter::Inc(double by) {
  if (!(by >= 0)) return;
  AtomicAdd(value_, by);
}

double Counter::Value() const { return value_.load(); }

void Gauge::Inc(double by) { AtomicAdd(value_, by); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // Buckets are "less than or equal": find the first bound >= value.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  std::lock_guard lock(mu_);
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

Histogram::Snapshot Histogram::Collect() const {
  std::lock_guard lock(mu_);
  Snapshot snap;
  snap.upper_bounds = bounds_;
  std::uint64_t running = 0;
  for (auto c : counts_) {
    running += c;
    snap.cumulative.push_back(running);
  }
  snap.sum = sum_;
  snap.count = count_;
  return snap;
}

std::vector<double> DefaultBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

template <typename T>
void Family<T>::RetainOnly(const std::set<std::vector<std::string>>& keep) {
  std::lock_guard lock(mu_);
  std::erase_if(series_, [&](const auto& entry) { return !keep.contains(entry.first); });
}

template <typename T>
T& Family<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names_.size()) {
    std::fprintf(stderr, "metric %s: got %zu label values, want %zu\n", name_.c_str(),
                 values.size(), label_names_.size());
    std::abort();
  }
  std::lock_guard lock(mu_);
  auto& slot = series_[values];
  if (!slot) {
    if constexpr (std::is_same_v<T, Histogram>) {
      slot = std::make_unique<Histogram>(buckets_);
    } else {
      slot = std::make_unique<T>();
    }
  }
  return *slot;
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Result<std::shared_ptr<void>> Registry::Add(const std::string& name, const std::string& help,
                                            MetricType type, std::vector<std::string> label_names,
                                            std::vector<double> buckets) {
  if (!ValidMetricName(name)) {
    return Status::InvalidArgument("metric name '" + name +
                                   "' is invalid: want [a-zA-Z_:][a-zA-Z0-9_:]*");
  }
  std::set<std::string> seen;
  for (const auto& label : label_names) {
    if (!ValidLabelName(label)) {
      return Status::InvalidArgument("metric " + name + ": label name '" + label +
                                     "' is invalid: want [a-zA-Z_][a-zA-Z0-9_]*");
    }
    if (label.rfind("__", 0) == 0) {
      return Status::InvalidArgument("metric " + name + ": label name '" + label +
                                     "' is reserved (starts with __)");
    }
    if (type == MetricType::kHistogram && label == "le") {
      return Status::InvalidArgument("metric " + name + ": label 'le' is reserved on histograms");
    }
    if (!seen.insert(label).second) {
      return Status::InvalidArgument("metric " + name + ": duplicate label name '" + label + "'");
    }
  }
  if (type == MetricType::kHistogram) {
    for (size_t i = 0; i < buckets.size(); ++i) {
      if (std::isnan(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1])) {
        return Status::InvalidArgument("metric " + name +
                                       ": bucket bounds must be strictly increasing numbers");
      }
    }
    // +Inf is implicit.
    if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  }
  std::lock_guard lock(mu_);
  if (auto it = entries_.find(name); it != entries_.end()) {
    const Entry& e = it->second;
    if (e.type == type && e.label_names == label_names && e.buckets == buckets) return e.family;
    return Status::AlreadyExists("metric " + name + " is already registered as a " +
                                 TypeName(e.type) + " with other labels or buckets");
  }
  std::shared_ptr<void> family;
  switch (type) {
    case MetricType::kCounter:
      family.reset(new Family<Counter>(name, label_names, {}),
                   [](void* p) { delete static_cast<Family<Counter>*>(p); });
      if (label_names.empty()) static_cast<Family<Counter>*>(family.get())->Get();
      break;
    case MetricType::kGauge:
      family.reset(new Family<Gauge>(name, label_names, {}),
                   [](void* p) { delete static_cast<Family<Gauge>*>(p); });
      if (label_names.empty()) static_cast<Family<Gauge>*>(family.get())->Get();
      break;
    case MetricType::kHistogram:
      family.reset(new Family<Histogram>(name, label_names, buckets),
                   [](void* p) { delete static_cast<Family<Histogram>*>(p); });
      if (label_names.empty()) static_cast<Family<Histogram>*>(family.get())->Get();
      break;
  }
  entries_.emplace(name, Entry{type, help, std::move(label_names), std::move(buckets), family});
  return family;
}

Result<Family<Counter>*> Registry::AddCounter(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names) {
  auto added = Add(name, help, MetricType::kCounter, std::move(label_names), {});
  if (!added.ok()) return added.status();
  return static_cast<Family<Counter>*>(added->get());
}

Result<Family<Gauge>*> Registry::AddGauge(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  auto added = Add(name, help, MetricType::kGauge, std::move(label_names), {});
  if (!added.ok()) return added.status();
  return static_cast<Family<Gauge>*>(added->get());
}

Result<Family<Histogram>*> Registry::AddHistogram(const std::string& name, const std::string& help,
                                                  std::vector<std::string> label_names,
                                                  std::vector<double> buckets) {
  auto added = Add(name, help, MetricType::kHistogram, std::move(label_names), std::move(buckets));
  if (!added.ok()) return added.status();
  return static_cast<Family<Histogram>*>(added->get());
}

void Registry::AddCollectHook(std::function<void()> hook) {
  std::lock_guard lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::Expose() const {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard lock(mu_);
    hooks = hooks_;
  }
  for (const auto& hook : hooks) hook();

  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, e] : entries_) {
    std::string body;
    const auto& labels = e.label_names;
    if (e.type == MetricType::kCounter || e.type == MetricType::kGauge) {
      auto emit = [&](const auto* family) {
        std::lock_guard family_lock(family->mu_);
        for (const auto& [values, metric] : family->series_) {
          body +=
              SeriesName(name, labels, values) + " " + FormatMetricValue(metric->Value()) + "\n";
        }
      };
      if (e.type == MetricType::kCounter) {
        emit(static_cast<const Family<Counter>*>(e.family.get()));
      } else {
        emit(static_cast<const Family<Gauge>*>(e.family.get()));
      }
    } else {
      const auto* family = static_cast<const Family<Histogram>*>(e.family.get());
      std::lock_guard family_lock(family->mu_);
      for (const auto& [values, metric] : family->series_) {
        const auto snap = metric->Collect();
        for (size_t i = 0; i <= snap.upper_bounds.size(); ++i) {
          const std::string le =
              i < snap.upper_bounds.size() ? FormatMetricValue(snap.upper_bounds[i]) : "+Inf";
          body += SeriesName(name + "_bucket", labels, values, "le=\"" + le + "\"") + " " +
                  std::to_string(snap.cumulative[i]) + "\n";
        }
        body +=
            SeriesName(name + "_sum", labels, values) + " " + FormatMetricValue(snap.sum) + "\n";
        body +=
            SeriesName(name + "_count", labels, values) + " " + std::to_string(snap.count) + "\n";
      }
    }
    if (body.empty()) continue;  // like client_golang: a vector with no series is not listed
    out += "# HELP " + name + " " + EscapeHelp(e.help) + "\n";
    out += "# TYPE " + name + " " + TypeName(e.type) + "\n";
    out += body;
  }
  return out;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Go prints integral values up to 1e21 without an exponent ('g' with shortest precision
  // switches to exponent form when exp < -4 || exp >= 21).
  char buf[64];
  const double magnitude = std::fabs(value);
  if (magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e21)) {
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
    std::string s(buf, end);
    // Go writes at least two exponent digits, as to_chars does: "1e-05", "1e+21".
    return s;
  }
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::fixed);
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace waop::server
