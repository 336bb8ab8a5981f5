// How long the binding resolver takes for a cluster-wide set of assignments, and how that grows
// with n. The controller resolves components, usually tiny; this is the worst case (one relist
// resolving everything) and the admission webhook's upper bound.
//
// Input: n assignments in random order, each with its own phone number and tenant except 1%
// duplicates (0.5% reuse an earlier phone number, 0.5% an earlier tenant), and creation
// timestamps with ties so the namespace/name tie-break is exercised.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <string>
#include <vector>

#include "core/binding.h"

namespace {

using waop::WallTime;
using waop::core::AssignmentSummary;
using waop::core::BindingOutcome;
using waop::core::BindingState;

struct Input {
  std::vector<AssignmentSummary> assignments;
  size_t expected_phone_dups = 0;
  size_t expected_tenant_dups = 0;
};

Input MakeInput(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Input in;
  in.assignments.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    AssignmentSummary a;
    a.ns = "tenant-ns-" + std::to_string(i % 97);
    a.name = "assignment-" + std::to_string(i);
    a.uid = "uid-" + std::to_string(i);
    // Two assignments per second: ties, broken by namespace/name.
    a.creation_timestamp =
        WallTime(std::chrono::seconds(1'790'000'000 + static_cast<int64_t>(i / 2)));
    a.tenant_id = "tenant-" + std::to_string(i);
    a.tenant_name = "Panadería " + std::to_string(i);
    a.phone_number_id = std::to_string(100'000'000'000'000ULL + i);
    a.display_phone_number = "+34 6" + std::to_string(10'000'000 + i);
    // Reuse an id from a clearly older assignment (created >= 1 s earlier), so the later one
    // loses whatever the tie-break.
    if (i >= 4 && i % 200 == 7) {
      std::uniform_int_distribution<size_t> older(0, i - 3);
      a.phone_number_id = in.assignments[older(rng)].phone_number_id;
      ++in.expected_phone_dups;
    } else if (i >= 4 && i % 200 == 107) {
      std::uniform_int_distribution<size_t> older(0, i - 3);
      a.tenant_id = in.assignments[older(rng)].tenant_id;
      ++in.expected_tenant_dups;
    }
    in.assignments.push_back(std::move(a));
  }
  std::shuffle(in.assignments.begin(), in.assignments.end(), rng);
  return in;
}

// Checks the outcome counts and that every loser names a bound holder with the shared id.
bool Check(const Input& in, const std::vector<BindingOutcome>& out) {
  if (out.size() != in.assignments.size()) return false;
  size_t phone = 0, tenant = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const AssignmentSummary& a = in.assignments[i];
    switch (out[i].state) {
      case BindingState::kBound:
        if (out[i].holder) return false;
        break;
      case BindingState::kDuplicatePhoneNumber:
        ++phone;
        if (!out[i].holder || out[i].holder->phone_number_id != a.phone_number_id) return false;
        break;
      case BindingState::kDuplicateTenant:
        ++tenant;
        if (!out[i].holder || out[i].holder->tenant_id != a.tenant_id) return false;
        break;
      case BindingState::kReleasing:
        return false;
    }
  }
  // A reused id may itself belong to a loser, which holds nothing; then the reuse binds. So the
  // counts are upper bounds, and nearly all reuses must lose.
  return phone <= in.expected_phone_dups && tenant <= in.expected_tenant_dups &&
         phone + tenant >= (in.expected_phone_dups + in.expected_tenant_dups) * 9 / 10;
}

struct Timing {
  double median_ms;
  double min_ms;
  double median_cpu_ms;  // CPU time: what the resolver costs when other jobs share the cores
  bool ok;
};

double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

Timing Measure(size_t n, int runs) {
  Input in = MakeInput(n, static_cast<uint32_t>(n));
  std::vector<double> ms, cpu;
  bool ok = true;
  for (int r = 0; r < runs; ++r) {
    double cpu_start = CpuMs();
    auto start = std::chrono::steady_clock::now();
    std::vector<BindingOutcome> out = waop::core::ResolveBindings(in.assignments);
    auto end = std::chrono::steady_clock::now();
    cpu.push_back(CpuMs() - cpu_start);
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
    if (r == 0) ok = Check(in, out);
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  return Timing{ms[ms.size() / 2], ms.front(), cpu[cpu.size() / 2], ok};
}

}  // namespace

// Optional arguments: sizes to run instead of the default 10k, 20k, 50k, 100k (for profiling).
int main(int argc, char** argv) {
  bool ok = true;
  std::vector<size_t> sizes = {10'000, 20'000, 50'000, 100'000};
  if (argc > 1) {
    sizes.clear();
    for (int i = 1; i < argc; ++i) sizes.push_back(std::stoul(argv[i]));
  }
  std::vector<std::pair<size_t, Timing>> results;
  for (size_t n : sizes) {
    Timing t = Measure(n, n >= 50'000 ? 9 : 15);
    ok = ok && t.ok;
    results.emplace_back(n, t);
    std::printf("resolve n=%zu median=%.1fms min=%.1fms cpu=%.1fms%s%s\n", n, t.median_ms, t.min_ms,
                t.median_cpu_ms, n == 100'000 ? " target<100ms" : "", t.ok ? "" : " WRONG RESULT");
  }
  const double n_first = static_cast<double>(results.front().first);
  const double n_last = static_cast<double>(results.back().first);
  auto nlogn = [](double n) { return n * std::log2(n); };
  const double nlogn_growth = nlogn(n_last) / nlogn(n_first);
  const Timing& first = results.front().second;
  const Timing& last = results.back().second;
  const double wall_growth = last.median_ms / first.median_ms;
  const double cpu_growth = last.median_cpu_ms / first.median_cpu_ms;
  // Wall time on a shared 2-core machine is noisy; CPU time is the steadier growth figure.
  std::printf(
      "resolve growth n=%.0f->%.0f: n*log(n) x%.2f; wall x%.2f (ratio %.2f); cpu x%.2f "
      "(ratio %.2f); ratio 1.0 = n log n\n",
      n_first, n_last, nlogn_growth, wall_growth, wall_growth / nlogn_growth, cpu_growth,
      cpu_growth / nlogn_growth);
  std::printf("resolve %s\n", ok ? "results OK" : "RESULTS WRONG");
  return ok ? 0 : 1;
}
