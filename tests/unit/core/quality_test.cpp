#include "core/quality.h"

#include <gtest/gtest.h>

namespace waop::core {
namespace {

using api::ConditionStatus;

TEST(QualitySyncedTest, EachStateHasItsReasonAndAStableMessage) {
  struct Case {
    MetaState state;
    ConditionStatus status;
    std::string_view reason;
    std::string_view says;
  };
  for (const Case& c :
       {Case{MetaState::kSynced, ConditionStatus::kTrue, "Synced", "current"},
        Case{MetaState::kPending, ConditionStatus::kUnknown, "Pending", "YELLOW"},
        Case{MetaState::kUnavailable, ConditionStatus::kFalse, "MetaUnavailable", "last known"},
        Case{MetaState::kRateLimited, ConditionStatus::kFalse, "RateLimited", "YELLOW"},
        Case{MetaState::kTokenRejected, ConditionStatus::kFalse, "TokenRejected",
             "WHATSAPP_ACCESS_TOKEN"},
        Case{MetaState::kError, ConditionStatus::kFalse, "MetaError", "log"}}) {
    SCOPED_TRACE(std::string(c.reason));
    ConditionSpec spec = QualitySyncedCondition(MetaHealth{c.state, {}}, "YELLOW");
    EXPECT_EQ(spec.type, "QualitySynced");
    EXPECT_EQ(spec.status, c.status);
    EXPECT_EQ(spec.reason, c.reason);
    EXPECT_NE(spec.message.find(c.says), std::string::npos) << spec.message;
    EXPECT_EQ(spec, QualitySyncedCondition(MetaHealth{c.state, {}}, "YELLOW")) << "stable";
  }
}

TEST(QualitySyncedTest, NotConfiguredNamesTheMissingKeys) {
  ConditionSpec spec =
      QualitySyncedCondition(MetaHealth{MetaState::kNotConfigured,
                                        {"WHATSAPP_ACCESS_TOKEN", "WHATSAPP_BUSINESS_ACCOUNT_ID"}},
                             "UNKNOWN");
  EXPECT_EQ(spec.reason, "CredentialsMissing");
  EXPECT_NE(spec.message.find("WhatsApp master account not configured"), std::string::npos);
  EXPECT_NE(spec.message.find("WHATSAPP_ACCESS_TOKEN, WHATSAPP_BUSINESS_ACCOUNT_ID"),
            std::string::npos);
}

TEST(QualitySyncedTest, UnknownRatingIsNotCalledStale) {
  ConditionSpec spec = QualitySyncedCondition(MetaHealth{MetaState::kUnavailable, {}}, "UNKNOWN");
  EXPECT_NE(spec.message.find("no rating is known yet"), std::string::npos) << spec.message;
}

TEST(TemplateConditionTest, StatusesMapToReasonsAndAdvice) {
  std::vector<TemplateInfo> ts = {{"po_notification", "es", "APPROVED"},
                                  {"po_notification", "en_US", "PENDING"},
                                  {"po_notification", "fr", "REJECTED"},
                                  {"po_notification", "de", "PAUSED"},
                                  {"other", "it", "APPROVED"}};
  auto c = TemplateCondition("po_notification", "es", ts);
  EXPECT_EQ(c.status, ConditionStatus::kTrue);
  EXPECT_EQ(c.reason, "Approved");
  c = TemplateCondition("po_notification", "en_US", ts);
  EXPECT_EQ(c.reason, "TemplatePending");
  EXPECT_EQ(c.status, ConditionStatus::kFalse);
  c = TemplateCondition("po_notification", "fr", ts);
  EXPECT_EQ(c.reason, "TemplateRejected");
  EXPECT_NE(c.message.find("submit it again"), std::string::npos);
  c = TemplateCondition("po_notification", "de", ts);
  EXPECT_EQ(c.reason, "TemplateNotApproved");
  EXPECT_NE(c.message.find("PAUSED"), std::string::npos);
  c = TemplateCondition("po_notification", "it", ts);
  EXPECT_EQ(c.reason, "TemplateMissing");
  EXPECT_NE(c.message.find("(it exists in: de, en_US, es, fr)"), std::string::npos) << c.message;
  c = TemplateCondition("po_notification", "es_ES", ts);
  EXPECT_EQ(c.reason, "TemplateMissing") << "languages match exactly";
  c = TemplateCondition("po_notification", "es", std::vector<TemplateInfo>{});
  EXPECT_NE(c.message.find("does not exist in any language"), std::string::npos);
  c = TemplateCondition("po_notification", "es", std::nullopt);
  EXPECT_EQ(c.status, ConditionStatus::kUnknown);
  EXPECT_EQ(c.reason, "TemplateUnknown");
}

TEST(QualityChangeEventTest, DropsWarnRecoveriesAreNormalUnknownIsSilent) {
  auto e = QualityChangeEvent("GREEN", "YELLOW", "+34 611");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "Warning");
  EXPECT_EQ(e->reason, "QualityDropped");
  EXPECT_NE(e->message.find("+34 611 changed from GREEN to YELLOW"), std::string::npos);
  e = QualityChangeEvent("YELLOW", "RED", "x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "Warning");
  EXPECT_NE(e->message.find("messaging limit"), std::string::npos);
  e = QualityChangeEvent("RED", "GREEN", "x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->type, "Normal");
  EXPECT_EQ(e->reason, "QualityRecovered");
  EXPECT_FALSE(QualityChangeEvent("GREEN", "GREEN", "x"));
  EXPECT_FALSE(QualityChangeEvent("UNKNOWN", "RED", "x")) << "a first rating is no change";
  EXPECT_FALSE(QualityChangeEvent("GREEN", "UNKNOWN", "x"));
  EXPECT_FALSE(QualityChangeEvent("", "GREEN", "x"));
}

TEST(PhoneDigitsTest, KeepsOnlyDigits) {
  EXPECT_EQ(PhoneDigits("+34 612-345 678"), "34612345678");
  EXPECT_EQ(PhoneDigits("16505551234"), "16505551234");
  EXPECT_EQ(PhoneDigits("(+1) 650"), "1650");
  EXPECT_EQ(PhoneDigits(""), "");
}

}  // namespace
}  // namespace waop::core
