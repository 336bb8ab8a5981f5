#include "kube/api_error.h"

#include <gtest/gtest.h>

#include "kube/client.h"

namespace waop::kube {
namespace {

std::string StatusBody(int code, const std::string& reason, const std::string& message,
                       const std::string& details = "{}") {
  return R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":)" +
         nlohmann::json(message).dump() + R"(,"reason":")" + reason + R"(","details":)" + details +
         R"(,"code":)" + std::to_string(code) + "}";
}

struct Case {
  int http;
  std::string reason;
  StatusCode expected;
};

TEST(ApiErrorTest, MapsEachCode) {
  const std::vector<Case> cases = {
      {404, "NotFound", StatusCode::kNotFound},
      {409, "AlreadyExists", StatusCode::kAlreadyExists},
      {409, "Conflict", StatusCode::kConflict},
      {410, "Expired", StatusCode::kGone},
      {422, "Invalid", StatusCode::kInvalidArgument},
      {400, "BadRequest", StatusCode::kInvalidArgument},
      {401, "Unauthorized", StatusCode::kUnauthenticated},
      {403, "Forbidden", StatusCode::kPermissionDenied},
      {429, "TooManyRequests", StatusCode::kResourceExhausted},
      {500, "InternalError", StatusCode::kUnavailable},
      {503, "ServiceUnavailable", StatusCode::kUnavailable},
      {504, "Timeout", StatusCode::kDeadlineExceeded},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.reason);
    HttpResponse r{c.http,
                   {{"Content-Type", "application/json"}},
                   StatusBody(c.http, c.reason, "the message")};
    ApiError e = ParseApiError(r);
    EXPECT_EQ(e.http_code, c.http);
    EXPECT_EQ(e.reason, c.reason);
    EXPECT_EQ(e.message, "the message");
    Status s = e.ToStatus("get configmaps ns/x");
    EXPECT_EQ(s.code(), c.expected) << s.ToString();
    EXPECT_EQ(s.message().rfind("get configmaps ns/x: the message", 0), 0u) << s.message();
  }
}

TEST(ApiErrorTest, RealNotFoundBody) {
  const std::string body =
      R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"whatsapp-settings-x\" not found","reason":"NotFound","details":{"name":"whatsapp-settings-x","kind":"configmaps"},"code":404})";
  Status s = ParseApiError(404, {}, body).ToStatus("get configmaps bakery-ia/whatsapp-settings-x");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.message(),
            "get configmaps bakery-ia/whatsapp-settings-x: configmaps \"whatsapp-settings-x\" not "
            "found");
}

TEST(ApiErrorTest, InvalidKeepsCauses) {
  const std::string body = StatusBody(
      422, "Invalid", "WhatsAppAssignment.whatsapp.bakery-ia.io \"a\" is invalid",
      R"({"name":"a","group":"whatsapp.bakery-ia.io","kind":"WhatsAppAssignment","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: \"abc\": spec.phoneNumberId in body should match '^[0-9]{1,32}$'","field":"spec.phoneNumberId"},{"reason":"FieldValueRequired","message":"Required value","field":"spec.tenantId"}]})");
  ApiError e = ParseApiError(422, {}, body);
  ASSERT_EQ(e.causes.size(), 2u);
  EXPECT_EQ(e.causes[0].field, "spec.phoneNumberId");
  EXPECT_EQ(e.causes[1].reason, "FieldValueRequired");
  Status s = e.ToStatus("create");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("spec.phoneNumberId: Invalid value: \"abc\""), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("spec.tenantId: Required value"), std::string::npos);
}

TEST(ApiErrorTest, TooManyRequestsKeepsRetryAfter) {
  ApiError e = ParseApiError(
      429, {{"retry-after", "7"}},
      StatusBody(429, "TooManyRequests", "too many requests", R"({"retryAfterSeconds":3})"));
  ASSERT_TRUE(e.retry_after.has_value());
  EXPECT_EQ(e.retry_after->count(), 7);  // the header wins over the body's hint
  Status s = e.ToStatus("list leases");
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  auto hint = RetryAfterHint(s);
  ASSERT_TRUE(hint.has_value());
  EXPECT_EQ(hint->count(), 7);

  ApiError from_body = ParseApiError(
      429, {}, StatusBody(429, "TooManyRequests", "slow down", R"({"retryAfterSeconds":3})"));
  EXPECT_EQ(from_body.retry_after->count(), 3);
  EXPECT_FALSE(RetryAfterHint(Status::Unavailable("x (retry after 3s)")).has_value());
}

TEST(ApiErrorTest, NonStatusBodies) {
  ApiError html = ParseApiError(502, {}, "<html>\n<body>Bad Gateway</body></html>");
  Status s = html.ToStatus("get x");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "get x: <html> <body>Bad Gateway</body></html>");
  EXPECT_EQ(ParseApiError(404, {}, "").ToStatus("").message(), "HTTP 404");
  EXPECT_EQ(ParseApiError(403, {}, "forbidden").ToStatus("").code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ParseApiError(409, {}, "{\"not\":\"status\"}").ToStatus("").code(),
            StatusCode::kConflict);
}

TEST(ApiErrorTest, WatchErrorEvent) {
  auto event = WatchDecoder::DecodeLine(
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (20)","reason":"Expired","code":410}})json");
  ASSERT_TRUE(event.ok());
  Status s = WatchErrorStatus(*event);
  EXPECT_EQ(s.code(), StatusCode::kGone);
  EXPECT_NE(s.message().find("too old resource version"), std::string::npos);
}

}  // namespace
}  // namespace waop::kube
