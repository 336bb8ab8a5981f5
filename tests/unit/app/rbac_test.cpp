#include "app/rbac.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "app/options.h"

namespace waop::app {
namespace {

// "verb group/resource[@name]" for every rule, so a test reads like the Permissions table.
std::set<std::string> Grants(const std::vector<RbacRule>& rules) {
  std::set<std::string> out;
  for (const auto& r : rules) {
    for (const auto& res : r.resources) {
      for (const auto& verb : r.verbs) {
        if (r.resource_names.empty()) {
          out.insert(verb + " " + r.api_group + "/" + res);
        }
        for (const auto& name : r.resource_names) {
          out.insert(verb + " " + r.api_group + "/" + res + "@" + name);
        }
      }
    }
  }
  return out;
}

Options Parse(const std::vector<std::string>& args) {
  auto o = ParseOptions(args);
  EXPECT_TRUE(o.ok()) << o.status().message();
  return o.ok() ? *o : Options{};
}

TEST(RbacTest, PrintRbacIsAFlag) {
  EXPECT_TRUE(Parse({"--print-rbac"}).print_rbac);
  EXPECT_FALSE(Parse({}).print_rbac);
  EXPECT_NE(Usage().find("--print-rbac"), std::string::npos);
}

TEST(RbacTest, DefaultsGrantWhatTheCodeCalls) {
  const RbacRules r = RequiredRbac(Parse({"--leader-elect"}));
  const auto cluster = Grants(r.cluster);
  for (const char* want : {
           "list whatsapp.bakery-ia.io/whatsappassignments",
           "watch whatsapp.bakery-ia.io/whatsappassignments",
           "patch whatsapp.bakery-ia.io/whatsappassignments",  // the finalizer
           "update whatsapp.bakery-ia.io/whatsappassignments/status",
           "update whatsapp.bakery-ia.io/whatsappassignments/finalizers",  // blockOwnerDeletion
           "create whatsapp.bakery-ia.io/whatsappphonenumbers",
           "delete whatsapp.bakery-ia.io/whatsappphonenumbers",
           "update whatsapp.bakery-ia.io/whatsappphonenumbers/status",
           "patch /configmaps",
           "delete /secrets",
           "patch /events",
           "update admissionregistration.k8s.io/validatingwebhookconfigurations@whatsapp-operator",
       }) {
    EXPECT_TRUE(cluster.count(want)) << want;
  }
  // Nothing the code never asks for.
  for (const char* never : {"update whatsapp.bakery-ia.io/whatsappassignments",
                            "create whatsapp.bakery-ia.io/whatsappassignments",
                            "update /configmaps", "list /events", "get /namespaces"}) {
    EXPECT_FALSE(cluster.count(never)) << never;
  }
  const auto role = Grants(r.role);
  EXPECT_EQ(role,
            (std::set<std::string>{
                "get coordination.k8s.io/leases", "list coordination.k8s.io/leases",
                "watch coordination.k8s.io/leases", "create coordination.k8s.io/leases",
                "update coordination.k8s.io/leases", "get /secrets@whatsapp-operator-webhook-tls",
                "update /secrets@whatsapp-operator-webhook-tls", "create /secrets"}));
  EXPECT_EQ(r.role_namespace, "");
}

TEST(RbacTest, FlagsDropWhatTheyTurnOff) {
  // No publishing: no cluster-wide Secrets. No own certificates: no caBundle, no webhook Secret.
  // No leader election: no Lease.
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--publish-credentials=false", "--webhook-cert-dir=/certs"},
           {"--publish-credentials=false", "--webhook-port=0"}}) {
    const RbacRules r = RequiredRbac(Parse(args));
    for (const auto& g : Grants(r.cluster)) {
      EXPECT_EQ(g.find("/secrets"), std::string::npos) << g;
      EXPECT_EQ(g.find("validatingwebhookconfigurations"), std::string::npos) << g;
    }
    EXPECT_TRUE(r.role.empty());
  }
}

TEST(RbacTest, NamesFollowTheFlags) {
  const RbacRules r =
      RequiredRbac(Parse({"--webhook-configuration-name=vwc", "--webhook-secret-name=tls",
                          "--webhook-secret-namespace=ops"}));
  EXPECT_TRUE(Grants(r.cluster).count(
      "update admissionregistration.k8s.io/validatingwebhookconfigurations@vwc"));
  EXPECT_TRUE(Grants(r.role).count("update /secrets@tls"));
  EXPECT_EQ(r.role_namespace, "ops");
  EXPECT_EQ(
      RequiredRbac(Parse({"--leader-elect", "--leader-election-namespace=le"})).role_namespace,
      "le");
}

TEST(RbacTest, YamlHasBothRolesAndEveryRule) {
  const std::string yaml = RbacYaml(Parse({"--leader-elect"}));
  EXPECT_NE(yaml.find("kind: ClusterRole\n"), std::string::npos);
  EXPECT_NE(yaml.find("---\n"), std::string::npos);
  EXPECT_NE(yaml.find("kind: Role\n"), std::string::npos);
  EXPECT_NE(yaml.find("  resources: [\"whatsappassignments/finalizers\"]\n  verbs: [\"update\"]"),
            std::string::npos);
  EXPECT_NE(yaml.find("  resourceNames: [\"whatsapp-operator-webhook-tls\"]"), std::string::npos);
  EXPECT_EQ(yaml.find("\n  namespace:"), std::string::npos);  // the pod's namespace: none written
  EXPECT_NE(RbacYaml(Parse({"--webhook-port=0"}))
                .find("kind: Role\nmetadata:\n  name: "
                      "whatsapp-operator\nrules: []\n"),
            std::string::npos);
}

}  // namespace
}  // namespace waop::app
