// The status an assignment (and a WhatsAppPhoneNumber) should show, computed from what the
// reconcile observed. Conditions follow kstatus so `kubectl wait --for=condition=Ready`, Flux
// and Argo CD read them right:
//   Bound + settings written      Ready=True  Bound
//   Bound + settings not yet      Ready=Unknown Progressing, Reconciling=True
//   Bound + settings write failed Ready=False SettingsSyncFailed, Reconciling=True
//   Bound + tenant service failed Ready=False TenantServiceError, Reconciling=True
//   Bound + number not in WABA    Ready=False PhoneNumberNotFound, Stalled=True
//   DuplicatePhoneNumber/Tenant   Ready=False <reason>, Stalled=True (waits on a person)
//   Releasing (being deleted)     Ready=False Releasing
//   Invalid spec (InvalidSpecStatus) Ready=False InvalidSpec, Stalled=True
// A bound assignment with spec.enabled false is still Bound (it keeps its number); its Ready
// message says WhatsApp is disabled for the tenant.
// Reconciling and Stalled are removed when they do not apply. Every condition carries
// observedGeneration = metadata.generation; lastTransitionTime changes only when that
// condition's status changes. Times are truncated to whole seconds, as the API server stores
// them, so the desired status compares equal to what is read back.
//
// Meta's side (QualitySynced, TemplateApproved) comes in as `observations` (core/quality.h);
// without them those conditions are removed.
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "api/types.h"
#include "common/clock.h"
#include "core/binding.h"
#include "core/quality.h"

namespace waop::core {

// What the inventory knows about a phone number (from Meta, possibly the last known values
// during an outage).
struct PhoneInfo {
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating;  // Meta's value; anything but GREEN/YELLOW/RED becomes UNKNOWN
  std::string messaging_limit_tier;
  std::optional<WallTime> checked_at;  // when Meta last reported it
};

// What an inventory object's status says about its number, for messages and status; nullopt
// for one never synced from Meta (no display number, rating or verified name yet). The
// reconciler and the admission webhook both read it, so their messages agree.
std::optional<PhoneInfo> PhoneInfoFromStatus(const api::PhoneNumberStatus& status);

// Whether the master WABA's inventory is known to lack the number. With an inventory that
// could not be read (no credentials, Meta down), this is kUnknown and no error is shown.
enum class PhoneNumberPresence { kUnknown, kPresent, kAbsent };

// How writing the outputs went in this reconcile.
struct SyncOutcome {
  enum class State { kPending, kOk, kFailed };
  State settings = State::kPending;  // the ConfigMap sink
  std::string settings_error;
  State tenant_service = State::kOk;  // kOk also when the sink is off
  std::string tenant_service_error;

  static SyncOutcome Pending() { return {}; }
  static SyncOutcome Written() { return {State::kOk, "", State::kOk, ""}; }
  static SyncOutcome SettingsFailed(std::string error) {
    return {State::kFailed, std::move(error), State::kOk, ""};
  }
  // Settings were written but the tenant service refused or could not be reached.
  static SyncOutcome TenantServiceFailed(std::string error) {
    return {State::kOk, "", State::kFailed, std::move(error)};
  }
};

// GREEN, YELLOW, RED kept; anything else (NA, "", UNKNOWN) is UNKNOWN.
std::string NormalizeQuality(std::string_view meta_rating);

// The sentence the Ready condition carries for a binding outcome (also what the admission
// webhook shows when it refuses a duplicate), e.g.
//   Phone number +34 612 345 678 assigned to tenant 'Panadería San Juan'
//   Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan'
//     (bakery-ia/panaderia-san-juan)
//   Tenant 'Panadería San Juan' already holds phone number +34 612 345 679
//     (bakery-ia/panaderia-san-juan)
// Numbers are shown by display number when known (Meta's, then the spec's), else by id; tenants
// by name when given, else by id.
std::string BindingMessage(const api::AssignmentSpec& spec, const BindingOutcome& outcome,
                           const std::optional<PhoneInfo>& phone = {});

api::AssignmentStatus DesiredStatus(const api::Assignment& live, const BindingOutcome& binding,
                                    const SyncOutcome& sync, const std::optional<PhoneInfo>& phone,
                                    WallTime now,
                                    PhoneNumberPresence presence = PhoneNumberPresence::kUnknown,
                                    const std::vector<ConditionSpec>& observations = {});

// The status of an assignment that holds nothing because its spec breaks a rule the schema did
// not catch (or could not be parsed): Ready=False / Stalled=True InvalidSpec, the message naming
// each field (`errors`, FieldErrors::ToString()). No settings ConfigMap is listed.
api::AssignmentStatus InvalidSpecStatus(const api::Assignment& live, std::string_view errors,
                                        WallTime now);

// True when writing `desired` over `live` would change nothing a reader sees: same fields, same
// conditions by type (order ignored), times compared at whole seconds.
bool StatusEquals(const api::AssignmentStatus& live, const api::AssignmentStatus& desired);

// Puts `desired` into `conditions` (replacing the one of the same type), stamping
// lastTransitionTime with `now` (whole seconds) only when the status differs from the existing
// one's, else keeping the existing time. For conditions outside DesiredStatus, such as a
// phone number's stale-quality observation.
void SetCondition(std::vector<api::Condition>* conditions, api::Condition desired, WallTime now);
// Removes the condition of `type`; returns whether there was one.
bool RemoveCondition(std::vector<api::Condition>* conditions, std::string_view type);

// The inventory object's status: Meta's fields from `phone` when known (else kept from `live`),
// and `holder` as status.assignment (none: free). `quality_synced`, when given, replaces the
// QualitySynced condition (lastTransitionTime stamped with `now` when its status changes); other
// conditions are kept from `live`.
api::PhoneNumberStatus DesiredPhoneNumberStatus(
    const api::PhoneNumberStatus& live, const std::optional<PhoneInfo>& phone,
    const std::optional<api::PhoneAssignmentRef>& holder,
    const std::optional<ConditionSpec>& quality_synced = std::nullopt, WallTime now = {});

// `fresh` (just read from Meta) with checked_at moved back to `live_checked_at` when Meta's
// fields equal the `live` ones and `live_checked_at` is less than `heartbeat` older: the time a
// rating was confirmed is refreshed at most once per heartbeat, so a steady inventory does not
// rewrite every status on every refresh.
PhoneInfo SteadyPhoneInfo(PhoneInfo fresh, const PhoneInfo& live,
                          const std::optional<WallTime>& live_checked_at,
                          std::chrono::seconds heartbeat);

bool StatusEquals(const api::PhoneNumberStatus& live, const api::PhoneNumberStatus& desired);

}  // namespace waop::core
