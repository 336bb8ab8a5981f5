#include "meta/webhook.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/json.h"

namespace waop::meta {
namespace {

constexpr char kSecret[] = "app-secret-123";
constexpr char kVerify[] = "verify-token-xyz";

const char kPayload[] = R"({
  "object": "whatsapp_business_account",
  "entry": [
    {"id": "1029384756", "changes": [
      {"field": "phone_number_quality_update",
       "value": {"display_phone_number": "34612345678", "event": "DOWNGRADE",
                 "current_limit": "TIER_1K"}},
      {"field": "messages", "value": {"messages": [{"id": "x"}]}},
      {"field": "phone_number_quality_update", "value": {"display_phone_number": "34600000001",
       "event": "FLAGGED"}}
    ]},
    {"id": "5555", "changes": [
      {"field": "phone_number_quality_update",
       "value": {"display_phone_number": "34699999999", "event": "UPGRADE",
                 "current_limit": "TIER_10K", "unknown": {"nested": [1, 2]}}},
      {"field": "account_update", "value": {}}
    ]}
  ]
})";

MasterCredentials Creds(bool with_secret = true, bool with_verify = true) {
  MasterCredentials c;
  c.values["WHATSAPP_ACCESS_TOKEN"] = "tok";
  if (with_secret) c.values["WHATSAPP_APP_SECRET"] = kSecret;
  if (with_verify) c.values["WHATSAPP_WEBHOOK_VERIFY_TOKEN"] = kVerify;
  return c;
}

class WebhookTest : public ::testing::Test {
 protected:
  explicit WebhookTest(MasterCredentials c = Creds())
      : source_(std::move(c)), handler_(source_, [this](const QualityUpdate& u) {
          updates_.push_back(u);
          return accept_;
        }) {}

  WebhookResponse Post(const std::string& body, std::optional<std::string> signature,
                       std::string header_name = "X-Hub-Signature-256") {
    WebhookRequest r{"POST", "/meta/webhook", "", {{"Content-Type", "application/json"}}, body};
    if (signature) r.headers.emplace_back(std::move(header_name), *signature);
    return handler_.Handle(r);
  }
  WebhookResponse PostSigned(const std::string& body) {
    return Post(body, SignatureHeaderValue(kSecret, body));
  }
  WebhookResponse Get(const std::string& query) {
    return handler_.Handle({"GET", "/meta/webhook", query, {}, ""});
  }

  StaticCredentialsSource source_;
  MetaWebhookHandler handler_;
  std::vector<QualityUpdate> updates_;
  bool accept_ = true;  // what the callback answers
};

TEST_F(WebhookTest, SignatureHeaderValueMatchesAKnownVector) {
  // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
  EXPECT_EQ(SignatureHeaderValue("Jefe", "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_F(WebhookTest, ValidSignatureDeliversEveryQualityUpdate) {
  auto r = PostSigned(kPayload);
  EXPECT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(updates_.size(), 3u);
  EXPECT_EQ(updates_[0], (QualityUpdate{"34612345678", "DOWNGRADE", "TIER_1K", "1029384756"}));
  EXPECT_EQ(updates_[1], (QualityUpdate{"34600000001", "FLAGGED", "", "1029384756"}));
  EXPECT_EQ(updates_[2], (QualityUpdate{"34699999999", "UPGRADE", "TIER_10K", "5555"}));
}

TEST_F(WebhookTest, AnUpdateNoOneCanActOnIs503SoMetaDeliversItAgain) {
  accept_ = false;  // a standby replica: its refresher does not run
  auto r = PostSigned(kPayload);
  EXPECT_EQ(r.status, 503);
  EXPECT_FALSE(updates_.empty()) << "the callback was asked";
  accept_ = true;
  EXPECT_EQ(PostSigned(kPayload).status, 200);
}

TEST_F(WebhookTest, HeaderNameAndHexAreCaseInsensitive) {
  std::string sig = SignatureHeaderValue(kSecret, kPayload);
  std::string upper = "sha256=";
  for (char c : sig.substr(7)) upper += static_cast<char>(std::toupper(c));
  EXPECT_EQ(Post(kPayload, upper, "x-hub-signature-256").status, 200);
  EXPECT_EQ(Post(kPayload, "SHA256=" + sig.substr(7), "X-HUB-SIGNATURE-256").status, 200);
  EXPECT_EQ(updates_.size(), 6u);
}

TEST_F(WebhookTest, MissingOrBadSignatureIs401AndDeliversNothing) {
  const std::string sig = SignatureHeaderValue(kSecret, kPayload);
  EXPECT_EQ(Post(kPayload, std::nullopt).status, 401);
  EXPECT_EQ(Post(kPayload, "").status, 401);
  EXPECT_EQ(Post(kPayload, sig.substr(7)).status, 401) << "no sha256= prefix";
  EXPECT_EQ(Post(kPayload, "sha1=" + sig.substr(7)).status, 401);
  EXPECT_EQ(Post(kPayload, sig + "00").status, 401) << "too long";
  EXPECT_EQ(Post(kPayload, sig.substr(0, sig.size() - 2)).status, 401) << "too short";
  std::string flipped = sig;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_EQ(Post(kPayload, flipped).status, 401);
  std::string not_hex = sig;
  not_hex[10] = 'g';
  EXPECT_EQ(Post(kPayload, not_hex).status, 401);
  EXPECT_EQ(Post(kPayload, SignatureHeaderValue("other-secret", kPayload)).status, 401);
  EXPECT_EQ(Post(kPayload, sig, "X-Hub-Signature").status, 401) << "the SHA-1 header is not read";
  EXPECT_TRUE(updates_.empty());
}

TEST_F(WebhookTest, TamperedBodyIs401) {
  const std::string sig = SignatureHeaderValue(kSecret, kPayload);
  std::string tampered = kPayload;
  tampered.replace(tampered.find("DOWNGRADE"), 9, "UPGRADE!!");
  EXPECT_EQ(Post(tampered, sig).status, 401);
  EXPECT_EQ(Post(std::string(kPayload) + " ", sig).status, 401) << "even whitespace counts";
  EXPECT_TRUE(updates_.empty());
}

TEST_F(WebhookTest, TooLargeIs413BeforeAnythingElse) {
  std::string big(kMaxWebhookBodyBytes + 1, ' ');
  EXPECT_EQ(PostSigned(big).status, 413);
  WebhookRequest announced{"POST", "/meta/webhook", "", {{"content-length", "1048577"}}, "{}"};
  EXPECT_EQ(handler_.Handle(announced).status, 413) << "Content-Length alone decides";
  announced.headers = {{"Content-Length", "99999999999999999999999"}};
  EXPECT_EQ(handler_.Handle(announced).status, 413);
  std::string at_limit(kMaxWebhookBodyBytes - 2, ' ');
  at_limit = "{" + at_limit + "}";
  EXPECT_EQ(PostSigned(at_limit).status, 200) << "exactly 1 MiB is allowed";
  EXPECT_TRUE(ContentLengthTooLarge("1048577"));
  EXPECT_FALSE(ContentLengthTooLarge("1048576"));
  EXPECT_FALSE(ContentLengthTooLarge("abc"));
}

TEST_F(WebhookTest, MalformedJsonIs400) {
  for (const std::string& body :
       std::vector<std::string>{"", "{", "not json", "[]", "\"a string\"", "{\"entry\": [}",
                                "{\"a\":1} trailing", std::string("{\"a\":\"\xff\xfe\"}")}) {
    EXPECT_EQ(PostSigned(body).status, 400) << body;
  }
  EXPECT_TRUE(updates_.empty());
}

TEST_F(WebhookTest, DeepNestingIs400) {
  std::string deep = "{\"entry\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(PostSigned(deep).status, 400);
  std::string shallow = "{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_EQ(PostSigned(shallow).status, 200);
  // Brackets inside strings do not count.
  std::string in_string = "{\"a\":\"" + std::string(1000, '[') + "\\\"\"}";
  EXPECT_EQ(PostSigned(in_string).status, 200);
  EXPECT_EQ(JsonNestingDepth("{\"a\":[{}]}", 10), 3u);
  EXPECT_EQ(JsonNestingDepth(std::string(50, '['), 10), 11u);
}

TEST_F(WebhookTest, UnknownShapesAreIgnored) {
  for (const std::string& body : std::vector<std::string>{
           R"({})",
           R"({"entry": "x"})",
           R"({"entry": [1, "a", null, {"changes": "x"}, {"changes": [1, {"field": 3}]}]})",
           R"({"entry": [{"changes": [{"field": "phone_number_quality_update"}]}]})",
           R"({"entry": [{"changes": [{"field": "phone_number_quality_update", "value": []}]}]})",
           R"({"entry": [{"changes": [{"field": "phone_number_quality_update",
                                      "value": {"display_phone_number": 34612345678}}]}]})",
           R"({"entry": [{"changes": [{"field": "messages", "value": {"a": 1}}]}]})",
       }) {
    EXPECT_EQ(PostSigned(body).status, 200) << body;
  }
  EXPECT_TRUE(updates_.empty());
}

TEST_F(WebhookTest, VerifyChallenge) {
  auto ok = Get("hub.mode=subscribe&hub.verify_token=verify-token-xyz&hub.challenge=1158201444");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "1158201444");
  EXPECT_EQ(ok.content_type.rfind("text/plain", 0), 0u);
  // Percent-encoding and parameter order do not matter.
  auto encoded =
      Get("hub.challenge=a%20b&hub.verify_token=verify%2Dtoken%2dxyz&hub.mode=subscribe");
  EXPECT_EQ(encoded.status, 200);
  EXPECT_EQ(encoded.body, "a b");
}

TEST_F(WebhookTest, VerifyRefusals) {
  for (const std::string& q : std::vector<std::string>{
           "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
           "hub.mode=subscribe&hub.verify_token=verify-token-xy&hub.challenge=1",
           "hub.mode=subscribe&hub.verify_token=verify-token-xyzz&hub.challenge=1",
           "hub.mode=unsubscribe&hub.verify_token=verify-token-xyz&hub.challenge=1",
           "hub.verify_token=verify-token-xyz&hub.challenge=1",
           "hub.mode=subscribe&hub.challenge=1",
           "hub.mode=subscribe&hub.verify_token=verify-token-xyz",
           "",
           "%%%&&&==",
       }) {
    auto r = Get(q);
    EXPECT_EQ(r.status, 403) << q;
    EXPECT_EQ(r.body.find("verify-token"), std::string::npos);
  }
}

TEST_F(WebhookTest, PathsAndMethods) {
  EXPECT_EQ(handler_.Handle({"GET", "/", "", {}, ""}).status, 404);
  EXPECT_EQ(handler_.Handle({"POST", "/meta/webhook/", "", {}, ""}).status, 404);
  EXPECT_EQ(handler_.Handle({"GET", "/meta/webhooks", "", {}, ""}).status, 404);
  EXPECT_EQ(handler_.Handle({"PUT", "/meta/webhook", "", {}, ""}).status, 405);
  EXPECT_EQ(handler_.Handle({"DELETE", "/meta/webhook", "", {}, ""}).status, 405);
}

TEST_F(WebhookTest, RandomInputNeverCrashes) {
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]\",:0123456789abcdefnulltrue\\ \xff\x00";
  for (int i = 0; i < 2000; ++i) {
    std::string body;
    const int n = static_cast<int>(rng() % 200);
    for (int j = 0; j < n; ++j) body += alphabet[rng() % alphabet.size()];
    auto r = PostSigned(body);
    EXPECT_TRUE(r.status == 200 || r.status == 400) << r.status;
    auto q = Get(body);
    EXPECT_EQ(q.status, 403);
  }
}

class WebhookWithoutSecretsTest : public WebhookTest {
 protected:
  WebhookWithoutSecretsTest() : WebhookTest(Creds(false, false)) {}
};

TEST_F(WebhookWithoutSecretsTest, NoAppSecretIs503AndNoVerifyTokenIs403) {
  EXPECT_EQ(Post(kPayload, SignatureHeaderValue("", kPayload)).status, 503);
  EXPECT_EQ(Post(kPayload, SignatureHeaderValue(kSecret, kPayload)).status, 503);
  EXPECT_EQ(Get("hub.mode=subscribe&hub.verify_token=&hub.challenge=1").status, 403)
      << "an empty token never matches an unset one";
  EXPECT_TRUE(updates_.empty());
}

}  // namespace
}  // namespace waop::meta
