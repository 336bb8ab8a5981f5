// Used only until devserver_admission exists: allows every request, so the server builds and
// runs while the real dispatcher is written. CMakeLists.txt picks it when the target is absent.
#include "admission/webhook_dispatcher.h"

namespace devserver {

struct WebhookDispatcher::Impl {};

WebhookDispatcher::WebhookDispatcher() : impl_(std::make_unique<Impl>()) {}
WebhookDispatcher::~WebhookDispatcher() = default;

AdmissionResult WebhookDispatcher::Validate(
    const std::vector<nlohmann::json>&, const AdmissionAttributes&,
    const std::function<nlohmann::json(const std::string&)>&) {
  return AdmissionResult{};
}

int WebhookDispatcher::CallsAttempted() const { return 0; }

}  // namespace devserver
