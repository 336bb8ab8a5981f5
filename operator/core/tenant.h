// The tenant-service sink, as pure rules (SPEC section 4): what the platform's admin API shows for
// a tenant (a row), what the operator wants it to show (a target, from a bound assignment), the
// calls that bring one to the other, the drift between all rows and all bindings, and the
// export of rows as WhatsAppAssignment YAML (the way a platform moves onto assignments).
//
// No HTTP here: operator/tenant/ talks to the service, controller/tenant_sink.h executes the
// calls these functions decide.
//
// Secrets: a row never carries the values of the legacy per-tenant keys
// (whatsapp_access_token, ...), only which of them were present (TenantRow::legacy_keys), so
// nothing computed from a row can print them.
//
// Thread-safety: value types and pure functions.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "core/status.h"

namespace waop::core {

// The legacy per-tenant keys a row may still hold (a migration to do).
inline constexpr std::string_view kLegacyTenantKeys[] = {
    "whatsapp_access_token", "whatsapp_business_account_id", "whatsapp_api_version"};

// One row of GET /api/v1/admin/whatsapp/tenants.
struct TenantRow {
  std::string tenant_id;
  std::string tenant_name;
  bool whatsapp_enabled = false;
  std::string phone_number_id;  // "" = no number assigned
  std::string display_phone_number;
  // The names (never the values) of the legacy keys the row holds with a non-empty value.
  std::vector<std::string> legacy_keys;
  friend bool operator==(const TenantRow&, const TenantRow&) = default;
};

// What a bound assignment wants its tenant's row to show.
struct TenantTarget {
  std::string tenant_id;
  std::string phone_number_id;
  std::string display_phone_number;  // "" = whatever the service shows
  friend bool operator==(const TenantTarget&, const TenantTarget&) = default;
};

// Whether `row` shows `target`: the same phone number id and, when the target has one, the same
// display number compared by its digits (so "+34 612 345 678" and "+34612345678" agree and a
// format difference costs no call). whatsapp_enabled is not compared: the admin API has no way to
// set it (assign-phone enables, unassign-phone disables); spec.enabled reaches the notification
// service through the settings ConfigMap.
bool RowShows(const TenantRow& row, const TenantTarget& target);

enum class TenantCallKind { kAssign, kUnassign };
struct TenantCall {
  TenantCallKind kind = TenantCallKind::kAssign;
  std::string tenant_id;
  std::string phone_number_id;       // kAssign only
  std::string display_phone_number;  // kAssign only
  friend bool operator==(const TenantCall&, const TenantCall&) = default;
};

// The calls that make the tenant's row show `target`, given the row last seen (nullopt: the
// service listed no such tenant): none when it already does; an unassign first when it holds
// another number or another display of it (the admin API refuses to assign over an assigned
// number), then the assign.
std::vector<TenantCall> CallsToShow(const std::optional<TenantRow>& row,
                                    const TenantTarget& target);

// A tenant row that holds a number no bound assignment gives it.
struct UnexpectedRow {
  TenantRow row;
};

// The difference between every row and every binding, at one refresh.
struct TenantDrift {
  // Tenants with a bound assignment whose row does not show it (or that the service did not
  // list): their assignments are reconciled again, which makes the calls.
  std::vector<std::string> differing;
  // Rows holding a number although no bound assignment gives the tenant one (and none of its
  // assignments is being released): reported, and unassigned only with --tenant-prune.
  std::vector<TenantRow> unexpected;
  // Rows that still hold legacy per-tenant keys.
  std::vector<TenantRow> legacy;
};

// `targets`: one per bound assignment. `releasing`: tenants whose assignment is being deleted
// (their finalizer makes the call; a row of theirs is not unexpected).
TenantDrift DiffTenants(const std::vector<TenantTarget>& targets,
                        const std::vector<TenantRow>& rows,
                        const std::set<std::string, std::less<>>& releasing);

// The Ready condition of an assignment being deleted while the tenant service has not yet
// unassigned its number: Ready=False Releasing, naming the number, the tenant and the cause.
api::AssignmentStatus ReleasingStatus(const api::Assignment& live, std::string_view cause,
                                      WallTime now);

// ---- export: rows to WhatsAppAssignment YAML ----

// A DNS-1123 label (<= 63 characters) from a tenant name: Latin letters with accents lose them
// ("Panadería" -> "panaderia"), anything else that is not a letter or digit becomes a hyphen,
// runs of hyphens collapse, and the ends are trimmed. Falls back to "tenant-" plus the tenant id
// made valid the same way when the name gives nothing.
std::string AssignmentNameFor(std::string_view tenant_name, std::string_view tenant_id);

struct ExportedAssignment {
  std::string name;  // metadata.name, unique within the export
  std::string yaml;  // one YAML document (no "---"), comments first
};

struct ExportResult {
  std::vector<ExportedAssignment> assignments;  // in the order they must be applied
  // Rows that were not exported, each with the reason ("tenant X: no phone number assigned").
  std::vector<std::string> skipped;
  // How many exported assignments will not bind (a shared number or tenant).
  int losers = 0;
};

// The assignments that reproduce `rows` in namespace `ns`: one per row that holds a phone number
// and whose values pass the operator's own validation. Names come from tenant names
// (AssignmentNameFor), made unique with -2, -3, ... in the order of (name, tenant id). Rows that
// share a number or a tenant are resolved with the binding rule as kubectl apply will create
// them: in file order, so creation times never decrease down the file, and ties within one
// second go to namespace/name, which is the file order too (documents are sorted by name). The
// first of each group binds; the others carry a comment saying who wins and why.
ExportResult ExportAssignments(const std::vector<TenantRow>& rows, std::string_view ns);

// All documents of `result` as one YAML stream with a header comment (source, counts, skipped
// rows).
std::string ExportYamlStream(const ExportResult& result, std::string_view source);

}  // namespace waop::core
