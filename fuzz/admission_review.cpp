// An AdmissionReview body as the API server would POST it to the validating webhook, decided
// by AdmissionHandler against a cache holding one assignment (so the duplicate paths run too).
// Whatever the bytes, the answer is an HTTP status the handler documents and a JSON body.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "webhook/admission_handler.h"

namespace {

using waop::controller::ObjectPtr;

// One cached holder: tenant "san-juan" on number 123456789012345.
class OneHolderView : public waop::controller::ClusterView {
 public:
  OneHolderView()
      : holder_(std::make_shared<const nlohmann::json>(nlohmann::json::parse(R"({
          "apiVersion": "whatsapp.bakery-ia.io/v1alpha1", "kind": "WhatsAppAssignment",
          "metadata": {"name": "san-juan", "namespace": "bakery", "uid": "u-1",
                       "creationTimestamp": "2026-01-01T00:00:00Z", "generation": 1},
          "spec": {"tenantId": "san-juan", "tenantName": "Panadería San Juan",
                   "phoneNumberId": "123456789012345"}})"))) {}
  ObjectPtr GetAssignment(std::string_view key) const override {
    return key == "bakery/san-juan" ? holder_ : nullptr;
  }
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    return id == "123456789012345" ? std::vector<ObjectPtr>{holder_} : std::vector<ObjectPtr>{};
  }
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    return id == "san-juan" ? std::vector<ObjectPtr>{holder_} : std::vector<ObjectPtr>{};
  }
  ObjectPtr GetConfigMap(std::string_view, std::string_view) const override { return nullptr; }
  ObjectPtr GetPhoneNumber(std::string_view) const override { return nullptr; }

 private:
  ObjectPtr holder_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const OneHolderView view;
  static const waop::RealClock clock;
  static const waop::webhook::AdmissionHandler handler(view, clock);
  const waop::webhook::HttpAnswer a =
      handler.Handle(std::string_view(reinterpret_cast<const char*>(data), size));
  if (a.status != 200 && a.status != 400 && a.status != 413) __builtin_trap();
  if (!nlohmann::json::accept(a.body)) __builtin_trap();  // the answer is always JSON
  return 0;
}
