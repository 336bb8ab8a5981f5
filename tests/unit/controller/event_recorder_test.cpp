// The event recorder: aggregation by identity, across restarts, and failures that never
// fail a reconcile.
#include "controller/event_recorder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mock_client.h"
#include "support/fake_clock.h"

namespace waop::controller {
namespace {

using ::testing::_;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::StrictMock;
using json = nlohmann::json;

json Object(const std::string& name) {
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata", {{"name", name}, {"namespace", "bakery-ia"}, {"uid", "uid-" + name}}},
          {"spec", {{"tenantId", "t-1"}}}};
}

// One merge patch of Event `name` in bakery-ia that sets its count to `count`.
void ExpectCountPatch(MockClient& client, const std::string& name, int count) {
  EXPECT_CALL(client, Patch(_, "bakery-ia", name, kube::PatchType::kMerge, _, _))
      .WillOnce(
          Invoke([count](const kube::ResourceType&, std::string_view, std::string_view,
                         kube::PatchType, const json& patch, std::string_view) -> Result<json> {
            EXPECT_EQ(patch["count"], count);
            return patch;
          }));
}

TEST(EventRecorderTest, RepeatsAreAggregatedIntoOneEvent) {
  StrictMock<MockClient> client;
  FakeClock clock;
  EventRecorder recorder(client, clock, "whatsapp-operator", "pod-1");
  const std::string name = EventRecorder::EventName(Object("a"), "Normal", "Bound", "bound");
  EXPECT_CALL(client, Create(_, _))
      .WillOnce(Invoke([&](const kube::ResourceType& type, const json& e) -> Result<json> {
        EXPECT_EQ(type.resource, "events");
        EXPECT_EQ(e["metadata"]["name"], name);
        EXPECT_EQ(e["involvedObject"]["uid"], "uid-a");
        EXPECT_EQ(e["count"], 1);
        return e;
      }));
  recorder.Record(Object("a"), "Normal", "Bound", "bound");
  ExpectCountPatch(client, name, 2);
  recorder.Record(Object("a"), "Normal", "Bound", "bound");
}

TEST(EventRecorderTest, AnEventOfAnEarlierProcessIsContinued) {
  StrictMock<MockClient> client;
  FakeClock clock;
  EventRecorder recorder(client, clock, "whatsapp-operator", "pod-2");
  const std::string name =
      EventRecorder::EventName(Object("a"), "Warning", "DuplicatePhoneNumber", "taken");
  EXPECT_CALL(client, Create(_, _))
      .WillOnce(Return(Status::AlreadyExists("events \"" + name + "\" already exists")));
  EXPECT_CALL(client, Get(_, "bakery-ia", name)).WillOnce(Return(json{{"count", 7}}));
  ExpectCountPatch(client, name, 8);
  recorder.Record(Object("a"), "Warning", "DuplicatePhoneNumber", "taken");
}

TEST(EventRecorderTest, AFailedWriteIsNotAnError) {
  StrictMock<MockClient> client;
  FakeClock clock;
  EventRecorder recorder(client, clock, "whatsapp-operator", "pod-1");
  EXPECT_CALL(client, Create(_, _)).Times(2).WillRepeatedly(Return(Status::Unavailable("down")));
  recorder.Record(Object("a"), "Normal", "Bound", "bound");
  // Not remembered after a failure: the next Record creates again rather than patching.
  recorder.Record(Object("a"), "Normal", "Bound", "bound");
}

}  // namespace
}  // namespace waop::controller
