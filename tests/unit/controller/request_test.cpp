// Request: the queue key round-trips, and keys no request makes are refused.
#include "controller/request.h"

#include <gtest/gtest.h>

namespace waop::controller {
namespace {

TEST(RequestTest, KeysRoundTrip) {
  for (const Request& r : {Request::Assignment("bakery-ia", "panaderia-san-juan"),
                           Request::PhoneNumber("123456789012345")}) {
    auto parsed = Request::Parse(r.Key());
    ASSERT_TRUE(parsed) << r.Key();
    EXPECT_EQ(*parsed, r);
  }
  EXPECT_EQ(Request::Assignment("ns", "a").Key(), "ns/a");
  EXPECT_EQ(Request::PhoneNumber("1").Key(), "phone:1");
  EXPECT_EQ(Request::Parse("phone:1")->kind, Request::Kind::kPhoneNumber);
  EXPECT_EQ(Request::Parse("ns/a")->kind, Request::Kind::kAssignment);
}

TEST(RequestTest, MalformedKeysAreRefused) {
  for (const char* key : {"", "phone:", "no-slash", "/name", "ns/"}) {
    EXPECT_FALSE(Request::Parse(key)) << key;
  }
}

}  // namespace
}  // namespace waop::controller
