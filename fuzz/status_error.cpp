// A non-2xx answer: a Retry-After header (the first line of the input) and a body that may be
// a metav1.Status, through ParseApiError, ToStatus and RetryAfterHint.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/api_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view header = nl == std::string_view::npos ? "" : in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? in : in.substr(nl + 1);
  const int code = size > 0 ? 400 + data[0] % 200 : 500;
  waop::kube::HttpHeaders headers;
  if (!header.empty()) headers.emplace_back("Retry-After", std::string(header));
  waop::kube::ApiError error = waop::kube::ParseApiError(code, headers, body);
  if (error.retry_after &&
      (error.retry_after->count() < 0 || *error.retry_after > waop::kube::kMaxRetryAfter)) {
    __builtin_trap();  // the clamp is the contract
  }
  waop::Status s = error.ToStatus("get things");
  (void)waop::kube::RetryAfterHint(s);
  (void)waop::kube::ApiErrorFromStatusJson(body).ToStatus("watch");
  return 0;
}
