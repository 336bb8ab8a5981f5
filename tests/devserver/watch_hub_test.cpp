// WatchHub in process: a watch opened while the server shuts down ends at once (else the
// listener's close would wait for it forever).
#include "watch_hub.h"

#include <gtest/gtest.h>

namespace devserver {
namespace {

class RecordingSink final : public StreamSink {
 public:
  bool Write(std::string_view bytes) override {
    written += bytes;
    return !closed;
  }
  void Close() override { closed = true; }
  size_t Backlog() const override { return 0; }
  std::string written;
  bool closed = false;
};

WatchSpec ConfigMapsSpec() {
  WatchSpec spec;
  spec.storage_key = "configmaps";
  spec.kind = "ConfigMap";
  spec.api_version = "v1";
  return spec;
}

TEST(WatchHub, ShutdownClosesOpenWatchesAndEndsLaterOnesAtOnce) {
  WatchHub hub(100, std::chrono::seconds(60));
  auto before = std::make_shared<RecordingSink>();
  uint64_t oldest = 0;
  ASSERT_TRUE(hub.Open(ConfigMapsSpec(), before, 0, {}, false, 1, &oldest));
  EXPECT_EQ(hub.OpenWatches(), 1u);
  EXPECT_FALSE(before->closed);

  hub.Shutdown();
  EXPECT_TRUE(before->closed);
  EXPECT_EQ(hub.OpenWatches(), 0u);

  auto after = std::make_shared<RecordingSink>();
  ASSERT_TRUE(hub.Open(ConfigMapsSpec(), after, 0, {}, true, 1, &oldest));
  EXPECT_TRUE(after->closed);
  EXPECT_EQ(after->written, "");
  EXPECT_EQ(hub.OpenWatches(), 0u);
}

}  // namespace
}  // namespace devserver
