// Meta's webhook (SPEC section 5, "Push"), as a pure handler: a request in std types (method,
// path, raw query, headers, raw body bytes) in, a response out. The HTTP listener
// (server/meta_webhook_server.h) only moves bytes; every decision is made and tested here.
//
//   GET  /meta/webhook?hub.mode=subscribe&hub.verify_token=X&hub.challenge=Y
//        200 text/plain "Y" when X equals WHATSAPP_WEBHOOK_VERIFY_TOKEN (constant-time compare)
//        and the mode is "subscribe"; 403 otherwise, also when no verify token is configured.
//   POST /meta/webhook
//        413 when the body (or its Content-Length) exceeds kMaxWebhookBodyBytes;
//        503 when WHATSAPP_APP_SECRET is not configured (nothing can be verified; Meta retries
//            a failed delivery, so once the Secret is mounted the retries go through);
//        401 unless X-Hub-Signature-256 is "sha256=<hex>" of HMAC-SHA256(app secret, raw body)
//            (header name and hex digits case-insensitive; constant-time compare);
//        400 when the body is not JSON, nests deeper than kMaxWebhookJsonDepth, or is not an
//            object;
//        200 otherwise: every entry[].changes[] with field "phone_number_quality_update" is
//            passed to the callback; other fields and malformed changes are ignored. When the
//            callback refuses an update (returns false: this replica does not lead, so nothing
//            would act on it), 503, so Meta delivers it again later, perhaps to the leader.
//   Other paths: 404. Other methods on /meta/webhook: 405 (with an Allow header's value in the
//   body text).
//
// The handler never throws and never logs a header value or the body (they may carry tokens);
// rejections are logged at debug level with the reason only.
//
// Thread-safety: Handle() is const and thread-safe if the credentials source and the callback
// are. Ownership: borrows the CredentialsSource, which must outlive the handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "meta/credentials.h"

namespace waop::meta {

inline constexpr std::string_view kWebhookPath = "/meta/webhook";
inline constexpr std::string_view kSignatureHeader = "X-Hub-Signature-256";
inline constexpr std::size_t kMaxWebhookBodyBytes = 1024 * 1024;
inline constexpr int kMaxWebhookJsonDepth = 32;
inline constexpr std::string_view kQualityUpdateField = "phone_number_quality_update";

// One phone_number_quality_update change. Meta sends no number id and no rating: the receiver
// looks the number up by its display number and refreshes it from the Graph API.
struct QualityUpdate {
  std::string display_phone_number;  // value.display_phone_number, e.g. "34612345678"
  std::string event;                 // value.event: DOWNGRADE, UPGRADE, FLAGGED, UNFLAGGED, ...
  std::string current_limit;         // value.current_limit, e.g. "TIER_10K" (may be empty)
  std::string waba_id;               // entry[].id, the WhatsApp Business Account
  friend bool operator==(const QualityUpdate&, const QualityUpdate&) = default;
};

struct WebhookRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // "/meta/webhook", without the query
  std::string query;   // raw, without '?', still percent-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // the raw bytes, exactly as received
};

struct WebhookResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// "sha256=<64 lower-case hex digits>": the X-Hub-Signature-256 value Meta sends for `body`
// signed with `app_secret` (for tests and graph-devserver). Empty if OpenSSL fails.
std::string SignatureHeaderValue(std::string_view app_secret, std::string_view body);

// Whether a Content-Length header value announces a body over kMaxWebhookBodyBytes (a value
// that is not a number is not "too large": the read enforces the limit then).
bool ContentLengthTooLarge(std::string_view content_length);

// The quality updates in a webhook payload (already parsed JSON text), or nullopt when the text
// is not a JSON object within the depth bound.
std::optional<std::vector<QualityUpdate>> ParseQualityUpdates(std::string_view body);

class MetaWebhookHandler {
 public:
  // Returns false when the update cannot be acted on here (see 503 above).
  using QualityUpdateCallback = std::function<bool(const QualityUpdate&)>;

  MetaWebhookHandler(const CredentialsSource& credentials, QualityUpdateCallback on_quality_update)
      : credentials_(credentials), on_quality_update_(std::move(on_quality_update)) {}

  WebhookResponse Handle(const WebhookRequest& request) const;

 private:
  WebhookResponse Verify(const WebhookRequest& request) const;
  WebhookResponse Notify(const WebhookRequest& request) const;

  const CredentialsSource& credentials_;
  const QualityUpdateCallback on_quality_update_;
};

}  // namespace waop::meta
