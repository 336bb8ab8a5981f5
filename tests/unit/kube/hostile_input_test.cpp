// Regression tests for issue 14: answers a broken server, a proxy or anyone who can write a
// Lease or a status could send. Each used to throw out of the informer thread (std::terminate)
// or overflow the stack; each must now be an error value, a skipped object or a clamped hint.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "common/json.h"
#include "kube/api_error.h"
#include "kube/client.h"
#include "kube/config.h"
#include "kube/http.h"
#include "kube/informer.h"

namespace waop::kube {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

bool Eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(2));
  }
  return condition();
}

// A watch body that serves its lines, then blocks until cancelled.
class ScriptedLines final : public LineReader {
 public:
  explicit ScriptedLines(std::deque<std::string> lines) : lines_(std::move(lines)) {}
  Result<std::optional<std::string>> ReadLine() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return cancelled_ || !lines_.empty(); });
    if (cancelled_) return Status::Cancelled("cancelled");
    std::string l = std::move(lines_.front());
    lines_.pop_front();
    return std::optional<std::string>(std::move(l));
  }
  void Cancel() override {
    std::lock_guard lock(mu_);
    cancelled_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool cancelled_ = false;
};

// Serves raw bodies: list answers in order (the last repeats), watch bodies in order (then
// empty watches that block until cancelled).
class ScriptedTransport final : public HttpTransport {
 public:
  ScriptedTransport(std::deque<HttpResponse> lists, std::deque<std::deque<std::string>> watches)
      : lists_(std::move(lists)), watches_(std::move(watches)) {}
  Result<HttpResponse> Send(const HttpRequest&) override {
    std::lock_guard lock(mu_);
    ++list_calls_;
    HttpResponse r = lists_.front();
    if (lists_.size() > 1) lists_.pop_front();
    return r;
  }
  Result<StreamResponse> Stream(const HttpRequest&) override {
    std::lock_guard lock(mu_);
    ++watch_calls_;
    StreamResponse r;
    r.status = 200;
    std::deque<std::string> lines;
    if (!watches_.empty()) {
      lines = std::move(watches_.front());
      watches_.pop_front();
    }
    r.lines = std::make_unique<ScriptedLines>(std::move(lines));
    return r;
  }
  std::string Endpoint() const override { return "scripted"; }
  int list_calls() const {
    std::lock_guard lock(mu_);
    return list_calls_;
  }
  int watch_calls() const {
    std::lock_guard lock(mu_);
    return watch_calls_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<HttpResponse> lists_;
  std::deque<std::deque<std::string>> watches_;
  int list_calls_ = 0;
  int watch_calls_ = 0;
};

HttpResponse Ok(std::string body) { return HttpResponse{200, {}, std::move(body)}; }

const char kGoodList[] =
    R"({"metadata":{"resourceVersion":"10"},"items":[{"metadata":{"namespace":"a","name":"ok","resourceVersion":"9"}}]})";

InformerOptions Fast() {
  InformerOptions o;
  o.type = resources::kConfigMaps;
  o.initial_backoff = milliseconds(1);
  o.max_backoff = milliseconds(4);
  o.seed = 7;
  return o;
}

// Errors reported by an informer, thread-safely.
struct Reports {
  std::mutex mu;
  std::vector<std::string> errors, bad;
  void Error(const Status& s) {
    std::lock_guard lock(mu);
    errors.push_back(s.message());
  }
  void Bad(const Status& s) {
    std::lock_guard lock(mu);
    bad.push_back(s.message());
  }
  bool AnyBadContains(const std::string& text) {
    std::lock_guard lock(mu);
    for (const auto& m : bad) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  }
  bool AnyErrorContains(const std::string& text) {
    std::lock_guard lock(mu);
    for (const auto& m : errors) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  }
};

TEST(HostileWatchTest, NumericNameAndBookmarkVersionAreSkippedNotFatal) {
  auto transport = std::make_shared<ScriptedTransport>(
      std::deque<HttpResponse>{Ok(kGoodList)},
      std::deque<std::deque<std::string>>{{
          R"({"type":"ADDED","object":{"metadata":{"name":1}}})",
          R"({"type":"ADDED","object":{"metadata":{"namespace":"a","name":"x","resourceVersion":7}}})",
          R"({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":5}}})",
          R"({"type":"DELETED","object":{"metadata":{"namespace":{},"name":"y"}}})",
          R"({"type":"ADDED","object":{"metadata":{"namespace":"a","name":"good","resourceVersion":"11"}}})",
      }});
  auto client = NewRestClient(transport);
  Reports reports;
  InformerOptions o = Fast();
  o.on_error = [&](const Status& s) { reports.Error(s); };
  o.on_bad_object = [&](const Status& s) { reports.Bad(s); };
  Informer informer(*client, o);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return informer.store().Get("a/good") != nullptr; }));
  EXPECT_EQ(informer.Stats().skipped_objects, 4u);
  EXPECT_TRUE(reports.AnyBadContains("metadata.name: expected a string, got number"));
  EXPECT_TRUE(reports.AnyBadContains("\"a/x\": metadata.resourceVersion"));
  EXPECT_TRUE(reports.AnyBadContains("BOOKMARK event"));
  EXPECT_TRUE(reports.AnyBadContains("metadata.namespace: expected a string, got object"));
  EXPECT_EQ(informer.LastResourceVersion(), "11");
  EXPECT_NE(informer.store().Get("a/ok"), nullptr);
  informer.Stop();
}

TEST(HostileWatchTest, BadListIsRetriedAndBadItemsSkipped) {
  auto transport = std::make_shared<ScriptedTransport>(
      std::deque<HttpResponse>{
          Ok(R"({"metadata":{"resourceVersion":1},"items":[]})"),
          Ok(R"({"metadata":{"continue":["x"]},"items":[]})"),
          Ok(R"({"metadata":{"resourceVersion":"3"},"items":[{"metadata":{"name":1}},7,{"metadata":{"namespace":"a","name":"ok"}}]})")},
      std::deque<std::deque<std::string>>{});
  auto client = NewRestClient(transport);
  Reports reports;
  InformerOptions o = Fast();
  o.on_error = [&](const Status& s) { reports.Error(s); };
  o.on_bad_object = [&](const Status& s) { reports.Bad(s); };
  Informer informer(*client, o);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(informer.WaitForSync(std::chrono::seconds(20)));
  EXPECT_EQ(transport->list_calls(), 3);
  EXPECT_TRUE(reports.AnyErrorContains("metadata.resourceVersion is not a string"));
  EXPECT_TRUE(reports.AnyErrorContains("metadata.continue is not a string"));
  EXPECT_TRUE(reports.AnyBadContains("not a JSON object but number"));
  EXPECT_EQ(informer.Stats().skipped_objects, 2u);
  EXPECT_NE(informer.store().Get("a/ok"), nullptr);
  EXPECT_EQ(informer.LastResourceVersion(), "3");
  informer.Stop();
}

TEST(HostileWatchTest, GarbageLineDropsTheStreamWhichReopens) {
  auto transport = std::make_shared<ScriptedTransport>(
      std::deque<HttpResponse>{Ok(kGoodList)},
      std::deque<std::deque<std::string>>{{"{\"type\":"}, {"[1,2]"}});
  auto client = NewRestClient(transport);
  Reports reports;
  InformerOptions o = Fast();
  o.on_error = [&](const Status& s) { reports.Error(s); };
  Informer informer(*client, o);
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return transport->watch_calls() >= 3; }));
  EXPECT_TRUE(reports.AnyErrorContains("is not JSON"));
  EXPECT_TRUE(reports.AnyErrorContains("is not a JSON object"));
  informer.Stop();
}

std::string Nested(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(HostileWatchTest, DeeplyNestedErrorEventIsRejectedNotSerialised) {
  const std::string deep =
      R"({"type":"ERROR","object":{"kind":"Status","details":)" + Nested(100'000) + "}}";
  auto event = WatchDecoder::DecodeLine(deep);
  ASSERT_FALSE(event.ok());
  EXPECT_EQ(event.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(event.status().message().find("is nested deeper than 128 levels"), std::string::npos);
  // At the limit it still decodes.
  const std::string ok = R"({"type":"ERROR","object":{"code":410,"x":)" + Nested(120) + "}}";
  auto decoded = WatchDecoder::DecodeLine(ok);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(WatchErrorStatus(*decoded).code(), StatusCode::kGone);
  // The Status path never dumps what it was given.
  ApiError e = ApiErrorFromStatusJson(Nested(200'000));
  EXPECT_LE(e.message.size(), 210u);
}

TEST(HostileWatchTest, HandlerThatThrowsIsReportedAndOthersStillRun) {
  auto transport = std::make_shared<ScriptedTransport>(
      std::deque<HttpResponse>{Ok(kGoodList)},
      std::deque<std::deque<std::string>>{{
          R"({"type":"ADDED","object":{"metadata":{"namespace":"a","name":"b","resourceVersion":"12"}}})",
      }});
  auto client = NewRestClient(transport);
  Reports reports;
  InformerOptions o = Fast();
  o.on_error = [&](const Status& s) { reports.Error(s); };
  Informer informer(*client, o);
  std::atomic<int> second{0};
  informer.AddEventHandler({[](const ObjectPtr& obj) {
                              // As a handler reading a number where it expects a string would.
                              (void)(*obj)["metadata"]["name"].get<int>();
                            },
                            nullptr, nullptr});
  informer.AddEventHandler({[&](const ObjectPtr&) { ++second; }, nullptr, nullptr});
  ASSERT_TRUE(informer.Start().ok());
  ASSERT_TRUE(Eventually([&] { return second.load() == 2; }));
  EXPECT_TRUE(reports.AnyErrorContains("add handler threw"));
  informer.Stop();
}

TEST(HostileStatusTest, NonStatusKindAndNumericCausesDoNotThrow) {
  ApiError a = ParseApiError(500, {}, R"({"kind":1})");
  EXPECT_EQ(a.message, R"({"kind":1})");
  ApiError b = ParseApiError(
      422, {},
      R"({"kind":"Status","reason":7,"message":"bad","code":"x","details":{"causes":[{"reason":5,"message":["m"],"field":"spec.a"},3]}})");
  EXPECT_EQ(b.message, "bad");
  EXPECT_EQ(b.http_code, 422);
  ASSERT_EQ(b.causes.size(), 1u);
  EXPECT_EQ(b.causes[0].reason, "");
  EXPECT_EQ(b.causes[0].field, "spec.a");
  EXPECT_EQ(b.ToStatus("x").code(), StatusCode::kInvalidArgument);
  ApiError c = ApiErrorFromStatusJson(R"({"code":1e300,"details":[]})");
  EXPECT_EQ(c.http_code, 0);
  ApiError d = ApiErrorFromStatusJson(R"({"code":99999999999999999999})");
  EXPECT_EQ(d.http_code, 0);
}

TEST(HostileStatusTest, RetryAfterIsClampedOrIgnored) {
  auto hint = [](const std::string& ra) {
    return ParseApiError(429, {}, R"({"kind":"Status","details":{"retryAfterSeconds":)" + ra + "}}")
        .retry_after;
  };
  EXPECT_EQ(hint("1e300"), kMaxRetryAfter);
  EXPECT_EQ(hint("18446744073709551615"), kMaxRetryAfter);
  EXPECT_EQ(hint("-5"), std::nullopt);
  EXPECT_EQ(hint("-1e300"), std::nullopt);
  EXPECT_EQ(hint("2.5"), std::chrono::seconds(2));
  EXPECT_EQ(hint("7"), std::chrono::seconds(7));
  EXPECT_EQ(hint("\"7\""), std::nullopt);
  auto header = [](const std::string& v) {
    return ParseApiError(429, {{"Retry-After", v}}, "").retry_after;
  };
  EXPECT_EQ(header("99999999999999999999"), kMaxRetryAfter);
  EXPECT_EQ(header("-1"), std::nullopt);
  EXPECT_EQ(header("12"), std::chrono::seconds(12));
  Status s = ParseApiError(429, {}, R"({"kind":"Status","details":{"retryAfterSeconds":1e300}})")
                 .ToStatus("get x");
  EXPECT_EQ(RetryAfterHint(s), kMaxRetryAfter);
}

TEST(HostileObjectTest, AccessorsNeverThrow) {
  const json weird = {{"metadata", {{"name", 1}, {"namespace", {1, 2}}, {"resourceVersion", 5}}}};
  EXPECT_EQ(ObjectName(weird), "");
  EXPECT_EQ(ObjectNamespace(weird), "");
  EXPECT_EQ(ObjectResourceVersion(weird), "");
  EXPECT_EQ(ObjectKey(json::array()), "");
  EXPECT_EQ(ObjectKey(json{{"metadata", 3}}), "");
  Status v = ValidateObjectMeta(weird);
  EXPECT_EQ(v.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.message().find("\"<array>/<number>\""), std::string::npos) << v.message();
  EXPECT_TRUE(ValidateObjectMeta(json{{"metadata", {{"name", "n"}}}}).ok());
  EXPECT_FALSE(ValidateObjectMeta(json{{"metadata", json::object()}}).ok());
  EXPECT_TRUE(ValidateObjectMeta(json{{"metadata", {{"resourceVersion", "3"}}}}, false).ok());
}

TEST(HostileKubeconfigTest, YamlThatThrowsInsideYamlCppIsAnError) {
  const std::string base = "contexts:\n- name: c\n  context: {cluster: k}\ncurrent-context: c\n";
  for (const std::string& text : {
           std::string("clusters: 5\n") + base,
           std::string("clusters: {a: b}\n") + base,
           std::string("clusters:\n- name: k\n  cluster: [1]\n") + base,
           std::string("clusters:\n- name: [k]\n  cluster: {server: 1}\n") + base,
           std::string("current-context: [a, b]\n"),
           std::string("contexts: [[[[[[[[\n"),
           std::string(100'000, '[') + std::string(100'000, ']'),
           std::string("a: &x [*x]\n"),
           std::string("{") + std::string(5000, '{'),
           std::string("contexts:\n- name: c\n  context: {cluster: k, user: u}\n"
                       "users:\n- name: u\n  user: {token: [1], exec: }\n"
                       "clusters:\n- name: k\n  cluster: {server: 'https://x', "
                       "certificate-authority: /etc/passwd}\n"
                       "current-context: c\n"),
       }) {
    auto parsed = ParseKubeconfigText(text, "/nonexistent/kc", "", RealClock::Get(),
                                      /*read_files=*/false);
    EXPECT_FALSE(parsed.ok()) << text.substr(0, 80);
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument) << parsed.status().ToString();
    }
  }
  auto good = ParseKubeconfigText(
      "clusters:\n- name: k\n  cluster: {server: 'https://x:6443/'}\n" + base, "/x/kc");
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->server, "https://x:6443");
}

}  // namespace
}  // namespace waop::kube
