// The tenant service's answers: a GET .../tenants body through ParseTenantList, and an error
// body through TenantErrorStatus (the first byte picks the HTTP status). Beyond "does not
// crash": every row that parses has a non-empty tenant id and a phone number id of digits only,
// only known legacy key names are reported, and the value of a legacy key never reaches a row
// or an error message (the seeds' "SECRET-" marker).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tenant/tenant_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto rows = waop::tenant::ParseTenantList(in);
  if (rows.ok()) {
    for (const auto& r : *rows) {
      if (r.tenant_id.empty()) __builtin_trap();
      if (r.phone_number_id.find_first_not_of("0123456789") != std::string::npos) {
        __builtin_trap();
      }
      for (const auto& key : r.legacy_keys) {
        bool known = false;
        for (std::string_view k : waop::core::kLegacyTenantKeys) known |= key == k;
        if (!known) __builtin_trap();
      }
    }
  } else if (rows.status().message().find("SECRET-") != std::string::npos) {
    // An error names fields and types, never a value from the answer.
    __builtin_trap();
  }
  const int status = size > 0 ? 400 + data[0] % 200 : 500;
  waop::Status s = waop::tenant::TenantErrorStatus(status, in, "GET /tenants");
  if (s.ok() || s.message().size() > 1000) __builtin_trap();
  return 0;
}
