#include "core/status.h"

#include <algorithm>
#include <chrono>

#include "api/json.h"
#include "core/settings.h"

namespace waop::core {
namespace {

using api::Condition;
using api::ConditionStatus;

WallTime Seconds(WallTime t) { return std::chrono::floor<std::chrono::seconds>(t); }

std::optional<WallTime> Seconds(const std::optional<WallTime>& t) {
  if (!t) return std::nullopt;
  return Seconds(*t);
}

std::string Quoted(const std::string& s) { return "'" + s + "'"; }

std::string TenantLabel(const std::string& name, const std::string& id) {
  return Quoted(name.empty() ? id : name);
}

std::string FirstNonEmpty(std::initializer_list<const std::string*> candidates) {
  for (const std::string* c : candidates) {
    if (c != nullptr && !c->empty()) return *c;
  }
  return "";
}

// Builds the desired set of conditions, carrying transition times over from `live`.
class ConditionSet {
 public:
  ConditionSet(const std::vector<Condition>& live, int64_t generation, WallTime now)
      : live_(live), generation_(generation), now_(Seconds(now)) {}

  void Set(std::string_view type, ConditionStatus status, std::string_view reason,
           std::string message) {
    Condition c;
    c.type = std::string(type);
    c.status = status;
    c.reason = std::string(reason);
    c.message = std::move(message);
    c.observed_generation = generation_;
    const Condition* old = api::FindCondition(live_, type);
    c.last_transition_time =
        (old != nullptr && old->status == status) ? Seconds(old->last_transition_time) : now_;
    out_.push_back(std::move(c));
  }

  // Conditions of types this operator does not manage are kept as they are.
  std::vector<Condition> Finish() {
    for (const Condition& c : live_) {
      if (c.type == api::kConditionReady || c.type == api::kConditionReconciling ||
          c.type == api::kConditionStalled || c.type == api::kConditionQualitySynced ||
          c.type == api::kConditionTemplateApproved) {
        continue;
      }
      if (api::FindCondition(out_, c.type) == nullptr) out_.push_back(c);
    }
    return api::SortedConditions(std::move(out_));
  }

 private:
  const std::vector<Condition>& live_;
  int64_t generation_;
  WallTime now_;
  std::vector<Condition> out_;
};

bool ConditionsEqual(const std::vector<Condition>& a, const std::vector<Condition>& b) {
  if (a.size() != b.size()) return false;
  for (const Condition& x : a) {
    const Condition* y = api::FindCondition(b, x.type);
    if (y == nullptr || x.status != y->status || x.reason != y->reason || x.message != y->message ||
        x.observed_generation != y->observed_generation ||
        Seconds(x.last_transition_time) != Seconds(y->last_transition_time)) {
      return false;
    }
  }
  return true;
}

}  // namespace

void SetCondition(std::vector<Condition>* conditions, Condition desired, WallTime now) {
  for (Condition& c : *conditions) {
    if (c.type != desired.type) continue;
    desired.last_transition_time =
        c.status == desired.status ? Seconds(c.last_transition_time) : Seconds(now);
    c = std::move(desired);
    return;
  }
  desired.last_transition_time = Seconds(now);
  conditions->push_back(std::move(desired));
}

bool RemoveCondition(std::vector<Condition>* conditions, std::string_view type) {
  auto it = std::remove_if(conditions->begin(), conditions->end(),
                           [type](const Condition& c) { return c.type == type; });
  bool removed = it != conditions->end();
  conditions->erase(it, conditions->end());
  return removed;
}

std::string NormalizeQuality(std::string_view rating) {
  if (rating == api::kQualityGreen || rating == api::kQualityYellow || rating == api::kQualityRed) {
    return std::string(rating);
  }
  return std::string(api::kQualityUnknown);
}

std::optional<PhoneInfo> PhoneInfoFromStatus(const api::PhoneNumberStatus& s) {
  if (s.display_phone_number.empty() && s.quality_rating.empty() && s.verified_name.empty()) {
    return std::nullopt;  // created, never synced from Meta
  }
  return PhoneInfo{s.display_phone_number, s.verified_name, s.quality_rating,
                   s.messaging_limit_tier, s.last_sync_time};
}

std::string BindingMessage(const api::AssignmentSpec& spec, const BindingOutcome& outcome,
                           const std::optional<PhoneInfo>& phone) {
  const std::string* meta_display = phone ? &phone->display_phone_number : nullptr;
  const BindingHolder* h = outcome.holder ? &*outcome.holder : nullptr;
  switch (outcome.state) {
    case BindingState::kBound:
      return "Phone number " +
             FirstNonEmpty({meta_display, &spec.display_phone_number, &spec.phone_number_id}) +
             " assigned to tenant " + TenantLabel(spec.tenant_name, spec.tenant_id);
    case BindingState::kDuplicatePhoneNumber: {
      std::string number =
          FirstNonEmpty({meta_display, &spec.display_phone_number,
                         h ? &h->display_phone_number : nullptr, &spec.phone_number_id});
      if (h == nullptr) return "Phone number " + number + " is already assigned";
      return "Phone number " + number + " already assigned to tenant " +
             TenantLabel(h->tenant_name, h->tenant_id) + " (" + h->ns + "/" + h->name + ")";
    }
    case BindingState::kDuplicateTenant: {
      if (h == nullptr) {
        return "Tenant " + TenantLabel(spec.tenant_name, spec.tenant_id) +
               " already holds a phone number";
      }
      // The holder's number is another one: Meta's display for ours says nothing about it.
      std::string number = FirstNonEmpty({&h->display_phone_number, &h->phone_number_id});
      return "Tenant " +
             TenantLabel(FirstNonEmpty({&h->tenant_name, &spec.tenant_name}), h->tenant_id) +
             " already holds phone number " + number + " (" + h->ns + "/" + h->name + ")";
    }
    case BindingState::kReleasing:
      return "Assignment is being deleted; phone number " +
             FirstNonEmpty({meta_display, &spec.display_phone_number, &spec.phone_number_id}) +
             " and tenant " + TenantLabel(spec.tenant_name, spec.tenant_id) + " are released";
  }
  return "";
}

api::AssignmentStatus DesiredStatus(const api::Assignment& live, const BindingOutcome& binding,
                                    const SyncOutcome& sync, const std::optional<PhoneInfo>& phone,
                                    WallTime now, PhoneNumberPresence presence,
                                    const std::vector<ConditionSpec>& observations) {
  using State = SyncOutcome::State;
  const int64_t generation = live.metadata.generation;
  api::AssignmentStatus s;
  s.observed_generation = generation;
  s.display_phone_number = EffectiveDisplayPhoneNumber(
      live.spec, phone ? std::optional<std::string>(phone->display_phone_number) : std::nullopt);
  if (phone) {
    s.verified_name = phone->verified_name;
    s.quality_checked_at = Seconds(phone->checked_at);
  }
  s.quality_rating = NormalizeQuality(phone ? phone->quality_rating : "");
  if (sync.settings == State::kOk)
    s.settings_config_map = SettingsConfigMapName(live.metadata.name);

  ConditionSet conds(live.status.conditions, generation, now);
  const std::string message = BindingMessage(live.spec, binding, phone);
  const std::string_view reason = BindingStateName(binding.state);
  switch (binding.state) {
    case BindingState::kReleasing:
      conds.Set(api::kConditionReady, ConditionStatus::kFalse, reason, message);
      break;
    case BindingState::kDuplicatePhoneNumber:
    case BindingState::kDuplicateTenant:
      conds.Set(api::kConditionReady, ConditionStatus::kFalse, reason, message);
      conds.Set(api::kConditionStalled, ConditionStatus::kTrue, reason, message);
      break;
    case BindingState::kBound:
      if (presence == PhoneNumberPresence::kAbsent) {
        std::string m = "Phone number id " + live.spec.phone_number_id +
                        " is not in the master WhatsApp Business Account; check "
                        "spec.phoneNumberId or add the number to the account";
        conds.Set(api::kConditionReady, ConditionStatus::kFalse, api::kReasonPhoneNumberNotFound,
                  m);
        conds.Set(api::kConditionStalled, ConditionStatus::kTrue, api::kReasonPhoneNumberNotFound,
                  m);
      } else if (sync.settings == State::kFailed) {
        std::string m = "Could not write settings ConfigMap " +
                        SettingsConfigMapName(live.metadata.name) + ": " + sync.settings_error +
                        "; retrying";
        conds.Set(api::kConditionReady, ConditionStatus::kFalse, api::kReasonSettingsSyncFailed, m);
        conds.Set(api::kConditionReconciling, ConditionStatus::kTrue,
                  api::kReasonSettingsSyncFailed, m);
      } else if (sync.tenant_service == State::kFailed) {
        std::string m =
            "Tenant service did not accept the assignment: " + sync.tenant_service_error +
            "; retrying";
        conds.Set(api::kConditionReady, ConditionStatus::kFalse, api::kReasonTenantServiceError, m);
        conds.Set(api::kConditionReconciling, ConditionStatus::kTrue,
                  api::kReasonTenantServiceError, m);
      } else if (sync.settings == State::kPending || sync.tenant_service == State::kPending) {
        std::string m = message + "; writing settings";
        conds.Set(api::kConditionReady, ConditionStatus::kUnknown, api::kReasonProgressing, m);
        conds.Set(api::kConditionReconciling, ConditionStatus::kTrue, api::kReasonProgressing, m);
      } else if (!live.spec.enabled) {
        conds.Set(api::kConditionReady, ConditionStatus::kTrue, reason,
                  message + "; WhatsApp is disabled for this tenant (spec.enabled: false)");
      } else {
        conds.Set(api::kConditionReady, ConditionStatus::kTrue, reason, message);
      }
      break;
  }
  for (const ConditionSpec& o : observations) conds.Set(o.type, o.status, o.reason, o.message);
  s.conditions = conds.Finish();
  return s;
}

api::AssignmentStatus InvalidSpecStatus(const api::Assignment& live, std::string_view errors,
                                        WallTime now) {
  api::AssignmentStatus s;
  s.observed_generation = live.metadata.generation;
  // Nothing of the spec is shown: the invalid field may be the display number itself.
  s.quality_rating = NormalizeQuality("");
  ConditionSet conds(live.status.conditions, live.metadata.generation, now);
  std::string m = "Invalid spec, the assignment holds no phone number until it is fixed: " +
                  std::string(errors);
  conds.Set(api::kConditionReady, ConditionStatus::kFalse, api::kReasonInvalidSpec, m);
  conds.Set(api::kConditionStalled, ConditionStatus::kTrue, api::kReasonInvalidSpec, m);
  s.conditions = conds.Finish();
  return s;
}

bool StatusEquals(const api::AssignmentStatus& a, const api::AssignmentStatus& b) {
  return a.observed_generation == b.observed_generation &&
         a.display_phone_number == b.display_phone_number && a.verified_name == b.verified_name &&
         a.quality_rating == b.quality_rating &&
         Seconds(a.quality_checked_at) == Seconds(b.quality_checked_at) &&
         a.settings_config_map == b.settings_config_map &&
         ConditionsEqual(a.conditions, b.conditions);
}

api::PhoneNumberStatus DesiredPhoneNumberStatus(
    const api::PhoneNumberStatus& live, const std::optional<PhoneInfo>& phone,
    const std::optional<api::PhoneAssignmentRef>& holder,
    const std::optional<ConditionSpec>& quality_synced, WallTime now) {
  api::PhoneNumberStatus s = live;
  if (quality_synced) {
    Condition c;
    c.type = std::string(quality_synced->type);
    c.status = quality_synced->status;
    c.reason = std::string(quality_synced->reason);
    c.message = quality_synced->message;
    SetCondition(&s.conditions, std::move(c), now);
    s.conditions = api::SortedConditions(std::move(s.conditions));
  }
  s.last_sync_time = Seconds(live.last_sync_time);
  if (phone) {
    s.display_phone_number = phone->display_phone_number;
    s.verified_name = phone->verified_name;
    s.quality_rating = NormalizeQuality(phone->quality_rating);
    s.messaging_limit_tier = phone->messaging_limit_tier;
    if (phone->checked_at) s.last_sync_time = Seconds(phone->checked_at);
  }
  s.assignment = holder;
  return s;
}

PhoneInfo SteadyPhoneInfo(PhoneInfo fresh, const PhoneInfo& live,
                          const std::optional<WallTime>& live_checked_at,
                          std::chrono::seconds heartbeat) {
  const bool same =
      fresh.display_phone_number == live.display_phone_number &&
      fresh.verified_name == live.verified_name &&
      NormalizeQuality(fresh.quality_rating) == NormalizeQuality(live.quality_rating) &&
      fresh.messaging_limit_tier == live.messaging_limit_tier;
  if (same && live_checked_at && fresh.checked_at && *fresh.checked_at >= *live_checked_at &&
      *fresh.checked_at - *live_checked_at < heartbeat) {
    fresh.checked_at = Seconds(*live_checked_at);
  }
  return fresh;
}

bool StatusEquals(const api::PhoneNumberStatus& a, const api::PhoneNumberStatus& b) {
  return a.display_phone_number == b.display_phone_number && a.verified_name == b.verified_name &&
         a.quality_rating == b.quality_rating && a.messaging_limit_tier == b.messaging_limit_tier &&
         Seconds(a.last_sync_time) == Seconds(b.last_sync_time) && a.assignment == b.assignment &&
         ConditionsEqual(a.conditions, b.conditions);
}

}  // namespace waop::core
