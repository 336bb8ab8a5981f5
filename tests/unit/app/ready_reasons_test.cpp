#include "app/ready_reasons.h"

#include <gtest/gtest.h>

namespace waop::app {
namespace {

nlohmann::json WithReady(const std::string& reason) {
  return {{"metadata", {{"name", "a"}}},
          {"status",
           {{"conditions",
             {{{"type", "Stalled"}, {"reason", "Other"}},
              {{"type", "Ready"}, {"status", "True"}, {"reason", reason}}}}}}};
}

TEST(ReadyReasonsTest, ReasonOfTheReadyConditionOrUnknown) {
  EXPECT_EQ(ReadyReason(WithReady("Bound")), "Bound");
  EXPECT_EQ(ReadyReason({{"metadata", {{"name", "a"}}}}), "Unknown");
  EXPECT_EQ(ReadyReason({{"status", "garbage"}}), "Unknown");
  EXPECT_EQ(ReadyReason({{"status", {{"conditions", {{{"type", "Stalled"}}}}}}}), "Unknown");
  EXPECT_EQ(ReadyReason({{"status", {{"conditions", {{{"type", "Ready"}, {"reason", 3}}}}}}}),
            "Unknown");
}

TEST(ReadyReasonsTest, CountsFollowAddsUpdatesAndDeletes) {
  ReadyReasonCounts counts;
  nlohmann::json fresh = {{"metadata", {{"name", "a"}}}};
  counts.Added(fresh);
  counts.Added(WithReady("Bound"));
  EXPECT_EQ(counts.Snapshot(), (std::map<std::string, std::int64_t>{{"Bound", 1}, {"Unknown", 1}}));

  counts.Updated(fresh, WithReady("DuplicatePhoneNumber"));
  counts.Updated(WithReady("Bound"), WithReady("Bound"));  // unchanged reason: no change
  EXPECT_EQ(counts.Snapshot(), (std::map<std::string, std::int64_t>{
                                   {"Bound", 1}, {"DuplicatePhoneNumber", 1}, {"Unknown", 0}}));

  counts.Deleted(WithReady("Bound"));
  EXPECT_EQ(counts.Snapshot(), (std::map<std::string, std::int64_t>{
                                   {"Bound", 0}, {"DuplicatePhoneNumber", 1}, {"Unknown", 0}}));
}

}  // namespace
}  // namespace waop::app

namespace waop::app {
namespace {

// Issue 14: a condition whose type is a number, in an event handler.
TEST(ReadyReasonHostileTest, NumericConditionTypeIsSkipped) {
  EXPECT_EQ(
      ReadyReason(nlohmann::json::parse(
          R"({"status":{"conditions":[{"type":5,"reason":"X"},{"type":"Ready","reason":"Bound"}]}})")),
      "Bound");
}

}  // namespace
}  // namespace waop::app
