#include "support/fake_client.h"

#include <gtest/gtest.h>

#include "kube/selector.h"
#include "support/fake_clock.h"

namespace waop::kube {
namespace {

using nlohmann::json;

json Cm(const std::string& ns, const std::string& name, json labels = json::object()) {
  return {{"metadata", {{"namespace", ns}, {"name", name}, {"labels", labels}}},
          {"data", {{"k", "v"}}}};
}

json Wa(const std::string& ns, const std::string& name, const std::string& phone) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"tenantId", "t-" + name}, {"phoneNumberId", phone}}}};
}

TEST(FakeClientTest, CrudAndConflicts) {
  FakeClock clock;
  FakeClient fake(clock);
  auto created = fake.Create(resources::kConfigMaps, Cm("ns", "a"));
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ((*created)["kind"], "ConfigMap");
  EXPECT_FALSE((*created)["metadata"]["uid"].get<std::string>().empty());
  EXPECT_EQ((*created)["metadata"]["creationTimestamp"], FormatRfc3339(clock.Now()));
  const std::string rv1 = ObjectResourceVersion(*created);

  EXPECT_EQ(fake.Create(resources::kConfigMaps, Cm("ns", "a")).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(fake.Get(resources::kConfigMaps, "ns", "missing").status().code(),
            StatusCode::kNotFound);

  json changed = *created;
  changed["data"]["k"] = "v2";
  auto updated = fake.Update(resources::kConfigMaps, changed);
  ASSERT_TRUE(updated.ok());
  EXPECT_NE(ObjectResourceVersion(*updated), rv1);
  // The same write again, from the stale copy, conflicts.
  auto stale = fake.Update(resources::kConfigMaps, changed);
  EXPECT_EQ(stale.status().code(), StatusCode::kConflict);

  // A no-op update does not bump the resourceVersion.
  auto noop = fake.Update(resources::kConfigMaps, *updated);
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(ObjectResourceVersion(*noop), ObjectResourceVersion(*updated));

  DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "nope";
  EXPECT_EQ(fake.Delete(resources::kConfigMaps, "ns", "a", wrong_uid).code(),
            StatusCode::kConflict);
  EXPECT_TRUE(fake.Delete(resources::kConfigMaps, "ns", "a").ok());
  EXPECT_EQ(fake.Delete(resources::kConfigMaps, "ns", "a").code(), StatusCode::kNotFound);
  EXPECT_EQ(fake.Calls("delete", resources::kConfigMaps), 3);
  EXPECT_EQ(fake.Calls("update", resources::kConfigMaps), 3);
}

TEST(FakeClientTest, StatusSubresourceAndGeneration) {
  FakeClient fake;
  auto wa = fake.Create(resources::kWhatsAppAssignments, Wa("ns", "a", "1"));
  ASSERT_TRUE(wa.ok());
  EXPECT_EQ((*wa)["metadata"]["generation"], 1);

  json with_status = *wa;
  with_status["status"] = {{"qualityRating", "GREEN"}};
  auto s = fake.UpdateStatus(resources::kWhatsAppAssignments, with_status);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)["status"]["qualityRating"], "GREEN");
  EXPECT_EQ((*s)["metadata"]["generation"], 1);  // status writes do not bump generation

  // A spec update keeps the status and bumps the generation; status in it is ignored.
  json spec_change = *s;
  spec_change["spec"]["phoneNumberId"] = "2";
  spec_change["status"] = {{"qualityRating", "RED"}};
  auto u = fake.Update(resources::kWhatsAppAssignments, spec_change);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ((*u)["metadata"]["generation"], 2);
  EXPECT_EQ((*u)["status"]["qualityRating"], "GREEN");

  auto p = fake.Patch(resources::kWhatsAppAssignments, "ns", "a", PatchType::kMerge,
                      {{"status", {{"qualityRating", "YELLOW"}}}}, "status");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)["status"]["qualityRating"], "YELLOW");
  EXPECT_EQ(fake.Calls("patch", resources::kWhatsAppAssignments, "status"), 1);
  EXPECT_EQ(fake.Calls("update", resources::kWhatsAppAssignments, "status"), 1);

  auto bad = fake.Patch(resources::kWhatsAppAssignments, "ns", "a", PatchType::kJsonPatch,
                        json::array({{{"op", "remove"}, {"path", "/spec/nothing"}}}));
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto stale_patch = fake.Patch(resources::kWhatsAppAssignments, "ns", "a", PatchType::kMerge,
                                {{"metadata", {{"resourceVersion", "1"}}}, {"spec", {{"x", 1}}}});
  EXPECT_EQ(stale_patch.status().code(), StatusCode::kConflict);
}

TEST(FakeClientTest, FinalizersDelayDeletion) {
  FakeClient fake;
  json obj = Wa("ns", "a", "1");
  obj["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  ASSERT_TRUE(fake.Create(resources::kWhatsAppAssignments, obj).ok());
  ASSERT_TRUE(fake.Delete(resources::kWhatsAppAssignments, "ns", "a").ok());
  auto terminating = fake.Get(resources::kWhatsAppAssignments, "ns", "a");
  ASSERT_TRUE(terminating.ok());
  EXPECT_TRUE((*terminating)["metadata"].contains("deletionTimestamp"));
  json released = *terminating;
  released["metadata"]["finalizers"] = json::array();
  ASSERT_TRUE(fake.Update(resources::kWhatsAppAssignments, released).ok());
  EXPECT_EQ(fake.Get(resources::kWhatsAppAssignments, "ns", "a").status().code(),
            StatusCode::kNotFound);
}

TEST(FakeClientTest, InjectedErrorsAndCounts) {
  FakeClient fake;
  fake.InjectError("create", resources::kConfigMaps, Status::Unavailable("boom"), 2);
  EXPECT_EQ(fake.Create(resources::kConfigMaps, Cm("ns", "a")).status().code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(fake.Create(resources::kConfigMaps, Cm("ns", "a")).status().code(),
            StatusCode::kUnavailable);
  EXPECT_TRUE(fake.Create(resources::kConfigMaps, Cm("ns", "a")).ok());
  EXPECT_EQ(fake.Calls("create", resources::kConfigMaps), 3);
  EXPECT_EQ(fake.Calls("create", resources::kSecrets), 0);
  fake.ResetCalls();
  EXPECT_EQ(fake.TotalCalls(), 0);
}

TEST(FakeClientTest, ListSelectorsAndPaging) {
  FakeClient fake;
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(fake.Seed(resources::kConfigMaps,
                          Cm(i % 2 ? "odd" : "even", "cm" + std::to_string(i),
                             {{"app.kubernetes.io/managed-by", i < 5 ? "whatsapp-operator" : "x"}}))
                    .ok());
  }
  ListOptions options;
  options.label_selector = "app.kubernetes.io/managed-by=whatsapp-operator";
  options.limit = 2;
  std::vector<std::string> names;
  int pages = 0;
  for (;;) {
    auto page = fake.List(resources::kConfigMaps, "", options);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ++pages;
    for (const auto& item : page->items) names.push_back(ObjectName(item));
    if (page->continue_token.empty()) break;
    options.continue_token = page->continue_token;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names.size(), 5u);
  ListOptions in_ns;
  in_ns.field_selector = "metadata.name!=cm1";
  auto odd = fake.List(resources::kConfigMaps, "odd", in_ns);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->items.size(), 2u);  // cm3, cm5

  // A continue token from before a compaction is expired.
  ListOptions paged;
  paged.limit = 1;
  auto first = fake.List(resources::kConfigMaps, "", paged);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(fake.Seed(resources::kConfigMaps, Cm("even", "later")).ok());
  fake.CompactHistory();
  paged.continue_token = first->continue_token;
  EXPECT_EQ(fake.List(resources::kConfigMaps, "", paged).status().code(), StatusCode::kGone);
}

TEST(FakeClientTest, WatchReplaysFiltersAndBookmarks) {
  FakeClient fake;
  auto a = fake.Create(resources::kConfigMaps, Cm("ns", "a", {{"sel", "yes"}}));
  ASSERT_TRUE(a.ok());
  const std::string from = ObjectResourceVersion(*a);
  ASSERT_TRUE(fake.Create(resources::kConfigMaps, Cm("ns", "b", {{"sel", "yes"}})).ok());
  ASSERT_TRUE(fake.Create(resources::kConfigMaps, Cm("ns", "c", {{"sel", "no"}})).ok());

  WatchOptions options;
  options.resource_version = from;
  options.label_selector = "sel=yes";
  auto w = fake.Watch(resources::kConfigMaps, "ns", options);
  ASSERT_TRUE(w.ok());
  auto e1 = (*w)->Next();
  ASSERT_TRUE(e1.ok() && e1->has_value());
  EXPECT_EQ((*e1)->type, WatchEventType::kAdded);
  EXPECT_EQ(ObjectName((*e1)->object), "b");  // replayed; "a" is not after `from`, "c" filtered

  // Leaving the selector is a DELETED for this watch.
  ASSERT_TRUE(fake.Patch(resources::kConfigMaps, "ns", "b", PatchType::kMerge,
                         {{"metadata", {{"labels", {{"sel", "no"}}}}}})
                  .ok());
  auto e2 = (*w)->Next();
  ASSERT_TRUE(e2.ok() && e2->has_value());
  EXPECT_EQ((*e2)->type, WatchEventType::kDeleted);

  fake.SendBookmarks();
  auto e3 = (*w)->Next();
  ASSERT_TRUE(e3.ok() && e3->has_value());
  EXPECT_EQ((*e3)->type, WatchEventType::kBookmark);
  EXPECT_EQ(ObjectResourceVersion((*e3)->object), fake.ResourceVersion());

  EXPECT_EQ(fake.OpenWatches(), 1);
  fake.EndWatches();
  auto end = (*w)->Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(fake.OpenWatches(), 0);

  fake.CompactHistory();
  auto old = fake.Watch(resources::kConfigMaps, "", options);
  ASSERT_TRUE(old.ok());
  auto gone = (*old)->Next();
  ASSERT_TRUE(gone.ok() && gone->has_value());
  EXPECT_EQ((*gone)->type, WatchEventType::kError);
  EXPECT_EQ(WatchErrorStatus(**gone).code(), StatusCode::kGone);
}

TEST(SelectorTest, LabelSelectors) {
  const json labels = {{"app", "wa"}, {"tier", "backend"}, {"env", "prod"}};
  struct Case {
    std::string selector;
    bool matches;
  };
  for (const auto& c : std::vector<Case>{{"", true},
                                         {"app=wa", true},
                                         {"app==wa,tier=backend", true},
                                         {"app!=wa", false},
                                         {"tier in (backend, frontend)", true},
                                         {"tier notin (backend)", false},
                                         {"env", true},
                                         {"!env", false},
                                         {"!missing,app", true},
                                         {"missing!=x", true}}) {
    auto s = LabelSelector::Parse(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector << ": " << s.status().ToString();
    EXPECT_EQ(s->Matches(labels), c.matches) << c.selector;
  }
  auto bad = LabelSelector::Parse("tier in backend");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(),
            "label selector term \"tier in backend\": expected a parenthesised value list");
  EXPECT_FALSE(FieldSelector::Parse("spec.x=1").ok());
}

}  // namespace
}  // namespace waop::kube
