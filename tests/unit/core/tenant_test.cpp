// The tenant-service sink's pure rules: when a row shows a binding, the calls that make it,
// drift between rows and bindings, the Releasing status, and the export (names, duplicates,
// Unicode, skipped rows).
#include "core/tenant.h"

#include <gtest/gtest.h>

namespace waop::core {
namespace {

TenantRow Row(std::string id, std::string phone = "", std::string display = "") {
  TenantRow r;
  r.tenant_id = std::move(id);
  r.phone_number_id = std::move(phone);
  r.display_phone_number = std::move(display);
  r.whatsapp_enabled = !r.phone_number_id.empty();
  return r;
}

TEST(TenantRulesTest, RowShowsComparesNumberAndDisplayDigits) {
  EXPECT_TRUE(RowShows(Row("t", "1", "+34 612 345 678"), {"t", "1", "+34612345678"}));
  EXPECT_TRUE(RowShows(Row("t", "1", "anything"), {"t", "1", ""}));
  EXPECT_FALSE(RowShows(Row("t", "1", "+34 612 345 678"), {"t", "1", "+34 612 345 679"}));
  EXPECT_FALSE(RowShows(Row("t", "2", ""), {"t", "1", ""}));
  EXPECT_FALSE(RowShows(Row("t"), {"t", "1", ""}));
}

TEST(TenantRulesTest, CallsToShow) {
  const TenantTarget want{"t", "1", "+34 1"};
  EXPECT_TRUE(CallsToShow(Row("t", "1", "+341"), want).empty());
  // Unknown tenant or no number: one assign.
  auto assign = CallsToShow(std::nullopt, want);
  ASSERT_EQ(assign.size(), 1u);
  EXPECT_EQ(assign[0], (TenantCall{TenantCallKind::kAssign, "t", "1", "+34 1"}));
  EXPECT_EQ(CallsToShow(Row("t"), want), assign);
  // Another number (a move, or drift): unassign first.
  auto move = CallsToShow(Row("t", "2", "+34 2"), want);
  ASSERT_EQ(move.size(), 2u);
  EXPECT_EQ(move[0].kind, TenantCallKind::kUnassign);
  EXPECT_EQ(move[1], assign[0]);
}

TEST(TenantRulesTest, DiffFindsDifferingUnexpectedAndLegacy) {
  TenantRow legacy = Row("t-legacy");
  legacy.legacy_keys = {"whatsapp_access_token"};
  std::vector<TenantRow> rows = {
      Row("t-ok", "1", "+34 1"), Row("t-wrong", "9"), Row("t-extra", "5"),
      Row("t-releasing", "6"),   Row("t-free"),       legacy};
  std::vector<TenantTarget> targets = {
      {"t-ok", "1", "+34 1"}, {"t-wrong", "2", ""}, {"t-missing", "3", ""}};
  TenantDrift d = DiffTenants(targets, rows, {"t-releasing"});
  EXPECT_EQ(d.differing, (std::vector<std::string>{"t-wrong", "t-missing"}));
  ASSERT_EQ(d.unexpected.size(), 1u);
  EXPECT_EQ(d.unexpected[0].tenant_id, "t-extra");
  ASSERT_EQ(d.legacy.size(), 1u);
  EXPECT_EQ(d.legacy[0].tenant_id, "t-legacy");
  // At rest: nothing.
  TenantDrift rest = DiffTenants({{"t-ok", "1", "+34 1"}}, {Row("t-ok", "1", "+34 1")}, {});
  EXPECT_TRUE(rest.differing.empty() && rest.unexpected.empty() && rest.legacy.empty());
}

TEST(TenantRulesTest, ReleasingStatusNamesNumberTenantAndCause) {
  api::Assignment a;
  a.metadata.generation = 4;
  a.spec.tenant_id = "t";
  a.spec.tenant_name = "Panadería";
  a.spec.phone_number_id = "1";
  a.spec.display_phone_number = "+34 612 345 678";
  api::Condition stalled{"Stalled", api::ConditionStatus::kTrue, "X", "y", 3, {}};
  a.status.conditions = {stalled};
  auto s = ReleasingStatus(a, "HTTP 503: maintenance", WallTime{});
  const api::Condition* ready = api::FindCondition(s.conditions, "Ready");
  ASSERT_NE(ready, nullptr);
  EXPECT_EQ(ready->status, api::ConditionStatus::kFalse);
  EXPECT_EQ(ready->reason, "Releasing");
  EXPECT_EQ(ready->observed_generation, 4);
  EXPECT_NE(ready->message.find("+34 612 345 678"), std::string::npos);
  EXPECT_NE(ready->message.find("'Panadería'"), std::string::npos);
  EXPECT_NE(ready->message.find("HTTP 503: maintenance"), std::string::npos);
  EXPECT_EQ(api::FindCondition(s.conditions, "Stalled"), nullptr);
}

TEST(TenantExportTest, NamesAreDns1123Labels) {
  EXPECT_EQ(AssignmentNameFor("Panadería San Juan", "x"), "panaderia-san-juan");
  EXPECT_EQ(AssignmentNameFor("Café Ñandú & Co.", "x"), "cafe-nandu-co");
  EXPECT_EQ(AssignmentNameFor("  --Über__Bäckerei--  ", "x"), "uber-backerei");
  EXPECT_EQ(AssignmentNameFor("北京烤鸭", "7C9E-6679"), "tenant-7c9e-6679");
  EXPECT_EQ(AssignmentNameFor("", ""), "tenant");
  EXPECT_EQ(AssignmentNameFor("42 Bakery", "x"), "tenant-42-bakery");
  const std::string long_name = AssignmentNameFor(std::string(300, 'a') + " b", "x");
  EXPECT_LE(long_name.size(), 59u);
  EXPECT_NE(long_name.back(), '-');
  // A cut that would end on a hyphen is trimmed.
  EXPECT_EQ(AssignmentNameFor(std::string(58, 'a') + " bcd", "x"), std::string(58, 'a'));
}

TEST(TenantExportTest, UniqueNamesDuplicatesAndSkips) {
  TenantRow a = Row("t-1", "100", "+34 612 345 678");
  a.tenant_name = "Panadería San Juan";
  TenantRow b = Row("t-2", "200");
  b.tenant_name = "Panadería San Juan";
  TenantRow c = Row("t-3", "100");  // shares t-1's number
  c.tenant_name = "Zeta";
  TenantRow none = Row("t-4");
  TenantRow bad = Row("t 5", "300");  // not a label value
  TenantRow odd_display = Row("t-6", "600", "call me");
  odd_display.tenant_name = "Odd";
  ExportResult r = ExportAssignments({c, b, a, none, bad, odd_display}, "bakery");
  ASSERT_EQ(r.assignments.size(), 4u);
  EXPECT_EQ(r.assignments[0].name, "odd");
  EXPECT_EQ(r.assignments[1].name, "panaderia-san-juan");  // t-1 before t-2
  EXPECT_EQ(r.assignments[2].name, "panaderia-san-juan-2");
  EXPECT_EQ(r.assignments[3].name, "zeta");
  EXPECT_EQ(r.losers, 1);
  EXPECT_NE(r.assignments[1].yaml.find("tenantName: \"Panadería San Juan\""), std::string::npos);
  EXPECT_NE(r.assignments[1].yaml.find("namespace: bakery"), std::string::npos);
  EXPECT_NE(r.assignments[3].yaml.find("# DUPLICATE: phone number 100"), std::string::npos);
  EXPECT_NE(r.assignments[3].yaml.find("exported as panaderia-san-juan"), std::string::npos);
  EXPECT_EQ(r.assignments[1].yaml.find("DUPLICATE"), std::string::npos);
  EXPECT_EQ(r.assignments[0].yaml.find("displayPhoneNumber"), std::string::npos);
  EXPECT_NE(r.assignments[0].yaml.find("is not E.164 and was left out"), std::string::npos);
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0], "tenant t-4: no phone number assigned");
  EXPECT_NE(r.skipped[1].find("spec.tenantId"), std::string::npos) << r.skipped[1];

  const std::string stream = ExportYamlStream(r, "http://tenants");
  EXPECT_EQ(stream.rfind("# WhatsAppAssignments exported", 0), 0u);
  EXPECT_NE(stream.find("1 of them duplicates"), std::string::npos);
  EXPECT_NE(stream.find("---\n# From tenant service row t-1"), std::string::npos);
}

TEST(TenantExportTest, DuplicateTenantRows) {
  TenantRow first = Row("t-1", "100");
  first.tenant_name = "Alpha";
  TenantRow second = Row("t-1", "200");
  second.tenant_name = "Beta";
  ExportResult r = ExportAssignments({second, first}, "");
  ASSERT_EQ(r.assignments.size(), 2u);
  EXPECT_EQ(r.losers, 1);
  EXPECT_NE(r.assignments[1].yaml.find("# DUPLICATE: tenant t-1 also appears in another row"),
            std::string::npos);
  EXPECT_NE(r.assignments[1].yaml.find("DuplicateTenant"), std::string::npos);
  EXPECT_EQ(r.assignments[0].yaml.find("namespace:"), std::string::npos);
}

}  // namespace
}  // namespace waop::core
