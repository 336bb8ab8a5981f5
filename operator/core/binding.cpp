#include "core/binding.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <utility>

#include "api/json.h"
#include "core/validation.h"

namespace waop::core {
namespace {

// Open-addressing set of assignment indexes keyed by one id field (phone number id or tenant
// id) of the caller's summaries. Slots are 8 bytes (index and the hash's high half) in one
// allocation: no node or string per entry, and strings are compared only when hashes agree.
// That is what keeps 100k assignments within a few tens of milliseconds.
class HolderTable {
 public:
  HolderTable(std::span<const AssignmentSummary> in, std::string AssignmentSummary::*field,
              size_t expected)
      : in_(in), field_(field) {
    size_t cap = 16;
    while (cap < expected * 2) cap <<= 1;
    slots_.assign(cap, Slot{kEmpty, 0});
    mask_ = cap - 1;
  }

  // The index of the assignment holding the same id as assignment `candidate`, or -1.
  int64_t Find(uint32_t candidate, uint64_t hash) const {
    const auto tag = static_cast<uint32_t>(hash >> 32);
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index == kEmpty) return -1;
      if (s.tag == tag && in_[s.index].*field_ == in_[candidate].*field_) return s.index;
    }
  }

  // Caller guarantees `key` is absent.
  void Insert(uint64_t hash, uint32_t index) {
    size_t i = hash & mask_;
    while (slots_[i].index != kEmpty) i = (i + 1) & mask_;
    slots_[i] = Slot{index, static_cast<uint32_t>(hash >> 32)};
  }

 private:
  static constexpr uint32_t kEmpty = UINT32_MAX;
  struct Slot {
    uint32_t index;
    uint32_t tag;
  };
  std::span<const AssignmentSummary> in_;
  std::string AssignmentSummary::*field_;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

std::shared_ptr<const BindingHolder> HolderOf(const AssignmentSummary& a) {
  return std::make_shared<const BindingHolder>(BindingHolder{
      a.ns, a.name, a.tenant_id, a.tenant_name, a.phone_number_id, a.display_phone_number});
}

std::string Key(const AssignmentSummary& a) { return a.ns + "/" + a.name; }

}  // namespace

AssignmentSummary Summarize(const api::Assignment& a) {
  return AssignmentSummary{
      .ns = a.metadata.ns,
      .name = a.metadata.name,
      .uid = a.metadata.uid,
      .creation_timestamp = a.metadata.creation_timestamp,
      .tenant_id = a.spec.tenant_id,
      .tenant_name = a.spec.tenant_name,
      .phone_number_id = a.spec.phone_number_id,
      .display_phone_number = a.spec.display_phone_number,
      .deleting = a.metadata.deleting(),
  };
}

api::FieldErrors ClaimErrors(const nlohmann::json& object, api::Assignment* out) {
  api::FieldErrors parsed = api::ParseAssignmentInto(object, out);
  api::FieldErrors errors;
  for (const api::FieldError& e : parsed) {
    if (e.path == "status" || e.path.rfind("status.", 0) == 0) continue;
    errors.Add(e.type, e.path, e.detail);
  }
  if (errors.empty()) errors.Append(ValidateAssignment(*out));
  return errors;
}

std::optional<AssignmentSummary> ClaimOf(const nlohmann::json& object) {
  // ClaimErrors without reading status, whose errors it ignores anyway: a claim is looked up
  // for every member of a component, several times per reconcile.
  api::Assignment a;
  if (!api::ParseAssignmentInto(object, &a, /*with_status=*/false).empty()) return std::nullopt;
  if (!ValidateAssignment(a).empty()) return std::nullopt;
  return Summarize(a);
}

std::string_view BindingStateName(BindingState state) {
  switch (state) {
    case BindingState::kBound:
      return api::kReasonBound;
    case BindingState::kDuplicatePhoneNumber:
      return api::kReasonDuplicatePhoneNumber;
    case BindingState::kDuplicateTenant:
      return api::kReasonDuplicateTenant;
    case BindingState::kReleasing:
      return api::kReasonReleasing;
  }
  return "Unknown";
}

std::vector<BindingOutcome> ResolveBindings(std::span<const AssignmentSummary> in) {
  std::vector<BindingOutcome> out(in.size());

  // One sequential pass copies what the greedy loop needs (timestamp, id hashes) into compact
  // entries. Afterwards the summaries, which are large and visited in random order, are read
  // only to break timestamp ties and to confirm a hash match: at 100k assignments the cost is
  // cache misses, not arithmetic.
  struct Entry {
    int64_t created;
    uint64_t phone_hash;
    uint64_t tenant_hash;
    uint32_t index;
  };
  std::hash<std::string_view> hasher;
  std::vector<Entry> order;
  order.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const AssignmentSummary& a = in[i];
    if (a.deleting) {
      out[i].state = BindingState::kReleasing;
      continue;
    }
    order.push_back(Entry{a.creation_timestamp.time_since_epoch().count(),
                          hasher(a.phone_number_id), hasher(a.tenant_id),
                          static_cast<uint32_t>(i)});
  }
  std::sort(order.begin(), order.end(), [&in](const Entry& x, const Entry& y) {
    if (x.created != y.created) return x.created < y.created;
    const AssignmentSummary& a = in[x.index];
    const AssignmentSummary& b = in[y.index];
    if (int c = a.ns.compare(b.ns); c != 0) return c < 0;
    if (int c = a.name.compare(b.name); c != 0) return c < 0;
    return a.uid < b.uid;
  });

  HolderTable phones(in, &AssignmentSummary::phone_number_id, order.size());
  HolderTable tenants(in, &AssignmentSummary::tenant_id, order.size());
  for (const Entry& e : order) {
    int64_t holder = phones.Find(e.index, e.phone_hash);
    if (holder >= 0) {
      out[e.index].state = BindingState::kDuplicatePhoneNumber;
      out[e.index].holder = HolderOf(in[holder]);
      continue;
    }
    holder = tenants.Find(e.index, e.tenant_hash);
    if (holder >= 0) {
      out[e.index].state = BindingState::kDuplicateTenant;
      out[e.index].holder = HolderOf(in[holder]);
      continue;
    }
    phones.Insert(e.phone_hash, e.index);
    tenants.Insert(e.tenant_hash, e.index);
  }
  return out;
}

BindingOutcome ResolveOne(const AssignmentSummary& target,
                          std::span<const AssignmentSummary> others) {
  std::vector<AssignmentSummary> all;
  all.reserve(others.size() + 1);
  all.push_back(target);
  for (const AssignmentSummary& o : others) {
    if (o.ns == target.ns && o.name == target.name) continue;
    all.push_back(o);
  }
  return ResolveBindings(all).front();
}

std::vector<AssignmentSummary> AffectedAssignments(const AssignmentSummary* before,
                                                   const AssignmentSummary* after,
                                                   const SummaryLookup& by_phone,
                                                   const SummaryLookup& by_tenant) {
  std::vector<AssignmentSummary> out;
  std::set<std::string> seen;
  for (const AssignmentSummary* seed : {after, before}) {
    if (seed == nullptr) continue;
    for (AssignmentSummary& m : ConnectedComponent(*seed, by_phone, by_tenant)) {
      if (seen.insert(Key(m)).second) out.push_back(std::move(m));
    }
  }
  return out;
}

std::vector<AssignmentSummary> ConnectedComponent(const AssignmentSummary& seed,
                                                  const SummaryLookup& by_phone,
                                                  const SummaryLookup& by_tenant) {
  std::vector<AssignmentSummary> members{seed};
  std::set<std::string> seen{Key(seed)};
  std::set<std::string> phones_done;
  std::set<std::string> tenants_done;
  // Ids still to look up: (is_phone, id).
  std::deque<std::pair<bool, std::string>> pending{{true, seed.phone_number_id},
                                                   {false, seed.tenant_id}};
  while (!pending.empty()) {
    auto [is_phone, id] = std::move(pending.front());
    pending.pop_front();
    std::set<std::string>& done = is_phone ? phones_done : tenants_done;
    if (!done.insert(id).second) continue;
    for (AssignmentSummary& found : (is_phone ? by_phone : by_tenant)(id)) {
      if (!seen.insert(Key(found)).second) continue;
      if (!phones_done.contains(found.phone_number_id)) {
        pending.emplace_back(true, found.phone_number_id);
      }
      if (!tenants_done.contains(found.tenant_id)) pending.emplace_back(false, found.tenant_id);
      members.push_back(std::move(found));
    }
  }
  return members;
}

std::optional<api::PhoneAssignmentRef> PhoneHolder(std::string_view phone_number_id,
                                                   std::span<const AssignmentSummary> assignments,
                                                   std::span<const BindingOutcome> outcomes) {
  for (size_t i = 0; i < assignments.size() && i < outcomes.size(); ++i) {
    const AssignmentSummary& a = assignments[i];
    if (outcomes[i].state == BindingState::kBound && a.phone_number_id == phone_number_id) {
      // The TENANT column of `kubectl get wapn` shows tenantName: never leave it empty.
      return api::PhoneAssignmentRef{a.ns, a.name, a.tenant_id,
                                     a.tenant_name.empty() ? a.tenant_id : a.tenant_name};
    }
  }
  return std::nullopt;
}

}  // namespace waop::core
