#include "core/settings.h"

#include <gtest/gtest.h>

namespace waop::core {
namespace {

using nlohmann::json;

api::Assignment Example() {
  api::Assignment a;
  a.metadata.name = "panaderia-san-juan";
  a.metadata.ns = "bakery-ia";
  a.metadata.uid = "0b1e6e2c-aaaa";
  a.spec.tenant_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
  a.spec.tenant_name = "Panadería San Juan";
  a.spec.phone_number_id = "123456789012345";
  a.spec.display_phone_number = "+34 612 345 678";
  return a;
}

TEST(SettingsTest, ExactlyFourKeysInSpecOrder) {
  EXPECT_EQ(
      NotificationSettingsJson(Example().spec),
      R"({"whatsapp_enabled":true,"whatsapp_phone_number_id":"123456789012345",)"
      R"("whatsapp_display_phone_number":"+34 612 345 678","whatsapp_default_language":"es"})");
}

TEST(SettingsTest, DisplayNumberPrefersMetaThenSpecThenEmpty) {
  api::AssignmentSpec spec = Example().spec;
  spec.enabled = false;
  spec.default_language = "pt_BR";
  json meta = json::parse(NotificationSettingsJson(spec, std::string("+34 612 34 56 78")));
  EXPECT_EQ(meta["whatsapp_display_phone_number"], "+34 612 34 56 78");
  EXPECT_EQ(meta["whatsapp_enabled"], false);
  EXPECT_EQ(meta["whatsapp_default_language"], "pt_BR");
  EXPECT_EQ(meta.size(), 4u);
  json empty_meta = json::parse(NotificationSettingsJson(spec, std::string("")));
  EXPECT_EQ(empty_meta["whatsapp_display_phone_number"], "+34 612 345 678");
  spec.display_phone_number = "";
  json none = json::parse(NotificationSettingsJson(spec));
  EXPECT_EQ(none["whatsapp_display_phone_number"], "");
}

TEST(SettingsTest, ByteIdenticalEveryTime) {
  std::string first = NotificationSettingsJson(Example().spec);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(NotificationSettingsJson(Example().spec), first);
  EXPECT_EQ(DesiredConfigMap(Example()).dump(), DesiredConfigMap(Example()).dump());
}

TEST(SettingsTest, DesiredConfigMapShape) {
  json cm = DesiredConfigMap(Example());
  EXPECT_EQ(cm["apiVersion"], "v1");
  EXPECT_EQ(cm["kind"], "ConfigMap");
  EXPECT_EQ(cm["metadata"]["name"], "whatsapp-settings-panaderia-san-juan");
  EXPECT_EQ(cm["metadata"]["namespace"], "bakery-ia");
  EXPECT_EQ(cm["metadata"]["labels"],
            (json{{"app.kubernetes.io/managed-by", "whatsapp-operator"},
                  {"app.kubernetes.io/name", "whatsapp-operator"},
                  {"whatsapp.bakery-ia.io/tenant-id", "7c9e6679-7425-40de-944b-e07fc1f90ae7"}}));
  ASSERT_EQ(cm["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(cm["metadata"]["ownerReferences"][0],
            (json{{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
                  {"kind", "WhatsAppAssignment"},
                  {"name", "panaderia-san-juan"},
                  {"uid", "0b1e6e2c-aaaa"},
                  {"controller", true},
                  {"blockOwnerDeletion", true}}));
  ASSERT_EQ(cm["data"].size(), 1u);
  EXPECT_EQ(cm["data"]["notification_settings.json"], NotificationSettingsJson(Example().spec));
  EXPECT_FALSE(cm["metadata"].contains("annotations"));
}

TEST(SettingsTest, MatchesIgnoresForeignMetadata) {
  json desired = DesiredConfigMap(Example());
  json live = desired;
  live["metadata"]["resourceVersion"] = "77";
  live["metadata"]["uid"] = "cm-uid";
  live["metadata"]["labels"]["team"] = "ops";
  live["metadata"]["annotations"] = {{"argocd.argoproj.io/tracking-id", "x"}};
  live["metadata"]["ownerReferences"].push_back(
      {{"apiVersion", "v1"}, {"kind", "Other"}, {"name", "o"}, {"uid", "other"}});
  live["metadata"]["managedFields"] = json::array({{{"manager", "kubectl"}}});
  EXPECT_TRUE(ConfigMapMatches(live, desired));
}

TEST(SettingsTest, MatchesDetectsWhatWeOwn) {
  json desired = DesiredConfigMap(Example());
  json live = desired;
  live["data"]["notification_settings.json"] = "{}";
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["data"]["extra"] = "x";  // someone else's key: stays, and causes no write
  EXPECT_TRUE(ConfigMapMatches(live, desired));

  live = desired;  // a second controller (a deleted predecessor's) must go
  live["metadata"]["ownerReferences"].push_back({{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
                                                 {"kind", "WhatsAppAssignment"},
                                                 {"name", "panaderia-san-juan"},
                                                 {"uid", "old-uid"},
                                                 {"controller", true}});
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["metadata"]["labels"]["whatsapp.bakery-ia.io/tenant-id"] = "someone-else";
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["metadata"]["labels"].erase("app.kubernetes.io/managed-by");
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["metadata"].erase("ownerReferences");
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["metadata"]["ownerReferences"][0]["uid"] = "stale-uid";  // owner recreated
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live["metadata"]["ownerReferences"][0]["controller"] = false;
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  live = desired;
  live.erase("data");
  EXPECT_FALSE(ConfigMapMatches(live, desired));
}

TEST(SettingsTest, PatchKeepsForeignFieldsAndFixesOurs) {
  json desired = DesiredConfigMap(Example());
  json live = desired;
  live["metadata"]["resourceVersion"] = "77";
  live["metadata"]["labels"]["team"] = "ops";
  live["metadata"]["labels"]["whatsapp.bakery-ia.io/tenant-id"] = "wrong";
  live["metadata"]["annotations"] = {{"note", "keep me"}};
  live["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = false;
  live["data"] = {{"notification_settings.json", "{}"}, {"stray", "x"}};
  EXPECT_FALSE(ConfigMapMatches(live, desired));

  json patch = ConfigMapPatch(live, desired);
  // Only what we own, and the version read as a precondition: no annotations, no status.
  EXPECT_EQ(patch["metadata"]["resourceVersion"], "77");
  EXPECT_FALSE(patch["metadata"].contains("annotations"));
  EXPECT_EQ(patch["metadata"]["labels"], desired["metadata"]["labels"]);
  EXPECT_FALSE(patch["data"].contains("stray")) << patch.dump();
  json merged = live;
  merged.merge_patch(patch);
  EXPECT_TRUE(ConfigMapMatches(merged, desired));
  EXPECT_EQ(merged["metadata"]["resourceVersion"], "77");
  EXPECT_EQ(merged["metadata"]["labels"]["team"], "ops");
  EXPECT_EQ(merged["metadata"]["annotations"]["note"], "keep me");
  EXPECT_EQ(merged["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(merged["metadata"]["ownerReferences"][0]["blockOwnerDeletion"], true);
  EXPECT_EQ(merged["data"]["notification_settings.json"],
            desired["data"]["notification_settings.json"]);
  EXPECT_EQ(merged["data"]["stray"], "x");  // others' keys stay
}

TEST(SettingsTest, PatchReplacesAStaleControllerInsteadOfAddingASecond) {
  json desired = DesiredConfigMap(Example());
  json live = desired;
  json stale = desired["metadata"]["ownerReferences"][0];
  stale["uid"] = "uid-of-a-deleted-predecessor";
  json other = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", "p"}, {"uid", "u-p"}};
  live["metadata"]["ownerReferences"] = json::array({other, stale});
  EXPECT_EQ(ClassifyConfigMap(live, Example()), ConfigMapOwnership::kStale);
  json merged = live;
  merged.merge_patch(ConfigMapPatch(live, desired));
  EXPECT_EQ(merged["metadata"]["ownerReferences"],
            json::array({other, desired["metadata"]["ownerReferences"][0]}));
  EXPECT_TRUE(ConfigMapMatches(merged, desired));
}

TEST(SettingsTest, ClassifyTellsOursFromSomeoneElses) {
  json desired = DesiredConfigMap(Example());
  std::string why;
  EXPECT_EQ(ClassifyConfigMap(desired, Example(), &why), ConfigMapOwnership::kOurs);

  json unlabelled = desired;
  unlabelled["metadata"]["labels"].erase("app.kubernetes.io/managed-by");
  EXPECT_EQ(ClassifyConfigMap(unlabelled, Example(), &why), ConfigMapOwnership::kForeign);
  EXPECT_EQ(why, "it lacks the label app.kubernetes.io/managed-by=whatsapp-operator");

  json adopted = desired;  // our label, no controller: ours to fix
  adopted["metadata"].erase("ownerReferences");
  EXPECT_EQ(ClassifyConfigMap(adopted, Example()), ConfigMapOwnership::kOurs);

  json controlled = desired;
  controlled["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "apps/v1"},
                                                            {"kind", "Deployment"},
                                                            {"name", "notifier"},
                                                            {"uid", "d-1"},
                                                            {"controller", true}}});
  EXPECT_EQ(ClassifyConfigMap(controlled, Example(), &why), ConfigMapOwnership::kForeign);
  EXPECT_EQ(why, "it is controlled by Deployment notifier");

  json other_assignment = desired;  // another assignment's (a different name): not ours
  other_assignment["metadata"]["ownerReferences"][0]["name"] = "someone-else";
  other_assignment["metadata"]["ownerReferences"][0]["uid"] = "u-2";
  EXPECT_EQ(ClassifyConfigMap(other_assignment, Example()), ConfigMapOwnership::kForeign);
}

TEST(SettingsTest, PatchKeepsOthersOwnerReferencesAndSendsThemOnlyOnChange) {
  json desired = DesiredConfigMap(Example());
  json live = desired;
  live["data"]["notification_settings.json"] = "{}";
  json other = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "x"}, {"uid", "u-x"}};
  live["metadata"]["ownerReferences"].push_back(other);
  // Our reference is in place: the list is not sent (a merge patch would replace it whole).
  EXPECT_FALSE(ConfigMapPatch(live, desired)["metadata"].contains("ownerReferences"));

  live["metadata"]["ownerReferences"] = json::array({other});
  json patch = ConfigMapPatch(live, desired);
  ASSERT_EQ(patch["metadata"]["ownerReferences"].size(), 2u);
  EXPECT_EQ(patch["metadata"]["ownerReferences"][0], other);
  EXPECT_EQ(patch["metadata"]["ownerReferences"][1], desired["metadata"]["ownerReferences"][0]);
  json merged = live;
  merged.merge_patch(patch);
  EXPECT_TRUE(ConfigMapMatches(merged, desired));
}

TEST(SettingsTest, ConfigMapName) { EXPECT_EQ(SettingsConfigMapName("x"), "whatsapp-settings-x"); }

}  // namespace
}  // namespace waop::core
