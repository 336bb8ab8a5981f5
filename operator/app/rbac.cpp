#include "app/rbac.h"

namespace waop::app {

// Every API path the operator touches, found by grepping operator/ for the kube::Client calls
// (Get, List, Watch via kube::Informer, Create, Update, UpdateStatus, Patch, Delete) and the
// ResourceTypes they name (kube/client.h resources::k*, webhook/cert_manager.h
// kValidatingWebhookConfigurations):
//
//   app/run.cpp                      informers: whatsappassignments, configmaps (managed-by label),
//                                    whatsappphonenumbers (list, watch)
//   app/credentials_wiring.cpp       informer: secrets (managed-by label, name) with publishing
//   controller/assignment_reconciler status of both kinds (update), configmaps (get, create,
//                                    patch, delete), whatsappphonenumbers (create, delete),
//                                    whatsappassignments (patch: the finalizer, SetFinalizers)
//   controller/credentials_publisher secrets (get, create, patch, delete)
//   controller/event_recorder        events (create, get, patch: aggregation)
//   manager/lease_client, manager.cpp leases (get, create, update; list, watch of one name)
//   webhook/cert_manager             secrets (get, create, update: the webhook Secret),
//                                    validatingwebhookconfigurations (get, update: caBundle)
//
// Namespaces are never read (kube::resources::kNamespaces is unused), Pods neither (Events name
// the operator's Pod from POD_NAME / POD_NAMESPACE, which needs no read). Settings ConfigMaps
// carry a controller ownerReference with blockOwnerDeletion, which API servers enforcing
// owner-reference permissions allow only to whoever may update the owner's finalizers: hence
// whatsappassignments/finalizers, though no request goes there.
RbacRules RequiredRbac(const Options& o) {
  RbacRules r;
  const std::string group = "whatsapp.bakery-ia.io";
  r.cluster.push_back({group,
                       {"whatsappassignments"},
                       {"list", "watch", "patch"},
                       {},
                       "the informer; the finalizer (a merge patch with a resourceVersion)"});
  r.cluster.push_back({group,
                       {"whatsappassignments/status"},
                       {"update"},
                       {},
                       "Ready, Reconciling, Stalled, quality and the settings ConfigMap's name"});
  r.cluster.push_back({group,
                       {"whatsappassignments/finalizers"},
                       {"update"},
                       {},
                       "blockOwnerDeletion on the settings ConfigMaps' ownerReference"});
  r.cluster.push_back({group,
                       {"whatsappphonenumbers"},
                       {"list", "watch", "create", "delete"},
                       {},
                       "the inventory: one object per number Meta lists"});
  r.cluster.push_back({group,
                       {"whatsappphonenumbers/status"},
                       {"update"},
                       {},
                       "Meta's fields, QualitySynced and status.assignment"});
  r.cluster.push_back({"",
                       {"configmaps"},
                       {"get", "list", "watch", "create", "patch", "delete"},
                       {},
                       "the tenants' settings ConfigMaps (watched by the managed-by label)"});
  if (o.publish_credentials) {
    r.cluster.push_back({"",
                         {"secrets"},
                         {"get", "list", "watch", "create", "patch", "delete"},
                         {},
                         "Secret whatsapp-master-credentials in namespaces with assignments "
                         "(--publish-credentials)"});
  }
  r.cluster.push_back({"",
                       {"events"},
                       {"get", "create", "patch"},
                       {},
                       "Events on assignments, phone numbers, Secrets and the operator's Pod"});
  const bool manages_certs = o.webhook_port != 0 && o.webhook_cert_dir.empty();
  if (manages_certs) {
    r.cluster.push_back({"admissionregistration.k8s.io",
                         {"validatingwebhookconfigurations"},
                         {"get", "update"},
                         {o.webhook_configuration_name},
                         "the CA in the caBundle (not with --webhook-cert-dir)"});
  }
  if (o.leader_elect) {
    r.role.push_back({"coordination.k8s.io",
                      {"leases"},
                      {"get", "list", "watch", "create", "update"},
                      {},
                      "leader election (--leader-elect)"});
  }
  if (manages_certs) {
    r.role.push_back({"",
                      {"secrets"},
                      {"get", "update"},
                      {o.webhook_secret_name},
                      "the webhook's CA and serving certificate, shared by the replicas"});
    r.role.push_back({"",
                      {"secrets"},
                      {"create"},
                      {},
                      "the first replica creates that Secret (create cannot be limited by name)"});
  }
  // Both namespaced objects default to the pod's namespace; a flag may move one of them. The
  // Role then says where (should the two flags name different namespaces, it names the Lease's:
  // the webhook Secret's rules then belong in a second Role there).
  if (o.leader_elect && !o.leader_election_namespace.empty()) {
    r.role_namespace = o.leader_election_namespace;
  } else if (manages_certs) {
    r.role_namespace = o.webhook_secret_namespace;
  }
  return r;
}

namespace {

std::string FlowList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += "\"" + items[i] + "\"";
  }
  return out + "]";
}

std::string RulesYaml(const std::vector<RbacRule>& rules) {
  if (rules.empty()) return "rules: []\n";
  std::string out = "rules:\n";
  for (const auto& rule : rules) {
    out += "# " + rule.why + "\n";
    out += "- apiGroups: " + FlowList({rule.api_group}) + "\n";
    out += "  resources: " + FlowList(rule.resources) + "\n";
    if (!rule.resource_names.empty()) {
      out += "  resourceNames: " + FlowList(rule.resource_names) + "\n";
    }
    out += "  verbs: " + FlowList(rule.verbs) + "\n";
  }
  return out;
}

}  // namespace

std::string RbacYaml(const Options& o) {
  const RbacRules r = RequiredRbac(o);
  std::string out =
      "# The RBAC rules whatsapp-operator needs with the flags given (--print-rbac).\n"
      "# Bind the ClusterRole and the Role to the operator's ServiceAccount.\n"
      "apiVersion: rbac.authorization.k8s.io/v1\n"
      "kind: ClusterRole\n"
      "metadata:\n"
      "  name: whatsapp-operator\n" +
      RulesYaml(r.cluster) +
      "---\n"
      "# In the operator's namespace: the leader election Lease and the webhook Secret.\n"
      "apiVersion: rbac.authorization.k8s.io/v1\n"
      "kind: Role\n"
      "metadata:\n"
      "  name: whatsapp-operator\n";
  if (!r.role_namespace.empty()) out += "  namespace: " + r.role_namespace + "\n";
  return out + RulesYaml(r.role);
}

}  // namespace waop::app
