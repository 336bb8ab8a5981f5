#include "kube/informer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "support/fake_client.h"
#include "support/fake_clock.h"

namespace waop::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// Polls `condition` until it holds or 20 s pass (generous for ASan on a busy machine).
bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

json Wa(const std::string& ns, const std::string& name, const std::string& phone) {
  return {{"metadata", {{"namespace", ns}, {"name", name}}},
          {"spec", {{"tenantId", "t-" + name}, {"phoneNumberId", phone}}}};
}

// Records handler calls as "add ns/name", "update ns/name", "delete ns/name".
class Recorder {
 public:
  EventHandler Handler() {
    return {[this](const ObjectPtr& o) { Add("add " + ObjectKey(*o)); },
            [this](const ObjectPtr&, const ObjectPtr& n) { Add("update " + ObjectKey(*n)); },
            [this](const ObjectPtr& o) { Add("delete " + ObjectKey(*o)); }};
  }
  bool Has(const std::string& e) const {
    std::lock_guard lock(mu_);
    return std::find(events_.begin(), events_.end(), e) != events_.end();
  }
  std::size_t Count(const std::string& prefix) const {
    std::lock_guard lock(mu_);
    return std::count_if(events_.begin(), events_.end(),
                         [&](const std::string& e) { return e.rfind(prefix, 0) == 0; });
  }

 private:
  void Add(std::string e) {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

InformerOptions FastOptions(const ResourceType& type) {
  InformerOptions o;
  o.type = type;
  o.initial_backoff = milliseconds(1);
  o.max_backoff = milliseconds(8);
  o.seed = 42;
  return o;
}

TEST(JitteredBackoffTest, DoublesWithJitterAndCaps) {
  JitteredBackoff b(milliseconds(800), milliseconds(30'000), 0.2, 7);
  const int64_t expected[] = {800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000};
  std::set<int64_t> distinct;
  for (int64_t base : expected) {
    const int64_t d = b.Next().count();
    EXPECT_GE(d, static_cast<int64_t>(base * 0.8)) << base;
    EXPECT_LE(d, std::min<int64_t>(static_cast<int64_t>(base * 1.2), 30000)) << base;
    distinct.insert(d);
  }
  EXPECT_GT(distinct.size(), 6u);  // jittered, not a fixed ladder
  b.Reset();
  EXPECT_LE(b.Next().count(), 960);
  // Same seed, same sequence: tests can rely on it.
  JitteredBackoff x(milliseconds(800), milliseconds(30'000), 0.2, 99);
  JitteredBackoff y(milliseconds(800), milliseconds(30'000), 0.2, 99);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(x.Next(), y.Next());
}

TEST(InformerTest, InitialListIsPagedAndSynced) {
  FakeClient fake;
  for (int i = 0; i < 1203; ++i) {
    ASSERT_TRUE(
        fake.Seed(resources::kWhatsAppAssignments,
                  Wa("ns" + std::to_string(i % 3), "wa" + std::to_string(i), std::to_string(i)))
            .ok());
  }
  Recorder rec;
  Informer informer(fake, FastOptions(resources::kWhatsAppAssignments));
  informer.AddEventHandler(rec.Handler());
  EXPECT_FALSE(informer.HasSynced());
  ASSERT_TRUE(informer.Start().ok());
  EXPECT_EQ(informer.Start().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  EXPECT_EQ(informer.store().Size(), 1203u);
  EXPECT_EQ(rec.Count("add "), 1203u);
  EXPECT_EQ(fake.Calls("list", resources::kWhatsAppAssignments), 3);  // 500 + 500 + 203
  EXPECT_EQ(informer.Stats().lists, 1u);
  EXPECT_EQ(informer.LastResourceVersion(), fake.ResourceVersion());
}

// Forwards to a FakeClient, but lets a test answer chosen list calls itself.
class ListFaults : public Client {
 public:
  // Called with the 1-based list call number and its options; an error fails that call.
  using Fault = std::function<Status(int call, const ListOptions& options)>;
  ListFaults(FakeClient& fake, Fault fault) : fake_(fake), fault_(std::move(fault)) {}
  Result<json> Get(const ResourceType& t, std::string_view ns, std::string_view n) override {
    return fake_.Get(t, ns, n);
  }
  Result<ListResult> List(const ResourceType& t, std::string_view ns,
                          const ListOptions& o) override {
    if (Status s = fault_(++lists_, o); !s.ok()) return s;
    return fake_.List(t, ns, o);
  }
  Result<json> Create(const ResourceType& t, const json& o) override { return fake_.Create(t, o); }
  Result<json> Update(const ResourceType& t, const json& o) override { return fake_.Update(t, o); }
  Result<json> UpdateStatus(const ResourceType& t, const json& o) override {
    return fake_.UpdateStatus(t, o);
  }
  Result<json> Patch(const ResourceType& t, std::string_view ns, std::string_view n, PatchType p,
                     const json& body, std::string_view sub) override {
    return fake_.Patch(t, ns, n, p, body, sub);
  }
  Status Delete(const ResourceType& t, std::string_view ns, std::string_view n,
                const DeleteOptions& o) override {
    return fake_.Delete(t, ns, n, o);
  }
  Result<std::unique_ptr<WatchStream>> Watch(const ResourceType& t, std::string_view ns,
                                             const WatchOptions& o) override {
    return fake_.Watch(t, ns, o);
  }

 private:
  FakeClient& fake_;
  Fault fault_;
  std::atomic<int> lists_{0};
};

void SeedMany(FakeClient& fake, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(fake.Seed(resources::kWhatsAppAssignments,
                          Wa("ns", "wa" + std::to_string(i), std::to_string(i)))
                    .ok());
  }
}

TEST(InformerTest, ListFailingHalfWayAnnouncesEachObjectOnce) {
  FakeClient fake;
  SeedMany(fake, 1203);
  // The third page fails once: the first two are stored (one page at a time) and announced;
  // the retry announces only the rest.
  ListFaults client(fake, [](int call, const ListOptions&) {
    return call == 3 ? Status::Unavailable("connection reset") : Status::Ok();
  });
  Recorder rec;
  Informer informer(client, FastOptions(resources::kWhatsAppAssignments));
  informer.AddEventHandler(rec.Handler());
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  EXPECT_EQ(informer.store().Size(), 1203u);
  EXPECT_EQ(rec.Count("add "), 1203u);
  EXPECT_EQ(rec.Count("update "), 0u);
  EXPECT_TRUE(rec.Has("add ns/wa0"));
  EXPECT_TRUE(rec.Has("add ns/wa1202"));
  EXPECT_EQ(informer.Stats().lists, 1u);
  EXPECT_EQ(informer.Stats().watch_errors, 1u);
}

TEST(InformerTest, ExpiredContinueTokenRestartsTheListAtAnyPage) {
  FakeClient fake;
  SeedMany(fake, 2600);  // 6 pages of 500
  // The fifth page's continue token has expired (410 Gone): the list starts over.
  ListFaults client(fake, [](int call, const ListOptions& o) {
    return call == 5 && !o.continue_token.empty() ? Status::Gone("continue token expired")
                                                  : Status::Ok();
  });
  Recorder rec;
  Informer informer(client, FastOptions(resources::kWhatsAppAssignments));
  informer.AddEventHandler(rec.Handler());
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  EXPECT_EQ(informer.store().Size(), 2600u);
  EXPECT_EQ(rec.Count("add "), 2600u);
  EXPECT_EQ(informer.Stats().watch_errors, 0u);  // no failed list: restarted in place
  EXPECT_EQ(informer.Stats().lists, 1u);
}

TEST(InformerTest, AppliesWatchEvents) {
  FakeClient fake;
  ASSERT_TRUE(fake.Seed(resources::kWhatsAppAssignments, Wa("ns", "a", "1")).ok());
  Recorder rec;
  Informer informer(fake, FastOptions(resources::kWhatsAppAssignments));
  informer.AddEventHandler(rec.Handler());
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));

  ASSERT_TRUE(fake.Create(resources::kWhatsAppAssignments, Wa("ns", "b", "2")).ok());
  ASSERT_TRUE(fake.Patch(resources::kWhatsAppAssignments, "ns", "a", PatchType::kMerge,
                         {{"spec", {{"phoneNumberId", "9"}}}})
                  .ok());
  ASSERT_TRUE(fake.Delete(resources::kWhatsAppAssignments, "ns", "b").ok());
  ASSERT_TRUE(Eventually([&] { return rec.Has("delete ns/b"); }));
  EXPECT_TRUE(rec.Has("add ns/b"));
  EXPECT_TRUE(rec.Has("update ns/a"));
  EXPECT_EQ(informer.store().Get("ns/a")->at("spec").at("phoneNumberId"), "9");
  EXPECT_EQ(informer.store().Get("ns/b"), nullptr);
  EXPECT_EQ(informer.Stats().events, 3u);
  EXPECT_EQ(informer.LastResourceVersion(), fake.ResourceVersion());
}

TEST(InformerTest, GoneRelistsAndDeliversWhatWasMissed) {
  FakeClient fake;
  ASSERT_TRUE(fake.Seed(resources::kWhatsAppAssignments, Wa("ns", "keep", "1")).ok());
  ASSERT_TRUE(fake.Seed(resources::kWhatsAppAssignments, Wa("ns", "gone", "2")).ok());
  ASSERT_TRUE(fake.Seed(resources::kWhatsAppAssignments, Wa("ns", "changed", "3")).ok());
  Recorder rec;
  Informer informer(fake, FastOptions(resources::kWhatsAppAssignments));
  informer.AddEventHandler(rec.Handler());
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));

  // Disconnect and keep the informer out while the world changes and history is compacted.
  fake.InjectError("watch", resources::kWhatsAppAssignments, Status::Unavailable("down"), 1000);
  fake.BreakWatches();
  const int watches = fake.Calls("watch", resources::kWhatsAppAssignments);
  ASSERT_TRUE(Eventually(
      [&] { return fake.Calls("watch", resources::kWhatsAppAssignments) > watches + 1; }));
  ASSERT_TRUE(fake.Delete(resources::kWhatsAppAssignments, "ns", "gone").ok());
  ASSERT_TRUE(fake.Create(resources::kWhatsAppAssignments, Wa("ns", "new", "4")).ok());
  ASSERT_TRUE(fake.Patch(resources::kWhatsAppAssignments, "ns", "changed", PatchType::kMerge,
                         {{"spec", {{"phoneNumberId", "33"}}}})
                  .ok());
  fake.CompactHistory();
  fake.ClearInjectedErrors();

  ASSERT_TRUE(Eventually([&] { return informer.Stats().relists == 1; }));
  ASSERT_TRUE(Eventually([&] { return rec.Has("delete ns/gone"); }));
  EXPECT_TRUE(rec.Has("add ns/new"));
  EXPECT_TRUE(rec.Has("update ns/changed"));
  EXPECT_FALSE(rec.Has("update ns/keep"));  // unchanged objects are not re-delivered
  EXPECT_EQ(informer.store().Keys(), (std::vector<std::string>{"ns/changed", "ns/keep", "ns/new"}));
  EXPECT_EQ(informer.Stats().lists, 2u);
  EXPECT_GE(informer.Stats().watch_errors, 2u);
}

TEST(InformerTest, WatchOpenGoneAlsoRelists) {
  FakeClient fake;
  ASSERT_TRUE(fake.Seed(resources::kConfigMaps, Wa("ns", "a", "1")).ok());
  Informer informer(fake, FastOptions(resources::kConfigMaps));
  fake.InjectError("watch", resources::kConfigMaps, Status::Gone("too old resource version"));
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return informer.Stats().relists == 1; }));
  EXPECT_EQ(fake.Calls("list", resources::kConfigMaps), 2);
}

// The delays an informer backs off for: options with a 10 ms backoff doubling to 80 ms, by
// `clock`, that record each delay.
class BackoffLog {
 public:
  InformerOptions Options(FakeClock& clock) {
    InformerOptions options = FastOptions(resources::kConfigMaps);
    options.initial_backoff = milliseconds(10);
    options.max_backoff = milliseconds(80);
    options.clock = &clock;
    options.on_backoff = [this](milliseconds d) {
      std::lock_guard lock(mu_);
      delays_.push_back(d.count());
    };
    return options;
  }
  std::size_t Count() const {
    std::lock_guard lock(mu_);
    return delays_.size();
  }
  // The i-th delay in milliseconds; nullopt before it happened.
  std::optional<int64_t> At(std::size_t i) const {
    std::lock_guard lock(mu_);
    if (i >= delays_.size()) return std::nullopt;
    return delays_[i];
  }

 private:
  mutable std::mutex mu_;
  std::vector<int64_t> delays_;
};

TEST(InformerTest, ReconnectBackoffIsJitteredCappedAndResets) {
  FakeClock clock;
  FakeClient fake;
  BackoffLog log;
  InformerOptions options = log.Options(clock);
  fake.InjectError("watch", resources::kConfigMaps, Status::Unavailable("refused"), 6);
  Informer informer(fake, options);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  ASSERT_EQ(log.Count(), 6u);
  const int64_t bases[] = {10, 20, 40, 80, 80, 80};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_GE(*log.At(i), static_cast<int64_t>(bases[i] * 0.8)) << i;
    EXPECT_LE(*log.At(i), std::min<int64_t>(static_cast<int64_t>(bases[i] * 1.2), 80)) << i;
  }
  // A watch that lasted (by the injected clock) resets the backoff.
  clock.Advance(std::chrono::minutes(2));
  fake.BreakWatches();
  ASSERT_TRUE(Eventually([&] { return log.Count() == 7u; }));
  EXPECT_LE(*log.At(6), 12);
  EXPECT_EQ(informer.Stats().watch_errors, 7u);
}

// A watch that broke after delivering something reached a working server, so the backoff
// starts over; one that delivered nothing keeps climbing.
TEST(InformerTest, AWatchThatDeliveredResetsTheBackoff) {
  FakeClock clock;  // never advanced: no watch lasts
  FakeClient fake;
  BackoffLog log;
  InformerOptions options = log.Options(clock);
  fake.InjectError("watch", resources::kConfigMaps, Status::Unavailable("refused"), 4);
  Informer informer(fake, options);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  ASSERT_TRUE(log.At(3).has_value());
  EXPECT_GE(*log.At(3), 64);  // 80 with jitter: at the cap
  // Broken without delivering anything: the next wait stays at the cap.
  fake.BreakWatches();
  ASSERT_TRUE(Eventually([&] { return log.At(4).has_value(); }));
  EXPECT_GE(*log.At(4), 64);
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  // An event arrives, then the watch breaks: the next wait is the initial one again.
  ASSERT_TRUE(fake.Create(resources::kConfigMaps, Wa("ns", "a", "1")).ok());
  ASSERT_TRUE(Eventually([&] { return informer.store().Size() == 1u; }));
  fake.BreakWatches();
  ASSERT_TRUE(Eventually([&] { return log.At(5).has_value(); }));
  EXPECT_LE(*log.At(5), 12);
  // So does a bookmark.
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  fake.BreakWatches();  // nothing delivered: climbs again
  ASSERT_TRUE(Eventually([&] { return log.At(6).has_value(); }));
  EXPECT_GE(*log.At(6), 16);
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  fake.SendBookmarks();
  ASSERT_TRUE(Eventually([&] { return informer.Stats().bookmarks == 1; }));
  fake.BreakWatches();
  ASSERT_TRUE(Eventually([&] { return log.At(7).has_value(); }));
  EXPECT_LE(*log.At(7), 12);
}

TEST(InformerTest, BookmarksAdvanceResourceVersion) {
  FakeClient fake;
  InformerOptions options = FastOptions(resources::kConfigMaps);
  options.namespace_name = "mine";
  Informer informer(fake, options);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  const std::string before = informer.LastResourceVersion();
  // Writes elsewhere move the server's version without events for this watch.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        fake.Create(resources::kConfigMaps, Wa("other", "x" + std::to_string(i), "1")).ok());
  }
  EXPECT_EQ(informer.LastResourceVersion(), before);
  fake.SendBookmarks();
  ASSERT_TRUE(Eventually([&] { return informer.Stats().bookmarks == 1; }));
  EXPECT_EQ(informer.LastResourceVersion(), fake.ResourceVersion());
  EXPECT_EQ(informer.store().Size(), 0u);
}

TEST(InformerTest, IndexesTransformAndLabelSelector) {
  FakeClient fake;
  json managed = {
      {"metadata",
       {{"namespace", "ns"},
        {"name", "s1"},
        {"labels", {{"app.kubernetes.io/managed-by", "whatsapp-operator"}}},
        {"annotations",
         {{"kubectl.kubernetes.io/last-applied-configuration", "{\"big\":true}"}, {"keep", "me"}}},
        {"managedFields", json::array({{{"manager", "kubectl"}}})}}},
      {"data", {{"k", "v"}}}};
  ASSERT_TRUE(fake.Seed(resources::kConfigMaps, managed).ok());
  ASSERT_TRUE(fake.Seed(resources::kConfigMaps, Wa("ns", "unrelated", "1")).ok());
  InformerOptions options = FastOptions(resources::kConfigMaps);
  options.label_selector = "app.kubernetes.io/managed-by=whatsapp-operator";
  Informer informer(fake, options);
  ASSERT_TRUE(informer
                  .AddIndex("data-k",
                            [](const json& o) {
                              std::vector<std::string> v;
                              if (o.contains("data") && o["data"].contains("k")) {
                                v.push_back(o["data"]["k"].get<std::string>());
                              }
                              return v;
                            })
                  .ok());
  ASSERT_TRUE(informer.Start().ok());
  EXPECT_EQ(
      informer.AddIndex("late", [](const json&) { return std::vector<std::string>(); }).code(),
      StatusCode::kFailedPrecondition);
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  ASSERT_EQ(informer.store().Size(), 1u);  // the unrelated ConfigMap is not cached
  ObjectPtr cached = informer.store().Get("ns", "s1");
  ASSERT_NE(cached, nullptr);
  EXPECT_FALSE(cached->at("metadata").contains("managedFields"));
  EXPECT_EQ(cached->at("metadata").at("annotations"), (json{{"keep", "me"}}));
  auto by = informer.store().ByIndex("data-k", "v");
  ASSERT_TRUE(by.ok());
  EXPECT_EQ(by->size(), 1u);

  ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
  ASSERT_TRUE(
      fake.Patch(resources::kConfigMaps, "ns", "s1", PatchType::kMerge, {{"data", {{"k", "w"}}}})
          .ok());
  ASSERT_TRUE(Eventually([&] { return informer.store().ByIndex("data-k", "w")->size() == 1; }));
  EXPECT_TRUE(informer.store().ByIndex("data-k", "v")->empty());
}

TEST(InformerTest, StopIsPromptDuringWatchAndBackoff) {
  {
    FakeClient fake;
    Informer informer(fake, FastOptions(resources::kConfigMaps));
    ASSERT_TRUE(informer.Start().ok());
    ASSERT_TRUE(Eventually([&] { return fake.OpenWatches() == 1; }));
    const auto start = std::chrono::steady_clock::now();
    informer.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_EQ(fake.OpenWatches(), 0);
    informer.Stop();  // idempotent
  }
  {
    FakeClient fake;
    InformerOptions options = FastOptions(resources::kConfigMaps);
    options.initial_backoff = std::chrono::seconds(30);
    options.max_backoff = std::chrono::seconds(30);
    std::atomic<int> backoffs{0};
    options.on_backoff = [&](milliseconds) { ++backoffs; };
    fake.InjectError("list", resources::kConfigMaps, Status::Unavailable("down"), 5);
    Informer informer(fake, options);
    ASSERT_TRUE(informer.Start().ok());
    ASSERT_TRUE(Eventually([&] { return backoffs.load() == 1; }));
    const auto start = std::chrono::steady_clock::now();
    informer.Stop();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
    EXPECT_FALSE(informer.HasSynced());
    EXPECT_FALSE(informer.WaitForSync(milliseconds(10)));
  }
}

TEST(InformerTest, RejectsBadOptions) {
  FakeClient fake;
  InformerOptions options = FastOptions(resources::kConfigMaps);
  options.min_watch_timeout = std::chrono::seconds(10);
  options.max_watch_timeout = std::chrono::seconds(5);
  Informer informer(fake, options);
  EXPECT_EQ(informer.Start().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace waop::kube
