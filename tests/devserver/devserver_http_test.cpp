// HTTP-level tests of kube-devserver: each test starts the binary on a free port and checks
// the protocol as kube-apiserver speaks it (status codes, Status bodies, watch streams).
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <thread>

#include "devserver_test_util.h"

namespace devserver::testing {
namespace {

using nlohmann::json;

const char* kMerge = "application/merge-patch+json";
const char* kJsonPatch = "application/json-patch+json";
const char* kStrategic = "application/strategic-merge-patch+json";
const std::string kWaPath =
    "/apis/whatsapp.bakery-ia.io/v1alpha1/namespaces/default/whatsappassignments";

std::vector<std::string> CrdArgs() {
  return {"--crd", RepoDir() + "/crds/whatsapp.bakery-ia.io_whatsappassignments.yaml", "--crd",
          RepoDir() + "/crds/whatsapp.bakery-ia.io_whatsappphonenumbers.yaml"};
}

json ConfigMap(const std::string& name, json data = {{"k", "v"}}, json labels = nullptr) {
  json cm = {
      {"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", name}}}, {"data", data}};
  if (!labels.is_null()) cm["metadata"]["labels"] = labels;
  return cm;
}

json Assignment(const std::string& name, const std::string& phone = "123456789012345",
                const std::string& tenant = "7c9e6679-7425-40de-944b-e07fc1f90ae7") {
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata", {{"name", name}}},
          {"spec", {{"tenantId", tenant}, {"phoneNumberId", phone}, {"tenantName", "T"}}}};
}

std::string Rv(const json& obj) { return obj["metadata"]["resourceVersion"].get<std::string>(); }

TEST(DevserverHttp, CreateGetUpdateAndConflict) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  auto created = ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("a"));
  ASSERT_EQ(created.status, 201) << created.body;
  json obj = created.Json();
  EXPECT_FALSE(obj["metadata"]["uid"].get<std::string>().empty());
  EXPECT_FALSE(obj["metadata"]["creationTimestamp"].get<std::string>().empty());
  std::string rv1 = Rv(obj);

  auto got = ds.Get("/api/v1/namespaces/default/configmaps/a");
  ASSERT_EQ(got.status, 200);
  EXPECT_EQ(got.Json(), obj);

  json upd = obj;
  upd["data"]["k"] = "v2";
  auto ok = ds.Put("/api/v1/namespaces/default/configmaps/a", upd);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_GT(std::stoull(Rv(ok.Json())), std::stoull(rv1));

  // `upd` still carries rv1: stale.
  auto stale = ds.Put("/api/v1/namespaces/default/configmaps/a", upd);
  ASSERT_EQ(stale.status, 409);
  json s = stale.Json();
  EXPECT_EQ(s["kind"], "Status");
  EXPECT_EQ(s["status"], "Failure");
  EXPECT_EQ(s["reason"], "Conflict");
  EXPECT_EQ(s["code"], 409);
  EXPECT_EQ(s["message"],
            "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; "
            "please apply your changes to the latest version and try again");

  auto dup = ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("a"));
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.Json()["reason"], "AlreadyExists");
  EXPECT_EQ(dup.Json()["message"], "configmaps \"a\" already exists");

  auto missing = ds.Get("/api/v1/namespaces/default/configmaps/nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Json()["message"], "configmaps \"nope\" not found");
  EXPECT_EQ(missing.Json()["details"]["kind"], "configmaps");

  // A no-op update keeps the resourceVersion.
  json same = ok.Json();
  auto noop = ds.Put("/api/v1/namespaces/default/configmaps/a", same);
  EXPECT_EQ(Rv(noop.Json()), Rv(same));
}

TEST(DevserverHttp, CustomResourceConflictMessageAndGenerateName) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  auto c = ds.Post(kWaPath, Assignment("x"));
  ASSERT_EQ(c.status, 201) << c.body;
  json stale = c.Json();
  json next = stale;
  next["spec"]["tenantName"] = "U";
  ASSERT_EQ(ds.Put(kWaPath + "/x", next).status, 200);
  auto conflict = ds.Put(kWaPath + "/x", next);
  ASSERT_EQ(conflict.status, 409);
  EXPECT_EQ(conflict.Json()["message"],
            "Operation cannot be fulfilled on whatsappassignments.whatsapp.bakery-ia.io \"x\": "
            "the object has been modified; please apply your changes to the latest version and "
            "try again");
  EXPECT_EQ(conflict.Json()["details"]["group"], "whatsapp.bakery-ia.io");
  // Custom resources need a resourceVersion on update.
  json unconditional = next;
  unconditional["metadata"].erase("resourceVersion");
  EXPECT_EQ(ds.Put(kWaPath + "/x", unconditional).status, 422);

  json gen = ConfigMap("");
  gen["metadata"] = {{"generateName", "gen-"}};
  auto g = ds.Post("/api/v1/namespaces/default/configmaps", gen);
  ASSERT_EQ(g.status, 201) << g.body;
  std::string name = g.Json()["metadata"]["name"];
  EXPECT_EQ(name.rfind("gen-", 0), 0u);
  EXPECT_EQ(name.size(), 9u);
}

TEST(DevserverHttp, GenerationMovesOnlyOnSpecAndStatusSubresourceSplits) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  json a = Assignment("g");
  a["status"] = {{"qualityRating", "GREEN"}};  // dropped on create
  auto c = ds.Post(kWaPath, a);
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.Json()["metadata"]["generation"], 1);
  EXPECT_FALSE(c.Json().contains("status"));

  auto labeled = ds.Patch(kWaPath + "/g", kMerge, {{"metadata", {{"labels", {{"a", "b"}}}}}});
  ASSERT_EQ(labeled.status, 200) << labeled.body;
  EXPECT_EQ(labeled.Json()["metadata"]["generation"], 1);

  auto spec = ds.Patch(kWaPath + "/g", kMerge, {{"spec", {{"tenantName", "New"}}}});
  EXPECT_EQ(spec.Json()["metadata"]["generation"], 2);

  // Status through the main endpoint is ignored.
  auto ignored = ds.Patch(kWaPath + "/g", kMerge, {{"status", {{"qualityRating", "RED"}}}});
  EXPECT_FALSE(ignored.Json().contains("status"));

  auto st = ds.Patch(kWaPath + "/g/status", kMerge,
                     {{"status", {{"qualityRating", "GREEN"}, {"observedGeneration", 2}}},
                      {"spec", {{"tenantName", "Ignored"}}}});
  ASSERT_EQ(st.status, 200) << st.body;
  EXPECT_EQ(st.Json()["status"]["qualityRating"], "GREEN");
  EXPECT_EQ(st.Json()["spec"]["tenantName"], "New");
  EXPECT_EQ(st.Json()["metadata"]["generation"], 2);

  auto bad_status =
      ds.Patch(kWaPath + "/g/status", kMerge, {{"status", {{"qualityRating", "BLUE"}}}});
  EXPECT_EQ(bad_status.status, 422) << bad_status.body;
}

TEST(DevserverHttp, SchemaDefaultsErrorsImmutabilityAndFieldValidation) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  auto c = ds.Post(kWaPath, Assignment("d"));
  ASSERT_EQ(c.status, 201) << c.body;
  EXPECT_EQ(c.Json()["spec"]["enabled"], true);
  EXPECT_EQ(c.Json()["spec"]["defaultLanguage"], "es");

  auto bad = ds.Post(kWaPath, Assignment("bad", "abc"));
  ASSERT_EQ(bad.status, 422);
  json s = bad.Json();
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["message"],
            "WhatsAppAssignment.whatsapp.bakery-ia.io \"bad\" is invalid: spec.phoneNumberId: "
            "Invalid value: \"abc\": spec.phoneNumberId in body should match '^[0-9]{1,32}$'");
  ASSERT_EQ(s["details"]["causes"].size(), 1u);
  EXPECT_EQ(s["details"]["causes"][0]["field"], "spec.phoneNumberId");
  EXPECT_EQ(s["details"]["causes"][0]["reason"], "FieldValueInvalid");

  auto immut = ds.Patch(kWaPath + "/d", kMerge, {{"spec", {{"tenantId", "other-tenant"}}}});
  EXPECT_EQ(immut.status, 422) << immut.body;
  EXPECT_NE(immut.body.find("immutable"), std::string::npos);

  json unknown = Assignment("u");
  unknown["spec"]["foo"] = 1;
  auto strict = Http(ds.port(), "POST", kWaPath + "?fieldValidation=Strict", unknown.dump());
  EXPECT_EQ(strict.status, 400);
  EXPECT_NE(strict.body.find("unknown field \\\"spec.foo\\\""), std::string::npos) << strict.body;
  auto warn = Http(ds.port(), "POST", kWaPath + "?fieldValidation=Warn", unknown.dump());
  ASSERT_EQ(warn.status, 201);
  EXPECT_NE(warn.headers["warning"].find("unknown field"), std::string::npos);
  EXPECT_FALSE(warn.Json()["spec"].contains("foo"));  // pruned

  auto dry = Http(ds.port(), "POST", kWaPath + "?dryRun=All", Assignment("dry").dump());
  EXPECT_EQ(dry.status, 201);
  EXPECT_EQ(ds.Get(kWaPath + "/dry").status, 404);
}

TEST(DevserverHttp, FinalizersHoldDeletionUntilRemoved) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  json cm = ConfigMap("f");
  cm["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", cm).status, 201);
  auto del = ds.Delete("/api/v1/namespaces/default/configmaps/f");
  EXPECT_EQ(del.status, 202) << del.body;
  auto got = ds.Get("/api/v1/namespaces/default/configmaps/f");
  ASSERT_EQ(got.status, 200);
  EXPECT_TRUE(got.Json()["metadata"].contains("deletionTimestamp"));
  // New finalizers cannot be added while deleting.
  auto add = ds.Patch("/api/v1/namespaces/default/configmaps/f", kMerge,
                      {{"metadata", {{"finalizers", {"example.com/hold", "example.com/other"}}}}});
  EXPECT_EQ(add.status, 422);
  auto rm = ds.Patch("/api/v1/namespaces/default/configmaps/f", kMerge,
                     {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_EQ(rm.status, 200);
  EXPECT_EQ(ds.Get("/api/v1/namespaces/default/configmaps/f").status, 404);
}

// The status of an object held by a finalizer stays writable while it is being deleted (the
// operator writes Releasing there). The status path once read the request's metadata after
// replacing the object (a use after free under ASan).
TEST(DevserverHttp, StatusOfAnObjectBeingDeletedIsWritable) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  json a = Assignment("leaving");
  a["metadata"]["finalizers"] = {"whatsapp.bakery-ia.io/finalizer"};
  ASSERT_EQ(ds.Post(kWaPath, a).status, 201);
  ASSERT_EQ(ds.Delete(kWaPath + "/leaving").status, 202);
  json cur = ds.Get(kWaPath + "/leaving").Json();
  ASSERT_TRUE(cur["metadata"].contains("deletionTimestamp"));
  cur["status"] = {{"conditions",
                    {{{"type", "Ready"},
                      {"status", "False"},
                      {"reason", "Releasing"},
                      {"message", "waiting"},
                      {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}}};
  // A finalizer added in the same request is not a metadata change on the status path.
  cur["metadata"]["finalizers"].push_back("example.com/other");
  auto put = Http(ds.port(), "PUT", kWaPath + "/leaving/status", cur.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  json got = ds.Get(kWaPath + "/leaving").Json();
  EXPECT_EQ(got["status"]["conditions"][0]["reason"], "Releasing");
  EXPECT_EQ(got["metadata"]["finalizers"], json({"whatsapp.bakery-ia.io/finalizer"}));
}

TEST(DevserverHttp, GarbageCollectionOfOwnedObjects) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  auto owner = ds.Post(kWaPath, Assignment("owner"));
  ASSERT_EQ(owner.status, 201);
  std::string uid = owner.Json()["metadata"]["uid"];
  json ref = {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
              {"kind", "WhatsAppAssignment"},
              {"name", "owner"},
              {"uid", uid},
              {"controller", true}};
  for (const char* n : {"dep1", "dep2"}) {
    json cm = ConfigMap(n);
    cm["metadata"]["ownerReferences"] = {ref};
    ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", cm).status, 201);
  }
  json orphan = ConfigMap("kept");
  orphan["metadata"]["ownerReferences"] = {ref};
  // Two owners: survives while the other owner exists.
  auto other = ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("other-owner"));
  orphan["metadata"]["ownerReferences"].push_back({{"apiVersion", "v1"},
                                                   {"kind", "ConfigMap"},
                                                   {"name", "other-owner"},
                                                   {"uid", other.Json()["metadata"]["uid"]}});
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", orphan).status, 201);

  ASSERT_EQ(ds.Delete(kWaPath + "/owner").status, 200);
  EXPECT_TRUE(waop::testing::WaitFor([&] {
    return ds.Get("/api/v1/namespaces/default/configmaps/dep1").status == 404 &&
           ds.Get("/api/v1/namespaces/default/configmaps/dep2").status == 404;
  }));
  EXPECT_EQ(ds.Get("/api/v1/namespaces/default/configmaps/kept").status, 200);

  // Orphan policy strips the owner reference instead.
  auto o2 = ds.Post(kWaPath, Assignment("owner2", "1", "t2"));
  json ref2 = ref;
  ref2["name"] = "owner2";
  ref2["uid"] = o2.Json()["metadata"]["uid"];
  json cm = ConfigMap("orphaned");
  cm["metadata"]["ownerReferences"] = {ref2};
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", cm).status, 201);
  ASSERT_EQ(ds.Delete(kWaPath + "/owner2", {{"propagationPolicy", "Orphan"}}).status, 200);
  auto left = ds.Get("/api/v1/namespaces/default/configmaps/orphaned");
  ASSERT_EQ(left.status, 200);
  EXPECT_FALSE(left.Json()["metadata"].contains("ownerReferences"));

  // Foreground: the owner waits (foregroundDeletion) until dependents are gone.
  auto o3 = ds.Post(kWaPath, Assignment("owner3", "3", "t3"));
  json ref3 = ref;
  ref3["name"] = "owner3";
  ref3["uid"] = o3.Json()["metadata"]["uid"];
  json held = ConfigMap("held");
  held["metadata"]["ownerReferences"] = {ref3};
  held["metadata"]["finalizers"] = {"example.com/hold"};
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", held).status, 201);
  auto fg = ds.Delete(kWaPath + "/owner3", {{"propagationPolicy", "Foreground"}});
  EXPECT_EQ(fg.status, 202) << fg.body;
  EXPECT_EQ(ds.Get(kWaPath + "/owner3").status, 200);
  ds.Patch("/api/v1/namespaces/default/configmaps/held", kMerge,
           {{"metadata", {{"finalizers", nullptr}}}});
  EXPECT_TRUE(waop::testing::WaitFor([&] { return ds.Get(kWaPath + "/owner3").status == 404; }));
}

TEST(DevserverHttp, WatchFromResourceVersionAndSelectors) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  auto a = ds.Post("/api/v1/namespaces/default/configmaps",
                   ConfigMap("w1", {{"k", "1"}}, {{"app", "x"}}));
  std::string rv = Rv(a.Json());
  ds.Patch("/api/v1/namespaces/default/configmaps/w1", kMerge, {{"data", {{"k", "2"}}}});
  ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("w2"));

  WatchStream w(ds.port(), "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv);
  ASSERT_EQ(w.status(), 200);
  auto e1 = w.Next();
  ASSERT_TRUE(e1);
  EXPECT_EQ((*e1)["type"], "MODIFIED");
  EXPECT_EQ((*e1)["object"]["data"]["k"], "2");
  auto e2 = w.Next();
  ASSERT_TRUE(e2);
  EXPECT_EQ((*e2)["type"], "ADDED");
  EXPECT_EQ((*e2)["object"]["metadata"]["name"], "w2");

  // From "now" (no resourceVersion): current objects first, as ADDED.
  WatchStream sel(ds.port(),
                  "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dx");
  auto init = sel.Next();
  ASSERT_TRUE(init);
  EXPECT_EQ((*init)["type"], "ADDED");
  EXPECT_EQ((*init)["object"]["metadata"]["name"], "w1");
  // Leaving the selector is a DELETED for this watcher.
  ds.Patch("/api/v1/namespaces/default/configmaps/w1", kMerge,
           {{"metadata", {{"labels", {{"app", "y"}}}}}});
  auto left = sel.Next();
  ASSERT_TRUE(left);
  EXPECT_EQ((*left)["type"], "DELETED");
  EXPECT_EQ((*left)["object"]["metadata"]["name"], "w1");
  // Coming back is an ADDED.
  ds.Patch("/api/v1/namespaces/default/configmaps/w1", kMerge,
           {{"metadata", {{"labels", {{"app", "x"}}}}}});
  auto back = sel.Next();
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["type"], "ADDED");

  auto del = ds.Delete("/api/v1/namespaces/default/configmaps/w2");
  auto e3 = w.Next();  // MODIFIED w1 (label change)
  ASSERT_TRUE(e3);
  EXPECT_EQ((*e3)["type"], "MODIFIED");
  w.Next();
  auto e4 = w.Next();
  ASSERT_TRUE(e4);
  EXPECT_EQ((*e4)["type"], "DELETED");
  EXPECT_EQ((*e4)["object"]["metadata"]["name"], "w2");

  // Field selector on metadata.name.
  WatchStream byname(
      ds.port(), "/api/v1/namespaces/default/configmaps?watch=1&fieldSelector=metadata.name%3Dw3");
  ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("w4"));
  ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("w3"));
  auto only = byname.Next();
  ASSERT_TRUE(only);
  EXPECT_EQ((*only)["object"]["metadata"]["name"], "w3");
}

TEST(DevserverHttp, BookmarksAndTimeout) {
  Devserver ds({"--bookmark-interval-ms", "200"});
  ASSERT_TRUE(ds.ok());
  WatchStream w(ds.port(),
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&"
                "allowWatchBookmarks=true&timeoutSeconds=2");
  auto b = w.Next(std::chrono::seconds(5));
  ASSERT_TRUE(b);
  EXPECT_EQ((*b)["type"], "BOOKMARK");
  EXPECT_EQ((*b)["object"]["kind"], "ConfigMap");
  EXPECT_FALSE((*b)["object"]["metadata"]["resourceVersion"].get<std::string>().empty());
  EXPECT_FALSE((*b)["object"].contains("data"));
  // timeoutSeconds closes the stream.
  EXPECT_TRUE(waop::testing::WaitFor(
      [&] {
        w.Next(std::chrono::milliseconds(200));
        return w.Ended();
      },
      std::chrono::seconds(10)));
}

TEST(DevserverHttp, ExpiredResourceVersionIsGone) {
  Devserver ds({"--watch-history", "3"});
  ASSERT_TRUE(ds.ok());
  auto first = ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("e0"));
  std::string old_rv = Rv(first.Json());
  for (int i = 1; i < 8; ++i) {
    ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("e" + std::to_string(i)));
  }
  WatchStream w(ds.port(),
                "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + old_rv);
  auto e = w.Next();
  ASSERT_TRUE(e);
  EXPECT_EQ((*e)["type"], "ERROR");
  EXPECT_EQ((*e)["object"]["code"], 410);
  EXPECT_EQ((*e)["object"]["reason"], "Expired");
  EXPECT_NE(
      (*e)["object"]["message"].get<std::string>().find("too old resource version: " + old_rv),
      std::string::npos);

  // Compaction on demand through /debug/faults.
  auto now = ds.Get("/api/v1/namespaces/default/configmaps");
  std::string list_rv = now.Json()["metadata"]["resourceVersion"];
  ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("after"));
  ASSERT_EQ(Http(ds.port(), "POST", "/debug/faults", R"({"expireHistory":true})").status, 200);
  WatchStream w2(ds.port(),
                 "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + list_rv);
  auto e2 = w2.Next();
  ASSERT_TRUE(e2);
  EXPECT_EQ((*e2)["object"]["code"], 410);
}

TEST(DevserverHttp, ListPaginationAndSelectors) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  for (int i = 0; i < 7; ++i) {
    ds.Post("/api/v1/namespaces/default/configmaps",
            ConfigMap("p" + std::to_string(i), {{"k", "v"}}, {{"tier", i % 2 ? "odd" : "even"}}));
  }
  std::vector<std::string> names;
  std::string cont;
  int pages = 0;
  do {
    std::string path = "/api/v1/namespaces/default/configmaps?limit=3";
    if (!cont.empty()) path += "&continue=" + cont;
    auto page = ds.Get(path);
    ASSERT_EQ(page.status, 200) << page.body;
    json j = page.Json();
    EXPECT_EQ(j["kind"], "ConfigMapList");
    for (const json& item : j["items"]) names.push_back(item["metadata"]["name"]);
    cont = j["metadata"].value("continue", "");
    ++pages;
  } while (!cont.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(names.size(), 7u);
  EXPECT_EQ(names.front(), "p0");
  EXPECT_EQ(names.back(), "p6");

  auto odd = ds.Get("/api/v1/namespaces/default/configmaps?labelSelector=tier%3Dodd");
  EXPECT_EQ(odd.Json()["items"].size(), 3u);
  auto in = ds.Get("/api/v1/configmaps?labelSelector=tier+in+(odd,even),tier!%3Dodd");
  EXPECT_EQ(in.Json()["items"].size(), 4u);
  auto notin = ds.Get("/api/v1/configmaps?labelSelector=tier+notin+(odd)");
  EXPECT_EQ(notin.Json()["items"].size(), 4u);
  auto exists = ds.Get("/api/v1/configmaps?labelSelector=!tier");
  EXPECT_EQ(exists.Json()["items"].size(), 0u);
  auto bad = ds.Get("/api/v1/configmaps?fieldSelector=spec.foo%3Dx");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["message"], "field label not supported: spec.foo");
  auto bad_continue = ds.Get("/api/v1/configmaps?limit=1&continue=garbage");
  EXPECT_EQ(bad_continue.status, 400);
}

TEST(DevserverHttp, MergeJsonAndStrategicPatches) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("m", {{"a", "1"}, {"b", "2"}}));
  auto merge = ds.Patch("/api/v1/namespaces/default/configmaps/m", kMerge,
                        {{"data", {{"a", nullptr}, {"c", "3"}}}});
  ASSERT_EQ(merge.status, 200);
  EXPECT_EQ(merge.Json()["data"], json({{"b", "2"}, {"c", "3"}}));
  auto jp = ds.Patch("/api/v1/namespaces/default/configmaps/m", kJsonPatch,
                     json::array({{{"op", "replace"}, {"path", "/data/b"}, {"value", "x"}},
                                  {{"op", "add"}, {"path", "/data/d"}, {"value", "4"}}}));
  ASSERT_EQ(jp.status, 200) << jp.body;
  EXPECT_EQ(jp.Json()["data"]["b"], "x");
  auto failed = ds.Patch("/api/v1/namespaces/default/configmaps/m", kJsonPatch,
                         json::array({{{"op", "test"}, {"path", "/data/b"}, {"value", "nope"}}}));
  EXPECT_EQ(failed.status, 422);
  json r1 = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "o1"}, {"uid", "u1"}};
  json r2 = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"name", "o2"}, {"uid", "u2"}};
  ds.Patch("/api/v1/namespaces/default/configmaps/m", kStrategic,
           {{"metadata", {{"ownerReferences", {r1}}, {"finalizers", {"a.io/x"}}}}});
  auto smp = ds.Patch("/api/v1/namespaces/default/configmaps/m", kStrategic,
                      {{"metadata", {{"ownerReferences", {r2}}, {"finalizers", {"a.io/y"}}}}});
  ASSERT_EQ(smp.status, 200) << smp.body;
  EXPECT_EQ(smp.Json()["metadata"]["ownerReferences"].size(), 2u);
  EXPECT_EQ(smp.Json()["metadata"]["finalizers"].size(), 2u);
  auto smp_del = ds.Patch("/api/v1/namespaces/default/configmaps/m", kStrategic,
                          {{"metadata",
                            {{"ownerReferences", {{{"uid", "u1"}, {"$patch", "delete"}}}},
                             {"$deleteFromPrimitiveList/finalizers", {"a.io/x", "a.io/y"}}}}});
  ASSERT_EQ(smp_del.status, 200) << smp_del.body;
  EXPECT_EQ(smp_del.Json()["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(smp_del.Json()["metadata"]["ownerReferences"][0]["uid"], "u2");
  auto precondition = ds.Patch("/api/v1/namespaces/default/configmaps/m", kMerge,
                               {{"metadata", {{"resourceVersion", "1"}}}, {"data", {{"z", "1"}}}});
  EXPECT_EQ(precondition.status, 409);
  auto unsupported =
      ds.Patch("/api/v1/namespaces/default/configmaps/m", "text/plain", json::object());
  EXPECT_EQ(unsupported.status, 415);
}

TEST(DevserverHttp, BadInputGetsStatusErrors) {
  Devserver ds({"--max-body-bytes", "1048576"});
  ASSERT_TRUE(ds.ok());
  auto malformed = Http(ds.port(), "POST", "/api/v1/namespaces/default/configmaps", "{not json");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.Json()["kind"], "Status");
  auto wrong_type = Http(ds.port(), "POST", "/api/v1/namespaces/default/configmaps",
                         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":"x"})");
  EXPECT_EQ(wrong_type.status, 400);
  EXPECT_NE(wrong_type.body.find("metadata"), std::string::npos);
  auto mismatch =
      Http(ds.port(), "POST", "/api/v1/namespaces/default/configmaps",
           R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"other"}})");
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(mismatch.Json()["message"],
            "the namespace of the provided object does not match the namespace sent on the "
            "request");
  auto no_ns = ds.Post("/api/v1/namespaces/missing/configmaps", ConfigMap("a"));
  EXPECT_EQ(no_ns.status, 404);
  EXPECT_EQ(no_ns.Json()["message"], "namespaces \"missing\" not found");
  auto bad_name = ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("Bad_Name"));
  EXPECT_EQ(bad_name.status, 422);
  auto unknown = ds.Get("/apis/nope.io/v1/things");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Json()["message"], "the server could not find the requested resource");
  auto yaml = Http(ds.port(), "POST", "/api/v1/namespaces/default/configmaps", "a: b",
                   {{"Content-Type", "text/plain"}});
  EXPECT_EQ(yaml.status, 415);
  std::string big(1024 * 1024 + 10, 'x');
  auto huge = Http(ds.port(), "POST", "/api/v1/namespaces/default/configmaps",
                   R"({"data":{"a":")" + big + "\"}}");
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(huge.Json()["reason"], "RequestEntityTooLarge");
  // Still serving.
  EXPECT_EQ(ds.Get("/healthz").status, 200);
}

TEST(DevserverHttp, FaultsAndRequestCounts) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(Http(ds.port(), "POST", "/debug/requests/reset").status, 200);
  for (int code : {409, 500, 503}) {
    json f = {{"writeErrors", {{"fraction", 1.0}, {"code", code}, {"verb", "create"}}}};
    ASSERT_EQ(Http(ds.port(), "POST", "/debug/faults", f.dump()).status, 200);
    auto r =
        ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("f" + std::to_string(code)));
    EXPECT_EQ(r.status, code);
    EXPECT_EQ(r.Json()["kind"], "Status");
  }
  // Verb filter: updates still pass.
  ASSERT_EQ(Http(ds.port(), "POST", "/debug/faults", R"({"writeErrors":null})").status, 200);
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/configmaps", ConfigMap("ok")).status, 201);
  ASSERT_EQ(
      Http(ds.port(), "POST", "/debug/faults", R"({"writeErrors":{"fraction":0.5,"code":503}})")
          .status,
      200);
  int failures = 0;
  for (int i = 0; i < 40; ++i) {
    auto r = ds.Patch("/api/v1/namespaces/default/configmaps/ok", kMerge,
                      {{"data", {{"i", std::to_string(i)}}}});
    failures += r.status == 503;
  }
  EXPECT_GT(failures, 5);
  EXPECT_LT(failures, 35);
  EXPECT_EQ(Http(ds.port(), "POST", "/debug/faults", R"({"bogus":1})").status, 400);
  ASSERT_EQ(Http(ds.port(), "POST", "/debug/faults", R"({"reset":true})").status, 200);

  WatchStream w(
      ds.port(),
      "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=1&timeoutSeconds=60");
  ASSERT_EQ(w.status(), 200);
  ASSERT_EQ(Http(ds.port(), "POST", "/debug/faults", R"({"dropWatches":true})").status, 200);
  EXPECT_TRUE(waop::testing::WaitFor([&] {
    w.Next(std::chrono::milliseconds(100));
    return w.Ended();
  }));

  ds.Get("/api/v1/namespaces/default/configmaps/ok");
  ds.Get("/api/v1/namespaces/default/configmaps");
  auto counts = ds.Get("/debug/requests").Json();
  EXPECT_EQ(counts["total"]["create"], 4);
  EXPECT_EQ(counts["total"]["patch"], 40);
  EXPECT_EQ(counts["total"]["get"], 1);
  EXPECT_EQ(counts["total"]["list"], 1);
  EXPECT_EQ(counts["total"]["watch"], 1);
  bool found = false;
  for (const json& b : counts["by"]) {
    if (b["verb"] == "patch" && b["resource"] == "configmaps" && b["subresource"] == "") {
      found = b["count"] == 40;
    }
  }
  EXPECT_TRUE(found) << counts.dump();
}

TEST(DevserverHttp, DiscoveryVersionOpenApiAndTables) {
  Devserver ds(CrdArgs());
  ASSERT_TRUE(ds.ok());
  EXPECT_EQ(ds.Get("/version").Json()["gitVersion"], "v1.32.0");
  auto api = ds.Get("/api/v1").Json();
  bool cm = false;
  for (const json& r : api["resources"]) {
    if (r["name"] == "configmaps") cm = r["shortNames"] == json({"cm"}) && r["namespaced"] == true;
  }
  EXPECT_TRUE(cm);
  auto group = ds.Get("/apis/whatsapp.bakery-ia.io/v1alpha1").Json();
  bool wa = false, status = false;
  for (const json& r : group["resources"]) {
    if (r["name"] == "whatsappassignments") {
      wa = r["shortNames"] == json({"wa"}) && r["categories"] == json({"whatsapp"});
    }
    if (r["name"] == "whatsappassignments/status") status = true;
  }
  EXPECT_TRUE(wa && status) << group.dump();
  auto index = ds.Get("/openapi/v3").Json();
  ASSERT_TRUE(index["paths"].contains("apis/whatsapp.bakery-ia.io/v1alpha1"));
  std::string url = index["paths"]["apis/whatsapp.bakery-ia.io/v1alpha1"]["serverRelativeURL"];
  auto doc = ds.Get(url).Json();
  EXPECT_TRUE(
      doc["components"]["schemas"].contains("io.bakery-ia.whatsapp.v1alpha1.WhatsAppAssignment"));
  ds.Post(kWaPath, Assignment("t"));
  auto table = ds.Get(
      kWaPath, {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}});
  json t = table.Json();
  EXPECT_EQ(t["kind"], "Table");
  ASSERT_EQ(t["rows"].size(), 1u);
  EXPECT_EQ(t["rows"][0]["cells"][0], "t");
  auto nst =
      ds.Get("/api/v1/namespaces", {{"Accept", "application/json;as=Table;v=v1;g=meta.k8s.io"}});
  EXPECT_EQ(nst.Json()["columnDefinitions"][1]["name"], "Status");
  auto agg =
      ds.Get("/apis",
             {{"Accept", "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"}});
  EXPECT_EQ(agg.Json()["kind"], "APIGroupDiscoveryList");
}

TEST(DevserverHttp, NamespaceDeletionRemovesContent) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  ASSERT_EQ(ds.Post("/api/v1/namespaces", {{"metadata", {{"name", "gone"}}}}).status, 201);
  ds.Post("/api/v1/namespaces/gone/configmaps", ConfigMap("c"));
  auto del = ds.Delete("/api/v1/namespaces/gone");
  EXPECT_TRUE(del.status == 200 || del.status == 202) << del.body;
  EXPECT_TRUE(
      waop::testing::WaitFor([&] { return ds.Get("/api/v1/namespaces/gone").status == 404; }));
  EXPECT_EQ(ds.Get("/api/v1/namespaces/gone/configmaps/c").status, 404);
}

TEST(DevserverHttp, EventsFieldSelectorsForDescribe) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata", {{"name", "e1"}}},
             {"involvedObject",
              {{"kind", "ConfigMap"}, {"name", "a"}, {"namespace", "default"}, {"uid", "u"}}},
             {"reason", "Test"},
             {"message", "hello"},
             {"type", "Normal"}};
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/events", ev).status, 201);
  ev["metadata"]["name"] = "e2";
  ev["involvedObject"]["name"] = "b";
  ASSERT_EQ(ds.Post("/api/v1/namespaces/default/events", ev).status, 201);
  auto l = ds.Get(
      "/api/v1/namespaces/default/"
      "events?fieldSelector=involvedObject.name%3Da,involvedObject.namespace%3Ddefault,"
      "involvedObject.uid%3Du");
  ASSERT_EQ(l.status, 200) << l.body;
  ASSERT_EQ(l.Json()["items"].size(), 1u);
  EXPECT_EQ(l.Json()["items"][0]["metadata"]["name"], "e1");
}

TEST(DevserverHttp, SigtermExitsCleanly) {
  Devserver ds;
  ASSERT_TRUE(ds.ok());
  auto code = ds.process().Signal(SIGTERM, std::chrono::seconds(20));
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
}

// --data-file: a second devserver started on the file has the objects, uids and
// resourceVersions of the first (killed with SIGKILL), its write log, and goes on counting from
// there; a corrupt file stops it at start with a message naming the file.
TEST(DevserverHttp, DataFileSurvivesAKillAndACorruptOneIsAStartupError) {
  waop::testing::TempDir dir;
  const std::string data = dir.File("store.json");
  json created;
  std::string rv_before;
  {
    Devserver first({"--data-file", data});
    ASSERT_TRUE(first.ok());
    auto r = first.Post("/api/v1/namespaces/default/configmaps", {{"apiVersion", "v1"},
                                                                  {"kind", "ConfigMap"},
                                                                  {"metadata", {{"name", "kept"}}},
                                                                  {"data", {{"k", "v"}}}});
    ASSERT_EQ(r.status, 201) << r.body;
    created = json::parse(r.body);
    rv_before = created["metadata"]["resourceVersion"];
    first.process().Signal(SIGKILL);
  }
  Devserver second({"--data-file", data});
  ASSERT_TRUE(second.ok()) << second.process().Stderr();
  auto got = second.Get("/api/v1/namespaces/default/configmaps/kept");
  ASSERT_EQ(got.status, 200) << got.body;
  const json kept = json::parse(got.body);
  EXPECT_EQ(kept["metadata"]["uid"], created["metadata"]["uid"]);
  EXPECT_EQ(kept["metadata"]["resourceVersion"], rv_before);
  EXPECT_EQ(kept["data"], created["data"]);
  auto writes = second.Get("/debug/writes?after=" + std::to_string(std::stoull(rv_before) - 1));
  ASSERT_EQ(writes.status, 200);
  const json log = json::parse(writes.body);
  ASSERT_EQ(log["writes"].size(), 1u) << writes.body;
  EXPECT_EQ(log["writes"][0]["name"], "kept");
  EXPECT_EQ(log["writes"][0]["type"], "ADDED");
  auto next =
      second.Post("/api/v1/namespaces/default/configmaps",
                  {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"name", "b"}}}});
  ASSERT_EQ(next.status, 201);
  EXPECT_GT(std::stoull(json::parse(next.body)["metadata"]["resourceVersion"].get<std::string>()),
            std::stoull(rv_before));

  const std::string corrupt = dir.File("corrupt.json");
  waop::testing::WriteFile(corrupt, "{\"format\":\"kube-dev");
  auto r = waop::testing::Run({DevserverBinary(), "--port", "0", "--data-file", corrupt});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data-file " + corrupt + ": not a JSON object"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace devserver::testing
