// The exclusive-binding rule (SPEC section 3): across all watched namespaces a phone number
// serves at most one tenant and a tenant holds at most one number.
//
// Rule (greedy, deterministic): take the assignments that are not being deleted, sorted by
// (creationTimestamp, namespace, name, uid). Each one binds unless its phone number, or else its
// tenant, is already held by one bound before it; then it is DuplicatePhoneNumber (checked
// first) or DuplicateTenant, naming the holder. A loser holds nothing, so it never blocks anyone.
// An assignment being deleted holds nothing either: Releasing.
//
// Consequences the tests prove: the outcome does not depend on input order; deleting a holder
// or moving it to another number promotes the next in line; and an assignment's outcome depends
// only on its connected component (assignments linked transitively by a shared phone number id
// or tenant id), so the controller resolves just the component it reaches through its indexes.
//
// Inputs are assumed validated (non-empty ids); empty ids would simply collide with each other.
//
// Thread-safety: pure functions; safe from any thread. ConnectedComponent calls the lookups on
// the caller's thread.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "api/field_errors.h"
#include "api/types.h"
#include "common/clock.h"

namespace waop::core {

// The few fields of an assignment the binding rule reads.
struct AssignmentSummary {
  std::string ns;
  std::string name;
  std::string uid;
  WallTime creation_timestamp{};
  std::string tenant_id;
  std::string tenant_name;
  std::string phone_number_id;
  std::string display_phone_number;
  bool deleting = false;
  friend bool operator==(const AssignmentSummary&, const AssignmentSummary&) = default;
};

AssignmentSummary Summarize(const api::Assignment& assignment);

// What a stored object claims, as the binding rule sees it: the summary of a well-formed, valid
// assignment, or nullopt for one that cannot be parsed or fails ValidateAssignment. Such an
// object holds nothing (its status says InvalidSpec) and so links no one to anyone.
std::optional<AssignmentSummary> ClaimOf(const nlohmann::json& object);

// The errors that keep `object` from claiming anything, paths named ("spec.phoneNumberId:
// ..."): parse errors of metadata and spec (the status is ours to rewrite, so its errors do not
// count) and ValidateAssignment's. Empty for a valid assignment; `out` receives what parsed.
api::FieldErrors ClaimErrors(const nlohmann::json& object, api::Assignment* out);

enum class BindingState { kBound, kDuplicatePhoneNumber, kDuplicateTenant, kReleasing };

// "Bound", "DuplicatePhoneNumber", "DuplicateTenant", "Releasing" (the condition reasons).
std::string_view BindingStateName(BindingState state);

// The bound assignment that blocks a loser.
struct BindingHolder {
  std::string ns;
  std::string name;
  std::string tenant_id;
  std::string tenant_name;
  std::string phone_number_id;
  std::string display_phone_number;
  friend bool operator==(const BindingHolder&, const BindingHolder&) = default;
};

// Small on purpose (24 bytes): a resolve of 100k assignments allocates one per assignment, and
// only losers carry a holder. The holder is shared and immutable, so copies are cheap.
struct BindingOutcome {
  BindingState state = BindingState::kBound;
  std::shared_ptr<const BindingHolder> holder;  // set for the two duplicate states only

  // Compares the holder's contents, not the pointer.
  friend bool operator==(const BindingOutcome& a, const BindingOutcome& b) {
    if (a.state != b.state || (a.holder == nullptr) != (b.holder == nullptr)) return false;
    return a.holder == nullptr || *a.holder == *b.holder;
  }
};

// Outcome i is for assignments[i]. O(n log n); no per-assignment string allocation except a
// holder copy for each loser.
std::vector<BindingOutcome> ResolveBindings(std::span<const AssignmentSummary> assignments);

// The outcome for `target` when resolved together with `others` (typically its component). An
// entry of `others` with the same namespace/name as `target` is replaced by `target`, so this
// also answers "what would happen if this object were applied" for the admission webhook. For a
// CREATE, the object has no creationTimestamp yet: set target.creation_timestamp to now, or it
// sorts as the oldest of all and would "win" against the existing holder.
BindingOutcome ResolveOne(const AssignmentSummary& target,
                          std::span<const AssignmentSummary> others);

// Lookups into the controller's indexes: every assignment whose phone number id (or tenant id)
// equals `id`.
using SummaryLookup = std::function<std::vector<AssignmentSummary>(std::string_view id)>;

// Every assignment whose outcome a change of one assignment's claim from `before` to `after`
// (either null for a create or delete) can alter, transitively: the union of the connected
// components of `before` and of `after`, looked up in indexes that already hold the new state.
// Why `before` too: removing it can split its old component, and each piece is reached from
// before's phone number id or tenant id. Members appear once (by namespace/name), the changed
// assignment first.
std::vector<AssignmentSummary> AffectedAssignments(const AssignmentSummary* before,
                                                   const AssignmentSummary* after,
                                                   const SummaryLookup& by_phone,
                                                   const SummaryLookup& by_tenant);

// Every assignment linked to `seed` through chains of shared phone number ids or tenant ids,
// seed first, each namespace/name once (the seed's version wins over a looked-up one, so a
// proposed update replaces the stored object). Resolving this set gives the same outcome for
// each member as resolving the whole cluster.
std::vector<AssignmentSummary> ConnectedComponent(const AssignmentSummary& seed,
                                                  const SummaryLookup& by_phone,
                                                  const SummaryLookup& by_tenant);

// Who holds `phone_number_id` among resolved assignments (outcomes[i] for assignments[i]), as
// WhatsAppPhoneNumber.status.assignment shows it (tenantName falls back to the tenant id, so
// the TENANT column is never empty for a taken number); nullopt when the number is free.
std::optional<api::PhoneAssignmentRef> PhoneHolder(std::string_view phone_number_id,
                                                   std::span<const AssignmentSummary> assignments,
                                                   std::span<const BindingOutcome> outcomes);

}  // namespace waop::core
