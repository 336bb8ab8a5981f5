// The informer cache's packed form (operator/kube/pack.h): any JSON document the API server
// could send comes back from Pack/Unpack exactly, and bytes that are not a packed document are
// refused with an exception, never misread or crashed on.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <stdexcept>
#include <vector>

#include "kube/pack.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nlohmann::json;
  // As JSON text: the round trip is exact.
  json doc = json::parse(data, data + size, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_discarded()) {
    std::vector<std::uint8_t> packed;
    waop::kube::PackJson(doc, packed);
    json back = waop::kube::UnpackJson(packed);
    if (back != doc) __builtin_trap();
    if (back.dump(-1, ' ', false, json::error_handler_t::replace) !=
        doc.dump(-1, ' ', false, json::error_handler_t::replace)) {
      __builtin_trap();
    }
  }
  // As packed bytes: a document or an exception.
  try {
    json any = waop::kube::UnpackJson(std::span<const std::uint8_t>(data, size));
    std::vector<std::uint8_t> again;
    waop::kube::PackJson(any, again);
    if (waop::kube::UnpackJson(again) != any) __builtin_trap();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
