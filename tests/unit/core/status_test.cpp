#include "core/status.h"

#include <gtest/gtest.h>

#include "api/json.h"

namespace waop::core {
namespace {

using api::ConditionStatus;

WallTime At(int seconds) { return WallTime(std::chrono::seconds(1'790'000'000 + seconds)); }

api::Assignment Live() {
  api::Assignment a;
  a.metadata.name = "panaderia-san-juan";
  a.metadata.ns = "bakery-ia";
  a.metadata.uid = "uid-1";
  a.metadata.generation = 3;
  a.spec.tenant_id = "7c9e6679";
  a.spec.tenant_name = "Panadería San Juan";
  a.spec.phone_number_id = "123456789012345";
  a.spec.display_phone_number = "+34 612 345 678";
  return a;
}

BindingOutcome Bound() { return BindingOutcome{}; }

BindingOutcome DupPhone() {
  return BindingOutcome{BindingState::kDuplicatePhoneNumber,
                        std::make_shared<const BindingHolder>(BindingHolder{
                            "bakery-ia", "panaderia-san-juan", "7c9e6679", "Panadería San Juan",
                            "123456789012345", "+34 612 345 678"})};
}

BindingOutcome DupTenant() {
  return BindingOutcome{
      BindingState::kDuplicateTenant,
      std::make_shared<const BindingHolder>(BindingHolder{
          "bakery-ia", "first", "7c9e6679", "Panadería San Juan", "999", "+34 612 345 679"})};
}

const api::Condition& Cond(const api::AssignmentStatus& s, std::string_view type) {
  const api::Condition* c = api::FindCondition(s.conditions, type);
  EXPECT_NE(c, nullptr) << type;
  static const api::Condition kMissing;
  return c ? *c : kMissing;
}

TEST(DesiredStatusTest, BoundAndWritten) {
  api::AssignmentStatus s = DesiredStatus(Live(), Bound(), SyncOutcome::Written(), {}, At(0));
  EXPECT_EQ(s.observed_generation, 3);
  EXPECT_EQ(s.settings_config_map, "whatsapp-settings-panaderia-san-juan");
  EXPECT_EQ(s.display_phone_number, "+34 612 345 678");
  EXPECT_EQ(s.quality_rating, "UNKNOWN");
  EXPECT_FALSE(s.quality_checked_at.has_value());
  ASSERT_EQ(s.conditions.size(), 1u);
  const api::Condition& ready = s.conditions[0];
  EXPECT_EQ(ready.type, "Ready");
  EXPECT_EQ(ready.status, ConditionStatus::kTrue);
  EXPECT_EQ(ready.reason, "Bound");
  EXPECT_EQ(ready.message, "Phone number +34 612 345 678 assigned to tenant 'Panadería San Juan'");
  EXPECT_EQ(ready.observed_generation, 3);
  EXPECT_EQ(ready.last_transition_time, At(0));
}

TEST(DesiredStatusTest, UsesMetaDisplayAndQuality) {
  PhoneInfo info{"+34 612 34 56 78", "Bakery Platform", "YELLOW", "TIER_1K", At(-30)};
  api::AssignmentStatus s = DesiredStatus(Live(), Bound(), SyncOutcome::Written(), info, At(0));
  EXPECT_EQ(s.display_phone_number, "+34 612 34 56 78");
  EXPECT_EQ(s.verified_name, "Bakery Platform");
  EXPECT_EQ(s.quality_rating, "YELLOW");
  EXPECT_EQ(s.quality_checked_at, At(-30));
  EXPECT_EQ(Cond(s, "Ready").message,
            "Phone number +34 612 34 56 78 assigned to tenant 'Panadería San Juan'");
  info.quality_rating = "NA";
  EXPECT_EQ(DesiredStatus(Live(), Bound(), SyncOutcome::Written(), info, At(0)).quality_rating,
            "UNKNOWN");
}

TEST(DesiredStatusTest, FallsBackToIdsWithoutNames) {
  api::Assignment a = Live();
  a.spec.display_phone_number = "";
  a.spec.tenant_name = "";
  api::AssignmentStatus s = DesiredStatus(a, Bound(), SyncOutcome::Written(), {}, At(0));
  EXPECT_EQ(Cond(s, "Ready").message, "Phone number 123456789012345 assigned to tenant '7c9e6679'");
  EXPECT_EQ(s.display_phone_number, "");
}

TEST(DesiredStatusTest, DuplicatePhoneIsStalled) {
  api::Assignment a = Live();
  a.metadata.name = "copycat";
  a.spec.tenant_id = "other";
  api::AssignmentStatus s = DesiredStatus(a, DupPhone(), SyncOutcome::Pending(), {}, At(0));
  const std::string expected =
      "Phone number +34 612 345 678 already assigned to tenant 'Panadería San Juan' "
      "(bakery-ia/panaderia-san-juan)";
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[0].type, "Ready");
  EXPECT_EQ(s.conditions[0].status, ConditionStatus::kFalse);
  EXPECT_EQ(s.conditions[0].reason, "DuplicatePhoneNumber");
  EXPECT_EQ(s.conditions[0].message, expected);
  EXPECT_EQ(s.conditions[1].type, "Stalled");
  EXPECT_EQ(s.conditions[1].status, ConditionStatus::kTrue);
  EXPECT_EQ(s.conditions[1].reason, "DuplicatePhoneNumber");
  EXPECT_EQ(s.conditions[1].message, expected);
  EXPECT_EQ(s.settings_config_map, "");  // a loser writes no settings
}

TEST(DesiredStatusTest, DuplicateTenantNamesTheHoldersNumber) {
  api::AssignmentStatus s = DesiredStatus(Live(), DupTenant(), SyncOutcome::Pending(), {}, At(0));
  EXPECT_EQ(Cond(s, "Ready").reason, "DuplicateTenant");
  EXPECT_EQ(Cond(s, "Ready").message,
            "Tenant 'Panadería San Juan' already holds phone number +34 612 345 679 "
            "(bakery-ia/first)");
  EXPECT_EQ(Cond(s, "Stalled").reason, "DuplicateTenant");
  EXPECT_EQ(api::FindCondition(s.conditions, "Reconciling"), nullptr);
}

TEST(DesiredStatusTest, SettingsFailureIsReconciling) {
  api::AssignmentStatus s =
      DesiredStatus(Live(), Bound(),
                    SyncOutcome::SettingsFailed("Forbidden: configmaps is forbidden"), {}, At(0));
  EXPECT_EQ(Cond(s, "Ready").status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(s, "Ready").reason, "SettingsSyncFailed");
  EXPECT_EQ(Cond(s, "Ready").message,
            "Could not write settings ConfigMap whatsapp-settings-panaderia-san-juan: Forbidden: "
            "configmaps is forbidden; retrying");
  EXPECT_EQ(Cond(s, "Reconciling").status, ConditionStatus::kTrue);
  EXPECT_EQ(Cond(s, "Reconciling").reason, "SettingsSyncFailed");
  EXPECT_EQ(api::FindCondition(s.conditions, "Stalled"), nullptr);
  EXPECT_EQ(s.settings_config_map, "");
}

TEST(DesiredStatusTest, TenantServiceError) {
  api::AssignmentStatus s =
      DesiredStatus(Live(), Bound(), SyncOutcome::TenantServiceFailed("HTTP 503"), {}, At(0));
  EXPECT_EQ(Cond(s, "Ready").reason, "TenantServiceError");
  EXPECT_EQ(Cond(s, "Ready").message,
            "Tenant service did not accept the assignment: HTTP 503; retrying");
  EXPECT_EQ(Cond(s, "Reconciling").reason, "TenantServiceError");
  EXPECT_EQ(s.settings_config_map, "whatsapp-settings-panaderia-san-juan");
}

TEST(DesiredStatusTest, PendingIsUnknownAndReconciling) {
  api::AssignmentStatus s = DesiredStatus(Live(), Bound(), SyncOutcome::Pending(), {}, At(0));
  EXPECT_EQ(Cond(s, "Ready").status, ConditionStatus::kUnknown);
  EXPECT_EQ(Cond(s, "Ready").reason, "Progressing");
  EXPECT_EQ(Cond(s, "Reconciling").status, ConditionStatus::kTrue);
}

TEST(DesiredStatusTest, PhoneNumberNotFoundIsStalled) {
  api::AssignmentStatus s = DesiredStatus(Live(), Bound(), SyncOutcome::Written(), {}, At(0),
                                          PhoneNumberPresence::kAbsent);
  EXPECT_EQ(Cond(s, "Ready").status, ConditionStatus::kFalse);
  EXPECT_EQ(Cond(s, "Ready").reason, "PhoneNumberNotFound");
  EXPECT_EQ(Cond(s, "Ready").message,
            "Phone number id 123456789012345 is not in the master WhatsApp Business Account; "
            "check spec.phoneNumberId or add the number to the account");
  EXPECT_EQ(Cond(s, "Stalled").reason, "PhoneNumberNotFound");
}

TEST(DesiredStatusTest, Releasing) {
  api::AssignmentStatus s = DesiredStatus(Live(), BindingOutcome{BindingState::kReleasing, {}},
                                          SyncOutcome::Pending(), {}, At(0));
  ASSERT_EQ(s.conditions.size(), 1u);
  EXPECT_EQ(Cond(s, "Ready").reason, "Releasing");
  EXPECT_EQ(Cond(s, "Ready").status, ConditionStatus::kFalse);
}

TEST(DesiredStatusTest, TransitionTimeChangesOnlyWithStatus) {
  api::Assignment a = Live();
  a.status = DesiredStatus(a, DupPhone(), SyncOutcome::Pending(), {}, At(0));
  EXPECT_EQ(Cond(a.status, "Ready").last_transition_time, At(0));

  // Still a duplicate, different holder text, later: times stay.
  BindingOutcome other = DupTenant();
  api::AssignmentStatus s = DesiredStatus(a, other, SyncOutcome::Pending(), {}, At(100));
  EXPECT_EQ(Cond(s, "Ready").last_transition_time, At(0));
  EXPECT_EQ(Cond(s, "Stalled").last_transition_time, At(0));

  // Bound now: Ready flips to True (new time), Stalled goes away.
  a.status = s;
  s = DesiredStatus(a, Bound(), SyncOutcome::Written(), {}, At(200));
  EXPECT_EQ(Cond(s, "Ready").last_transition_time, At(200));
  EXPECT_EQ(api::FindCondition(s.conditions, "Stalled"), nullptr);

  // Sub-second "now" is stored as whole seconds, as the API server would.
  a.status = {};
  s = DesiredStatus(a, Bound(), SyncOutcome::Written(), {},
                    At(300) + std::chrono::milliseconds(700));
  EXPECT_EQ(Cond(s, "Ready").last_transition_time, At(300));
}

TEST(DesiredStatusTest, ObservedGenerationFollowsMetadata) {
  api::Assignment a = Live();
  a.status = DesiredStatus(a, Bound(), SyncOutcome::Written(), {}, At(0));
  a.metadata.generation = 4;
  api::AssignmentStatus s = DesiredStatus(a, Bound(), SyncOutcome::Written(), {}, At(10));
  EXPECT_EQ(s.observed_generation, 4);
  EXPECT_EQ(Cond(s, "Ready").observed_generation, 4);
  EXPECT_EQ(Cond(s, "Ready").last_transition_time, At(0));
  EXPECT_FALSE(StatusEquals(a.status, s));
}

TEST(DesiredStatusTest, ForeignConditionsAreKept) {
  api::Assignment a = Live();
  api::Condition c;
  c.type = "AuditPassed";
  c.status = ConditionStatus::kTrue;
  c.last_transition_time = At(-5);
  a.status.conditions = {c};
  api::AssignmentStatus s = DesiredStatus(a, Bound(), SyncOutcome::Written(), {}, At(0));
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[0].type, "Ready");
  EXPECT_EQ(s.conditions[1], c);
}

TEST(StatusEqualsTest, SteadyStateWritesNothing) {
  api::Assignment a = Live();
  PhoneInfo info{"+34 612 345 678", "Bakery Platform", "GREEN", "TIER_1K",
                 At(-30) + std::chrono::milliseconds(250)};
  api::AssignmentStatus first = DesiredStatus(a, Bound(), SyncOutcome::Written(), info, At(0));
  // Round trip through JSON, as the API server stores and returns it.
  Result<api::Assignment> stored =
      api::ParseAssignment(api::ToJson(api::Assignment{a.metadata, a.spec, first}));
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  api::AssignmentStatus again =
      DesiredStatus(*stored, Bound(), SyncOutcome::Written(), info, At(500));
  EXPECT_TRUE(StatusEquals(stored->status, again));
  EXPECT_TRUE(StatusEquals(first, again));
}

TEST(StatusEqualsTest, IgnoresConditionOrderButNotContent) {
  api::AssignmentStatus s = DesiredStatus(Live(), DupPhone(), SyncOutcome::Pending(), {}, At(0));
  api::AssignmentStatus reordered = s;
  std::swap(reordered.conditions[0], reordered.conditions[1]);
  EXPECT_TRUE(StatusEquals(s, reordered));
  api::AssignmentStatus changed = s;
  changed.conditions[1].message = "different";
  EXPECT_FALSE(StatusEquals(s, changed));
  changed = s;
  changed.conditions.pop_back();
  EXPECT_FALSE(StatusEquals(s, changed));
  changed = s;
  changed.quality_rating = "RED";
  EXPECT_FALSE(StatusEquals(s, changed));
  changed = s;
  changed.observed_generation = 9;
  EXPECT_FALSE(StatusEquals(s, changed));
}

TEST(PhoneNumberStatusTest, AssignmentFromBinding) {
  api::PhoneNumberStatus live;
  live.quality_rating = "GREEN";
  live.display_phone_number = "+34 612 345 678";
  api::PhoneAssignmentRef holder{"bakery-ia", "panaderia-san-juan", "7c9e6679",
                                 "Panadería San Juan"};
  api::PhoneNumberStatus s = DesiredPhoneNumberStatus(live, {}, holder);
  EXPECT_EQ(s.assignment, holder);
  EXPECT_EQ(s.quality_rating, "GREEN");  // kept while Meta is not consulted
  EXPECT_FALSE(StatusEquals(live, s));
  live = s;
  EXPECT_TRUE(StatusEquals(live, DesiredPhoneNumberStatus(live, {}, holder)));
  // The holder goes: the number is free.
  s = DesiredPhoneNumberStatus(live, {}, std::nullopt);
  EXPECT_FALSE(s.assignment.has_value());
  EXPECT_FALSE(StatusEquals(live, s));
}

TEST(ConditionHelpersTest, SetKeepsTimeUnlessStatusChanges) {
  std::vector<api::Condition> conds;
  api::Condition stale;
  stale.type = "QualityCurrent";
  stale.status = ConditionStatus::kFalse;
  stale.reason = "MetaUnavailable";
  stale.message = "Graph API unreachable; showing the last known rating";
  SetCondition(&conds, stale, At(10) + std::chrono::milliseconds(400));
  ASSERT_EQ(conds.size(), 1u);
  EXPECT_EQ(conds[0].last_transition_time, At(10));
  stale.message = "Rate limited";
  SetCondition(&conds, stale, At(20));
  ASSERT_EQ(conds.size(), 1u);
  EXPECT_EQ(conds[0].message, "Rate limited");
  EXPECT_EQ(conds[0].last_transition_time, At(10));
  stale.status = ConditionStatus::kTrue;
  SetCondition(&conds, stale, At(30));
  EXPECT_EQ(conds[0].last_transition_time, At(30));
  EXPECT_TRUE(RemoveCondition(&conds, "QualityCurrent"));
  EXPECT_FALSE(RemoveCondition(&conds, "QualityCurrent"));
  EXPECT_TRUE(conds.empty());
}

TEST(PhoneNumberStatusTest, ConditionsAreKeptAndCompared) {
  api::PhoneNumberStatus live;
  api::Condition c;
  c.type = "QualityCurrent";
  c.status = ConditionStatus::kTrue;
  c.reason = "Synced";
  c.last_transition_time = At(0);
  live.conditions = {c};
  api::PhoneNumberStatus s = DesiredPhoneNumberStatus(live, {}, std::nullopt);
  EXPECT_EQ(s.conditions, live.conditions);
  EXPECT_TRUE(StatusEquals(live, s));
  s.conditions[0].reason = "Other";
  EXPECT_FALSE(StatusEquals(live, s));
}

TEST(PhoneNumberStatusTest, MetaFieldsFromInventory) {
  PhoneInfo info{"+34 612 345 678", "Bakery Platform", "NA", "TIER_10K",
                 At(60) + std::chrono::milliseconds(900)};
  api::PhoneNumberStatus s = DesiredPhoneNumberStatus({}, info, std::nullopt);
  EXPECT_EQ(s.verified_name, "Bakery Platform");
  EXPECT_EQ(s.quality_rating, "UNKNOWN");
  EXPECT_EQ(s.messaging_limit_tier, "TIER_10K");
  EXPECT_EQ(s.last_sync_time, At(60));
}

}  // namespace
}  // namespace waop::core
