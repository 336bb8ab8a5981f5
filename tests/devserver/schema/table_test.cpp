#include "schema/table.h"

#include <gtest/gtest.h>

#include "support/fake_clock.h"
#include "yaml_json.h"

namespace devserver {
namespace {

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

json PrinterColumns() {
  auto crd = testing::LoadYamlFile(std::string(WAOP_CRDS_DIR) +
                                   "/whatsapp.bakery-ia.io_whatsappassignments.yaml");
  EXPECT_TRUE(crd.ok()) << crd.status().ToString();
  return (*crd)["spec"]["versions"][0]["additionalPrinterColumns"];
}

json Object(const std::string& name, const std::string& created) {
  return {{"apiVersion", "whatsapp.bakery-ia.io/v1alpha1"},
          {"kind", "WhatsAppAssignment"},
          {"metadata",
           {{"name", name},
            {"namespace", "bakery-ia"},
            {"creationTimestamp", created},
            {"resourceVersion", "7"}}},
          {"spec",
           {{"tenantId", "t1"}, {"tenantName", "Panadería San Juan"}, {"phoneNumberId", "123"}}},
          {"status",
           {{"displayPhoneNumber", "+34 612 345 678"},
            {"qualityRating", "GREEN"},
            {"conditions",
             {{{"type", "Reconciling"}, {"status", "False"}, {"reason", "Done"}},
              {{"type", "Ready"}, {"status", "True"}, {"reason", "Bound"}}}}}}};
}

TEST(TableTest, ColumnsAndCellsFollowThePrinterColumns) {
  waop::FakeClock clock;
  std::string created = waop::FormatRfc3339(clock.Now() - minutes(5) - seconds(3));
  json bound = Object("bound", created);
  json fresh = Object("fresh", waop::FormatRfc3339(clock.Now()));
  fresh.erase("status");
  json table = BuildTable(PrinterColumns(), {&bound, &fresh}, "42", false, clock);

  EXPECT_EQ(table["kind"], "Table");
  EXPECT_EQ(table["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(table["metadata"]["resourceVersion"], "42");
  std::vector<std::string> names;
  for (const auto& c : table["columnDefinitions"]) names.push_back(c["name"]);
  EXPECT_EQ(names,
            (std::vector<std::string>{"Name", "Tenant", "Tenant-ID", "Phone", "Phone-Number-ID",
                                      "Quality", "Ready", "Reason", "Age"}));
  const json& name_column = table["columnDefinitions"][0];
  EXPECT_EQ(name_column["format"], "name");
  EXPECT_EQ(name_column["priority"], 0);
  EXPECT_EQ(table["columnDefinitions"][2]["priority"], 1);
  EXPECT_EQ(table["columnDefinitions"][8]["type"], "date");
  EXPECT_EQ(table["columnDefinitions"][1]["description"],
            "Display name of the tenant (spec.tenantName).");

  ASSERT_EQ(table["rows"].size(), 2u);
  EXPECT_EQ(table["rows"][0]["cells"], json({"bound", "Panadería San Juan", "t1", "+34 612 345 678",
                                             "123", "GREEN", "True", "Bound", "5m3s"}));
  // Missing values are null cells, as the apiserver sends them (kubectl prints <none>).
  EXPECT_EQ(table["rows"][1]["cells"], json({"fresh", "Panadería San Juan", "t1", nullptr, "123",
                                             nullptr, nullptr, nullptr, "0s"}));
  const json& partial = table["rows"][0]["object"];
  EXPECT_EQ(partial["kind"], "PartialObjectMetadata");
  EXPECT_EQ(partial["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ(partial["metadata"], bound["metadata"]);
  EXPECT_FALSE(partial.contains("spec"));
}

TEST(TableTest, IncludeObjectCarriesTheWholeObject) {
  json obj = Object("a", "2026-11-26T10:00:00Z");
  json table = BuildTable(PrinterColumns(), {&obj}, "1", true);
  EXPECT_EQ(table["rows"][0]["object"], obj);
}

TEST(TableTest, WithoutPrinterColumnsTheTableHasNameAndAge) {
  waop::FakeClock clock;
  json obj = Object("a", waop::FormatRfc3339(clock.Now() - hours(50)));
  json table = BuildTable(json::array(), {&obj}, "1", false, clock);
  ASSERT_EQ(table["columnDefinitions"].size(), 2u);
  EXPECT_EQ(table["columnDefinitions"][1]["name"], "Age");
  EXPECT_EQ(table["rows"][0]["cells"], json({"a", "2d2h"}));
}

TEST(TableTest, TypedColumns) {
  json columns = json::parse(R"([
    {"name": "Gen", "type": "integer", "jsonPath": ".metadata.generation"},
    {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
    {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
    {"name": "Obj", "type": "string", "jsonPath": ".spec.obj"},
    {"name": "Num", "type": "string", "jsonPath": ".spec.ratio"},
    {"name": "Bad", "type": "date", "jsonPath": ".spec.obj.a"},
    {"name": "WrongType", "type": "boolean", "jsonPath": ".spec.ratio"}])");
  json obj = {{"metadata", {{"name", "x"}, {"generation", 4}}},
              {"spec", {{"ratio", 0.5}, {"on", true}, {"obj", {{"a", "b"}}}}}};
  json table = BuildTable(columns, {&obj}, "1", false);
  EXPECT_EQ(table["rows"][0]["cells"],
            json({"x", 4, 0.5, true, "{\"a\":\"b\"}", "0.5", "<invalid>", nullptr}));
}

TEST(JsonPathTest, SubsetUsedByPrinterColumns) {
  json obj = json::parse(R"({"a": {"b": [{"c": 1, "t": "x"}, {"c": 2, "t": "y"}]},
                              "labels": {"app.kubernetes.io/name": "op"}})");
  auto r = EvalJsonPath(".a.b[0].c", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{1});
  r = EvalJsonPath("{.a.b[*].c}", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<json>{1, 2}));
  r = EvalJsonPath(".a.b[-1].t", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{"y"});
  r = EvalJsonPath(".a.b[?(@.t=='y')].c", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{2});
  r = EvalJsonPath(".a.b[?(@.c != 1)].t", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{"y"});
  r = EvalJsonPath(".a.b[?(@.c == 2)].t", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{"y"});
  r = EvalJsonPath(R"(.labels.app\.kubernetes\.io/name)", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::vector<json>{"op"});
  r = EvalJsonPath(".a.missing.x", obj);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_FALSE(EvalJsonPath("..a", obj).ok());
  EXPECT_FALSE(EvalJsonPath(".a.b[?(@.c === 1)].t", obj).ok());
  EXPECT_FALSE(EvalJsonPath(".a[x]", obj).ok());
  EXPECT_FALSE(EvalJsonPath("a.b", obj).ok());
}

TEST(HumanDurationTest, MatchesApimachinery) {
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(seconds(-1)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(minutes(3)), "3m");
  EXPECT_EQ(HumanDuration(minutes(3) + seconds(20)), "3m20s");
  EXPECT_EQ(HumanDuration(minutes(42)), "42m");
  EXPECT_EQ(HumanDuration(hours(3) + minutes(12)), "3h12m");
  EXPECT_EQ(HumanDuration(hours(20)), "20h");
  EXPECT_EQ(HumanDuration(hours(24 * 3 + 5)), "3d5h");
  EXPECT_EQ(HumanDuration(hours(24 * 30)), "30d");
  EXPECT_EQ(HumanDuration(hours(24 * (365 * 2 + 40))), "2y40d");
  EXPECT_EQ(HumanDuration(hours(24 * 365 * 9)), "9y");
}

}  // namespace
}  // namespace devserver
