#include "manager/lease_client.h"

namespace waop::manager {
Result<controller::LeaseRecord> KubeLeaseClient::Get(const std::string& ns,
                                                     const std::string& name) {
  auto lease = client_.Get(kube::resources::kLeases, ns, name);
  if (!lease.ok()) return lease.status();
  return controller::LeaseFromJson(*lease);
}

Result<controller::LeaseRecord> KubeLeaseClient::Create(const std::string& ns,
                                                        const std::string& name,
                                                        const controller::LeaseRecord& record) {
  auto lease = client_.Create(kube::resources::kLeases, controller::LeaseToJson(ns, name, record));
  if (!lease.ok()) return lease.status();
  return controller::LeaseFromJson(*lease);
}

Result<controller::LeaseRecord> KubeLeaseClient::Update(const std::string& ns,
                                                        const std::string& name,
                                                        const controller::LeaseRecord& record) {
  auto lease = client_.Update(kube::resources::kLeases, controller::LeaseToJson(ns, name, record));
  if (!lease.ok()) return lease.status();
  return controller::LeaseFromJson(*lease);
}

}  // namespace waop::manager
