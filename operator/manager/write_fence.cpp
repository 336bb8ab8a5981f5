#include "manager/write_fence.h"

#include <utility>

namespace waop::manager {

bool WriteFence::MayWrite() const {
  std::lock_guard lock(mu_);
  return open_ && (!still_leading_ || still_leading_());
}

void WriteFence::Open(std::function<bool()> still_leading) {
  std::lock_guard lock(mu_);
  open_ = true;
  still_leading_ = std::move(still_leading);
}

void WriteFence::Close() {
  std::lock_guard lock(mu_);
  open_ = false;
  still_leading_ = nullptr;
}

Status FencedClient::Check(const char* verb, const kube::ResourceType& type,
                           std::string_view name) {
  if (fence_.MayWrite()) return Status::Ok();
  fence_.CountRefused();
  return Status::Unavailable(std::string(verb) + " " + type.resource + " " + std::string(name) +
                             ": refused, this replica is not the leader (or its Lease was not "
                             "renewed within the renew deadline)");
}

Result<nlohmann::json> FencedClient::Create(const kube::ResourceType& type,
                                            const nlohmann::json& object) {
  WAOP_RETURN_IF_ERROR(Check("create", type, kube::ObjectName(object)));
  return inner_.Create(type, object);
}

Result<nlohmann::json> FencedClient::Update(const kube::ResourceType& type,
                                            const nlohmann::json& object) {
  WAOP_RETURN_IF_ERROR(Check("update", type, kube::ObjectName(object)));
  return inner_.Update(type, object);
}

Result<nlohmann::json> FencedClient::UpdateStatus(const kube::ResourceType& type,
                                                  const nlohmann::json& object) {
  WAOP_RETURN_IF_ERROR(Check("update status of", type, kube::ObjectName(object)));
  return inner_.UpdateStatus(type, object);
}

Result<nlohmann::json> FencedClient::Patch(const kube::ResourceType& type, std::string_view ns,
                                           std::string_view name, kube::PatchType patch_type,
                                           const nlohmann::json& patch,
                                           std::string_view subresource) {
  WAOP_RETURN_IF_ERROR(Check("patch", type, name));
  return inner_.Patch(type, ns, name, patch_type, patch, subresource);
}

Status FencedClient::Delete(const kube::ResourceType& type, std::string_view ns,
                            std::string_view name, const kube::DeleteOptions& options) {
  WAOP_RETURN_IF_ERROR(Check("delete", type, name));
  return inner_.Delete(type, ns, name, options);
}

}  // namespace waop::manager
