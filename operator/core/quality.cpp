#include "core/quality.h"

#include <algorithm>
#include <cctype>

namespace waop::core {
namespace {

using api::ConditionStatus;

int Rank(std::string_view rating) {
  if (rating == api::kQualityGreen) return 3;
  if (rating == api::kQualityYellow) return 2;
  if (rating == api::kQualityRed) return 1;
  return 0;
}

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out;
}

std::string LastKnown(std::string_view rating) {
  if (rating == api::kQualityUnknown || rating.empty()) return "no rating is known yet";
  return "the rating shown (" + std::string(rating) + ") is the last known and may be stale";
}

}  // namespace

std::string_view MetaStateReason(MetaState state) {
  switch (state) {
    case MetaState::kNotConfigured:
      return api::kReasonCredentialsMissing;
    case MetaState::kPending:
      return api::kReasonPending;
    case MetaState::kSynced:
      return api::kReasonSynced;
    case MetaState::kUnavailable:
      return api::kReasonMetaUnavailable;
    case MetaState::kRateLimited:
      return api::kReasonRateLimited;
    case MetaState::kTokenRejected:
      return api::kReasonTokenRejected;
    case MetaState::kError:
      return api::kReasonMetaError;
  }
  return api::kReasonMetaError;
}

ConditionSpec QualitySyncedCondition(const MetaHealth& health, std::string_view rating) {
  ConditionSpec c{api::kConditionQualitySynced, ConditionStatus::kFalse,
                  MetaStateReason(health.state), ""};
  switch (health.state) {
    case MetaState::kSynced:
      c.status = ConditionStatus::kTrue;
      c.message = "Quality rating is current with the master WhatsApp Business Account";
      break;
    case MetaState::kPending:
      c.status = ConditionStatus::kUnknown;
      c.message = "Reading the master WhatsApp Business Account; " + LastKnown(rating);
      break;
    case MetaState::kNotConfigured:
      c.message =
          "WhatsApp master account not configured: the credentials Secret lacks " +
          (health.missing_keys.empty() ? std::string("required keys") : Join(health.missing_keys)) +
          "; quality ratings stay UNKNOWN until it is mounted";
      break;
    case MetaState::kTokenRejected:
      c.message = "Meta rejected the master access token (Graph error 190); " + LastKnown(rating) +
                  ". Put a valid WHATSAPP_ACCESS_TOKEN in the credentials Secret; it is read again "
                  "without a restart";
      break;
    case MetaState::kUnavailable:
      c.message = "The Meta Graph API is unreachable or failing; " + LastKnown(rating) +
                  ". Retrying with back-off";
      break;
    case MetaState::kRateLimited:
      c.message = "Meta rate limit reached; " + LastKnown(rating) + ". Retrying later";
      break;
    case MetaState::kError:
      c.message = "The Meta Graph API answered with an error (see the operator's log); " +
                  LastKnown(rating) + ". Retrying with back-off";
      break;
  }
  return c;
}

ConditionSpec TemplateCondition(std::string_view name, std::string_view language,
                                const std::optional<std::vector<TemplateInfo>>& templates) {
  const std::string what =
      "Message template '" + std::string(name) + "' in language '" + std::string(language) + "'";
  ConditionSpec c{api::kConditionTemplateApproved, ConditionStatus::kFalse, "", ""};
  if (!templates) {
    c.status = ConditionStatus::kUnknown;
    c.reason = api::kReasonTemplateUnknown;
    c.message = what + ": status unknown, the master WhatsApp Business Account could not be read";
    return c;
  }
  const TemplateInfo* found = nullptr;
  std::vector<std::string> languages;
  for (const TemplateInfo& t : *templates) {
    if (t.name != name) continue;
    if (t.language == language) found = &t;
    languages.push_back(t.language);
  }
  std::sort(languages.begin(), languages.end());
  languages.erase(std::unique(languages.begin(), languages.end()), languages.end());
  if (found == nullptr) {
    c.reason = api::kReasonTemplateMissing;
    c.message = what + " does not exist" +
                (languages.empty() ? std::string(" in any language")
                                   : " (it exists in: " + Join(languages) + ")") +
                ". Create it in WhatsApp Manager and submit it for review; until it is approved, "
                "messages to this tenant's suppliers fail. Or set spec.defaultLanguage to an "
                "approved language";
    return c;
  }
  if (found->status == "APPROVED") {
    c.status = ConditionStatus::kTrue;
    c.reason = api::kReasonApproved;
    c.message = what + " is approved";
  } else if (found->status == "PENDING" || found->status == "IN_APPEAL") {
    c.reason = api::kReasonTemplatePending;
    c.message = what + " is waiting for Meta's review (status " + found->status +
                "); messages can be sent once it is approved, usually within a day";
  } else if (found->status == "REJECTED") {
    c.reason = api::kReasonTemplateRejected;
    c.message = what +
                " was rejected by Meta; edit it in WhatsApp Manager to meet Meta's template "
                "guidelines and submit it again";
  } else {
    c.reason = api::kReasonTemplateNotApproved;
    c.message = what + " cannot be sent (status " + found->status +
                "); see its quality and status in WhatsApp Manager";
  }
  return c;
}

std::optional<QualityEvent> QualityChangeEvent(std::string_view before, std::string_view after,
                                               std::string_view number) {
  const int b = Rank(before);
  const int a = Rank(after);
  if (b == 0 || a == 0 || a == b) return std::nullopt;
  const std::string change = "Quality rating of phone number " + std::string(number) +
                             " changed from " + std::string(before) + " to " + std::string(after);
  if (a < b) {
    return QualityEvent{"Warning", api::kReasonQualityDropped,
                        change + (a == 1 ? "; Meta may lower its messaging limit or disable it: "
                                           "review recent messages and templates"
                                         : "; review recent messages and templates")};
  }
  return QualityEvent{"Normal", api::kReasonQualityRecovered, change};
}

std::string PhoneDigits(std::string_view display) {
  std::string out;
  for (char ch : display) {
    if (std::isdigit(static_cast<unsigned char>(ch))) out += ch;
  }
  return out;
}

}  // namespace waop::core
