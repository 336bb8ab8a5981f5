#include "kube/store.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <thread>

#include "kube/client.h"

namespace waop::kube {
namespace {

using nlohmann::json;

ObjectPtr Obj(const std::string& ns, const std::string& name, const std::string& phone) {
  return std::make_shared<const json>(
      json{{"metadata", {{"namespace", ns}, {"name", name}}}, {"spec", {{"phone", phone}}}});
}

std::vector<std::string> Phone(const json& o) { return {o["spec"]["phone"].get<std::string>()}; }

TEST(StoreTest, IndexesFollowUpdatesAndDeletes) {
  Store store;
  ASSERT_TRUE(store.AddIndex("phone", Phone).ok());
  EXPECT_EQ(store.AddIndex("phone", Phone).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(store.Upsert(Obj("a", "x", "1")), nullptr);
  store.Upsert(Obj("b", "y", "1"));
  store.Upsert(Obj("b", "z", "2"));
  auto ones = store.ByIndex("phone", "1");
  ASSERT_TRUE(ones.ok());
  ASSERT_EQ(ones->size(), 2u);
  EXPECT_EQ((*ones)[0]->at("metadata").at("name"), "x");

  auto old = store.Upsert(Obj("a", "x", "2"));  // x moves to phone 2
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->at("spec").at("phone"), "1");
  EXPECT_EQ(store.ByIndex("phone", "1")->size(), 1u);
  EXPECT_EQ(store.ByIndex("phone", "2")->size(), 2u);
  ASSERT_NE(store.Remove("b/z"), nullptr);
  EXPECT_EQ(store.ByIndex("phone", "2")->size(), 1u);
  EXPECT_EQ(store.Remove("b/z"), nullptr);
  EXPECT_EQ(store.ByIndex("nope", "1").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store.AddIndex("late", Phone).code(), StatusCode::kFailedPrecondition);

  EXPECT_EQ(store.Size(), 2u);
  EXPECT_NE(store.Get("a", "x"), nullptr);
  EXPECT_EQ(store.ListNamespace("b").size(), 1u);
  EXPECT_EQ(store.Keys(), (std::vector<std::string>{"a/x", "b/y"}));
  EXPECT_TRUE(store.AnyInNamespace("a"));
  EXPECT_TRUE(store.AnyInNamespace("b"));
  EXPECT_FALSE(store.AnyInNamespace("c"));
  EXPECT_FALSE(store.AnyInNamespace(""));  // "" is cluster-scoped: none stored here
  ASSERT_NE(store.Remove("a/x"), nullptr);
  EXPECT_FALSE(store.AnyInNamespace("a"));
}

TEST(StoreTest, ReadersKeepTheirSnapshot) {
  Store store;
  store.Upsert(Obj("a", "x", "1"));
  ObjectPtr held = store.Get("a/x");
  store.Upsert(Obj("a", "x", "2"));
  EXPECT_EQ(held->at("spec").at("phone"), "1");
  EXPECT_EQ(store.Get("a/x")->at("spec").at("phone"), "2");
}

TEST(StoreTest, ReadsOfOneVersionShareTheirDocumentWhileHeld) {
  Store store;
  ASSERT_TRUE(store.AddIndex("phone", Phone).ok());
  store.Upsert(Obj("a", "x", "1"));
  ObjectPtr first = store.Get("a/x");
  ASSERT_NE(first, nullptr);
  // Held: the same version read again, directly or through an index, is not unpacked again.
  EXPECT_EQ(store.Get("a/x"), first);
  EXPECT_EQ(store.ByIndex("phone", "1")->front(), first);
  EXPECT_EQ(store.List().front(), first);
  // A new version is a new document; the held one stays as it was.
  store.Upsert(Obj("a", "x", "2"));
  ObjectPtr second = store.Get("a/x");
  EXPECT_NE(second, first);
  EXPECT_EQ(first->at("spec").at("phone"), "1");
  EXPECT_EQ(second->at("spec").at("phone"), "2");
  // Released by every reader: the store holds no document, the next read unpacks a fresh one
  // equal to it.
  const json copy = *second;
  std::weak_ptr<const json> watch = second;
  second.reset();
  first.reset();
  EXPECT_TRUE(watch.expired());
  ObjectPtr again = store.Get("a/x");
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(*again, copy);
}

TEST(StoreTest, PackedObjectsComeBackExactly) {
  Store store;
  json doc = json::parse(R"({
    "metadata": {"namespace": "ns", "name": "o", "resourceVersion": "42", "generation": 3,
                 "labels": {}, "finalizers": []},
    "spec": {"tenantName": "Panadería Ñandú 🥐", "big": 9007199254740993, "neg": -7,
             "ratio": 0.25, "on": true, "off": false, "none": null,
             "nested": [[1, "2", {"three": [3.5]}], {}]}
  })");
  store.Upsert(std::make_shared<const json>(doc));
  ObjectPtr back = store.Get("ns/o");
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(*back, doc);
  EXPECT_EQ(back->dump(), doc.dump());  // same types too (integers stay integers)
  EXPECT_EQ(store.ResourceVersionOf("ns/o"), "42");
  EXPECT_EQ(store.ResourceVersionOf("ns/none"), std::nullopt);
  // Packed, the document is smaller than its JSON text.
  const std::size_t packed = store.PackedBytesForTesting();
  EXPECT_GT(packed, 0u);
  EXPECT_LT(packed, doc.dump().size());
  ASSERT_NE(store.Remove("ns/o"), nullptr);
  EXPECT_EQ(store.PackedBytesForTesting(), 0u);
}

// An index function that throws (an object it cannot read) leaves the store as it was: the
// informer catches the exception and relists, and must find a consistent cache.
TEST(StoreTest, AnIndexFunctionThatThrowsChangesNothing) {
  Store store;
  ASSERT_TRUE(store
                  .AddIndex("strict",
                            [](const json& o) {
                              return std::vector<std::string>{
                                  o.at("spec").at("phone").get<std::string>()};
                            })
                  .ok());
  store.Upsert(Obj("a", "x", "1"));
  const std::size_t packed = store.PackedBytesForTesting();
  const ObjectPtr unreadable = std::make_shared<const json>(
      json{{"metadata", {{"namespace", "a"}, {"name", "x"}, {"resourceVersion", "9"}}}});
  EXPECT_THROW(store.Upsert(unreadable), json::exception);
  const ObjectPtr new_one = std::make_shared<const json>(
      json{{"metadata", {{"namespace", "a"}, {"name", "y"}}}, {"spec", {{"phone", 7}}}});
  EXPECT_THROW(store.Upsert(new_one), json::exception);
  EXPECT_EQ(store.Size(), 1u);
  EXPECT_EQ(store.PackedBytesForTesting(), packed);
  EXPECT_EQ(store.Get("a/x")->at("spec").at("phone"), "1");
  EXPECT_EQ(store.Get("a/y"), nullptr);
  EXPECT_EQ(store.ByIndex("strict", "1")->size(), 1u);
  // Still usable: update, then remove.
  store.Upsert(Obj("a", "x", "2"));
  EXPECT_TRUE(store.ByIndex("strict", "1")->empty());
  EXPECT_EQ(store.ByIndex("strict", "2")->size(), 1u);
  ASSERT_NE(store.Remove("a/x"), nullptr);
  EXPECT_EQ(store.Size(), 0u);
  EXPECT_EQ(store.PackedBytesForTesting(), 0u);
}

TEST(StoreTest, ConcurrentReadersAndWriter) {
  Store store;
  ASSERT_TRUE(store.AddIndex("phone", Phone).ok());
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      store.Upsert(Obj("ns", "o" + std::to_string(i % 50), std::to_string(i % 7)));
      if (i % 3 == 0) store.Remove("ns/o" + std::to_string((i + 1) % 50));
    }
    done = true;
  });
  std::size_t reads = 0;
  while (!done) {
    for (const auto& o : store.List())
      reads += o->at("metadata").at("name").get<std::string>().size();
    auto r = store.ByIndex("phone", "3");
    ASSERT_TRUE(r.ok());
  }
  writer.join();
  EXPECT_GT(reads + 1, 0u);
  EXPECT_LE(store.Size(), 50u);
}

// Seeded random histories of upserts and removals (objects moving between index values,
// filed under several values or none, keys coming and going) against a from-scratch answer:
// after every step each index lists exactly the keys whose current object maps to the value,
// in key order, and the store holds exactly the live objects.
TEST(StoreTest, IndexesMatchAFromScratchAnswerAfterAnyHistory) {
  // Tags: every value in spec.tags, so an object can be filed under 0, 1 or 2 values.
  IndexFunc tags = [](const json& o) {
    std::vector<std::string> out;
    for (const auto& t : o["spec"]["tags"]) out.push_back(t.get<std::string>());
    return out;
  };
  const std::uint64_t base = std::random_device{}();
  for (std::uint64_t run = 0; run < 200; ++run) {
    const std::uint64_t seed = base + run;
    std::mt19937_64 rng(seed);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
    Store store;
    ASSERT_TRUE(store.AddIndex("phone", Phone).ok());
    ASSERT_TRUE(store.AddIndex("tags", tags).ok());
    std::map<std::string, json> live;  // the model: key -> current object
    for (int step = 0; step < 60; ++step) {
      const std::string ns = pick(2) == 0 ? "a" : "bench-namespace-with-a-long-name";
      const std::string name = "object-" + std::to_string(pick(8));
      const std::string key = ns + "/" + name;
      if (pick(4) == 0) {
        ObjectPtr old = store.Remove(key);
        ASSERT_EQ(old != nullptr, live.count(key) == 1) << "seed " << seed;
        if (old) {
          ASSERT_EQ(*old, live[key]) << "seed " << seed;
        }
        live.erase(key);
      } else {
        json tag_list = json::array();
        for (int t = pick(3); t > 0; --t) tag_list.push_back("t" + std::to_string(pick(3)));
        json o = {{"metadata", {{"namespace", ns}, {"name", name}}},
                  {"spec", {{"phone", std::to_string(pick(4))}, {"tags", tag_list}}}};
        ObjectPtr old = store.Upsert(std::make_shared<const json>(o));
        ASSERT_EQ(old != nullptr, live.count(key) == 1) << "seed " << seed;
        if (old) {
          ASSERT_EQ(*old, live[key]) << "seed " << seed;
        }
        live[key] = o;
      }
      ASSERT_EQ(store.Size(), live.size()) << "seed " << seed;
      for (const char* index : {"phone", "tags"}) {
        std::map<std::string, std::set<std::string>> want;  // value -> keys, from scratch
        for (const auto& [k, o] : live) {
          for (const auto& v : (std::string(index) == "phone" ? Phone(o) : tags(o))) {
            want[v].insert(k);
          }
        }
        for (const std::string v : {"0", "1", "2", "3", "t0", "t1", "t2"}) {
          auto got = store.ByIndex(index, v);
          ASSERT_TRUE(got.ok());
          std::vector<std::string> got_keys;
          for (const auto& o : *got) got_keys.push_back(ObjectKey(*o));
          const auto& w = want[v];
          ASSERT_EQ(got_keys, std::vector<std::string>(w.begin(), w.end()))
              << "seed " << seed << ", step " << step << ", index " << index << " = " << v;
        }
      }
    }
  }
}

}  // namespace
}  // namespace waop::kube
