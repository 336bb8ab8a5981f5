// whatsapp-operator end to end at scale: 10,000 WhatsAppAssignments preloaded into a TLS
// kube-devserver (9,900 distinct tenants and numbers, 50 duplicate phone numbers, 50 duplicate
// tenants, over 4 namespaces), then the operator started cold. Measures the time until every
// assignment has a Ready condition for its generation, the writes per assignment, the
// operator's peak RSS, the writes of a full resync by a restarted operator (should be 0), its
// CPU while idle afterwards (should be 0), and the floor: a plain client doing the same writes with
// the same concurrency, once alone and once with the operator's two watches open and read (the
// server's cost of serving them is part of any controller's run, but not of the writes alone).
//
// Usage: operator_bench [--workers N] [--assignments N] [--pin]
// --pin runs kube-devserver on CPU 0 and the operator and the floor's client on the other CPUs,
// as an API server runs on machines of its own: the ratio then compares the server's work in
// both runs rather than how two processes share cores.
// Exits non-zero only when it cannot run or the end state is wrong (not every assignment
// converged within 300 s, wrong outcomes, failed floor writes, a floor watch missing events),
// never on a missed target.
#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/json.h"
#include "api/types.h"
#include "bench_util.h"
#include "common/clock.h"
#include "core/binding.h"
#include "core/settings.h"
#include "core/status.h"
#include "harness.h"

namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using SteadyClock = std::chrono::steady_clock;
using namespace waop::testing;  // NOLINT(google-build-using-namespace): bench-local

constexpr int kNamespaces = 4;
constexpr auto kConvergeCap = seconds(300);

struct Plan {
  int total = 0;
  int duplicate_phones = 0;
  int duplicate_tenants = 0;
  int Bound() const { return total - duplicate_phones - duplicate_tenants; }
};

std::string Namespace(int i) { return "bench-" + std::to_string(i % kNamespaces); }
std::string Phone(int i) { return std::to_string(346000000000LL + i); }
std::string Tenant(int i) { return "tenant-" + std::to_string(i); }

// The YAML preloaded with --load. Duplicates reuse the phone number (or tenant) of an earlier
// distinct assignment in the same namespace, and their names sort after it, so the holder
// wins on (creationTimestamp, namespace, name) whatever the load order.
std::string GenerateYaml(const Plan& plan) {
  std::string out;
  out.reserve(static_cast<size_t>(plan.total) * 330);
  auto add = [&](const std::string& ns, const std::string& name, const std::string& tenant,
                 const std::string& phone) {
    out += "---\napiVersion: whatsapp.bakery-ia.io/v1alpha1\nkind: WhatsAppAssignment\n";
    out += "metadata:\n  name: " + name + "\n  namespace: " + ns + "\n";
    out += "spec:\n  tenantId: " + tenant + "\n  tenantName: \"Panadería " + tenant + "\"\n";
    out += "  phoneNumberId: \"" + phone + "\"\n  defaultLanguage: es\n";
  };
  const int distinct = plan.Bound();
  for (int i = 0; i < distinct; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "wa-%05d", i);
    add(Namespace(i), name, Tenant(i), Phone(i));
  }
  for (int d = 0; d < plan.duplicate_phones; ++d) {
    const int of = d * 2;  // an even distinct assignment
    char name[48];
    std::snprintf(name, sizeof name, "wa-%05d-dup-phone", of);
    add(Namespace(of), name, "dup-tenant-" + std::to_string(d), Phone(of));
  }
  for (int d = 0; d < plan.duplicate_tenants; ++d) {
    const int of = d * 2 + 1;  // an odd one: never the target of a phone duplicate
    char name[48];
    std::snprintf(name, sizeof name, "wa-%05d-dup-tenant", of);
    add(Namespace(of), name, Tenant(of), Phone(distinct + 1000 + d));
  }
  return out;
}

// Thrown by Fail and caught in main, so the stack unwinds and every process the bench started
// (devservers, operators) is stopped by its destructor.
struct BenchFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void Fail(const std::string& what) { throw BenchFailure(what); }

// For --pin: moves every thread of `pid` to `cpus` (threads it starts later inherit it).
void PinProcess(pid_t pid, const cpu_set_t& cpus) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) Fail("--pin: cannot read " + dir);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (sched_setaffinity(std::atoi(e->d_name), sizeof cpus, &cpus) != 0) {
      closedir(d);
      Fail("--pin: sched_setaffinity failed for thread " + std::string(e->d_name));
    }
  }
  closedir(d);
}

// For --pin: CPU 0 for the server, the others for this process (and so for the operator it
// starts and the floor's client).
struct Pinning {
  cpu_set_t server;
  cpu_set_t rest;
};
Pinning PinThisProcess() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 2) Fail("--pin needs at least 2 CPUs");
  Pinning p;
  CPU_ZERO(&p.server);
  CPU_ZERO(&p.rest);
  CPU_SET(0, &p.server);
  for (long i = 1; i < n; ++i) CPU_SET(static_cast<int>(i), &p.rest);
  if (sched_setaffinity(0, sizeof p.rest, &p.rest) != 0) Fail("--pin: sched_setaffinity failed");
  return p;
}

// Polls until every assignment converged; returns the seconds from `start` to the census that
// confirmed it. The cheap /debug/requests count of status writes gates the (larger) paged
// list, so the list runs only when convergence is possible. `gate_writes` receives the write
// count read just before that census.
double WaitConverged(KubeApi& api, OperatorProcess& op, const Plan& plan,
                     SteadyClock::time_point start, long* gate_writes) {
  while (SteadyClock::now() - start < kConvergeCap) {
    if (!op.process().Running()) Fail("the operator exited:\n" + op.process().Stderr());
    auto counts = GetRequestCounts(api);
    if (counts.ok() &&
        counts->Count("update", "whatsappassignments/status") >= static_cast<long>(plan.total)) {
      const auto census_at = SteadyClock::now();
      auto census = CountAssignments(api);
      if (census.ok() && census->converged == plan.total) {
        *gate_writes = counts->Writes();
        return std::chrono::duration<double>(census_at - start).count();
      }
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  auto census = CountAssignments(api);
  Fail("not every assignment converged within 300 s: " +
       (census.ok() ? std::to_string(census->converged) + " of " + std::to_string(census->total)
                    : census.status().message()));
  return 0;
}

// Waits until the write counters stop moving for `quiet` (events trail the status writes).
// `last_write`, when given, receives when the write count last moved (to the 100 ms poll).
// `known_writes` read at `known_at` (earlier, when >= 0) dates writes that happened before
// this call: without it, a count unchanged since then would be dated to this call's start.
RequestCounts WaitWritesSettle(KubeApi& api, milliseconds quiet, seconds cap,
                               SteadyClock::time_point* last_write = nullptr,
                               long known_writes = -1, SteadyClock::time_point known_at = {}) {
  const auto start = SteadyClock::now();
  RequestCounts last;
  auto last_change = known_writes >= 0 ? known_at : SteadyClock::now();
  long last_writes = known_writes;
  while (SteadyClock::now() - start < cap) {
    auto counts = GetRequestCounts(api);
    if (!counts.ok()) Fail("cannot read /debug/requests: " + counts.status().message());
    if (counts->Writes() != last_writes) {
      last_writes = counts->Writes();
      last_change = SteadyClock::now();
    }
    last = std::move(*counts);
    if (SteadyClock::now() - last_change >= quiet) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  if (last_write != nullptr) *last_write = last_change;
  return last;
}

// A restarted operator's first pass: every assignment is enqueued by the initial list. Waits
// until it reconciled at least `keys` keys and its queue is empty (workqueue_depth and
// controller_runtime_active_workers at 0), then returns the seconds.
double WaitFullPass(OperatorProcess& op, long keys, SteadyClock::time_point start) {
  std::optional<double> total, depth, active;
  while (SteadyClock::now() - start < seconds(120)) {
    if (!op.process().Running()) Fail("the operator exited:\n" + op.process().Stderr());
    total = op.ReconcileTotal();
    depth = op.MetricSum("workqueue_depth");
    active = op.MetricSum("controller_runtime_active_workers");
    if (total && depth && active && *total >= static_cast<double>(keys) && *depth == 0 &&
        *active == 0) {
      return SecondsSince(start);
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  auto show = [](const std::optional<double>& v) { return v ? std::to_string(*v) : "?"; };
  Fail("the restarted operator did not finish a full pass within 120 s: reconciles " + show(total) +
       ", queue depth " + show(depth) + ", active workers " + show(active));
  return 0;
}

struct FloorItem {
  std::string ns;
  std::optional<std::string> config_map;  // body of the ConfigMap create, bound ones only
  std::string status_path;
  std::string status;                // body of the PUT .../status
  std::optional<std::string> event;  // body of the Event create: losers only (a first,
                                     // uncontested bind records none)
};

// The same writes the operator makes, built with the same core functions from the objects as
// listed (so the bodies have the same size and content), before the clock starts.
std::vector<FloorItem> PlanFloor(KubeApi& api) {
  auto objects = ListAll(api, "/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappassignments");
  if (!objects.ok()) Fail("floor: list: " + objects.status().message());
  for (auto& item : *objects) {
    // List items may omit apiVersion and kind; the parser wants them.
    item["apiVersion"] = std::string(waop::api::kApiVersion);
    item["kind"] = std::string(waop::api::kAssignmentKind);
  }
  std::vector<waop::api::Assignment> parsed;
  std::vector<waop::core::AssignmentSummary> summaries;
  for (const auto& o : *objects) {
    auto a = waop::api::ParseAssignment(o);
    if (!a.ok()) Fail("floor: cannot parse an assignment: " + a.status().message());
    summaries.push_back(waop::core::Summarize(*a));
    parsed.push_back(std::move(*a));
  }
  std::vector<waop::core::BindingOutcome> outcomes = waop::core::ResolveBindings(summaries);
  const auto now = waop::RealClock::Get().Now();
  const std::string now_text = waop::FormatRfc3339(now);
  std::vector<FloorItem> items;
  for (size_t i = 0; i < parsed.size(); ++i) {
    const auto& a = parsed[i];
    const bool bound = outcomes[i].state == waop::core::BindingState::kBound;
    FloorItem item;
    item.ns = a.metadata.ns;
    if (bound) item.config_map = waop::core::DesiredConfigMap(a, std::nullopt).dump();
    auto status = waop::core::DesiredStatus(
        a, outcomes[i],
        bound ? waop::core::SyncOutcome::Written() : waop::core::SyncOutcome::Pending(),
        std::nullopt, now);
    item.status_path = "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/" + a.metadata.ns +
                       "/whatsappassignments/" + a.metadata.name + "/status";
    item.status = json{{"apiVersion", std::string(waop::api::kApiVersion)},
                       {"kind", std::string(waop::api::kAssignmentKind)},
                       {"metadata",
                        {{"name", a.metadata.name},
                         {"namespace", a.metadata.ns},
                         {"resourceVersion", a.metadata.resource_version}}},
                       {"status", waop::api::ToJson(status)}}
                      .dump();
    const auto* ready = waop::api::FindCondition(status.conditions, waop::api::kConditionReady);
    if (!bound)
      item.event = json{
          {"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", a.metadata.name + ".floor"}, {"namespace", a.metadata.ns}}},
          {"involvedObject",
           {{"apiVersion", std::string(waop::api::kApiVersion)},
            {"kind", std::string(waop::api::kAssignmentKind)},
            {"name", a.metadata.name},
            {"namespace", a.metadata.ns},
            {"uid", a.metadata.uid}}},
          {"type", "Warning"},
          {"reason", ready ? ready->reason : ""},
          {"message", ready ? ready->message : ""},
          {"source", {{"component", "whatsapp-operator"}}},
          {"reportingComponent", "whatsapp-operator"},
          {"reportingInstance", "floor"},
          {"firstTimestamp", now_text},
          {"lastTimestamp", now_text},
          {"count", 1}}.dump();
    items.push_back(std::move(item));
  }
  return items;
}

// User + system CPU seconds of this process so far.
double SelfCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// Runs the floor writes with `workers` threads; returns the seconds. Any non-2xx is fatal.
double RunFloor(KubeApi& api, const std::vector<FloorItem>& items, int workers) {
  std::atomic<size_t> next{0};
  std::atomic<long> failures{0};
  std::string first_failure;
  std::mutex failure_mu;
  auto check = [&](const waop::Result<waop::kube::HttpResponse>& r, int want, const char* what) {
    if (r.ok() && r->status == want) return;
    if (failures++ == 0) {
      std::lock_guard lock(failure_mu);
      first_failure = std::string(what) + ": " +
                      (r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body.substr(0, 200)
                              : r.status().message());
    }
  };
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&] {
      for (size_t i = next++; i < items.size(); i = next++) {
        const FloorItem& item = items[i];
        if (item.config_map) {
          check(api.Send("POST", "/api/v1/namespaces/" + item.ns + "/configmaps", *item.config_map),
                201, "ConfigMap create");
        }
        check(api.Send("PUT", item.status_path, item.status), 200, "status update");
        if (item.event) {
          check(api.Send("POST", "/api/v1/namespaces/" + item.ns + "/events", *item.event), 201,
                "Event create");
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  const double took = SecondsSince(start);
  if (failures > 0) {
    Fail("floor: " + std::to_string(failures.load()) + " writes failed; first: " + first_failure);
  }
  return took;
}

// The operator's two watches, opened from the current resourceVersion and read (and dropped)
// by a thread each until destroyed.
class Watchers {
 public:
  explicit Watchers(KubeApi& api) {
    auto list = api.GetJson("/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappassignments?limit=1");
    if (!list.ok()) Fail("floor watches: list: " + list.status().message());
    const std::string rv = (*list)["metadata"].value("resourceVersion", "");
    const std::string selector =
        std::string(waop::core::kManagedByLabel) + "%3D" + std::string(waop::core::kOperatorName);
    for (const std::string& path :
         {"/apis/whatsapp.bakery-ia.io/v1alpha1/whatsappassignments?watch=true&"
          "allowWatchBookmarks=true&resourceVersion=" +
              rv,
          "/api/v1/configmaps?watch=true&allowWatchBookmarks=true&labelSelector=" + selector +
              "&resourceVersion=" + rv}) {
      auto stream = api.Stream(path);
      if (!stream.ok()) Fail("floor watches: " + stream.status().message());
      if (stream->status != 200) Fail("floor watches: " + stream->error_body);
      readers_.push_back(std::move(stream->lines));
    }
    for (auto& reader : readers_) {
      threads_.emplace_back([this, r = reader.get()] {
        while (true) {
          auto line = r->ReadLine();
          if (!line.ok() || !line->has_value()) return;
          if ((*line)->find("\"type\":\"BOOKMARK\"") == std::string::npos) ++events_;
        }
      });
    }
  }
  ~Watchers() {
    for (auto& r : readers_) r->Cancel();
    for (auto& t : threads_) t.join();
  }
  long events() const { return events_.load(); }

 private:
  std::vector<std::unique_ptr<waop::kube::LineReader>> readers_;
  std::vector<std::thread> threads_;
  std::atomic<long> events_{0};
};

struct Floor {
  double seconds = 0;
  double client_cpu = 0;
  double devserver_cpu = 0;
  std::string writes;
  long watch_events = 0;
};

// One floor run on a fresh devserver loaded from `load_file`.
Floor MeasureFloor(const std::string& load_file, const Plan& plan, int workers,
                   const std::optional<Pinning>& pinning, bool with_watches) {
  TlsDevserver devserver({"--load", load_file}, seconds(180));
  if (!devserver.ok()) Fail("kube-devserver (floor) did not start:\n" + devserver.Log());
  if (pinning) PinProcess(devserver.process().pid(), pinning->server);
  auto api_or = KubeApi::FromKubeconfig(devserver.kubeconfig());
  if (!api_or.ok()) Fail(api_or.status().message());
  std::vector<FloorItem> items = PlanFloor(**api_or);
  if (static_cast<int>(items.size()) != plan.total) Fail("floor: wrong number of assignments");
  if (auto s = ResetRequestCounts(**api_or); !s.ok()) Fail(s.message());
  std::optional<Watchers> watchers;
  if (with_watches) watchers.emplace(**api_or);
  Floor floor;
  const double devserver_cpu_before = devserver.process().CpuSeconds();
  const double client_cpu_before = SelfCpuSeconds();
  floor.seconds = RunFloor(**api_or, items, workers);
  floor.client_cpu = SelfCpuSeconds() - client_cpu_before;
  floor.devserver_cpu = devserver.process().CpuSeconds() - devserver_cpu_before;
  auto counts = GetRequestCounts(**api_or);
  if (!counts.ok()) Fail(counts.status().message());
  floor.writes = counts->WriteBreakdown();
  if (watchers) {
    // Every write makes one event on these watches, Events excepted; wait for the last ones.
    const long want = static_cast<long>(counts->Writes() - counts->Count("create", "events"));
    const auto deadline = SteadyClock::now() + seconds(30);
    while (watchers->events() < want && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    floor.watch_events = watchers->events();
    if (floor.watch_events != want) {
      Fail("floor watches: read " + std::to_string(floor.watch_events) + " events, expected " +
           std::to_string(want));
    }
  }
  return floor;
}

}  // namespace

static int RunBench(int argc, char** argv) {
  int workers = 4;
  Plan plan{10000, 50, 50};
  std::optional<Pinning> pinning;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--workers" && i + 1 < argc) {
      workers = std::atoi(argv[++i]);
    } else if (a == "--pin") {
      pinning = PinThisProcess();
    } else if (a == "--assignments" && i + 1 < argc) {
      plan.total = std::atoi(argv[++i]);
      plan.duplicate_phones = plan.duplicate_tenants = plan.total / 200;
    } else {
      Fail("usage: operator_bench [--workers N] [--assignments N] [--pin]; unknown argument " + a);
    }
  }
  if (workers < 1 || plan.total < 10) Fail("--workers must be >= 1 and --assignments >= 10");

  TempDir dir;
  const std::string load_file = dir.File("assignments.yaml");
  WriteFile(load_file, GenerateYaml(plan));
  std::printf(
      "operator_bench: %d assignments (%d bound, %d duplicate phone numbers, %d "
      "duplicate tenants) in %d namespaces, %d workers\n",
      plan.total, plan.Bound(), plan.duplicate_phones, plan.duplicate_tenants, kNamespaces,
      workers);
  if (pinning) {
    std::printf(
        "  pinned: kube-devserver on CPU 0; the operator and the floor's client on CPUs 1 to %ld\n",
        sysconf(_SC_NPROCESSORS_ONLN) - 1);
  }
  std::fflush(stdout);

  double converge_s = 0;
  double writes_done_s = 0;
  long peak_rss_kib = 0;
  {
    auto load_start = SteadyClock::now();
    TlsDevserver devserver({"--load", load_file}, seconds(180));
    if (!devserver.ok()) Fail("kube-devserver did not start:\n" + devserver.Log());
    if (pinning) PinProcess(devserver.process().pid(), pinning->server);
    std::printf("  devserver loaded in %.1f s\n", SecondsSince(load_start));
    auto api_or = KubeApi::FromKubeconfig(devserver.kubeconfig());
    if (!api_or.ok()) Fail(api_or.status().message());
    KubeApi& api = **api_or;
    if (auto s = ResetRequestCounts(api); !s.ok()) Fail(s.message());

    // 1. Cold start to convergence.
    const double devserver_cpu_before = devserver.process().CpuSeconds();
    const auto start = SteadyClock::now();
    auto op = std::make_unique<OperatorProcess>(
        "operator", devserver.kubeconfig(),
        std::vector<std::string>{"--max-concurrent-reconciles", std::to_string(workers)},
        dir.path());
    long gate_writes = -1;
    converge_s = WaitConverged(api, *op, plan, start, &gate_writes);
    const auto converged_at = start + std::chrono::duration_cast<SteadyClock::duration>(
                                          std::chrono::duration<double>(converge_s));
    std::printf("converged %d assignments in %.1f s (target < 30 s)\n", plan.total, converge_s);
    std::printf("  CPU until then: operator %.1f s (target < 8 s), devserver %.1f s\n",
                op->process().CpuSeconds(),
                devserver.process().CpuSeconds() - devserver_cpu_before);
    std::fflush(stdout);

    auto census = CountAssignments(api);
    if (!census.ok()) Fail(census.status().message());
    std::string reasons;
    for (const auto& [reason, n] : census->reasons) {
      reasons += (reasons.empty() ? "" : ", ") + reason + " " + std::to_string(n);
    }
    std::printf("  outcomes: %s\n", reasons.c_str());
    if (census->ready_true != plan.Bound() ||
        census->reasons["DuplicatePhoneNumber"] != plan.duplicate_phones ||
        census->reasons["DuplicateTenant"] != plan.duplicate_tenants) {
      Fail("wrong outcomes: expected Bound " + std::to_string(plan.Bound()) +
           ", DuplicatePhoneNumber " + std::to_string(plan.duplicate_phones) +
           ", DuplicateTenant " + std::to_string(plan.duplicate_tenants));
    }

    // 2. Writes per assignment, once the trailing Events are in (the operator writes Events
    // from a queue, after the status that made them). The ratio to the floor uses the time the
    // last of these writes landed: the floor's time includes all of its writes too. Writes
    // already counted when convergence was confirmed are dated to then, not to the end of the
    // censuses above (a 10,000-item census takes seconds).
    SteadyClock::time_point last_write;
    RequestCounts counts = WaitWritesSettle(api, milliseconds(2000), seconds(60), &last_write,
                                            gate_writes, converged_at);
    writes_done_s = std::max(converge_s, std::chrono::duration<double>(last_write - start).count());
    const double per = static_cast<double>(counts.Writes()) / plan.total;
    // Bound: settings and status; a loser: status and a Warning Event.
    const double expected = 2.0;
    std::printf("writes per assignment %.2f (target <= 2.0; minimum for this mix %.2f)\n", per,
                expected);
    std::printf("  writes: %s; the last landed %.1f s after the start\n",
                counts.WriteBreakdown().c_str(), writes_done_s);

    // Reconciles, once the writes settled: one per assignment and one per phone number's
    // inventory key are the minimum; the echoes of our own writes should add none.
    if (auto reconciles = op->ReconcileTotal()) {
      std::printf("  reconciles %.0f (%.2f per assignment, inventory keys included; minimum %d)\n",
                  *reconciles, *reconciles / plan.total,
                  plan.total + plan.Bound() + plan.duplicate_tenants);
    }

    // 3. Peak RSS, read while the process still runs.
    peak_rss_kib = op->process().PeakRssKib();
    std::printf("peak RSS %.1f MiB (target < 48 MiB)\n", peak_rss_kib / 1024.0);
    std::fflush(stdout);

    auto code = op->process().Signal(SIGTERM, seconds(30));
    if (!code || *code != 0) Fail("the operator did not stop cleanly on SIGTERM");
    op.reset();

    // 4. Full resync: a restarted operator looks at every assignment again and writes nothing.
    if (auto s = ResetRequestCounts(api); !s.ok()) Fail(s.message());
    const auto resync_start = SteadyClock::now();
    auto op2 = std::make_unique<OperatorProcess>(
        "operator-restarted", devserver.kubeconfig(),
        std::vector<std::string>{"--max-concurrent-reconciles", std::to_string(workers)},
        dir.path());
    const double pass_s = WaitFullPass(*op2, plan.total, resync_start);
    RequestCounts resync = WaitWritesSettle(api, milliseconds(1000), seconds(30));
    std::printf("resync writes %ld (target 0); full pass of a restarted operator in %.1f s\n",
                resync.Writes(), pass_s);
    if (resync.Writes() != 0) std::printf("  resync writes: %s\n", resync.WriteBreakdown().c_str());
    // 5. Idle: the restarted operator, its pass done, with nothing to do.
    const double idle_cpu_before = op2->process().CpuSeconds();
    std::this_thread::sleep_for(seconds(5));
    std::printf("idle CPU %.2f s over 5 s (target 0)\n",
                op2->process().CpuSeconds() - idle_cpu_before);
    std::fflush(stdout);
    code = op2->process().Signal(SIGTERM, seconds(30));
    if (!code || *code != 0) Fail("the restarted operator did not stop cleanly on SIGTERM");
  }

  // 6. The floor: the same writes from a plain keep-alive client on a fresh devserver loaded
  // with the same file, so the store starts in the same state. Then again with the operator's
  // two watches open and read: any controller watches what it writes, and serving those
  // watches is work for the server (on kube-devserver, a good part of a write's cost) that the
  // writes-only floor leaves out.
  for (bool with_watches : {false, true}) {
    Floor floor = MeasureFloor(load_file, plan, workers, pinning, with_watches);
    const char* name = with_watches ? "floor with the watches" : "floor";
    std::printf(
        "%s %.1f s, ratio %.2f (target <= 1.10; operator's last write / floor; "
        "convergence / floor %.2f)\n",
        name, floor.seconds, writes_done_s / floor.seconds, converge_s / floor.seconds);
    std::printf("  %s CPU: client %.1f s, devserver %.1f s\n", name, floor.client_cpu,
                floor.devserver_cpu);
    std::printf("  %s writes: %s\n", name, floor.writes.c_str());
    if (with_watches) std::printf("  watch events read: %ld\n", floor.watch_events);
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return RunBench(argc, argv);
  } catch (const BenchFailure& e) {
    std::fprintf(stderr, "operator_bench: %s\n", e.what());
    return 1;
  }
}
