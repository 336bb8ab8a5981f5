// Reading Meta's answers without HTTP: pages, one number, error classification, usage headers,
// and malformed input (never an exception, never deep recursion).
#include "meta/graph_parse.h"

#include <gtest/gtest.h>

namespace waop::meta {
namespace {

TEST(GraphParseTest, PhoneNumberPageWithPaging) {
  auto page = ParsePhoneNumberPage(
      R"({"data":[{"id":"1","display_phone_number":"+34 612 345 678","verified_name":"B",)"
      R"("quality_rating":"NA","messaging_limit_tier":"TIER_1K"},{"id":"2"}],)"
      R"("paging":{"cursors":{"before":"QQ","after":"Qg"},"next":"https://graph.facebook.com/x"}})");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0], (GraphPhoneNumber{"1", "+34 612 345 678", "B", "NA", "TIER_1K"}));
  EXPECT_EQ(page->items[1].id, "2");
  EXPECT_EQ(page->after, "Qg");
  EXPECT_EQ(page->next, "https://graph.facebook.com/x");

  auto last = ParsePhoneNumberPage(R"({"data":[]})");
  ASSERT_TRUE(last.ok());
  EXPECT_TRUE(last->items.empty());
  EXPECT_TRUE(last->next.empty());
}

TEST(GraphParseTest, MalformedAnswersAreInternalWithAClearMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "not JSON"},
      {"{not json", "not JSON"},
      {"[]", "expected a JSON object"},
      {R"({"items":[]})", "\"data\": missing or not an array"},
      {R"({"data":{}})", "\"data\": missing or not an array"},
      {R"({"data":[1]})", "data[0]: expected an object"},
      {R"({"data":[{"display_phone_number":"+1"}]})", "data[0].id: missing"},
      {R"({"data":[{"id":5}]})", "data[0].id: expected a string, got number"},
      {R"({"data":[{"id":"1","quality_rating":["GREEN"]}]})", "data[0].quality_rating"},
      {R"({"data":[],"paging":"x"})", "paging: expected an object"},
      {R"({"data":[],"paging":{"next":7}})", "paging.next: expected a string"},
      {std::string(100000, '[') + std::string(100000, ']'), "nests deeper than 64"},
  };
  for (const auto& [body, want] : cases) {
    auto page = ParsePhoneNumberPage(body);
    ASSERT_FALSE(page.ok()) << body.substr(0, 50);
    EXPECT_EQ(page.status().code(), StatusCode::kInternal);
    EXPECT_NE(page.status().message().find(want), std::string::npos)
        << page.status().message() << " (want " << want << ")";
  }
  EXPECT_EQ(ParsePhoneNumber("{\"id\":\"1\"").status().code(), StatusCode::kInternal);
  EXPECT_EQ(ParseTemplatePage(R"({"data":[{"language":"es"}]})").status().code(),
            StatusCode::kInternal);
}

TEST(GraphParseTest, DepthCheckSkipsBracketsInStrings) {
  EXPECT_TRUE(JsonDepthWithin(R"({"a":"[[[[[[[[[[\"[[[["})", 2));
  EXPECT_FALSE(JsonDepthWithin("[[[", 2));
  EXPECT_TRUE(JsonDepthWithin("[[]]", 2));
}

struct ErrorCase {
  int http;
  std::string body;
  StatusCode want;
};

TEST(GraphParseTest, ErrorClassification) {
  auto graph = [](int code, const std::string& extra = "") {
    return R"({"error":{"message":"(#)" + std::to_string(code) +
           R"( m","type":"OAuthException","code":)" + std::to_string(code) + extra +
           R"(,"fbtrace_id":"AbC"}})";
  };
  const std::vector<ErrorCase> cases = {
      {401, graph(190), StatusCode::kUnauthenticated},
      {400, graph(190), StatusCode::kUnauthenticated},
      {401, "", StatusCode::kUnauthenticated},
      {429, graph(4), StatusCode::kResourceExhausted},
      {400, graph(4), StatusCode::kResourceExhausted},
      {400, graph(17), StatusCode::kResourceExhausted},
      {429, graph(80007), StatusCode::kResourceExhausted},
      {429, graph(80008), StatusCode::kResourceExhausted},
      {429, graph(130429), StatusCode::kResourceExhausted},
      {400, graph(613), StatusCode::kResourceExhausted},
      {429, "Too many", StatusCode::kResourceExhausted},
      {400, graph(100, R"(,"error_subcode":33)"), StatusCode::kNotFound},
      {404, graph(100), StatusCode::kNotFound},
      {404, "", StatusCode::kNotFound},
      {400, graph(100), StatusCode::kInvalidArgument},  // e.g. a nonexisting field
      {500, graph(1), StatusCode::kUnavailable},
      {503, graph(2), StatusCode::kUnavailable},
      {400, graph(368, R"(,"is_transient":true)"), StatusCode::kUnavailable},
      {500, "<html>oops</html>", StatusCode::kUnavailable},
      {502, "", StatusCode::kUnavailable},
      {403, graph(10), StatusCode::kPermissionDenied},
      {403, graph(200), StatusCode::kPermissionDenied},
      {400, "{not json", StatusCode::kInternal},
      {400, R"({"error":"flat"})", StatusCode::kInternal},
  };
  for (const auto& c : cases) {
    Status s = GraphErrorStatus(c.http, c.body, "GET /v21.0/1/phone_numbers");
    EXPECT_EQ(s.code(), c.want) << c.http << " " << c.body << " -> " << s.ToString();
  }
  Status s = GraphErrorStatus(
      400,
      R"({"error":{"message":"Unsupported get request.","type":"GraphMethodException","code":100,)"
      R"("error_subcode":33,"fbtrace_id":"AxYz"}})",
      "GET /v21.0/42");
  EXPECT_EQ(s.message(),
            "GET /v21.0/42: Graph error 100/33 (GraphMethodException): Unsupported get request. "
            "(fbtrace_id AxYz; HTTP 400)");
}

TEST(GraphParseTest, UsageHeaders) {
  EXPECT_EQ(ParseUsageHeader(R"({"call_count":28,"total_cputime":25,"total_time":25})"), 28);
  EXPECT_EQ(ParseUsageHeader(R"({"call_count":5,"total_cputime":91,"total_time":25})"), 91);
  EXPECT_EQ(ParseUsageHeader(R"({"call_count":150})"), 100);
  EXPECT_EQ(ParseUsageHeader(
                R"({"102290129340398":[{"type":"whatsapp_business_management","call_count":10,)"
                R"("total_cputime":77,"total_time":3,"estimated_time_to_regain_access":0}]})"),
            77);
  EXPECT_EQ(ParseUsageHeader("nonsense"), std::nullopt);
  EXPECT_EQ(ParseUsageHeader("{}"), std::nullopt);
  EXPECT_EQ(ParseUsageHeader(R"({"call_count":"many"})"), std::nullopt);
}

TEST(GraphParseTest, RedactReplacesEverySecretOccurrence) {
  EXPECT_EQ(Redact("a tok b tok", "tok"), "a [REDACTED] b [REDACTED]");
  EXPECT_EQ(Redact("nothing", ""), "nothing");
}

}  // namespace
}  // namespace waop::meta
