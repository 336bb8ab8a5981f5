// End-to-end tests of the whatsapp-operator binary: the real kubectl and the operator against
// kube-devserver over TLS with a bearer token, all on 127.0.0.1. Each test starts its own
// devserver and operator and stops them; TearDown asserts the token never reached the logs.
//
// Waits poll with generous timeouts (the suite also runs under ASan/UBSan on a loaded 2-core
// machine); the only tight bound is the promotion of a waiting assignment (SPEC 3), 5 s in an
// optimised build.
#include <gtest/gtest.h>
#include <signal.h>

#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "e2e_util.h"

namespace waop::e2e {
namespace {

using nlohmann::json;
using waop::testing::CommandResult;
using waop::testing::WaitFor;
using namespace std::chrono_literals;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// SPEC 3: the next in line binds on its own, promptly. Sanitizers slow everything 2-5x.
constexpr auto kPromotionBound = kSanitized ? 15s : 5s;
constexpr auto kLongWait = 120s;

constexpr char kNs[] = "bakery-ia";
constexpr char kSanJuan[] = "panaderia-san-juan";
constexpr char kDuplicate[] = "pasteleria-la-duplicada";
// SPEC 4, verbatim.
constexpr char kSanJuanSettings[] =
    R"({"whatsapp_enabled":true,"whatsapp_phone_number_id":"123456789012345",)"
    R"("whatsapp_display_phone_number":"+34 612 345 678","whatsapp_default_language":"es"})";
// SPEC 3, verbatim.
constexpr char kDuplicateMessage[] =
    "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
    "(bakery-ia/panaderia-san-juan)";

std::string Examples(const std::string& rel) {
  return waop::testing::SourceDir() + "/examples/" + rel;
}

std::string Tail(const std::string& text, size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

class OperatorE2eTest : public ::testing::Test {
 protected:
  void StartCluster(std::vector<std::string> devserver_args = {}) {
    cluster_ = std::make_unique<E2eCluster>(std::move(devserver_args));
    ASSERT_TRUE(cluster_->ok()) << "kube-devserver did not start: "
                                << Tail(cluster_->process().Stderr());
  }
  void StartOperator(std::vector<std::string> args = {}) {
    op_ = std::make_unique<OperatorProcess>(*cluster_, std::move(args));
    ASSERT_TRUE(op_->ok()) << "cannot spawn " << OperatorBinary();
    ASSERT_TRUE(op_->WaitReady(kLongWait)) << "operator never ready:\n" << Tail(op_->Logs());
  }
  void Start(std::vector<std::string> operator_args = {}) {
    ASSERT_NO_FATAL_FAILURE(StartCluster());
    ASSERT_NO_FATAL_FAILURE(StartOperator(std::move(operator_args)));
  }

  void TearDown() override {
    if (op_ != nullptr && op_->ok()) {
      op_->Stop();
      std::string logs = op_->Logs();
      if (cluster_ != nullptr && !cluster_->token().empty()) {
        // Do not print the logs here: they would carry the token into the test output.
        EXPECT_EQ(logs.find(cluster_->token()), std::string::npos)
            << "the bearer token appears in the operator's logs";
      }
      if (HasFailure() && (cluster_ == nullptr || cluster_->token().empty() ||
                           logs.find(cluster_->token()) == std::string::npos)) {
        std::cerr << "--- operator logs (tail) ---\n" << Tail(logs) << "\n";
      }
      ExpectOnlyDocumentedRequests();
    }
    op_.reset();
    cluster_.reset();
  }

  // Everything the operator asked the API server for is granted by the Permissions table of
  // docs/operating.md (what the Helm chart's RBAC is written from).
  void ExpectOnlyDocumentedRequests() {
    if (cluster_ == nullptr || !cluster_->ok()) return;
    const auto documented = DocumentedPermissions();
    ASSERT_FALSE(documented.empty()) << "no Permissions table in docs/operating.md";
    auto requests = cluster_->Requests("whatsapp-operator");
    ASSERT_TRUE(requests) << "GET /debug/requests?client=whatsapp-operator failed";
    // Tests that reset the counts may see none (a quiet operator keeps its watches open).
    EXPECT_EQ(Ungranted(documented, *requests), std::set<std::string>{})
        << "the operator made requests docs/operating.md does not grant";
  }

  CommandResult K(const std::vector<std::string>& args, const std::string& stdin_text = "") {
    return cluster_->Kubectl(args, stdin_text);
  }
  void Apply(const std::string& path) {
    auto r = K({"apply", "-f", path});
    ASSERT_EQ(r.exit_code, 0) << r.Both();
  }
  void ApplyExamples() {
    ASSERT_NO_FATAL_FAILURE(Apply(Examples("namespace.yaml")));
    ASSERT_NO_FATAL_FAILURE(Apply(Examples("assignments/")));
  }
  // `kubectl wait --for=condition=<cond>` on wa/<name>.
  CommandResult WaitCondition(const std::string& name, const std::string& cond,
                              std::chrono::seconds timeout = kLongWait) {
    return cluster_->Kubectl({"wait", "--for=condition=" + cond, "wa/" + name, "-n", kNs,
                              "--timeout=" + std::to_string(timeout.count()) + "s"},
                             "", timeout + 30s);
  }
  std::optional<json> Get(const std::string& kind, const std::string& name,
                          const std::string& ns = kNs) {
    return cluster_->GetJson({kind, name, "-n", ns});
  }
  // The notification_settings.json of whatsapp-settings-<name>, nullopt if there is none.
  std::optional<std::string> Settings(const std::string& name, const std::string& ns = kNs) {
    auto cm = Get("configmap", "whatsapp-settings-" + name, ns);
    if (!cm || !(*cm)["data"].contains("notification_settings.json")) return std::nullopt;
    return (*cm)["data"]["notification_settings.json"].get<std::string>();
  }
  bool ConfigMapGone(const std::string& name, const std::string& ns = kNs) {
    auto r = K({"get", "configmap", "whatsapp-settings-" + name, "-n", ns});
    return r.exit_code != 0 && r.err.find("NotFound") != std::string::npos;
  }
  void ApplyDuplicateAndWaitStalled() {
    auto ready = WaitCondition(kSanJuan, "Ready");
    ASSERT_EQ(ready.exit_code, 0) << ready.Both();
    ASSERT_NO_FATAL_FAILURE(Apply(Examples("duplicate/")));
    auto stalled = WaitCondition(kDuplicate, "Stalled");
    ASSERT_EQ(stalled.exit_code, 0) << stalled.Both();
  }

  std::unique_ptr<E2eCluster> cluster_;
  std::unique_ptr<OperatorProcess> op_;
};

// --- 1. Binding: Ready, settings ConfigMap, printer columns -----------------------------------

TEST_F(OperatorE2eTest, AssignmentsBecomeReadyWithExactSettings) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  auto wait = cluster_->Kubectl(
      {"wait", "--for=condition=Ready", "wa", "--all", "-n", kNs, "--timeout=120s"}, "", 150s);
  ASSERT_EQ(wait.exit_code, 0) << wait.Both();
  EXPECT_NE(wait.out.find("whatsappassignment.whatsapp.bakery-ia.io/panaderia-san-juan "
                          "condition met"),
            std::string::npos)
      << wait.out;

  auto wa = Get("wa", kSanJuan);
  ASSERT_TRUE(wa);
  auto cm = Get("configmap", std::string("whatsapp-settings-") + kSanJuan);
  ASSERT_TRUE(cm) << "no settings ConfigMap";
  EXPECT_EQ((*cm)["data"].value("notification_settings.json", ""), kSanJuanSettings);
  EXPECT_EQ((*cm)["data"].size(), 1u) << (*cm)["data"].dump();
  const json& labels = (*cm)["metadata"]["labels"];
  EXPECT_EQ(labels.value("app.kubernetes.io/managed-by", ""), "whatsapp-operator") << labels;
  EXPECT_EQ(labels.value("whatsapp.bakery-ia.io/tenant-id", ""),
            "7c9e6679-7425-40de-944b-e07fc1f90ae7")
      << labels;
  ASSERT_TRUE((*cm)["metadata"].contains("ownerReferences")) << (*cm)["metadata"];
  const json& owners = (*cm)["metadata"]["ownerReferences"];
  ASSERT_EQ(owners.size(), 1u) << owners;
  EXPECT_EQ(owners[0].value("apiVersion", ""), "whatsapp.bakery-ia.io/v1alpha1");
  EXPECT_EQ(owners[0].value("kind", ""), "WhatsAppAssignment");
  EXPECT_EQ(owners[0].value("name", ""), kSanJuan);
  EXPECT_EQ(owners[0].value("uid", ""), (*wa)["metadata"].value("uid", "?"));
  EXPECT_EQ(owners[0].value("controller", false), true) << owners;

  // Defaults filled by the API server (goiko) and a non-default language (nuria).
  EXPECT_EQ(Settings("panaderia-goiko").value_or("<none>"),
            ExpectedSettings(true, "123456789012346", "+34 612 345 679", "es"));
  EXPECT_EQ(Settings("obrador-nuria").value_or("<none>"),
            ExpectedSettings(true, "123456789012347", "+34 612 345 680", "ca"));

  // Status: Ready=True Bound for this generation, no finalizer without an external sink.
  auto ready = Condition(*wa, "Ready");
  ASSERT_TRUE(ready) << wa->dump();
  EXPECT_EQ(ready->value("status", ""), "True");
  EXPECT_EQ(ready->value("reason", ""), "Bound");
  EXPECT_EQ(ready->value("message", ""),
            "Phone number +34 612 345 678 assigned to tenant 'Panadería San Juan'");
  EXPECT_EQ(ready->value("observedGeneration", -1), (*wa)["metadata"].value("generation", -2));
  EXPECT_FALSE(ready->value("lastTransitionTime", "").empty());
  EXPECT_EQ((*wa)["status"].value("settingsConfigMap", ""),
            std::string("whatsapp-settings-") + kSanJuan);
  EXPECT_FALSE((*wa)["metadata"].contains("finalizers") && !(*wa)["metadata"]["finalizers"].empty())
      << (*wa)["metadata"];

  // kubectl get wa: the CRD's printer columns, filled in.
  auto table = K({"get", "wa", "-n", kNs});
  ASSERT_EQ(table.exit_code, 0) << table.Both();
  std::istringstream lines(table.out);
  std::string header;
  std::getline(lines, header);
  size_t last = 0;
  for (const char* col : {"NAME", "TENANT", "PHONE", "READY", "REASON"}) {
    size_t at = header.find(col);
    ASSERT_NE(at, std::string::npos) << "no " << col << " column: " << header;
    EXPECT_GE(at, last) << "columns out of order: " << header;
    last = at;
  }
  int rows = 0;
  for (std::string row; std::getline(lines, row);) {
    if (row.empty()) continue;
    ++rows;
    EXPECT_NE(row.find("True"), std::string::npos) << row;
    EXPECT_NE(row.find("Bound"), std::string::npos) << row;
  }
  EXPECT_EQ(rows, 3) << table.out;
  EXPECT_NE(table.out.find("Panadería San Juan"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("+34 612 345 678"), std::string::npos) << table.out;
}

// --- 2. Duplicate: Stalled naming the holder, no settings, a Warning Event --------------------

TEST_F(OperatorE2eTest, DuplicateIsStalledNamingTheHolder) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  ASSERT_NO_FATAL_FAILURE(ApplyDuplicateAndWaitStalled());

  auto wa = Get("wa", kDuplicate);
  ASSERT_TRUE(wa);
  auto ready = Condition(*wa, "Ready");
  auto stalled = Condition(*wa, "Stalled");
  ASSERT_TRUE(ready && stalled) << wa->dump();
  EXPECT_EQ(ready->value("status", ""), "False");
  EXPECT_EQ(ready->value("reason", ""), "DuplicatePhoneNumber");
  EXPECT_EQ(ready->value("message", ""), kDuplicateMessage);
  EXPECT_EQ(stalled->value("status", ""), "True");
  EXPECT_EQ(stalled->value("reason", ""), "DuplicatePhoneNumber");
  EXPECT_EQ(stalled->value("message", ""), kDuplicateMessage);
  int64_t generation = (*wa)["metadata"].value("generation", int64_t{-2});
  EXPECT_EQ(ready->value("observedGeneration", int64_t{-1}), generation);
  EXPECT_EQ(stalled->value("observedGeneration", int64_t{-1}), generation);

  // A loser writes no settings; the holder keeps its own.
  EXPECT_TRUE(ConfigMapGone(kDuplicate));
  EXPECT_EQ(Settings(kSanJuan).value_or("<none>"), kSanJuanSettings);
  auto holder_ready = WaitCondition(kSanJuan, "Ready", 10s);
  EXPECT_EQ(holder_ready.exit_code, 0) << holder_ready.Both();

  // The Warning Event on the loser (events are written after the status: poll).
  std::string seen;
  bool found = WaitFor(
      [&] {
        auto events = cluster_->GetJson({"events", "-n", kNs});
        if (!events) return false;
        seen = events->dump();
        for (const auto& e : (*events)["items"]) {
          if (e["involvedObject"].value("name", "") == kDuplicate &&
              e["involvedObject"].value("kind", "") == "WhatsAppAssignment" &&
              e.value("type", "") == "Warning" && e.value("reason", "") == "DuplicatePhoneNumber" &&
              e.value("message", "") == kDuplicateMessage) {
            return true;
          }
        }
        return false;
      },
      60s, 500ms);
  EXPECT_TRUE(found) << "no Warning DuplicatePhoneNumber event for " << kDuplicate << ": "
                     << Tail(seen);
}

// --- 3. Deleting the holder promotes the waiting assignment -----------------------------------

TEST_F(OperatorE2eTest, DeletingTheHolderPromotesTheWaitingAssignment) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  ASSERT_NO_FATAL_FAILURE(ApplyDuplicateAndWaitStalled());
  ASSERT_TRUE(ConfigMapGone(kDuplicate));

  auto start = std::chrono::steady_clock::now();
  auto del = K({"delete", "wa", kSanJuan, "-n", kNs});
  ASSERT_EQ(del.exit_code, 0) << del.Both();
  auto ready = WaitCondition(kDuplicate, "Ready", 60s);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(ready.exit_code, 0) << ready.Both();
  double seconds = std::chrono::duration<double>(elapsed).count();
  std::cout << "promotion after holder deletion: " << seconds << " s (bound "
            << std::chrono::duration<double>(kPromotionBound).count() << " s)\n";
  RecordProperty("promotion_ms", static_cast<int>(seconds * 1000));
  EXPECT_LT(elapsed, kPromotionBound) << "the waiting assignment took " << seconds << " s";

  // Its settings appear, Stalled is cleared, the old holder's settings are collected.
  std::string settings;
  EXPECT_TRUE(WaitFor(
      [&] {
        settings = Settings(kDuplicate).value_or("<none>");
        return settings == kSanJuanSettings;
      },
      kLongWait, 200ms))
      << settings;
  auto wa = Get("wa", kDuplicate);
  ASSERT_TRUE(wa);
  auto cond = Condition(*wa, "Ready");
  ASSERT_TRUE(cond);
  EXPECT_EQ(cond->value("reason", ""), "Bound");
  auto stalled = Condition(*wa, "Stalled");
  EXPECT_TRUE(!stalled || stalled->value("status", "") == "False") << wa->dump();
  EXPECT_TRUE(WaitFor([&] { return ConfigMapGone(kSanJuan); }, kLongWait, 200ms))
      << "the deleted holder's ConfigMap was not garbage-collected";
}

// --- 3b. Chains: a promotion that displaces a younger holder, transitively ------------------

// One assignment of a chain scenario: name, phone number id, tenant id.
struct Link {
  std::string name;
  std::string phone;
  std::string tenant;
};

TEST_F(OperatorE2eTest, ChainsResolveTransitivelyWhenHoldersAreDeleted) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // Each scenario in its own namespace with its own numbers and tenants (tenant ids are prefixed
  // with the namespace: binding spans every namespace); within one, names sort
  // in creation order, so the order holds even when two are created in the same second.
  struct Scenario {
    std::string ns;
    std::vector<Link> links;
    std::vector<std::string> deleted;
    std::map<std::string, std::string> before;  // name -> Ready reason
    std::map<std::string, std::string> after;
  };
  const std::vector<Scenario> scenarios = {
      // A tenant chain: deleting A lets B take P1 for T2, so C loses T2.
      {"chain-tenant",
       {{"a", "9101", "tenant-1"}, {"b", "9101", "tenant-2"}, {"c", "9103", "tenant-2"}},
       {"a"},
       {{"a", "Bound"}, {"b", "DuplicatePhoneNumber"}, {"c", "Bound"}},
       {{"b", "Bound"}, {"c", "DuplicateTenant"}}},
      // A number chain: deleting A lets B take P2 for T1, so C loses P2.
      {"chain-number",
       {{"a", "9201", "tenant-1"}, {"b", "9202", "tenant-1"}, {"c", "9202", "tenant-3"}},
       {"a"},
       {{"a", "Bound"}, {"b", "DuplicateTenant"}, {"c", "Bound"}},
       {{"b", "Bound"}, {"c", "DuplicatePhoneNumber"}}},
      // Five links: every outcome along the chain flips.
      {"chain-five",
       {{"a", "9301", "tenant-1"},
        {"b", "9301", "tenant-2"},
        {"c", "9302", "tenant-2"},
        {"d", "9302", "tenant-3"},
        {"e", "9303", "tenant-3"},
        {"f", "9303", "tenant-4"}},
       {"a"},
       {{"a", "Bound"},
        {"b", "DuplicatePhoneNumber"},
        {"c", "Bound"},
        {"d", "DuplicatePhoneNumber"},
        {"e", "Bound"},
        {"f", "DuplicatePhoneNumber"}},
       {{"b", "Bound"},
        {"c", "DuplicateTenant"},
        {"d", "Bound"},
        {"e", "DuplicateTenant"},
        {"f", "Bound"}}},
      // Several holders deleted at once, in two chains.
      {"chain-multi",
       {{"a", "9401", "tenant-1"},
        {"b", "9401", "tenant-2"},
        {"c", "9402", "tenant-2"},
        {"x", "9411", "tenant-11"},
        {"y", "9411", "tenant-12"},
        {"z", "9412", "tenant-12"}},
       {"a", "x"},
       {{"a", "Bound"},
        {"b", "DuplicatePhoneNumber"},
        {"c", "Bound"},
        {"x", "Bound"},
        {"y", "DuplicatePhoneNumber"},
        {"z", "Bound"}},
       {{"b", "Bound"}, {"c", "DuplicateTenant"}, {"y", "Bound"}, {"z", "DuplicateTenant"}}},
  };
  auto manifest = [](const std::string& ns, const Link& l) {
    // Every value quoted: unquoted, YAML reads a name such as y as a boolean.
    return "apiVersion: whatsapp.bakery-ia.io/v1alpha1\nkind: WhatsAppAssignment\nmetadata:\n"
           "  name: \"" +
           l.name + "\"\n  namespace: \"" + ns + "\"\nspec:\n  tenantId: \"" + ns + "-" + l.tenant +
           "\"\n  phoneNumberId: \"" + l.phone + "\"\n";
  };
  for (const Scenario& sc : scenarios) {
    auto ns = K({"create", "namespace", sc.ns});
    ASSERT_EQ(ns.exit_code, 0) << ns.Both();
    for (const Link& l : sc.links) {
      auto r = K({"apply", "-f", "-"}, manifest(sc.ns, l));
      ASSERT_EQ(r.exit_code, 0) << r.Both();
    }
  }
  // Every Ready reason as expected, and settings exactly where an assignment holds: the holder's
  // number in its own ConfigMap, none for a loser.
  auto matches = [&](const Scenario& sc, const std::map<std::string, std::string>& want,
                     std::string* diff) {
    auto list = cluster_->GetJson({"wa", "-n", sc.ns});
    if (!list) return false;
    std::map<std::string, std::string> got;
    for (const auto& item : (*list)["items"]) {
      auto ready = Condition(item, "Ready");
      got[item["metadata"].value("name", "")] = ready ? ready->value("reason", "") : "";
    }
    std::map<std::string, std::string> phone_of;
    for (const Link& l : sc.links) phone_of[l.name] = l.phone;
    *diff = "";
    for (const auto& [name, reason] : want) {
      if (got[name] != reason) *diff += name + ": want " + reason + ", got " + got[name] + "; ";
      auto settings = Settings(name, sc.ns);
      if (reason == "Bound" &&
          (!settings || settings->find("\"" + phone_of[name] + "\"") == std::string::npos)) {
        *diff += name + ": no settings with its number; ";
      }
      if (reason != "Bound" && settings) *diff += name + ": a loser has settings; ";
    }
    if (got.size() != want.size()) *diff += "want " + std::to_string(want.size()) + " objects";
    return diff->empty();
  };
  std::string diff;
  for (const Scenario& sc : scenarios) {
    EXPECT_TRUE(WaitFor([&] { return matches(sc, sc.before, &diff); }, kLongWait, 200ms))
        << sc.ns << " before: " << diff;
  }
  for (const Scenario& sc : scenarios) {
    std::vector<std::string> args = {"delete", "wa", "-n", sc.ns};
    args.insert(args.end(), sc.deleted.begin(), sc.deleted.end());
    auto r = K(args);
    ASSERT_EQ(r.exit_code, 0) << r.Both();
  }
  for (const Scenario& sc : scenarios) {
    EXPECT_TRUE(WaitFor([&] { return matches(sc, sc.after, &diff); }, kLongWait, 200ms))
        << sc.ns << " after deleting the holders: " << diff;
  }
}

// --- 4. Changing the phone number rewrites the settings --------------------------------------

TEST_F(OperatorE2eTest, PatchingThePhoneNumberUpdatesTheSettings) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  auto ready = WaitCondition("panaderia-goiko", "Ready");
  ASSERT_EQ(ready.exit_code, 0) << ready.Both();
  // Annotations others add stay, including the one our cache drops (last-applied): the
  // operator patches only the fields it owns.
  const std::string last_applied = "kubectl.kubernetes.io/last-applied-configuration";
  auto annotate = K({"annotate", "configmap", "whatsapp-settings-panaderia-goiko", "-n", kNs,
                     "team=bakers", last_applied + "={\"kind\":\"ConfigMap\"}"});
  ASSERT_EQ(annotate.exit_code, 0) << annotate.Both();
  auto before = Get("configmap", "whatsapp-settings-panaderia-goiko");
  ASSERT_TRUE(before);

  auto patch = K({"patch", "wa", "panaderia-goiko", "-n", kNs, "--type=merge", "-p",
                  R"({"spec":{"phoneNumberId":"123456789012399",)"
                  R"("displayPhoneNumber":"+34 612 345 699","defaultLanguage":"eu"}})"});
  ASSERT_EQ(patch.exit_code, 0) << patch.Both();
  const std::string want = ExpectedSettings(true, "123456789012399", "+34 612 345 699", "eu");
  std::string got;
  EXPECT_TRUE(WaitFor(
      [&] {
        got = Settings("panaderia-goiko").value_or("<none>");
        return got == want;
      },
      kLongWait, 200ms))
      << "settings: " << got;

  // Same ConfigMap object, updated in place; the status follows the new generation.
  auto after = Get("configmap", "whatsapp-settings-panaderia-goiko");
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)["metadata"].value("uid", "a"), (*before)["metadata"].value("uid", "b"));
  const json annotations = (*after)["metadata"].value("annotations", json::object());
  EXPECT_EQ(annotations.value("team", ""), "bakers") << after->dump();
  EXPECT_EQ(annotations.value(last_applied, ""), R"({"kind":"ConfigMap"})") << after->dump();
  json wa;
  EXPECT_TRUE(WaitFor(
      [&] {
        auto j = Get("wa", "panaderia-goiko");
        if (!j) return false;
        wa = *j;
        auto c = Condition(wa, "Ready");
        return c && c->value("status", "") == "True" &&
               c->value("observedGeneration", int64_t{-1}) ==
                   wa["metadata"].value("generation", int64_t{-2});
      },
      kLongWait, 200ms))
      << wa.dump();
  EXPECT_EQ(wa["metadata"].value("generation", 0), 2);
  auto c = Condition(wa, "Ready");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->value("message", ""),
            "Phone number +34 612 345 699 assigned to tenant 'Panadería Goiko'");
}

// --- 5. Deleting an assignment removes its ConfigMap ------------------------------------------

TEST_F(OperatorE2eTest, DeletingAnAssignmentRemovesItsConfigMap) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  auto ready = WaitCondition("obrador-nuria", "Ready");
  ASSERT_EQ(ready.exit_code, 0) << ready.Both();
  ASSERT_TRUE(Settings("obrador-nuria").has_value());

  ASSERT_TRUE(cluster_->ResetRequests());
  auto del = K({"delete", "wa", "obrador-nuria", "-n", kNs});
  ASSERT_EQ(del.exit_code, 0) << del.Both();
  EXPECT_TRUE(WaitFor([&] { return ConfigMapGone("obrador-nuria"); }, kLongWait, 200ms));
  // And it stays gone: the operator does not write the deleted assignment's settings again
  // (the ConfigMap's deletion and the assignment's arrive on different watches).
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(ConfigMapGone("obrador-nuria"));
  auto requests = cluster_->Requests();
  ASSERT_TRUE(requests);
  for (const auto& row : (*requests)["by"]) {
    if (row.value("resource", "") == "configmaps") {
      EXPECT_NE(row.value("verb", ""), "create") << DescribeWrites(*requests);
    }
  }
  // The others are untouched.
  EXPECT_EQ(Settings(kSanJuan).value_or("<none>"), kSanJuanSettings);
  EXPECT_TRUE(Settings("panaderia-goiko").has_value());
}

// --- 6. A resync with nothing to do writes nothing ---------------------------------------------

double ReconcileTotal(const std::string& metrics) {
  double total = 0;
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("controller_runtime_reconcile_total{", 0) != 0) continue;
    total += std::strtod(line.substr(line.rfind(' ') + 1).c_str(), nullptr);
  }
  return total;
}

TEST_F(OperatorE2eTest, ResyncOfAConvergedClusterWritesNothing) {
  ASSERT_NO_FATAL_FAILURE(Start({"--sync-period", "2s"}));
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  ASSERT_NO_FATAL_FAILURE(ApplyDuplicateAndWaitStalled());
  auto all = cluster_->Kubectl({"wait", "--for=condition=Ready", "wa", "-n", kNs, kSanJuan,
                                "panaderia-goiko", "obrador-nuria", "--timeout=120s"},
                               "", 150s);
  ASSERT_EQ(all.exit_code, 0) << all.Both();
  // Let the last Events of convergence land: the write count stops moving.
  int64_t last = -1;
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = cluster_->Requests();
        if (!r) return false;
        int64_t now = WriteCount(*r);
        bool stable = now == last;
        last = now;
        return stable;
      },
      kLongWait, 1500ms));

  ASSERT_TRUE(cluster_->ResetRequests());
  double reconciles_before = ReconcileTotal(op_->Metrics().body);
  std::this_thread::sleep_for(5s);  // more than two sync periods: the window being measured
  auto requests = cluster_->Requests();
  ASSERT_TRUE(requests);
  double reconciles_after = ReconcileTotal(op_->Metrics().body);
  // The resyncs did run (4 assignments each time) ...
  EXPECT_GE(reconciles_after - reconciles_before, 4) << "no resync happened";
  // ... and wrote nothing.
  EXPECT_EQ(WriteCount(*requests), 0) << DescribeWrites(*requests);
  std::cout << "reconciles during the window: " << reconciles_after - reconciles_before
            << ", requests: " << requests->value("all", 0) << "\n";
}

// --- 7. Faults: end state exact, then quiet ---------------------------------------------------

struct Planned {
  std::string ns, name, tenant_id, tenant_name, phone_id, display;
  // For losers: the reason and the holder's ns/name expected in the message.
  std::string reason;
  std::string message;
};

std::string Yaml(const Planned& p) {
  return "apiVersion: whatsapp.bakery-ia.io/v1alpha1\nkind: WhatsAppAssignment\nmetadata:\n"
         "  name: " +
         p.name + "\n  namespace: " + p.ns + "\nspec:\n  tenantId: " + p.tenant_id +
         "\n  tenantName: \"" + p.tenant_name + "\"\n  phoneNumberId: \"" + p.phone_id +
         "\"\n  displayPhoneNumber: \"" + p.display + "\"\n---\n";
}

// 22 holders in bakery-ia; 5 assignments in bakery-ib asking for holders' numbers; 3 in
// bakery-ia for tenants that already hold one. Losers are created after holders, and sort after
// them by namespace/name too, so the expected holder does not depend on timestamps.
std::vector<Planned> PlanThirty() {
  std::vector<Planned> plan;
  auto uuid = [](int i) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "00000000-0000-4000-8000-%012d", i);
    return std::string(buf);
  };
  auto display = [](int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "+34 600 100 %03d", i);
    return std::string(buf);
  };
  for (int i = 0; i < 22; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "tenant-%02d", i);
    plan.push_back({"bakery-ia", name, uuid(i), "Tenant " + std::to_string(i),
                    std::to_string(500000000000 + i), display(i), "", ""});
  }
  for (int i = 0; i < 5; ++i) {
    const Planned& h = plan[static_cast<size_t>(i)];
    char name[32];
    std::snprintf(name, sizeof name, "zz-phone-dup-%02d", i);
    plan.push_back({"bakery-ib", name, uuid(100 + i), "Dup " + std::to_string(i), h.phone_id,
                    h.display, "DuplicatePhoneNumber",
                    "Phone number " + h.display + " already assigned to tenant '" + h.tenant_name +
                        "' (" + h.ns + "/" + h.name + ")"});
  }
  for (int i = 0; i < 3; ++i) {
    const Planned& h = plan[static_cast<size_t>(10 + i)];
    char name[32];
    std::snprintf(name, sizeof name, "zz-tenant-dup-%02d", i);
    plan.push_back({"bakery-ia", name, h.tenant_id, h.tenant_name, std::to_string(500000000100 + i),
                    display(100 + i), "DuplicateTenant",
                    "Tenant '" + h.tenant_name + "' already holds phone number " + h.display +
                        " (" + h.ns + "/" + h.name + ")"});
  }
  return plan;
}

// What differs between the cluster and the plan, one line per problem; empty when exact.
std::string Mismatches(E2eCluster& cluster, const std::vector<Planned>& plan) {
  auto was = cluster.GetJson({"wa", "-A"});
  auto cms = cluster.GetJson({"configmaps", "-A", "-l", "app.kubernetes.io/managed-by"});
  if (!was || !cms) return "kubectl get failed";
  std::map<std::string, json> wa_by_key, cm_by_key;
  for (const auto& o : (*was)["items"]) {
    wa_by_key[o["metadata"].value("namespace", "") + "/" + o["metadata"].value("name", "")] = o;
  }
  for (const auto& o : (*cms)["items"]) {
    cm_by_key[o["metadata"].value("namespace", "") + "/" + o["metadata"].value("name", "")] = o;
  }
  std::string out;
  std::set<std::string> expected_cms;
  for (const auto& p : plan) {
    std::string key = p.ns + "/" + p.name;
    auto it = wa_by_key.find(key);
    if (it == wa_by_key.end()) {
      out += key + ": missing\n";
      continue;
    }
    const json& wa = it->second;
    auto ready = Condition(wa, "Ready");
    auto stalled = Condition(wa, "Stalled");
    std::string cm_key = p.ns + "/whatsapp-settings-" + p.name;
    if (p.reason.empty()) {
      expected_cms.insert(cm_key);
      if (!ready || ready->value("status", "") != "True" || ready->value("reason", "") != "Bound") {
        out += key + ": not Ready/Bound: " + (ready ? ready->dump() : "no Ready") + "\n";
      }
      if (stalled && stalled->value("status", "") == "True") out += key + ": Stalled\n";
      auto cm = cm_by_key.find(cm_key);
      std::string want = ExpectedSettings(true, p.phone_id, p.display, "es");
      if (cm == cm_by_key.end()) {
        out += key + ": no ConfigMap\n";
      } else if (cm->second["data"].value("notification_settings.json", "") != want) {
        out += key + ": settings " + cm->second["data"].dump() + "\n";
      } else if (cm->second["metadata"]["labels"].value("whatsapp.bakery-ia.io/tenant-id", "") !=
                 p.tenant_id) {
        out += key + ": tenant label " + cm->second["metadata"]["labels"].dump() + "\n";
      }
    } else {
      for (const auto& [type, want_status] :
           {std::pair{"Ready", "False"}, std::pair{"Stalled", "True"}}) {
        auto c = Condition(wa, type);
        if (!c || c->value("status", "") != want_status || c->value("reason", "") != p.reason ||
            c->value("message", "") != p.message) {
          out += key + ": " + type + " is " + (c ? c->dump() : "absent") + ", want " + want_status +
                 " " + p.reason + " \"" + p.message + "\"\n";
        }
      }
    }
  }
  for (const auto& [key, cm] : cm_by_key) {
    if (expected_cms.count(key) == 0) out += "unexpected ConfigMap " + key + "\n";
  }
  return out;
}

TEST_F(OperatorE2eTest, ConvergesExactlyUnderFaultsThenStaysQuiet) {
  ASSERT_NO_FATAL_FAILURE(StartCluster({"--drop-watches-every", "3", "--watch-history", "8",
                                        "--write-error-rate", "0.2", "--write-error-code", "500"}));
  ASSERT_NO_FATAL_FAILURE(StartOperator({"--max-concurrent-reconciles", "4"}));
  auto plan = PlanThirty();
  std::string holders, losers;
  for (const auto& p : plan) (p.reason.empty() ? holders : losers) += Yaml(p);

  // kubectl's own writes meet the faults too: apply until everything is stored.
  auto ns = cluster_->ApplyRetrying(
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bakery-ia\n---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: bakery-ib\n");
  ASSERT_EQ(ns.exit_code, 0) << ns.Both();
  auto h = cluster_->ApplyRetrying(holders);
  ASSERT_EQ(h.exit_code, 0) << h.Both();
  auto l = cluster_->ApplyRetrying(losers);
  ASSERT_EQ(l.exit_code, 0) << l.Both();

  // Switch to conflicts, and expire the watch history so resumes get 410 and relist.
  ASSERT_TRUE(cluster_->SetFaults(
      {{"writeErrors", {{"fraction", 0.1}, {"code", 409}}}, {"expireHistory", true}}));
  std::string problems;
  bool converged = WaitFor(
      [&] {
        problems = Mismatches(*cluster_, plan);
        return problems.empty();
      },
      180s, 1s);
  ASSERT_TRUE(converged) << "not converged under faults:\n" << problems;

  // Faults off: a converged operator has nothing left to write (no retry loop, no ping-pong).
  ASSERT_TRUE(cluster_->SetFaults({{"reset", true}}));
  auto before = cluster_->Requests();
  ASSERT_TRUE(before);
  std::cout << "requests under faults: " << before->value("all", 0)
            << ", writes: " << WriteCount(*before) << "\n";
  ASSERT_TRUE(cluster_->ResetRequests());
  std::this_thread::sleep_for(6s);  // the window being measured
  auto after = cluster_->Requests();
  ASSERT_TRUE(after);
  EXPECT_EQ(WriteCount(*after), 0) << DescribeWrites(*after);
  EXPECT_EQ(Mismatches(*cluster_, plan), "");
  auto metrics = op_->Metrics();
  EXPECT_EQ(metrics.status, 200);
  std::cout << "work queue retries: ";
  // The by-reason gauge is kept from watch events (through drops and relists): it must match
  // the plan exactly. Reasons that emptied read 0 and are left out of the comparison.
  std::map<std::string, int> by_reason, want_by_reason;
  for (const auto& p : plan) ++want_by_reason[p.reason.empty() ? "Bound" : p.reason];
  const std::string gauge = "whatsapp_operator_assignments{reason=\"";
  std::istringstream in(metrics.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("workqueue_retries_total", 0) == 0) std::cout << line << "; ";
    if (line.rfind(gauge, 0) == 0) {
      auto close = line.find("\"}", gauge.size());
      ASSERT_NE(close, std::string::npos) << line;
      int n = std::stoi(line.substr(close + 3));
      if (n != 0) by_reason[line.substr(gauge.size(), close - gauge.size())] = n;
    }
  }
  std::cout << "\n";
  EXPECT_EQ(by_reason, want_by_reason) << metrics.body;
}

// --- 8. The process: flags, exit codes, probes, metrics, signals, logs -------------------------

TEST(OperatorProcessTest, HelpBadFlagsAndMissingKubeconfig) {
  auto help = waop::testing::Run({OperatorBinary(), "--help"});
  EXPECT_EQ(help.exit_code, 0) << help.Both();
  for (const char* flag : {"--kubeconfig", "--metrics-bind-address", "--health-probe-bind-address",
                           "--leader-elect", "--sync-period", "--log-format"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << " not in --help:\n" << help.out;
  }

  auto bad = waop::testing::Run({OperatorBinary(), "--no-such-flag"});
  EXPECT_EQ(bad.exit_code, 2) << bad.Both();
  EXPECT_NE(bad.err.find("--no-such-flag"), std::string::npos) << bad.err;

  auto bad_value = waop::testing::Run({OperatorBinary(), "--max-concurrent-reconciles", "zero"});
  EXPECT_EQ(bad_value.exit_code, 2) << bad_value.Both();
  EXPECT_NE(bad_value.err.find("--max-concurrent-reconciles"), std::string::npos) << bad_value.err;
  EXPECT_NE(bad_value.err.find("zero"), std::string::npos) << bad_value.err;

  auto bad_address = waop::testing::Run({OperatorBinary(), "--metrics-bind-address", "nowhere"});
  EXPECT_EQ(bad_address.exit_code, 2) << bad_address.Both();
  EXPECT_NE(bad_address.err.find("metrics-bind-address"), std::string::npos) << bad_address.err;

  waop::testing::TempDir dir;
  std::string missing = dir.File("no-such-kubeconfig");
  const int metrics = waop::testing::FreePort();
  int probe = waop::testing::FreePort();
  while (probe == metrics) probe = waop::testing::FreePort();  // two picks can agree
  auto no_kc =
      waop::testing::Run({OperatorBinary(), "--kubeconfig", missing, "--metrics-bind-address",
                          "127.0.0.1:" + std::to_string(metrics), "--health-probe-bind-address",
                          "127.0.0.1:" + std::to_string(probe)},
                         "", 60s);
  EXPECT_EQ(no_kc.exit_code, 1) << no_kc.Both();
  EXPECT_NE(no_kc.Both().find(missing), std::string::npos) << no_kc.Both();
}

TEST_F(OperatorE2eTest, ProbesMetricsLogsAndSigterm) {
  ASSERT_NO_FATAL_FAILURE(Start());  // includes /readyz == 200 after sync
  EXPECT_EQ(op_->Probe("/healthz").status, 200);
  ASSERT_NO_FATAL_FAILURE(ApplyExamples());
  auto ready = cluster_->Kubectl(
      {"wait", "--for=condition=Ready", "wa", "--all", "-n", kNs, "--timeout=120s"}, "", 150s);
  ASSERT_EQ(ready.exit_code, 0) << ready.Both();

  auto metrics = op_->Metrics();
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.headers["content-type"].find("text/plain"), std::string::npos)
      << metrics.headers["content-type"];
  for (const char* name : {"controller_runtime_reconcile_total", "workqueue_depth"}) {
    EXPECT_NE(metrics.body.find(std::string("\n") + name + "{"), std::string::npos)
        << name << " missing from /metrics:\n"
        << Tail(metrics.body, 3000);
  }
  EXPECT_GE(ReconcileTotal(metrics.body), 3) << Tail(metrics.body, 3000);

  auto start = std::chrono::steady_clock::now();
  auto code = op_->Stop(30s);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(code.has_value()) << "still running 30 s after SIGTERM";
  EXPECT_EQ(*code, 0) << Tail(op_->Logs());
  EXPECT_LT(took, kSanitized ? 15s : 5s)
      << std::chrono::duration<double>(took).count() << " s to exit after SIGTERM";
  std::cout << "exit after SIGTERM: " << std::chrono::duration<double>(took).count() << " s\n";

  // JSON lines, each naming its message; the token in none (TearDown checks that again).
  std::string logs = op_->process().Stderr();
  std::istringstream in(logs);
  int lines = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++lines;
    json j = json::parse(line, nullptr, false);
    EXPECT_TRUE(j.is_object()) << "not a JSON log line: " << line;
    EXPECT_EQ(line.find(cluster_->token()), std::string::npos) << "token in a log line";
  }
  EXPECT_GT(lines, 0);
}

TEST_F(OperatorE2eTest, NotReadyUntilTheApiServerAnswers) {
  ASSERT_NO_FATAL_FAILURE(StartCluster());
  // A kubeconfig with the right CA and token but a port nobody serves.
  std::string kc = waop::testing::ReadFile(cluster_->kubeconfig_path());
  auto at = kc.find("server: https://127.0.0.1:");
  ASSERT_NE(at, std::string::npos) << "unexpected kubeconfig layout";
  auto end = kc.find('\n', at);
  kc.replace(at, end - at,
             "server: https://127.0.0.1:" + std::to_string(waop::testing::FreePort()));
  waop::testing::TempDir dir;
  waop::testing::WriteFile(dir.File("kubeconfig"), kc);
  int probe = waop::testing::FreePort();
  int metrics = waop::testing::FreePort();
  while (metrics == probe) metrics = waop::testing::FreePort();  // two picks can agree
  waop::testing::Process op("whatsapp-operator",
                            {OperatorBinary(), "--kubeconfig", dir.File("kubeconfig"),
                             "--metrics-bind-address", "127.0.0.1:" + std::to_string(metrics),
                             "--health-probe-bind-address", "127.0.0.1:" + std::to_string(probe)},
                            dir.path());
  ASSERT_TRUE(WaitFor(
      [&] { return devserver::testing::Http(probe, "GET", "/healthz").status == 200; }, 60s, 100ms))
      << Tail(op.Stderr());
  // Alive but not ready, and it stays so while the API server cannot be reached.
  for (int i = 0; i < 5; ++i) {
    auto r = devserver::testing::Http(probe, "GET", "/readyz");
    EXPECT_NE(r.status, 200) << r.body;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(op.Running());
  auto code = op.Signal(SIGTERM, 30s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0) << Tail(op.Stderr());
  EXPECT_EQ(op.Stderr().find(cluster_->token()), std::string::npos) << "token in the logs";
}

}  // namespace
}  // namespace waop::e2e
