// What the operator says about Meta's side of a phone number, as pure functions of what the
// inventory refresher last observed: the QualitySynced condition (is the rating current, or the
// last known one and why), the TemplateApproved condition (can the platform's message template be
// sent in the tenant's language), and the Event a rating change deserves.
//
// Messages are stable for a stable state (no timestamps, no trace ids, no counters), so a Meta
// outage that lasts changes each status once when it starts and once when it ends, not on every
// failed refresh.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"

namespace waop::core {

// The inventory's health after the last refresh attempt.
enum class MetaState {
  kNotConfigured,  // credentials missing: Meta is not called
  kPending,        // configured, no refresh finished yet
  kSynced,         // the last refresh read the whole inventory
  kUnavailable,    // 5xx, timeouts, connection failures
  kRateLimited,    // Graph rate-limit codes, HTTP 429
  kTokenRejected,  // Graph error 190, HTTP 401
  kError,          // anything else (an answer that does not parse, 403, ...)
};

struct MetaHealth {
  MetaState state = MetaState::kPending;
  std::vector<std::string> missing_keys;  // kNotConfigured: the Secret keys that are missing
  friend bool operator==(const MetaHealth&, const MetaHealth&) = default;
};

// "Synced", "CredentialsMissing", ...: the condition reason for a state.
std::string_view MetaStateReason(MetaState state);

// A condition to set (type, status, reason, message); the caller stamps times and generation.
struct ConditionSpec {
  std::string_view type;
  api::ConditionStatus status = api::ConditionStatus::kUnknown;
  std::string_view reason;
  std::string message;
  friend bool operator==(const ConditionSpec&, const ConditionSpec&) = default;
};

// QualitySynced for a number whose shown rating is `rating` (already normalised).
ConditionSpec QualitySyncedCondition(const MetaHealth& health, std::string_view rating);

// A message template as Meta lists it.
struct TemplateInfo {
  std::string name;
  std::string language;
  std::string status;  // APPROVED, PENDING, REJECTED, PAUSED, DISABLED, ...
  friend bool operator==(const TemplateInfo&, const TemplateInfo&) = default;
};

// TemplateApproved for template `name` in `language`, given the templates of that name Meta
// listed (nullopt: not known, e.g. the master account cannot be read). Exact language match
// ("es" is not "es_ES"); the message lists the languages that do exist and says what to do.
ConditionSpec TemplateCondition(std::string_view name, std::string_view language,
                                const std::optional<std::vector<TemplateInfo>>& templates);

// The Event a rating change deserves: Warning QualityDropped when it drops to YELLOW or RED,
// Normal QualityRecovered when it rises; nothing when either side is UNKNOWN (first rating, or
// Meta stopped rating) or nothing changed. `number` names the number in the message.
struct QualityEvent {
  std::string_view type;  // "Normal" or "Warning"
  std::string_view reason;
  std::string message;
};
std::optional<QualityEvent> QualityChangeEvent(std::string_view before, std::string_view after,
                                               std::string_view number);

// The digits of a phone number ("+34 612-345 678" -> "34612345678"): Meta's webhook sends the
// display number without formatting, the Graph API with it.
std::string PhoneDigits(std::string_view display);

}  // namespace waop::core
