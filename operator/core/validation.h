// Rules for WhatsAppAssignment values: everything the CRD's openAPIV3Schema checks (so the
// admission webhook and the controller agree with the API server even when the CRD is an older
// version), plus what a schema cannot say: the update rule (tenantId is immutable) and text
// rules on tenantName. Messages are what an admin reads in `kubectl apply`: the field path, what
// was expected, and what was given.
//
// The exact rules, shared with crds/ (keep them in step):
// - metadata.name: a DNS-1123 subdomain of at most 235 characters, so that
//   "whatsapp-settings-<name>" stays within 253.
// - spec.tenantId: required; a label value: at most 63 characters matching
//   ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9].
// - spec.tenantName: optional; at most 200 Unicode code points (not bytes); valid UTF-8; no C0
//   control characters or DEL (the CRD's ^[^\x00-\x1F\x7F]*$).
// - spec.phoneNumberId: required; ^[0-9]{1,32}$.
// - spec.displayPhoneNumber: optional; ^\+[1-9]( ?[0-9]){6,14}$, that is "+", then 7-15 digits
//   in all (E.164's maximum is 15), with single spaces allowed between digits only.
// - spec.defaultLanguage: ^[a-z]{2,3}(_[A-Z]{2})?$ (es, en_US, pt_BR, fil).
//
// Thread-safety: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "api/field_errors.h"
#include "api/types.h"

namespace waop::core {

inline constexpr size_t kMaxLabelValueLength = 63;
inline constexpr size_t kMaxTenantNameCodePoints = 200;
inline constexpr size_t kMaxPhoneNumberIdDigits = 32;
inline constexpr size_t kMaxDns1123SubdomainLength = 253;
// 253 minus the length of "whatsapp-settings-".
inline constexpr size_t kMaxAssignmentNameLength = 235;

// Number of Unicode code points in UTF-8 `text`; nullopt when it is not valid UTF-8
// (overlong forms, surrogates, truncated sequences and values above U+10FFFF are invalid).
std::optional<size_t> CountCodePoints(std::string_view text);

// Non-empty Kubernetes label value (the empty value is valid for labels but not for tenantId).
bool IsLabelValue(std::string_view value);
bool IsDns1123Subdomain(std::string_view value);
bool IsPhoneNumberId(std::string_view value);
bool IsDisplayPhoneNumber(std::string_view value);
bool IsLanguageCode(std::string_view value);

// Spec rules, paths under "spec.". Empty result: valid.
api::FieldErrors ValidateAssignmentSpec(const api::AssignmentSpec& spec);
// Create rules: metadata.name (when set; an empty name is the API server's to fill from
// generateName) and the spec.
api::FieldErrors ValidateAssignment(const api::Assignment& assignment);
// Update rules: everything ValidateAssignment checks on `updated`, plus immutability
// ("spec.tenantId: field is immutable").
api::FieldErrors ValidateAssignmentUpdate(const api::Assignment& old_assignment,
                                          const api::Assignment& updated);

}  // namespace waop::core
