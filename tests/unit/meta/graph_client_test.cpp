// The cpprest Graph client against graph-devserver over real HTTP on 127.0.0.1: calls per
// listing, following paging.next or the cursor, every error class, a listing failing part way,
// malformed answers, usage headers, and the token never in a message.
#include "meta/graph_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>

#include "graph_devserver_util.h"

namespace waop::meta {
namespace {

using devserver::testing::GraphData;
using devserver::testing::GraphDevserver;
using devserver::testing::kGraphToken;
using devserver::testing::kGraphWaba;
using nlohmann::json;

const GraphAuth kAuth{"v21.0", kGraphToken};

std::unique_ptr<GraphClient> ClientFor(const GraphDevserver& g,
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                       std::function<void(const Status&)> on_request = nullptr) {
  GraphClientOptions o;
  o.base_url = g.url();
  o.timeout = timeout;
  o.on_request = std::move(on_request);
  auto c = NewGraphClient(o);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(*c) : nullptr;
}

void Fault(GraphDevserver& g, const json& fault) {
  ASSERT_EQ(g.Control("POST", "/_control/faults", fault).status, 201) << fault.dump();
}

TEST(GraphClientTest, Lists120NumbersInTwoCalls) {
  GraphDevserver g(GraphData(120));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  auto listing = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(listing->numbers.size(), 120u);
  EXPECT_EQ(listing->calls, 2);
  EXPECT_EQ(g.RequestTotal(), 2);
  EXPECT_EQ(listing->numbers[0], (GraphPhoneNumber{"100000000000001", "+34 612 345 678", "Bakery 1",
                                                   "GREEN", "TIER_1K"}));
  EXPECT_EQ(listing->numbers[6].quality_rating, "YELLOW");
  std::set<std::string> ids;
  for (const auto& n : listing->numbers) ids.insert(n.id);
  EXPECT_EQ(ids.size(), 120u);
}

TEST(GraphClientTest, Lists1000NumbersInTenCallsAndAnEmptyWabaInOne) {
  GraphDevserver g(GraphData(0));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  auto empty = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->numbers.empty());
  EXPECT_EQ(empty->calls, 1);

  g.Generate(1000);
  g.Control("DELETE", "/_control/requests");
  auto listing = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(listing->numbers.size(), 1000u);
  EXPECT_EQ(listing->calls, 10);
  EXPECT_EQ(g.RequestTotal(), 10);
}

TEST(GraphClientTest, ACappedPageSizeTakesCeilNOverCapCalls) {
  GraphDevserver g(GraphData(100, /*max_page_size=*/30));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  auto listing = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(listing->numbers.size(), 100u);
  EXPECT_EQ(listing->calls, 4);  // ceil(100 / 30)
}

TEST(GraphClientTest, ANextLinkToAnotherHostIsNotFollowedTheCursorIs) {
  GraphDevserver g(GraphData(120));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Control("PUT", "/_control/next-base-url", {{"url", "http://203.0.113.7:9"}});
  auto c = ClientFor(g, std::chrono::seconds(2));
  auto listing = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_TRUE(listing.ok()) << listing.status().ToString();
  EXPECT_EQ(listing->numbers.size(), 120u);
  EXPECT_EQ(listing->calls, 2);
}

TEST(GraphClientTest, GetsOneNumberAndTemplatesByName) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Control("POST", "/_control/templates",
            {{"name", "po_notification"}, {"language", "en_US"}, {"status", "PENDING"}});
  g.Control("POST", "/_control/templates", {{"name", "po_notification_v2"}, {"language", "es"}});
  auto c = ClientFor(g);
  auto n = c->GetPhoneNumber(kAuth, "100000000000002");
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(n->display_phone_number, "+34 600 000 1002");
  EXPECT_EQ(n->quality_rating, "GREEN");

  auto t = c->ListTemplates(kAuth, kGraphWaba, "po_notification");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(*t, (std::vector<MessageTemplate>{{"po_notification", "es", "APPROVED"},
                                              {"po_notification", "en_US", "PENDING"}}));
  auto all = c->ListTemplates(kAuth, kGraphWaba, "");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
}

TEST(GraphClientTest, ABadTokenIsUnauthenticatedAndNeverInTheMessage) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  const GraphAuth wrong{"v21.0", "EAAG-super-secret-wrong-token"};
  auto listing = c->ListPhoneNumbers(wrong, kGraphWaba);
  ASSERT_FALSE(listing.ok());
  EXPECT_EQ(listing.status().code(), StatusCode::kUnauthenticated);
  const std::string m = listing.status().message();
  EXPECT_NE(m.find("190"), std::string::npos) << m;
  EXPECT_NE(m.find("Invalid OAuth access token."), std::string::npos) << m;
  EXPECT_NE(m.find("fbtrace_id"), std::string::npos) << m;
  EXPECT_EQ(m.find("super-secret"), std::string::npos) << m;
  EXPECT_EQ(c->GetPhoneNumber(wrong, "100000000000001").status().code(),
            StatusCode::kUnauthenticated);
}

TEST(GraphClientTest, RateLimitCodesAreResourceExhausted) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  for (int code : {4, 17, 80007, 80008, 130429}) {
    Fault(g, {{"type", "graphError"}, {"code", code}});
    auto listing = c->ListPhoneNumbers(kAuth, kGraphWaba);
    ASSERT_FALSE(listing.ok()) << code;
    EXPECT_EQ(listing.status().code(), StatusCode::kResourceExhausted) << code;
    EXPECT_NE(listing.status().message().find("Graph error " + std::to_string(code)),
              std::string::npos)
        << listing.status().message();
  }
  EXPECT_TRUE(c->ListPhoneNumbers(kAuth, kGraphWaba).ok());
}

TEST(GraphClientTest, ServerErrorsTimeoutsAndRefusedConnectionsAreUnavailable) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g, std::chrono::milliseconds(500));
  for (int status : {500, 502, 503}) {
    Fault(g, {{"type", "httpStatus"}, {"httpStatus", status}});
    auto r = c->ListPhoneNumbers(kAuth, kGraphWaba);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << status;
  }
  Fault(g, {{"type", "delay"}, {"delayMs", 2000}});
  // On the kept-alive connection of the earlier calls.
  auto t0 = std::chrono::steady_clock::now();
  auto slow = c->ListPhoneNumbers(kAuth, kGraphWaba);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2000));
  ASSERT_FALSE(slow.ok());
  EXPECT_EQ(slow.status().code(), StatusCode::kUnavailable) << slow.status().ToString();

  GraphClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(waop::testing::FreePort());
  auto nowhere = NewGraphClient(o);
  ASSERT_TRUE(nowhere.ok());
  EXPECT_EQ((*nowhere)->ListPhoneNumbers(kAuth, kGraphWaba).status().code(),
            StatusCode::kUnavailable);
}

TEST(GraphClientTest, UnknownIdsAreNotFound) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  EXPECT_EQ(c->ListPhoneNumbers(kAuth, "999").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c->GetPhoneNumber(kAuth, "999").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(c->ListTemplates(kAuth, "999", "x").status().code(), StatusCode::kNotFound);
}

TEST(GraphClientTest, AListingFailingOnPageTwoIsAnErrorNotAShortList) {
  GraphDevserver g(GraphData(150));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  Fault(g, {{"type", "httpStatus"}, {"httpStatus", 500}, {"skip", 1}});
  auto r = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("page 2"), std::string::npos) << r.status().message();

  Fault(g, {{"type", "graphError"}, {"code", 80007}, {"skip", 1}});
  EXPECT_EQ(c->ListPhoneNumbers(kAuth, kGraphWaba).status().code(), StatusCode::kResourceExhausted);
}

TEST(GraphClientTest, MalformedAnswersAreInternal) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  const std::vector<std::string> bodies = {"{not json", R"({"data":"nope"})",
                                           R"({"data":[{"id":1}]})",
                                           std::string(5000, '[') + std::string(5000, ']'), ""};
  for (const std::string& body : bodies) {
    Fault(g, {{"type", "body"}, {"body", body}});
    auto r = c->ListPhoneNumbers(kAuth, kGraphWaba);
    ASSERT_FALSE(r.ok()) << body.substr(0, 40);
    EXPECT_EQ(r.status().code(), StatusCode::kInternal) << r.status().ToString();
    EXPECT_NE(r.status().message().find("GET /v21.0/"), std::string::npos);
  }
  Fault(g, {{"type", "body"}, {"body", "[1,2]"}});
  EXPECT_EQ(c->GetPhoneNumber(kAuth, "100000000000001").status().code(), StatusCode::kInternal);

  // A next link that leads back to the same page is a loop, not an endless listing.
  Fault(g, {{"type", "body"},
            {"count", -1},
            {"body", json{{"data", json::array({{{"id", "1"}}})},
                          {"paging", {{"next", g.url() + "/v21.0/1/phone_numbers?after=x"}}}}
                         .dump()}});
  auto loop = c->ListPhoneNumbers(kAuth, kGraphWaba);
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), StatusCode::kInternal);
  EXPECT_NE(loop.status().message().find("did not advance"), std::string::npos)
      << loop.status().message();
}

TEST(GraphClientTest, KeepsTheLastUsageMetaReported) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  auto c = ClientFor(g);
  EXPECT_FALSE(c->LastUsage().seen);
  g.Control("PUT", "/_control/usage", {{"callCount", 80}, {"totalCputime", 10}, {"totalTime", 5}});
  ASSERT_TRUE(c->ListPhoneNumbers(kAuth, kGraphWaba).ok());
  EXPECT_EQ(c->LastUsage().percent, 80);
  EXPECT_TRUE(c->LastUsage().seen);
  g.Control("PUT", "/_control/usage",
            {{"businessUseCaseUsage",
              R"({"102290129340398":[{"type":"whatsapp_business_management","call_count":3,)"
              R"("total_cputime":93,"total_time":4}]})"}});
  ASSERT_TRUE(c->GetPhoneNumber(kAuth, "100000000000001").ok());
  EXPECT_EQ(c->LastUsage().percent, 93);
  g.Control("DELETE", "/_control/usage");
  ASSERT_TRUE(c->GetPhoneNumber(kAuth, "100000000000001").ok());
  EXPECT_FALSE(c->LastUsage().seen);
  EXPECT_EQ(c->LastUsage().percent, 0);
}

TEST(GraphClientTest, ReportsEveryRequestsOutcome) {
  GraphDevserver g(GraphData(120));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  std::atomic<int> ok{0}, failed{0};
  auto c =
      ClientFor(g, std::chrono::seconds(10), [&](const Status& s) { (s.ok() ? ok : failed)++; });
  ASSERT_TRUE(c->ListPhoneNumbers(kAuth, kGraphWaba).ok());
  Fault(g, {{"type", "graphError"}, {"code", 4}});
  EXPECT_FALSE(c->ListPhoneNumbers(kAuth, kGraphWaba).ok());
  EXPECT_EQ(ok.load(), 2);
  EXPECT_EQ(failed.load(), 1);
}

TEST(GraphClientTest, RejectsBadOptionsAndIds) {
  for (const std::string url : {"ftp://x", "not a url", "http://", "https://h/?q=1"}) {
    GraphClientOptions o;
    o.base_url = url;
    auto c = NewGraphClient(o);
    ASSERT_FALSE(c.ok()) << url;
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << url;
  }
  GraphClientOptions ca;
  ca.ca_file = "/nonexistent/ca.pem";
  auto bad_ca = NewGraphClient(ca);
  ASSERT_FALSE(bad_ca.ok());
  EXPECT_NE(bad_ca.status().message().find("/nonexistent/ca.pem"), std::string::npos);
  GraphClientOptions limit;
  limit.page_limit = 500;
  EXPECT_FALSE(NewGraphClient(limit).ok());

  auto c = NewGraphClient(GraphClientOptions{});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->ListPhoneNumbers({"21", "t"}, "1").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->ListPhoneNumbers(kAuth, "../me").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ((*c)->GetPhoneNumber(kAuth, "1?x=y").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace waop::meta
