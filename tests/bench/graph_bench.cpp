// Graph calls per refresh: the operator's Graph client listing a WABA's phone numbers from
// graph-devserver (devserver/graph/), for 120 and 1000 numbers at Meta's page size of 100 and
// for 1000 numbers with a page-size cap of 30. Exits non-zero only on a wrong result: the
// listing must hold every number and take ceil(N / page size) calls (1 for an empty WABA).
#include <chrono>
#include <cstdio>

#include "graph_devserver_util.h"
#include "meta/graph_client.h"

namespace {

using devserver::testing::GraphData;
using devserver::testing::GraphDevserver;

bool Measure(int numbers, int cap) {
  GraphDevserver g(GraphData(0, cap));
  if (!g.ok()) {
    std::fprintf(stderr, "graph-devserver did not start: %s\n", g.process().Stderr().c_str());
    return false;
  }
  g.Generate(numbers);
  waop::meta::GraphClientOptions o;
  o.base_url = g.url();
  auto client = waop::meta::NewGraphClient(o);
  if (!client.ok()) return false;
  const waop::meta::GraphAuth auth{"v21.0", devserver::testing::kGraphToken};
  constexpr int kRuns = 5;
  int calls = 0;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRuns; ++i) {
    auto listing = (*client)->ListPhoneNumbers(auth, devserver::testing::kGraphWaba);
    if (!listing.ok() || static_cast<int>(listing->numbers.size()) != numbers) {
      std::fprintf(stderr, "wrong listing: %s\n",
                   listing.ok() ? "short" : listing.status().ToString().c_str());
      return false;
    }
    calls = listing->calls;
  }
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
      kRuns;
  const int page = cap > 0 ? cap : 100;
  const int want = numbers == 0 ? 1 : (numbers + page - 1) / page;
  std::printf(
      "Graph calls per refresh: %5d numbers, page size %3d: %3d calls (expected %d), "
      "%.1f ms per refresh\n",
      numbers, page, calls, want, ms);
  return calls == want;
}

}  // namespace

int main() {
  bool ok = Measure(120, 0);
  ok = Measure(1000, 0) && ok;
  ok = Measure(1000, 30) && ok;
  return ok ? 0 : 1;
}
