// The ClusterView the assignment reconciler reads in the operator: three informers' stores
// (WhatsAppAssignments with the phone number and tenant indexes, the operator's ConfigMaps,
// WhatsAppPhoneNumbers). Tests that run the reconciler over real informers (against a fake
// client or the dev server) use it too.
//
// Thread-safety: safe for concurrent reads (the stores are). Ownership: borrows the informers,
// which must outlive the view.
#pragma once

#include "common/status.h"
#include "controller/cluster_view.h"
#include "kube/informer.h"

namespace waop::controller {

// The index names InformerView reads; AddAssignmentIndexes registers them.
inline constexpr char kPhoneIndex[] = "phoneNumberId";
inline constexpr char kTenantIndex[] = "tenantId";

// Adds the by-phone-number and by-tenant indexes (spec.phoneNumberId, spec.tenantId) to an
// assignments informer, before it starts. Informer::AddIndex's error otherwise.
[[nodiscard]] Status AddAssignmentIndexes(kube::Informer& assignments);

class InformerView final : public ClusterView {
 public:
  InformerView(const kube::Informer& assignments, const kube::Informer& config_maps,
               const kube::Informer& phone_numbers)
      : assignments_(assignments), config_maps_(config_maps), phone_numbers_(phone_numbers) {}
  ObjectPtr GetAssignment(std::string_view key) const override;
  // Empty when the assignments informer lacks the indexes (AddAssignmentIndexes).
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override;
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override;
  ObjectPtr GetConfigMap(std::string_view ns, std::string_view name) const override;
  ObjectPtr GetPhoneNumber(std::string_view id) const override;

 private:
  const kube::Informer& assignments_;
  const kube::Informer& config_maps_;
  const kube::Informer& phone_numbers_;
};

}  // namespace waop::controller
