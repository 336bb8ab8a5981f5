// graph-devserver over real HTTP on 127.0.0.1: Meta's paging, fields, token check and error
// bodies, every injectable fault, the usage header, request counts, signed webhooks (checked
// with an HMAC computed here), and clear errors for bad data files.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <set>

#include "graph_devserver_util.h"

namespace devserver::testing {
namespace {

using nlohmann::json;

const std::string kNumbersPath = std::string("/v21.0/") + kGraphWaba + "/phone_numbers";

std::string Hmac(const std::string& key, const std::string& data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &len);
  char hex[3];
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    std::snprintf(hex, sizeof hex, "%02x", mac[i]);
    out += hex;
  }
  return out;
}

// The path and query of a paging.next URL on the devserver.
std::string PathOf(const std::string& url, int port) {
  const std::string prefix = "http://127.0.0.1:" + std::to_string(port);
  EXPECT_EQ(url.rfind(prefix, 0), 0u) << url;
  return url.substr(prefix.size());
}

// Follows paging.next from `first`; returns the page sizes and appends every id to *ids.
std::vector<int> PageSizes(GraphDevserver& g, const std::string& first,
                           std::vector<std::string>* ids) {
  std::vector<int> sizes;
  std::string path = first;
  for (int guard = 0; guard < 100; ++guard) {
    HttpResult r = g.Get(path);
    EXPECT_EQ(r.status, 200) << r.body;
    json j = r.Json();
    if (r.status != 200 || !j.contains("data")) break;
    sizes.push_back(static_cast<int>(j["data"].size()));
    for (const auto& n : j["data"]) ids->push_back(n["id"].get<std::string>());
    if (!j.contains("paging") || !j["paging"].contains("next")) break;
    EXPECT_TRUE(j["paging"]["cursors"]["after"].is_string());
    EXPECT_TRUE(j["paging"]["cursors"]["before"].is_string());
    path = PathOf(j["paging"]["next"].get<std::string>(), g.port());
  }
  return sizes;
}

TEST(GraphDevserverTest, Lists120NumbersInTwoPagesOf100WithCursors) {
  GraphDevserver g(GraphData(120));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  std::vector<std::string> ids;
  EXPECT_EQ(PageSizes(g, kNumbersPath + "?fields=id,quality_rating&limit=100", &ids),
            (std::vector<int>{100, 20}));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 120u);
  EXPECT_EQ(ids.front(), "100000000000001");
  EXPECT_EQ(ids.back(), "100000000000120");

  // The last page has cursors but no next.
  json first = g.Get(kNumbersPath + "?limit=100").Json();
  std::string next = PathOf(first["paging"]["next"].get<std::string>(), g.port());
  EXPECT_NE(next.find("after="), std::string::npos);
  json last = g.Get(next).Json();
  EXPECT_TRUE(last["paging"]["cursors"].contains("after"));
  EXPECT_FALSE(last["paging"].contains("next"));
}

TEST(GraphDevserverTest, DefaultLimitIs25AndAbove100IsCapped) {
  GraphDevserver g(GraphData(130));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  EXPECT_EQ(g.Get(kNumbersPath).Json()["data"].size(), 25u);
  EXPECT_EQ(g.Get(kNumbersPath + "?limit=500").Json()["data"].size(), 100u);
  HttpResult bad = g.Get(kNumbersPath + "?limit=abc");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.Json()["error"]["code"], 100);
}

TEST(GraphDevserverTest, PageSizeCapGivesMorePages) {
  GraphDevserver g(GraphData(120, /*max_page_size=*/40));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  std::vector<std::string> ids;
  EXPECT_EQ(PageSizes(g, kNumbersPath + "?limit=100", &ids), (std::vector<int>{40, 40, 40}));
  ASSERT_EQ(g.Control("PUT", "/_control/max-page-size", {{"maxPageSize", 30}}).status, 200);
  ids.clear();
  EXPECT_EQ(PageSizes(g, kNumbersPath + "?limit=100", &ids), (std::vector<int>{30, 30, 30, 30}));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 120u);
}

TEST(GraphDevserverTest, AfterCursorSurvivesARemovedNumber) {
  GraphDevserver g(GraphData(5));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  json first = g.Get(kNumbersPath + "?limit=2").Json();
  ASSERT_EQ(first["data"].size(), 2u);
  // Remove the number the cursor points at; the next page still starts after it.
  ASSERT_EQ(g.Control("DELETE", "/_control/phone-numbers/100000000000002").status, 200);
  json second = g.Get(PathOf(first["paging"]["next"], g.port())).Json();
  ASSERT_EQ(second["data"].size(), 2u);
  EXPECT_EQ(second["data"][0]["id"], "100000000000003");
  EXPECT_EQ(g.Get(kNumbersPath + "?limit=2&after=bm9wZQ==").status, 400);
}

TEST(GraphDevserverTest, OnlyRequestedFieldsAndIdAreReturned) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  json j = g.Get(kNumbersPath + "?fields=quality_rating").Json();
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0], (json{{"id", "100000000000001"}, {"quality_rating", "GREEN"}}));

  json all = g.Get(kNumbersPath +
                   "?fields=id,display_phone_number,verified_name,quality_rating,"
                   "messaging_limit_tier")
                 .Json();
  EXPECT_EQ(all["data"][0], (json{{"id", "100000000000001"},
                                  {"display_phone_number", "+34 612 345 678"},
                                  {"verified_name", "Bakery 1"},
                                  {"quality_rating", "GREEN"},
                                  {"messaging_limit_tier", "TIER_1K"}}));

  HttpResult unknown = g.Get(kNumbersPath + "?fields=id,colour");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_EQ(unknown.Json()["error"]["code"], 100);
  EXPECT_NE(unknown.Json()["error"]["message"].get<std::string>().find("colour"),
            std::string::npos);
}

TEST(GraphDevserverTest, OneNumberAndUnknownIdsAnswerMetasCode100) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  HttpResult one = g.Get("/v21.0/100000000000001?fields=display_phone_number,quality_rating");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json(), (json{{"id", "100000000000001"},
                              {"display_phone_number", "+34 612 345 678"},
                              {"quality_rating", "GREEN"}}));
  for (const std::string path :
       {"/v21.0/999999", "/v21.0/999999/phone_numbers", "/v21.0/999999/message_templates"}) {
    HttpResult r = g.Get(path);
    EXPECT_EQ(r.status, 400) << path;
    json e = r.Json()["error"];
    EXPECT_EQ(e["code"], 100) << path;
    EXPECT_EQ(e["error_subcode"], 33) << path;
    EXPECT_EQ(e["type"], "GraphMethodException") << path;
    EXPECT_TRUE(e["fbtrace_id"].is_string()) << path;
  }
}

TEST(GraphDevserverTest, TokenIsCheckedAndCanBeRotated) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  for (const std::string token : {"", "wrong"}) {
    HttpResult r = g.Get(kNumbersPath, token);
    EXPECT_EQ(r.status, 401) << token;
    json e = r.Json()["error"];
    EXPECT_EQ(e["code"], 190);
    EXPECT_EQ(e["type"], "OAuthException");
    EXPECT_EQ(e["message"], "Invalid OAuth access token.");
    EXPECT_TRUE(e["fbtrace_id"].is_string());
  }
  EXPECT_EQ(g.Get(kNumbersPath + "?access_token=" + kGraphToken, "").status, 200);

  ASSERT_EQ(g.Control("PUT", "/_control/token", {{"token", "rotated"}}).status, 200);
  EXPECT_EQ(g.Get(kNumbersPath).status, 401);
  EXPECT_EQ(g.Get(kNumbersPath, "rotated").status, 200);
  // The control API never shows the token.
  EXPECT_EQ(g.Control("GET", "/_control/state").body.find("rotated"), std::string::npos);
}

TEST(GraphDevserverTest, RateLimitFaultsAnswerMetasCodesAndStatuses) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  const std::vector<std::pair<int, int>> cases = {{4, 429}, {17, 400}, {80007, 429}, {130429, 429}};
  for (auto [code, status] : cases) {
    ASSERT_EQ(
        g.Control("POST", "/_control/faults", {{"type", "graphError"}, {"code", code}}).status,
        201);
    HttpResult r = g.Get(kNumbersPath);
    EXPECT_EQ(r.status, status) << code;
    json e = r.Json()["error"];
    EXPECT_EQ(e["code"], code);
    EXPECT_EQ(e["type"], "OAuthException");
    EXPECT_EQ(e["is_transient"], true);
    EXPECT_NE(e["message"].get<std::string>().find("(#" + std::to_string(code) + ")"),
              std::string::npos);
    EXPECT_EQ(g.Get(kNumbersPath).status, 200) << "a count-1 fault fires once";
  }
  // An explicit status overrides Meta's usual one.
  g.Control("POST", "/_control/faults", {{"type", "graphError"}, {"code", 4}, {"httpStatus", 400}});
  EXPECT_EQ(g.Get(kNumbersPath).status, 400);
}

TEST(GraphDevserverTest, HttpStatusFaultsCountSkipPathAndDuration) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Control("POST", "/_control/faults",
            {{"type", "httpStatus"}, {"httpStatus", 503}, {"count", 2}});
  EXPECT_EQ(g.Get(kNumbersPath).status, 503);
  EXPECT_EQ(g.Get(kNumbersPath).status, 503);
  EXPECT_EQ(g.Get(kNumbersPath).status, 200);

  // skip: the second matching request fails (page 2 of a listing).
  g.Control("POST", "/_control/faults",
            {{"type", "httpStatus"}, {"httpStatus", 500}, {"skip", 1}, {"path", "phone_numbers"}});
  EXPECT_EQ(g.Get("/v21.0/100000000000001").status, 200) << "other paths are not affected";
  EXPECT_EQ(g.Get(kNumbersPath).status, 200);
  EXPECT_EQ(g.Get(kNumbersPath).status, 500);
  EXPECT_EQ(g.Get(kNumbersPath).status, 200);

  // durationMs: every request fails until it expires.
  g.Control("POST", "/_control/faults",
            {{"type", "httpStatus"}, {"httpStatus", 502}, {"durationMs", 300}});
  EXPECT_EQ(g.Get(kNumbersPath).status, 502);
  EXPECT_EQ(g.Get(kNumbersPath).status, 502);
  EXPECT_TRUE(waop::testing::WaitFor([&] { return g.Get(kNumbersPath).status == 200; },
                                     std::chrono::seconds(5)));

  // Clearing removes pending faults.
  g.Control("POST", "/_control/faults",
            {{"type", "httpStatus"}, {"httpStatus", 500}, {"count", -1}});
  EXPECT_EQ(g.Control("DELETE", "/_control/faults").status, 200);
  EXPECT_EQ(g.Get(kNumbersPath).status, 200);

  HttpResult bad = g.Control("POST", "/_control/faults", {{"type", "graphError"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("code"), std::string::npos);
}

TEST(GraphDevserverTest, DelayFaultSlowsTheAnswer) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Control("POST", "/_control/faults", {{"type", "delay"}, {"delayMs", 300}});
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(g.Get(kNumbersPath).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(300));
}

TEST(GraphDevserverTest, UsageHeadersAreSentWhenSet) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  EXPECT_EQ(g.Get(kNumbersPath).headers.count("x-app-usage"), 0u);
  ASSERT_EQ(g.Control("PUT", "/_control/usage",
                      {{"callCount", 80}, {"totalCputime", 12}, {"totalTime", 30}})
                .status,
            200);
  HttpResult r = g.Get(kNumbersPath);
  ASSERT_EQ(r.headers.count("x-app-usage"), 1u);
  EXPECT_EQ(json::parse(r.headers["x-app-usage"]),
            (json{{"call_count", 80}, {"total_cputime", 12}, {"total_time", 30}}));
  // Also on errors.
  EXPECT_EQ(g.Get(kNumbersPath, "wrong").headers.count("x-app-usage"), 1u);
  g.Control("DELETE", "/_control/usage");
  EXPECT_EQ(g.Get(kNumbersPath).headers.count("x-app-usage"), 0u);
}

TEST(GraphDevserverTest, CountsGraphRequestsPerPathAndResets) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Get(kNumbersPath);
  g.Get(kNumbersPath, "wrong");
  g.Get("/v21.0/100000000000001");
  json c = g.Control("GET", "/_control/requests").Json();
  EXPECT_EQ(c["total"], 3);
  EXPECT_EQ(c["byPath"][kNumbersPath], 2);
  EXPECT_EQ(c["byPath"]["/v21.0/100000000000001"], 1);
  g.Control("DELETE", "/_control/requests");
  EXPECT_EQ(g.RequestTotal(), 0);
}

TEST(GraphDevserverTest, NumbersCanBeAddedChangedAndRemoved) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  HttpResult add = g.Control("POST", "/_control/phone-numbers",
                             {{"id", "100000000000099"},
                              {"displayPhoneNumber", "+34 699 000 000"},
                              {"verifiedName", "New"},
                              {"qualityRating", "RED"}});
  EXPECT_EQ(add.status, 201) << add.body;
  EXPECT_EQ(g.Get(kNumbersPath).Json()["data"].size(), 3u);
  EXPECT_EQ(g.Get("/v21.0/100000000000099?fields=quality_rating").Json()["quality_rating"], "RED");
  EXPECT_EQ(
      g.Control("PATCH", "/_control/phone-numbers/100000000000099", {{"qualityRating", "YELLOW"}})
          .status,
      200);
  EXPECT_EQ(g.Get("/v21.0/100000000000099?fields=quality_rating").Json()["quality_rating"],
            "YELLOW");
  HttpResult bad =
      g.Control("PATCH", "/_control/phone-numbers/100000000000099", {{"qualityRating", "PURPLE"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("qualityRating"), std::string::npos);
  EXPECT_EQ(g.Control("DELETE", "/_control/phone-numbers/100000000000099").status, 200);
  EXPECT_EQ(g.Get("/v21.0/100000000000099").status, 400);
  EXPECT_EQ(g.Control("DELETE", "/_control/phone-numbers/100000000000099").status, 404);
  g.Generate(1000);
  EXPECT_EQ(g.Control("GET", "/_control/state").Json()["wabas"][0]["phoneNumbers"].size(), 1002u);
}

TEST(GraphDevserverTest, TemplatesArePagedAndFilteredByName) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  g.Control("POST", "/_control/templates",
            {{"name", "po_notification"}, {"language", "en_US"}, {"status", "PENDING"}});
  g.Control("POST", "/_control/templates", {{"name", "welcome"}, {"language", "es"}});
  const std::string path = std::string("/v21.0/") + kGraphWaba + "/message_templates";
  json all = g.Get(path + "?fields=name,language,status&limit=2").Json();
  ASSERT_EQ(all["data"].size(), 2u);
  EXPECT_TRUE(all["paging"].contains("next"));
  json po = g.Get(path + "?name=po_notification&fields=name,language,status").Json();
  ASSERT_EQ(po["data"].size(), 2u);
  EXPECT_EQ(po["data"][0]["name"], "po_notification");
  EXPECT_EQ(po["data"][0]["status"], "APPROVED");
  EXPECT_EQ(po["data"][1]["language"], "en_US");
  EXPECT_EQ(po["data"][1]["status"], "PENDING");
}

TEST(GraphDevserverTest, SendsMetasQualityWebhookSignedWithTheAppSecret) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  WebhookReceiver rx;
  ASSERT_GT(rx.port(), 0);
  HttpResult sent = g.Control("POST", "/_control/webhook",
                              {{"url", rx.url()},
                               {"phoneNumberId", "100000000000001"},
                               {"event", "DOWNGRADE"},
                               {"time", 1764150000}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.Json()["status"], 200);
  auto got = rx.Next();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->method, "POST");
  EXPECT_EQ(got->path, "/meta/webhook");
  EXPECT_EQ(got->headers["x-hub-signature-256"], "sha256=" + Hmac(kGraphAppSecret, got->body));
  EXPECT_EQ(got->body,
            std::string(R"({"object":"whatsapp_business_account","entry":[{"id":")") + kGraphWaba +
                R"(","time":1764150000,"changes":[{"value":{"display_phone_number":"34612345678",)"
                R"("event":"DOWNGRADE","current_limit":"TIER_1K"},)"
                R"("field":"phone_number_quality_update"}]}]})");

  // A different secret (to test rejection) gives a signature that does not verify.
  g.Control("POST", "/_control/webhook",
            {{"url", rx.url()}, {"displayPhoneNumber", "+1 650 555 1234"}, {"appSecret", "other"}});
  auto forged = rx.Next();
  ASSERT_TRUE(forged.has_value());
  EXPECT_NE(forged->headers["x-hub-signature-256"],
            "sha256=" + Hmac(kGraphAppSecret, forged->body));
  EXPECT_EQ(json::parse(forged->body)["entry"][0]["changes"][0]["value"]["display_phone_number"],
            "16505551234");
}

TEST(GraphDevserverTest, ChangesARatingAndSendsTheWebhookInOneCall) {
  GraphDevserver g;
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  WebhookReceiver rx;
  HttpResult r =
      g.Control("PATCH", "/_control/phone-numbers/100000000000001",
                {{"qualityRating", "RED"}, {"webhook", {{"url", rx.url()}, {"event", "FLAGGED"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(g.Get("/v21.0/100000000000001?fields=quality_rating").Json()["quality_rating"], "RED");
  auto got = rx.Next();
  ASSERT_TRUE(got.has_value());
  json body = json::parse(got->body);
  EXPECT_EQ(body["entry"][0]["changes"][0]["value"]["event"], "FLAGGED");
  EXPECT_EQ(got->headers["x-hub-signature-256"], "sha256=" + Hmac(kGraphAppSecret, got->body));

  HttpResult unreachable =
      g.Control("POST", "/_control/webhook",
                {{"url", "http://127.0.0.1:1/x"}, {"phoneNumberId", "100000000000001"}});
  EXPECT_EQ(unreachable.status, 502);
}

TEST(GraphDevserverTest, ServesTheDocumentedExampleData) {
  GraphDevserver g(waop::testing::ReadFile(RepoDir() + "/devserver/graph/example-data.yaml"));
  ASSERT_TRUE(g.ok()) << g.process().Stderr();
  json j = g.Get(kNumbersPath + "?fields=id,quality_rating").Json();
  ASSERT_EQ(j["data"].size(), 3u);
  EXPECT_EQ(j["data"][1], (json{{"id", "123456789012346"}, {"quality_rating", "YELLOW"}}));
}

TEST(GraphDevserverTest, BadDataFilesNameTheFieldAndWhatWasExpected) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "the file is empty"},
      {"token: [", "not valid YAML"},
      {"wabas: []\n", "token: required"},
      {"token: t\n", "wabas: required"},
      {"token: t\nwabas:\n  - id: abc\n", "wabas[0].id: expected 1-32 digits"},
      {"token: t\nmaxPageSize: 500\nwabas:\n  - id: \"1\"\n", "maxPageSize: expected an integer"},
      {"token: t\nwabas:\n  - id: \"1\"\n    phoneNumbers:\n      - {id: \"2\"}\n",
       "wabas[0].phoneNumbers[0].displayPhoneNumber: required"},
      {"token: t\nwabas:\n  - id: \"1\"\n    phoneNumbers:\n      - {id: \"2\", "
       "displayPhoneNumber: \"+1\", qualityRating: BLUE}\n",
       "wabas[0].phoneNumbers[0].qualityRating: expected GREEN, YELLOW, RED"},
      {"token: t\nwabas:\n  - id: \"1\"\n    phoneNumbers:\n      - {id: \"2\", "
       "displayPhoneNumber: \"+1\"}\n      - {id: \"2\", displayPhoneNumber: \"+2\"}\n",
       "wabas[0].phoneNumbers[1].id: duplicate phone number id 2"},
      {"token: t\ncolour: red\nwabas:\n  - id: \"1\"\n", "colour: unknown field"},
      {"token: t\nwabas:\n  - id: \"1\"\n    templates:\n      - {name: x}\n",
       "wabas[0].templates[0].language: required"},
  };
  waop::testing::TempDir dir;
  for (const auto& [yaml, want] : cases) {
    waop::testing::WriteFile(dir.File("bad.yaml"), yaml);
    auto r = waop::testing::Run({GraphDevserverBinary(), "--data", dir.File("bad.yaml")}, "",
                                std::chrono::seconds(20));
    EXPECT_EQ(r.exit_code, 2) << yaml;
    EXPECT_NE(r.err.find(want), std::string::npos) << "want \"" << want << "\" in: " << r.err;
  }
  auto missing = waop::testing::Run({GraphDevserverBinary(), "--data", dir.File("none.yaml")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read"), std::string::npos);
  auto no_data = waop::testing::Run({GraphDevserverBinary()});
  EXPECT_EQ(no_data.exit_code, 2);
  EXPECT_NE(no_data.err.find("--data FILE is required"), std::string::npos);
}

}  // namespace
}  // namespace devserver::testing
