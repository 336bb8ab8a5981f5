// TenantSink and TenantSyncer against an in-memory tenant service: calls only where a row
// differs, "already so" 409s verified and accepted, someone else's 409 reported, releases only of
// numbers given, outages leave the rows as last seen, drift passes that wake the right
// assignments and report (never prune unless asked).
#include "controller/tenant_sink.h"

#include <gtest/gtest.h>

#include <map>

#include "fake_tenant_client.h"

namespace waop::controller {
namespace {

using json = nlohmann::json;
using testing::FakeTenantClient;

class MapView final : public ClusterView {
 public:
  void Put(const std::string& name, const std::string& tenant, const std::string& phone,
           const std::string& created, bool deleting = false) {
    json a = {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppAssignment"},
              {"metadata",
               {{"name", name},
                {"namespace", "ns"},
                {"uid", "uid-" + name},
                {"resourceVersion", "1"},
                {"generation", 1},
                {"creationTimestamp", created}}},
              {"spec", {{"tenantId", tenant}, {"phoneNumberId", phone}}}};
    if (deleting) a["metadata"]["deletionTimestamp"] = "2026-11-02T00:00:00Z";
    objects_["ns/" + name] = std::make_shared<json>(a);
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : objects_) out.push_back(k);
    return out;
  }
  ObjectPtr GetAssignment(std::string_view key) const override {
    auto it = objects_.find(std::string(key));
    return it == objects_.end() ? nullptr : it->second;
  }
  std::vector<ObjectPtr> AssignmentsByPhone(std::string_view id) const override {
    return By("phoneNumberId", id);
  }
  std::vector<ObjectPtr> AssignmentsByTenant(std::string_view id) const override {
    return By("tenantId", id);
  }
  ObjectPtr GetConfigMap(std::string_view, std::string_view) const override { return nullptr; }
  ObjectPtr GetPhoneNumber(std::string_view) const override { return nullptr; }

 private:
  std::vector<ObjectPtr> By(const char* field, std::string_view id) const {
    std::vector<ObjectPtr> out;
    for (const auto& [k, v] : objects_) {
      if ((*v)["spec"].value(field, "") == id) out.push_back(v);
    }
    return out;
  }
  std::map<std::string, ObjectPtr> objects_;
};

TEST(TenantSinkTest, CallsOnlyWhereTheRowDiffers) {
  FakeTenantClient service;
  service.Put("t-1");
  TenantSink sink(service);
  ASSERT_TRUE(sink.Ensure({"t-1", "111", "+34 111"}).ok());
  EXPECT_EQ(service.lists, 1);  // nothing listed yet: list first
  EXPECT_EQ(service.assigns, 1);
  EXPECT_EQ(service.rows["t-1"].phone_number_id, "111");
  // Again: the row as last seen shows it; no call at all.
  ASSERT_TRUE(sink.Ensure({"t-1", "111", "+34 111"}).ok());
  EXPECT_EQ(service.lists + service.Writes(), 2);
  // A move: unassign, then assign.
  ASSERT_TRUE(sink.Ensure({"t-1", "222", ""}).ok());
  EXPECT_EQ(service.unassigns, 1);
  EXPECT_EQ(service.assigns, 2);
  EXPECT_EQ(sink.Rows()->Find("t-1")->phone_number_id, "222");
}

TEST(TenantSinkTest, ConflictsAreVerified) {
  FakeTenantClient service;
  service.Put("t-1");
  service.Put("t-2", "111");
  TenantSink sink(service);
  ASSERT_TRUE(sink.List().ok());
  // Done behind our back since the listing: the 409 means "already so".
  service.rows["t-1"].phone_number_id = "333";
  ASSERT_TRUE(sink.Ensure({"t-1", "333", ""}).ok());
  EXPECT_EQ(service.lists, 2);  // one listing to verify
  // Someone else's number: the service's message, and nothing changes.
  Status s = sink.Ensure({"t-3-missing", "111", ""});
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  service.Put("t-4");
  ASSERT_TRUE(sink.List().ok());
  s = sink.Ensure({"t-4", "111", ""});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(s.message().find("assigned to tenant t-2"), std::string::npos);
  EXPECT_EQ(service.rows["t-2"].phone_number_id, "111");
}

TEST(TenantSinkTest, ReleasesOnlyWhatWasGiven) {
  FakeTenantClient service;
  service.Put("t-1", "111");
  TenantSink sink(service);
  ASSERT_TRUE(sink.List().ok());
  // A loser never takes a number the operator did not give.
  ASSERT_TRUE(sink.Release("t-1", "111", /*only_if_given=*/true).ok());
  EXPECT_EQ(service.unassigns, 0);
  // Given (seen bound), then unbound: released once.
  ASSERT_TRUE(sink.Ensure({"t-1", "111", ""}).ok());
  ASSERT_TRUE(sink.Release("t-1", "111", true).ok());
  EXPECT_EQ(service.unassigns, 1);
  EXPECT_EQ(service.rows["t-1"].phone_number_id, "");
  ASSERT_TRUE(sink.Release("t-1", "111", true).ok());
  EXPECT_EQ(service.unassigns, 1);
  // A deletion releases a number the row holds, but never another one.
  service.rows["t-1"].phone_number_id = "999";
  ASSERT_TRUE(sink.List().ok());
  ASSERT_TRUE(sink.Release("t-1", "111", false).ok());
  EXPECT_EQ(service.unassigns, 1);
  // Already unassigned behind our back (409), or an unknown tenant (404): done.
  ASSERT_TRUE(sink.Release("t-1", "999", false).ok());
  EXPECT_EQ(service.rows["t-1"].phone_number_id, "");
  service.Put("t-2", "222");
  ASSERT_TRUE(sink.List().ok());
  service.rows["t-2"].phone_number_id.clear();
  EXPECT_TRUE(sink.Release("t-2", "222", false).ok());
}

TEST(TenantSinkTest, OutageKeepsRowsAndRetriesOnce) {
  FakeTenantClient service;
  service.Put("t-1");
  TenantSink sink(service);
  ASSERT_TRUE(sink.List().ok());
  service.fail_next = Status::Unavailable("POST x: HTTP 503: maintenance");
  for (int i = 0; i < 3; ++i) {
    Status s = sink.Ensure({"t-1", "111", ""});
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_NE(s.message().find("maintenance"), std::string::npos);
  }
  EXPECT_FALSE(sink.List().ok());
  EXPECT_TRUE(sink.Rows()->listed);  // the last listing stays
  service.fail_next.reset();
  const int before = service.assigns;
  ASSERT_TRUE(sink.Ensure({"t-1", "111", ""}).ok());
  ASSERT_TRUE(sink.Ensure({"t-1", "111", ""}).ok());
  EXPECT_EQ(service.assigns - before, 1);
  EXPECT_EQ(sink.Stats().failures, 4);
}

TEST(TenantSyncerTest, DriftWakesReportsAndPrunesOnlyWhenAsked) {
  FakeTenantClient service;
  service.Put("t-ok", "111");
  service.Put("t-drift", "999");
  service.Put("t-extra", "555");
  service.Put("t-gone", "666");
  core::TenantRow legacy;
  legacy.tenant_id = "t-legacy";
  legacy.legacy_keys = {"whatsapp_access_token"};
  service.rows["t-legacy"] = legacy;
  MapView view;
  view.Put("ok", "t-ok", "111", "2026-11-01T00:00:00Z");
  view.Put("drift", "t-drift", "222", "2026-11-01T00:00:00Z");
  view.Put("loser", "t-extra", "111", "2026-11-02T00:00:00Z");  // loses 111 to "ok"
  view.Put("gone", "t-gone", "666", "2026-11-01T00:00:00Z", /*deleting=*/true);
  TenantSink sink(service);
  std::vector<std::string> woken;
  TenantSyncOptions options;
  options.all_assignments = [&] { return view.Keys(); };
  options.enqueue = [&](const std::vector<Request>& rs) {
    for (const auto& r : rs) woken.push_back(r.Key());
  };
  TenantSyncer syncer(sink, view, nullptr, options);
  auto report = syncer.SyncOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->differing, 1);
  EXPECT_EQ(report->unexpected, 1);  // t-extra; t-gone is being released by its finalizer
  EXPECT_EQ(report->legacy, 1);
  EXPECT_EQ(report->pruned, 0);
  EXPECT_EQ(woken, (std::vector<std::string>{"ns/drift", "ns/gone"}));
  EXPECT_EQ(service.Writes(), 0);  // a pass only lists
  EXPECT_EQ(service.lists, 1);

  options.prune = true;
  TenantSyncer pruning(sink, view, nullptr, options);
  report = pruning.SyncOnce();
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->pruned, 1);
  EXPECT_EQ(service.rows["t-extra"].phone_number_id, "");
  EXPECT_EQ(service.rows["t-gone"].phone_number_id, "666");

  service.fail_next = Status::Unavailable("down");
  EXPECT_FALSE(syncer.SyncOnce().ok());
}

}  // namespace
}  // namespace waop::controller
