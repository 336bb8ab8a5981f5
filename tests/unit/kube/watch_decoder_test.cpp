#include <gtest/gtest.h>

#include "kube/client.h"

namespace waop::kube {
namespace {

// Three events, one with multi-byte UTF-8 ("Panadería", "ñ", an emoji), CRLF endings on one,
// a blank keep-alive line.
const std::string kPayload =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"},"
    "\"spec\":{\"tenantName\":\"Panader\xC3\xAD"
    "a San Juan \xC3\xB1 \xF0\x9F\x8D\x9E\"}}}\n"
    "\r\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"2\"}}}"
    "\r\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":"
    "\"9\"}}}\n";

void ExpectPayloadEvents(const std::vector<WatchEvent>& events) {
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEventType::kAdded);
  EXPECT_EQ(events[0].object["spec"]["tenantName"],
            "Panader\xC3\xAD"
            "a San Juan \xC3\xB1 \xF0\x9F\x8D\x9E");
  EXPECT_EQ(events[1].type, WatchEventType::kModified);
  EXPECT_EQ(ObjectResourceVersion(events[1].object), "2");
  EXPECT_EQ(events[2].type, WatchEventType::kBookmark);
  EXPECT_EQ(ObjectResourceVersion(events[2].object), "9");
}

TEST(WatchDecoderTest, WholePayload) {
  WatchDecoder d;
  ASSERT_TRUE(d.Feed(kPayload).ok());
  std::vector<WatchEvent> events;
  while (auto e = d.Next()) events.push_back(std::move(*e));
  ExpectPayloadEvents(events);
  EXPECT_FALSE(d.HasPartialForTesting());
}

TEST(WatchDecoderTest, SplitAtEveryByteBoundary) {
  for (std::size_t i = 0; i <= kPayload.size(); ++i) {
    for (std::size_t j = i; j <= kPayload.size(); j += 7) {
      SCOPED_TRACE("split at " + std::to_string(i) + " and " + std::to_string(j));
      WatchDecoder d;
      std::vector<WatchEvent> events;
      for (auto part :
           {std::string_view(kPayload).substr(0, i), std::string_view(kPayload).substr(i, j - i),
            std::string_view(kPayload).substr(j)}) {
        ASSERT_TRUE(d.Feed(part).ok());
        while (auto e = d.Next()) events.push_back(std::move(*e));
      }
      ExpectPayloadEvents(events);
    }
  }
}

TEST(WatchDecoderTest, OneByteAtATime) {
  WatchDecoder d;
  std::vector<WatchEvent> events;
  for (char c : kPayload) {
    ASSERT_TRUE(d.Feed(std::string_view(&c, 1)).ok());
    while (auto e = d.Next()) events.push_back(std::move(*e));
  }
  ExpectPayloadEvents(events);
}

TEST(WatchDecoderTest, PartialEventIsHeldBack) {
  WatchDecoder d;
  ASSERT_TRUE(d.Feed(kPayload.substr(0, 40)).ok());
  EXPECT_FALSE(d.Next().has_value());
  EXPECT_TRUE(d.HasPartialForTesting());
}

TEST(WatchDecoderTest, RejectsGarbageClearly) {
  struct Case {
    std::string line;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {"<html>oops</html>\n", "watch stream: line \"<html>oops</html>\" is not JSON"},
      {"[1,2]\n", "watch stream: line \"[1,2]\" is not a JSON object"},
      {"{\"object\":{}}\n", "watch stream: event \"{\"object\":{}}\" has no string field \"type\""},
      {"{\"type\":\"RENAMED\",\"object\":{}}\n",
       "watch stream: event type \"RENAMED\" is not ADDED, MODIFIED, DELETED, BOOKMARK or ERROR"},
      {"{\"type\":\"ADDED\",\"object\":3}\n",
       "watch stream: ADDED event has no object field \"object\""},
  };
  for (const auto& c : cases) {
    WatchDecoder d;
    Status s = d.Feed(c.line);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.line;
    EXPECT_EQ(s.message(), c.expected);
  }
}

TEST(LineSplitterTest, RejectsOverlongLines) {
  LineSplitter s(16);
  EXPECT_TRUE(s.Feed("0123456789").ok());
  EXPECT_EQ(s.Feed("0123456789").code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace waop::kube
