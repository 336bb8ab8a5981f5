// The pure half of the tenant-service client: reading its answers into values and Status codes.
// No HTTP, no exceptions: a malformed answer is a kInternal Status naming the field and what was
// expected, and nesting deeper than 64 levels is refused before parsing.
//
// Secrets: the values of the legacy per-tenant keys are never copied out of the answer (only
// which keys were present), so no Status or row can carry them.
//
// Thread-safety: free functions without shared state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "core/tenant.h"

namespace waop::tenant {

inline constexpr size_t kMaxTenantAnswerBytes = 32 * 1024 * 1024;

// The rows of a GET .../tenants answer: a JSON array of rows, or an object holding one under
// "tenants", "items" or "data". Each row is an object with a string (or integer) "tenant_id";
// tenant_name and display_phone_number are strings or null; phone_number_id a string of digits,
// an integer, or null/"" (no number); whatsapp_enabled a boolean or null. Unknown members are
// ignored. kInternal names the first bad field, e.g. "tenants[3].phone_number_id: expected a
// string of digits, got an object".
Result<std::vector<core::TenantRow>> ParseTenantList(std::string_view body);

// The service's own message in an error answer: "detail" (a string, or FastAPI's list of
// {"msg": ...}), "message" or "error"; else the body's first 200 bytes made printable; "" for
// an empty body.
std::string TenantServiceMessage(std::string_view body);

// The Status for an answer with a non-2xx HTTP status (see tenant_client.h), message
// "<what>: HTTP <status>: <the service's message>".
Status TenantErrorStatus(int http_status, std::string_view body, std::string_view what);

}  // namespace waop::tenant
