// The RBAC rules the operator's code needs (SPEC section 7: least privilege), from one table in
// rbac.cpp that lists every resource and verb the operator's clients use, and `--print-rbac`,
// which prints them as a ClusterRole and a Role (YAML). The Helm chart's RBAC is written from this
// output and tests/chart compares the two; the end-to-end tests check every request the operator
// makes against docs/operating.md's Permissions table, which says the same.
//
// The rules depend on flags: with --publish-credentials=false no Secrets are watched or written
// cluster-wide; with --webhook-port=0 or --webhook-cert-dir the operator neither keeps the webhook
// Secret nor injects the caBundle; without --leader-elect it uses no Lease.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "app/options.h"

namespace waop::app {

struct RbacRule {
  std::string api_group;                    // "" = core
  std::vector<std::string> resources;       // "whatsappassignments/status" for a subresource
  std::vector<std::string> verbs;           // sorted as Kubernetes lists them: get, list, watch...
  std::vector<std::string> resource_names;  // empty = any name
  std::string why;                          // one line, printed as a comment
};

struct RbacRules {
  std::vector<RbacRule> cluster;  // a ClusterRole
  // A Role in the operator's namespace (the Lease and the webhook Secret); `role_namespace` is
  // "" when that is the pod's namespace (the Helm release's), else the flag that moved it.
  std::vector<RbacRule> role;
  std::string role_namespace;
};

// The rules the code needs when run with `o`.
RbacRules RequiredRbac(const Options& o);

// RequiredRbac as YAML: a ClusterRole and a Role, both named whatsapp-operator, with comments.
std::string RbacYaml(const Options& o);

}  // namespace waop::app
