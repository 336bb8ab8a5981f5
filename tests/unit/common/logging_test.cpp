#include "common/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/clock.h"

namespace waop::logging {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override { previous_ = spdlog::default_logger(); }
  void TearDown() override {
    ClearSecrets();
    spdlog::set_default_logger(previous_);
  }
  void Install(LogFormat format, spdlog::level::level_enum level = spdlog::level::info) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    SetUpLogging({format, level, "test-operator"}, sink);
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(LoggingTest, JsonModeWritesOneValidObjectPerLine) {
  Install(LogFormat::kJson);
  Log(spdlog::level::info, "assignment bound", {{"namespace", "bakery-ia"}, {"name", "san-juan"}});
  Log(spdlog::level::warn, "quote \" and\nnewline {} braces", {{"msg", "shadowed"}});
  Log(spdlog::level::debug, "filtered out by level");
  spdlog::error("plain spdlog call {}", 42);
  NamedLogger("leader-election")->info("named");
  Log(spdlog::level::info, std::string("bad utf8 \xff\xfe end"));
  const auto lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 5u) << out_.str();
  std::vector<nlohmann::json> parsed;
  for (const auto& line : lines) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << "not JSON: " << line;
    ASSERT_TRUE(j.contains("ts") && j.contains("level") && j.contains("logger") &&
                j.contains("msg"))
        << line;
    parsed.push_back(j);
  }
  EXPECT_EQ(parsed[0]["level"], "info");
  EXPECT_EQ(parsed[0]["logger"], "test-operator");
  EXPECT_EQ(parsed[0]["msg"], "assignment bound");
  EXPECT_EQ(parsed[0]["namespace"], "bakery-ia");
  EXPECT_EQ(parsed[0]["name"], "san-juan");
  EXPECT_TRUE(ParseRfc3339(parsed[0]["ts"].get<std::string>()).ok());
  EXPECT_EQ(parsed[1]["level"], "warn");
  EXPECT_EQ(parsed[1]["msg"], "quote \" and\nnewline {} braces");
  EXPECT_EQ(parsed[1]["field.msg"], "shadowed");
  EXPECT_EQ(parsed[2]["level"], "error");
  EXPECT_EQ(parsed[2]["msg"], "plain spdlog call 42");
  EXPECT_EQ(parsed[3]["logger"], "leader-election");
  EXPECT_THAT(parsed[4]["msg"].get<std::string>(), HasSubstr("end"));
}

TEST_F(LoggingTest, RegisteredSecretsNeverAppear) {
  Install(LogFormat::kJson);
  const std::string token = "EAAG-test-token-value-0123456789";
  RegisterSecret(token);
  RegisterSecret("");  // ignored, would otherwise redact everything
  Log(spdlog::level::info, "calling Graph with " + token, {{"authorization", "Bearer " + token}});
  spdlog::warn("token={} again {}", token, token);
  const std::string text = out_.str();
  EXPECT_THAT(text, Not(HasSubstr(token)));
  EXPECT_THAT(text, Not(HasSubstr("test-token")));
  for (const auto& line : Lines(text)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_THAT(j.dump(), HasSubstr("[REDACTED]"));
  }
  EXPECT_EQ(Redact("a " + token + " b"), "a [REDACTED] b");
}

TEST_F(LoggingTest, TextModeKeepsEachEntryOnOneLine) {
  Install(LogFormat::kText, spdlog::level::debug);
  Log(spdlog::level::debug, "two\nlines", {{"name", "has space"}, {"ns", "plain"}});
  const auto lines = Lines(out_.str());
  ASSERT_EQ(lines.size(), 1u) << out_.str();
  EXPECT_THAT(lines[0], HasSubstr(" debug test-operator two\\nlines name=\"has space\" ns=plain"));
}

TEST(LoggingFlagsTest, ParsesAndRejectsWithFlagName) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_THAT(ParseLogFormat("xml").status().message(), HasSubstr("--log-format=\"xml\""));
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  EXPECT_THAT(ParseLogLevel("loud").status().message(), HasSubstr("--log-level"));
}

}  // namespace
}  // namespace waop::logging
