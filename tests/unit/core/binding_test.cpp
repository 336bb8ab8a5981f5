#include "core/binding.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace waop::core {
namespace {

WallTime At(int seconds) { return WallTime(std::chrono::seconds(1'790'000'000 + seconds)); }

AssignmentSummary Make(std::string ns, std::string name, int created, std::string tenant,
                       std::string phone) {
  AssignmentSummary a;
  a.ns = std::move(ns);
  a.name = std::move(name);
  a.uid = "uid-" + a.ns + "-" + a.name;
  a.creation_timestamp = At(created);
  a.tenant_id = std::move(tenant);
  a.tenant_name = "Tenant " + a.tenant_id;
  a.phone_number_id = std::move(phone);
  a.display_phone_number = "+34 600 000 " + a.phone_number_id;
  return a;
}

std::string Key(const AssignmentSummary& a) { return a.ns + "/" + a.name; }

// Outcomes keyed by namespace/name, so results from different input orders compare.
std::map<std::string, BindingOutcome> ByKey(const std::vector<AssignmentSummary>& in) {
  std::vector<BindingOutcome> out = ResolveBindings(in);
  std::map<std::string, BindingOutcome> m;
  for (size_t i = 0; i < in.size(); ++i) m[Key(in[i])] = out[i];
  return m;
}

// The rule, written the slow obvious way: for each assignment, look at every earlier bound one.
std::map<std::string, BindingOutcome> Reference(std::vector<AssignmentSummary> in) {
  std::sort(in.begin(), in.end(), [](const AssignmentSummary& a, const AssignmentSummary& b) {
    return std::tie(a.creation_timestamp, a.ns, a.name, a.uid) <
           std::tie(b.creation_timestamp, b.ns, b.name, b.uid);
  });
  std::map<std::string, BindingOutcome> m;
  std::vector<const AssignmentSummary*> bound;
  for (const AssignmentSummary& a : in) {
    BindingOutcome o;
    if (a.deleting) {
      o.state = BindingState::kReleasing;
    } else {
      const AssignmentSummary* phone_holder = nullptr;
      const AssignmentSummary* tenant_holder = nullptr;
      for (const AssignmentSummary* b : bound) {
        if (b->phone_number_id == a.phone_number_id) phone_holder = b;
        if (b->tenant_id == a.tenant_id) tenant_holder = b;
      }
      const AssignmentSummary* h = phone_holder ? phone_holder : tenant_holder;
      if (h != nullptr) {
        o.state =
            phone_holder ? BindingState::kDuplicatePhoneNumber : BindingState::kDuplicateTenant;
        o.holder = std::make_shared<const BindingHolder>(
            BindingHolder{h->ns, h->name, h->tenant_id, h->tenant_name, h->phone_number_id,
                          h->display_phone_number});
      } else {
        bound.push_back(&a);
      }
    }
    m[Key(a)] = o;
  }
  return m;
}

// Many collisions: few phones, few tenants, few distinct timestamps (so ties matter).
std::vector<AssignmentSummary> RandomSet(std::mt19937& rng, int n, int phones, int tenants,
                                         int times, double deleting_fraction = 0.05) {
  std::uniform_int_distribution<int> phone(0, phones - 1), tenant(0, tenants - 1), t(0, times - 1),
      ns(0, 4);
  std::bernoulli_distribution deleting(deleting_fraction);
  std::vector<AssignmentSummary> out;
  for (int i = 0; i < n; ++i) {
    AssignmentSummary a =
        Make("ns-" + std::to_string(ns(rng)), "a-" + std::to_string(i), t(rng),
             "t" + std::to_string(tenant(rng)), std::to_string(1000 + phone(rng)));
    a.deleting = deleting(rng);
    out.push_back(std::move(a));
  }
  return out;
}

TEST(BindingTest, OldestWinsAndLosersNameTheHolder) {
  std::vector<AssignmentSummary> in = {
      Make("b", "second", 20, "t2", "111"),  // same phone, younger
      Make("a", "first", 10, "t1", "111"),
      Make("c", "third", 30, "t1", "222"),  // same tenant, younger
  };
  std::vector<BindingOutcome> out = ResolveBindings(in);
  EXPECT_EQ(out[1].state, BindingState::kBound);
  EXPECT_FALSE(out[1].holder != nullptr);
  EXPECT_EQ(out[0].state, BindingState::kDuplicatePhoneNumber);
  ASSERT_TRUE(out[0].holder != nullptr);
  EXPECT_EQ(out[0].holder->ns, "a");
  EXPECT_EQ(out[0].holder->name, "first");
  EXPECT_EQ(out[0].holder->tenant_name, "Tenant t1");
  EXPECT_EQ(out[2].state, BindingState::kDuplicateTenant);
  EXPECT_EQ(out[2].holder->name, "first");
  EXPECT_EQ(out[2].holder->phone_number_id, "111");
}

TEST(BindingTest, PhoneDuplicateTakesPrecedenceOverTenant) {
  std::vector<AssignmentSummary> in = {Make("a", "x", 1, "t1", "111"),
                                       Make("a", "y", 2, "t1", "111")};
  EXPECT_EQ(ResolveBindings(in)[1].state, BindingState::kDuplicatePhoneNumber);
}

TEST(BindingTest, TiesBrokenByNamespaceThenName) {
  std::vector<AssignmentSummary> in = {Make("b", "a", 5, "t1", "111"),
                                       Make("a", "z", 5, "t2", "111"),
                                       Make("a", "y", 5, "t3", "111")};
  std::vector<BindingOutcome> out = ResolveBindings(in);
  EXPECT_EQ(out[2].state, BindingState::kBound);  // a/y sorts first
  EXPECT_EQ(out[1].state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(out[1].holder->name, "y");
  EXPECT_EQ(out[0].holder->name, "y");
}

TEST(BindingTest, ALoserHoldsNothing) {
  // b loses phone 111 to a, so b's tenant t2 stays free for c.
  std::vector<AssignmentSummary> in = {Make("n", "a", 1, "t1", "111"),
                                       Make("n", "b", 2, "t2", "111"),
                                       Make("n", "c", 3, "t2", "222")};
  std::vector<BindingOutcome> out = ResolveBindings(in);
  EXPECT_EQ(out[1].state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(out[2].state, BindingState::kBound);
}

TEST(BindingTest, DeletingHolderReleasesAndPromotesNextInLine) {
  std::vector<AssignmentSummary> in = {Make("n", "a", 1, "t1", "111"),
                                       Make("n", "b", 2, "t2", "111"),
                                       Make("n", "c", 3, "t3", "111")};
  EXPECT_EQ(ResolveBindings(in)[1].state, BindingState::kDuplicatePhoneNumber);
  in[0].deleting = true;
  std::vector<BindingOutcome> out = ResolveBindings(in);
  EXPECT_EQ(out[0].state, BindingState::kReleasing);
  EXPECT_FALSE(out[0].holder != nullptr);
  EXPECT_EQ(out[1].state, BindingState::kBound);
  EXPECT_EQ(out[2].state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(out[2].holder->name, "b");
  // Gone from the set entirely: same result for the others.
  in.erase(in.begin());
  out = ResolveBindings(in);
  EXPECT_EQ(out[0].state, BindingState::kBound);
  EXPECT_EQ(out[1].holder->name, "b");
}

TEST(BindingTest, HolderMovingToAnotherNumberFreesTheOldOne) {
  std::vector<AssignmentSummary> in = {Make("n", "a", 1, "t1", "111"),
                                       Make("n", "b", 2, "t2", "111")};
  EXPECT_EQ(ResolveBindings(in)[1].state, BindingState::kDuplicatePhoneNumber);
  in[0].phone_number_id = "333";
  std::vector<BindingOutcome> out = ResolveBindings(in);
  EXPECT_EQ(out[0].state, BindingState::kBound);
  EXPECT_EQ(out[1].state, BindingState::kBound);
}

TEST(BindingTest, EmptyInput) { EXPECT_TRUE(ResolveBindings({}).empty()); }

TEST(BindingTest, MatchesSlowReference) {
  std::mt19937 rng(7);
  for (int round = 0; round < 20; ++round) {
    std::vector<AssignmentSummary> in = RandomSet(rng, 150, 40, 40, 20);
    EXPECT_EQ(ByKey(in), Reference(in)) << "round " << round;
  }
}

TEST(BindingTest, SameOutcomesInAnyInputOrder) {
  std::mt19937 rng(12345);
  std::vector<AssignmentSummary> in = RandomSet(rng, 300, 80, 80, 30);
  const std::map<std::string, BindingOutcome> expected = ByKey(in);
  int duplicates = 0, bound = 0;
  for (const auto& [key, o] : expected) {
    duplicates +=
        o.state == BindingState::kDuplicatePhoneNumber || o.state == BindingState::kDuplicateTenant;
    bound += o.state == BindingState::kBound;
  }
  // The set must actually exercise collisions for the property to mean anything.
  EXPECT_GT(duplicates, 50);
  EXPECT_GT(bound, 20);
  for (int shuffle = 0; shuffle < 200; ++shuffle) {
    std::shuffle(in.begin(), in.end(), rng);
    ASSERT_EQ(ByKey(in), expected) << "shuffle " << shuffle;
  }
}

TEST(BindingTest, InvariantsHold) {
  std::mt19937 rng(99);
  std::vector<AssignmentSummary> in = RandomSet(rng, 400, 100, 120, 50);
  std::vector<BindingOutcome> out = ResolveBindings(in);
  std::map<std::string, std::string> phone_owner, tenant_owner;
  std::map<std::string, const AssignmentSummary*> by_key;
  for (const AssignmentSummary& a : in) by_key[Key(a)] = &a;
  for (size_t i = 0; i < in.size(); ++i) {
    if (out[i].state != BindingState::kBound) continue;
    EXPECT_TRUE(phone_owner.emplace(in[i].phone_number_id, Key(in[i])).second);
    EXPECT_TRUE(tenant_owner.emplace(in[i].tenant_id, Key(in[i])).second);
  }
  for (size_t i = 0; i < in.size(); ++i) {
    const BindingOutcome& o = out[i];
    if (o.state == BindingState::kDuplicatePhoneNumber) {
      EXPECT_EQ(phone_owner.at(in[i].phone_number_id), o.holder->ns + "/" + o.holder->name);
    } else if (o.state == BindingState::kDuplicateTenant) {
      EXPECT_EQ(tenant_owner.at(in[i].tenant_id), o.holder->ns + "/" + o.holder->name);
      // Its phone was free of earlier holders, or it would be a phone duplicate.
      auto it = phone_owner.find(in[i].phone_number_id);
      if (it != phone_owner.end()) {
        const AssignmentSummary* h = by_key.at(it->second);
        EXPECT_GT(std::tie(h->creation_timestamp, h->ns, h->name),
                  std::tie(in[i].creation_timestamp, in[i].ns, in[i].name));
      }
    }
    if (in[i].deleting) {
      EXPECT_EQ(o.state, BindingState::kReleasing);
    }
  }
}

// Index-backed lookups, as the controller's informer indexes would answer.
struct Indexes {
  std::multimap<std::string, AssignmentSummary> by_phone, by_tenant;
  explicit Indexes(const std::vector<AssignmentSummary>& all) {
    for (const AssignmentSummary& a : all) {
      by_phone.emplace(a.phone_number_id, a);
      by_tenant.emplace(a.tenant_id, a);
    }
  }
  static std::vector<AssignmentSummary> Find(const std::multimap<std::string, AssignmentSummary>& m,
                                             std::string_view id) {
    std::vector<AssignmentSummary> out;
    auto [lo, hi] = m.equal_range(std::string(id));
    for (auto it = lo; it != hi; ++it) out.push_back(it->second);
    return out;
  }
  SummaryLookup Phone() const {
    return [this](std::string_view id) { return Find(by_phone, id); };
  }
  SummaryLookup Tenant() const {
    return [this](std::string_view id) { return Find(by_tenant, id); };
  }
};

TEST(BindingTest, ComponentIsTransitiveAndDeduplicated) {
  std::vector<AssignmentSummary> all = {
      Make("n", "a", 1, "t1", "111"), Make("n", "b", 2, "t2", "111"),  // a-b by phone
      Make("n", "c", 3, "t2", "222"),                                  // b-c by tenant
      Make("n", "d", 4, "t9", "999"),                                  // unrelated
  };
  Indexes idx(all);
  std::vector<AssignmentSummary> comp = ConnectedComponent(all[0], idx.Phone(), idx.Tenant());
  std::vector<std::string> keys;
  for (const AssignmentSummary& a : comp) keys.push_back(Key(a));
  EXPECT_EQ(keys.front(), "n/a");
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"n/a", "n/b", "n/c"}));
}

TEST(BindingTest, SeedVersionReplacesStoredVersion) {
  std::vector<AssignmentSummary> stored = {Make("n", "a", 1, "t1", "111"),
                                           Make("n", "b", 2, "t2", "222")};
  Indexes idx(stored);
  // A proposed update of b onto a's number: the stored b (on 222) must not appear.
  AssignmentSummary proposed = stored[1];
  proposed.phone_number_id = "111";
  std::vector<AssignmentSummary> comp = ConnectedComponent(proposed, idx.Phone(), idx.Tenant());
  ASSERT_EQ(comp.size(), 2u);
  EXPECT_EQ(comp[0].phone_number_id, "111");
  EXPECT_EQ(comp[1].name, "a");
  BindingOutcome o = ResolveOne(proposed, comp);
  EXPECT_EQ(o.state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(o.holder->name, "a");
}

TEST(BindingTest, AdmissionOfANewObjectLosesToTheExistingHolder) {
  // The webhook sees a CREATE before the API server stamps creationTimestamp: it uses now.
  std::vector<AssignmentSummary> stored = {Make("n", "holder", 100, "t1", "111")};
  AssignmentSummary incoming = Make("a", "newcomer", 0, "t2", "111");
  incoming.creation_timestamp = At(5000);
  BindingOutcome o = ResolveOne(incoming, stored);
  EXPECT_EQ(o.state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(o.holder->name, "holder");
}

TEST(BindingTest, ComponentReachesThroughDeletingMembers) {
  // b is being deleted: it holds nothing, but it is still returned so the caller sees it.
  std::vector<AssignmentSummary> all = {Make("n", "a", 1, "t1", "111"),
                                        Make("n", "b", 2, "t2", "111"),
                                        Make("n", "c", 3, "t2", "222")};
  all[1].deleting = true;
  Indexes idx(all);
  std::vector<AssignmentSummary> comp = ConnectedComponent(all[0], idx.Phone(), idx.Tenant());
  EXPECT_EQ(comp.size(), 3u);
  std::map<std::string, BindingOutcome> part = ByKey(comp);
  EXPECT_EQ(part.at("n/b").state, BindingState::kReleasing);
  EXPECT_EQ(part.at("n/c").state, BindingState::kBound);
}

TEST(BindingTest, ResolveOneReplacesSameObject) {
  std::vector<AssignmentSummary> others = {Make("n", "a", 1, "t1", "111"),
                                           Make("n", "b", 2, "t2", "222")};
  AssignmentSummary b_moved = others[1];
  b_moved.phone_number_id = "111";
  EXPECT_EQ(ResolveOne(b_moved, others).state, BindingState::kDuplicatePhoneNumber);
  EXPECT_EQ(ResolveOne(others[1], others).state, BindingState::kBound);
}

TEST(BindingTest, OutcomeDependsOnlyOnConnectedComponent) {
  std::mt19937 rng(2024);
  // Sparse enough to give many components of varied sizes.
  std::vector<AssignmentSummary> all = RandomSet(rng, 400, 250, 250, 40);
  Indexes idx(all);
  const std::map<std::string, BindingOutcome> whole = ByKey(all);
  size_t largest = 0;
  std::uniform_int_distribution<size_t> pick(0, all.size() - 1);
  for (const AssignmentSummary& seed : all) {
    std::vector<AssignmentSummary> comp = ConnectedComponent(seed, idx.Phone(), idx.Tenant());
    largest = std::max(largest, comp.size());
    std::map<std::string, BindingOutcome> part = ByKey(comp);
    for (const auto& [key, outcome] : part) {
      ASSERT_EQ(outcome, whole.at(key)) << key << " in component of " << Key(seed);
    }
    // Any superset of the component gives the same outcomes too.
    std::vector<AssignmentSummary> superset = comp;
    for (int k = 0; k < 20; ++k) {
      const AssignmentSummary& extra = all[pick(rng)];
      bool present = std::any_of(superset.begin(), superset.end(),
                                 [&](const AssignmentSummary& s) { return Key(s) == Key(extra); });
      if (!present) superset.push_back(extra);
    }
    std::map<std::string, BindingOutcome> bigger = ByKey(superset);
    for (const auto& [key, outcome] : part) ASSERT_EQ(bigger.at(key), outcome) << key;
  }
  EXPECT_GT(largest, 3u);  // the set really has multi-member components
}

TEST(BindingTest, PhoneHolder) {
  std::vector<AssignmentSummary> in = {Make("n", "a", 1, "t1", "111"),
                                       Make("n", "b", 2, "t2", "111"),
                                       Make("n", "c", 3, "t3", "222")};
  in[2].deleting = true;
  std::vector<BindingOutcome> out = ResolveBindings(in);
  std::optional<api::PhoneAssignmentRef> h = PhoneHolder("111", in, out);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->ns, "n");
  EXPECT_EQ(h->name, "a");
  EXPECT_EQ(h->tenant_id, "t1");
  EXPECT_EQ(h->tenant_name, "Tenant t1");
  EXPECT_FALSE(PhoneHolder("222", in, out).has_value());  // its only claimant is leaving
  in[0].tenant_name = "";
  EXPECT_EQ(PhoneHolder("111", in, out)->tenant_name, "t1");  // TENANT column never empty
  EXPECT_FALSE(PhoneHolder("333", in, out).has_value());
}

TEST(BindingTest, SummarizeCopiesTheBindingFields) {
  api::Assignment a;
  a.metadata.name = "x";
  a.metadata.ns = "n";
  a.metadata.uid = "u";
  a.metadata.creation_timestamp = At(5);
  a.metadata.deletion_timestamp = At(9);
  a.spec.tenant_id = "t";
  a.spec.tenant_name = "T";
  a.spec.phone_number_id = "1";
  a.spec.display_phone_number = "+34 612 345 678";
  AssignmentSummary s = Summarize(a);
  EXPECT_EQ(s.ns, "n");
  EXPECT_EQ(s.uid, "u");
  EXPECT_EQ(s.creation_timestamp, At(5));
  EXPECT_TRUE(s.deleting);
  EXPECT_EQ(s.display_phone_number, "+34 612 345 678");
  EXPECT_EQ(BindingStateName(BindingState::kDuplicateTenant), "DuplicateTenant");
}

// ClaimOf reads no status (it is looked up for every member of a component), yet agrees with
// ClaimErrors, which reads everything and ignores status errors: whatever the status holds.
TEST(ClaimOfTest, AgreesWithClaimErrorsWhateverTheStatus) {
  nlohmann::json base = {
      {"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
      {"kind", "WhatsAppAssignment"},
      {"metadata",
       {{"name", "a"},
        {"namespace", "ns"},
        {"uid", "u"},
        {"resourceVersion", "1"},
        {"creationTimestamp", "2026-11-01T10:00:00Z"}}},
      {"spec", {{"tenantId", "t-1"}, {"phoneNumberId", "123"}, {"tenantName", "Obrador"}}}};
  std::vector<nlohmann::json> statuses = {
      nullptr,
      {{"conditions", "not a list"}},
      {{"observedGeneration", "x"}, {"qualityRating", 7}},
      {{"conditions", {{{"type", "Ready"}, {"status", "True"}, {"reason", "Bound"}}}}}};
  std::vector<nlohmann::json> specs = {base["spec"],
                                       {{"tenantId", "t-1"}},
                                       {{"tenantId", 5}, {"phoneNumberId", "123"}},
                                       {{"tenantId", "t-1"}, {"phoneNumberId", "12 3"}}};
  for (const auto& spec : specs) {
    for (const auto& status : statuses) {
      nlohmann::json o = base;
      o["spec"] = spec;
      if (!status.is_null()) o["status"] = status;
      api::Assignment a;
      const bool valid = ClaimErrors(o, &a).empty();
      auto claim = ClaimOf(o);
      ASSERT_EQ(claim.has_value(), valid) << o.dump();
      if (valid) {
        EXPECT_EQ(*claim, Summarize(a)) << o.dump();
      }
    }
  }
}

}  // namespace
}  // namespace waop::core
