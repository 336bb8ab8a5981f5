// A Lease as the leader elector reads it (KubeLeaseClient: the object's JSON, then
// LeaseFromJson), and what is read written back.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/json.h"
#include "controller/leader_election.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto j = waop::ParseJsonBounded(in);
  if (!j.ok()) return 0;
  auto lease = waop::controller::LeaseFromJson(*j);
  if (!lease.ok()) return 0;
  auto back = waop::controller::LeaseFromJson(waop::controller::LeaseToJson("ns", "n", *lease));
  if (!back.ok()) __builtin_trap();
  if (back->holder_identity != lease->holder_identity ||
      back->lease_duration_seconds != lease->lease_duration_seconds) {
    __builtin_trap();
  }
  return 0;
}
