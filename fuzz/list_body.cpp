// A list answer's body through the REST client's List (as the informer pages a list), then the
// checks the informer makes of each item.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "kube/client.h"
#include "kube/http.h"

namespace {

class BodyTransport final : public waop::kube::HttpTransport {
 public:
  std::string body;
  int status = 200;
  waop::Result<waop::kube::HttpResponse> Send(const waop::kube::HttpRequest&) override {
    return waop::kube::HttpResponse{status, {}, body};
  }
  waop::Result<waop::kube::StreamResponse> Stream(const waop::kube::HttpRequest&) override {
    return waop::Status::Unavailable("no streams here");
  }
  std::string Endpoint() const override { return "fuzz"; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto transport = std::make_shared<BodyTransport>();
  static auto client = waop::kube::NewRestClient(transport);
  // The first byte picks a 2xx answer or an error code, so both paths are reached.
  transport->status = size > 0 && data[0] >= 0xF0 ? 400 + data[0] % 104 : 200;
  transport->body.assign(reinterpret_cast<const char*>(data), size);
  auto list = client->List(waop::kube::resources::kWhatsAppAssignments, "ns", {});
  if (!list.ok()) {
    (void)list.status().ToString();
    return 0;
  }
  for (const auto& item : list->items) {
    if (waop::kube::ValidateObjectMeta(item).ok()) (void)waop::kube::ObjectKey(item);
  }
  auto got = client->Get(waop::kube::resources::kLeases, "ns", "n");
  if (got.ok()) (void)waop::kube::ObjectKey(*got);
  return 0;
}
