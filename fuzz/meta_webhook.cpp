// A POST to Meta's webhook endpoint: the input is the raw body, correctly signed with the app
// secret (so the JSON parsing behind the signature check runs), and also sent with a wrong
// signature and as a GET query. The handler must answer one of its documented statuses.
#include <cstddef>
#include <cstdint>
#include <string>

#include "meta/webhook.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const waop::meta::StaticCredentialsSource source([] {
    waop::meta::MasterCredentials c;
    c.values = {{"WHATSAPP_APP_SECRET", "app-secret"},
                {"WHATSAPP_WEBHOOK_VERIFY_TOKEN", "verify-me"}};
    return c;
  }());
  static const waop::meta::MetaWebhookHandler handler(
      source, [](const waop::meta::QualityUpdate& u) { return !u.display_phone_number.empty(); });
  const std::string body(reinterpret_cast<const char*>(data), size);

  waop::meta::WebhookRequest post{"POST", "/meta/webhook", "", {}, body};
  post.headers = {{"X-Hub-Signature-256", waop::meta::SignatureHeaderValue("app-secret", body)},
                  {"Content-Type", "application/json"}};
  const int signed_status = handler.Handle(post).status;
  if (signed_status != 200 && signed_status != 400 && signed_status != 413 &&
      signed_status != 503) {
    __builtin_trap();
  }
  post.headers = {{"X-Hub-Signature-256", "sha256=" + std::string(64, '0')}};
  const int forged = handler.Handle(post).status;
  if (forged != 401 && forged != 413) __builtin_trap();  // never accepted unsigned

  waop::meta::WebhookRequest get{"GET", "/meta/webhook", body, {}, ""};
  const int verify = handler.Handle(get).status;
  if (verify != 200 && verify != 403) __builtin_trap();
  (void)waop::meta::ParseQualityUpdates(body);
  (void)waop::meta::ContentLengthTooLarge(body);
  return 0;
}
