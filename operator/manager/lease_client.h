// The election's LeaseClient over the Kubernetes client: coordination.k8s.io/v1 Lease objects
// (wire form: controller::LeaseToJson / LeaseFromJson), with optimistic concurrency through
// resourceVersion.
//
// Thread-safety: thread-safe (the kube client is). Borrows the client.
#pragma once

#include <nlohmann/json.hpp>

#include "controller/leader_election.h"
#include "kube/client.h"

namespace waop::manager {

class KubeLeaseClient final : public controller::LeaseClient {
 public:
  explicit KubeLeaseClient(kube::Client& client) : client_(client) {}
  Result<controller::LeaseRecord> Get(const std::string& ns, const std::string& name) override;
  Result<controller::LeaseRecord> Create(const std::string& ns, const std::string& name,
                                         const controller::LeaseRecord& record) override;
  Result<controller::LeaseRecord> Update(const std::string& ns, const std::string& name,
                                         const controller::LeaseRecord& record) override;

 private:
  kube::Client& client_;
};

}  // namespace waop::manager
