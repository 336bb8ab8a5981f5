// The two custom resources of group whatsapp.bakery-ia.io/v1alpha1 (SPEC section 2) as plain
// C++ values: WhatsAppAssignment (namespaced; what an admin declares) and WhatsAppPhoneNumber
// (cluster-scoped inventory written by the operator). Only the fields the operator reads are
// kept: managedFields and the kubectl last-applied annotation are dropped at parse time, so a
// cache of 100k objects stays small.
//
// Reading and writing JSON lives in api/json.h; rules about values live in core/validation.h.
//
// Thread-safety: value types; safe to copy between threads, not to mutate concurrently.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace waop::api {

inline constexpr std::string_view kGroup = "whatsapp.bakery-ia.io";
inline constexpr std::string_view kVersion = "v1alpha1";
inline constexpr std::string_view kApiVersion = "whatsapp.bakery-ia.io/v1alpha1";
inline constexpr std::string_view kAssignmentKind = "WhatsAppAssignment";
inline constexpr std::string_view kAssignmentPlural = "whatsappassignments";
inline constexpr std::string_view kPhoneNumberKind = "WhatsAppPhoneNumber";
inline constexpr std::string_view kPhoneNumberPlural = "whatsappphonenumbers";
inline constexpr std::string_view kFinalizer = "whatsapp.bakery-ia.io/finalizer";
// Annotations under this prefix are kept by the parser; all others are dropped.
inline constexpr std::string_view kAnnotationPrefix = "whatsapp.bakery-ia.io/";

inline constexpr std::string_view kDefaultLanguage = "es";

// Condition types and reasons (SPEC section 2). kstatus reads Ready, Reconciling and Stalled.
inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionReconciling = "Reconciling";
inline constexpr std::string_view kConditionStalled = "Stalled";

inline constexpr std::string_view kReasonBound = "Bound";
inline constexpr std::string_view kReasonDuplicatePhoneNumber = "DuplicatePhoneNumber";
inline constexpr std::string_view kReasonDuplicateTenant = "DuplicateTenant";
inline constexpr std::string_view kReasonPhoneNumberNotFound = "PhoneNumberNotFound";
inline constexpr std::string_view kReasonInvalidSpec = "InvalidSpec";
inline constexpr std::string_view kReasonSettingsSyncFailed = "SettingsSyncFailed";
inline constexpr std::string_view kReasonTenantServiceError = "TenantServiceError";
inline constexpr std::string_view kReasonProgressing = "Progressing";
inline constexpr std::string_view kReasonReleasing = "Releasing";

// Whether the quality rating shown is current (True, Synced) or the last known one because the
// master account is not configured or Meta cannot be read (False, one of the reasons below).
// Shown on assignments and phone numbers; it never changes Ready.
inline constexpr std::string_view kConditionQualitySynced = "QualitySynced";
inline constexpr std::string_view kReasonSynced = "Synced";
inline constexpr std::string_view kReasonPending = "Pending";
inline constexpr std::string_view kReasonCredentialsMissing = "CredentialsMissing";
inline constexpr std::string_view kReasonTokenRejected = "TokenRejected";
inline constexpr std::string_view kReasonMetaUnavailable = "MetaUnavailable";
inline constexpr std::string_view kReasonRateLimited = "RateLimited";
inline constexpr std::string_view kReasonMetaError = "MetaError";
// Whether the message template the platform sends is approved in the tenant's language. It
// never changes Ready.
inline constexpr std::string_view kConditionTemplateApproved = "TemplateApproved";
inline constexpr std::string_view kReasonApproved = "Approved";
inline constexpr std::string_view kReasonTemplateMissing = "TemplateMissing";
inline constexpr std::string_view kReasonTemplatePending = "TemplatePending";
inline constexpr std::string_view kReasonTemplateRejected = "TemplateRejected";
inline constexpr std::string_view kReasonTemplateNotApproved = "TemplateNotApproved";
inline constexpr std::string_view kReasonTemplateUnknown = "TemplateUnknown";
// Events about quality ratings.
inline constexpr std::string_view kReasonQualityDropped = "QualityDropped";
inline constexpr std::string_view kReasonQualityRecovered = "QualityRecovered";

// Quality ratings as the operator reports them; Meta's NA becomes UNKNOWN.
inline constexpr std::string_view kQualityGreen = "GREEN";
inline constexpr std::string_view kQualityYellow = "YELLOW";
inline constexpr std::string_view kQualityRed = "RED";
inline constexpr std::string_view kQualityUnknown = "UNKNOWN";

struct OwnerReference {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
  bool controller = false;
  bool block_owner_deletion = false;
  friend bool operator==(const OwnerReference&, const OwnerReference&) = default;
};

struct ObjectMeta {
  std::string name;
  std::string ns;  // metadata.namespace; empty for cluster-scoped objects
  std::string uid;
  std::string resource_version;
  int64_t generation = 0;
  WallTime creation_timestamp{};
  std::optional<WallTime> deletion_timestamp;  // set once deletion has been requested
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;  // only kAnnotationPrefix ones
  std::vector<std::string> finalizers;
  std::vector<OwnerReference> owner_references;

  bool deleting() const { return deletion_timestamp.has_value(); }
  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

enum class ConditionStatus { kTrue, kFalse, kUnknown };

// "True", "False" or "Unknown", as metav1.ConditionStatus spells them.
std::string_view ConditionStatusName(ConditionStatus status);

// metav1.Condition.
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::kUnknown;
  std::string reason;
  std::string message;
  int64_t observed_generation = 0;
  WallTime last_transition_time{};
  friend bool operator==(const Condition&, const Condition&) = default;
};

struct AssignmentSpec {
  std::string tenant_id;             // required, immutable, a label value
  std::string tenant_name;           // optional, <=200 code points
  std::string phone_number_id;       // required, 1-32 digits
  std::string display_phone_number;  // optional, E.164 with optional spaces
  bool enabled = true;
  std::string default_language = std::string(kDefaultLanguage);
  friend bool operator==(const AssignmentSpec&, const AssignmentSpec&) = default;
};

struct AssignmentStatus {
  std::optional<int64_t> observed_generation;
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating;
  std::optional<WallTime> quality_checked_at;
  std::string settings_config_map;
  std::vector<Condition> conditions;  // at most one per type
  friend bool operator==(const AssignmentStatus&, const AssignmentStatus&) = default;
};

struct Assignment {
  ObjectMeta metadata;
  AssignmentSpec spec;
  AssignmentStatus status;
  friend bool operator==(const Assignment&, const Assignment&) = default;
};

// Who holds a phone number, as WhatsAppPhoneNumber.status.assignment shows it.
struct PhoneAssignmentRef {
  std::string ns;
  std::string name;
  std::string tenant_id;
  std::string tenant_name;
  friend bool operator==(const PhoneAssignmentRef&, const PhoneAssignmentRef&) = default;
};

struct PhoneNumberStatus {
  std::string display_phone_number;
  std::string verified_name;
  std::string quality_rating;
  std::string messaging_limit_tier;
  std::optional<WallTime> last_sync_time;
  std::optional<PhoneAssignmentRef> assignment;  // none: the number is free
  std::vector<Condition> conditions;             // optional observations, keyed by type
  friend bool operator==(const PhoneNumberStatus&, const PhoneNumberStatus&) = default;
};

// Spec-less: the object's name is the Meta phone number id.
struct PhoneNumber {
  ObjectMeta metadata;
  PhoneNumberStatus status;
  friend bool operator==(const PhoneNumber&, const PhoneNumber&) = default;
};

// Returns the condition of `type`, or nullptr.
const Condition* FindCondition(const std::vector<Condition>& conditions, std::string_view type);

}  // namespace waop::api
