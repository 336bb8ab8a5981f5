// An API server's answer as the Kubernetes transport reads it (operator/kube/http_connection.cpp):
// status line, headers, then a Content-Length, chunked or read-to-close body. Any bytes give an
// answer or an error, never a crash, a hang or a body longer than what was sent.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto answer = waop::kube::ReadHttpAnswerForTesting(bytes);
  if (answer.ok()) {
    if (answer->body.size() > size) __builtin_trap();
    if (answer->status < 100 || answer->status > 999) __builtin_trap();
  }
  return 0;
}
