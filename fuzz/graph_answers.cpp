// Meta Graph API answers as the Graph client reads them: a page of phone numbers, a page of
// templates, one number, an error body with an HTTP status, and a usage header. The first
// byte picks the HTTP status for the error path; the rest is the body.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "meta/graph_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int http_status = 400 + data[0] % 200;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  (void)waop::meta::ParsePhoneNumberPage(body);
  (void)waop::meta::ParseTemplatePage(body);
  (void)waop::meta::ParsePhoneNumber(body);
  const waop::Status s = waop::meta::GraphErrorStatus(http_status, body, "list phone numbers");
  if (s.ok()) __builtin_trap();  // a non-2xx answer is never success
  if (auto usage = waop::meta::ParseUsageHeader(body); usage && (*usage < 0 || *usage > 100)) {
    __builtin_trap();  // clamped to 0..100 by contract
  }
  return 0;
}
