// WhatsAppAssignment / WhatsAppPhoneNumber JSON (with their conditions and times) into the api
// types, and a parsed value back out to JSON and in again: what parses must round-trip.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "api/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto j = waop::api::ParseJsonText(in);
  if (!j.ok()) return 0;
  auto a = waop::api::ParseAssignment(*j);
  if (a.ok()) {
    auto again = waop::api::ParseAssignment(waop::api::ToJson(*a));
    if (!again.ok()) __builtin_trap();
  } else {
    (void)a.status().message();
  }
  auto p = waop::api::ParsePhoneNumber(*j);
  if (p.ok()) {
    auto again = waop::api::ParsePhoneNumber(waop::api::ToJson(*p));
    if (!again.ok()) __builtin_trap();
  }
  return 0;
}
