#include "meta/webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <charconv>
#include <nlohmann/json.hpp>

#include "common/json.h"
#include "common/logging.h"

namespace waop::meta {
namespace {

using json = nlohmann::json;
namespace lvl = spdlog::level;

WebhookResponse Text(int status, std::string body) {
  WebhookResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

WebhookResponse Reject(int status, std::string body, std::string_view reason) {
  logging::Log(lvl::debug, "Meta webhook request rejected",
               {{"status", std::to_string(status)}, {"reason", std::string(reason)}});
  return Text(status, std::move(body));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// The first header named `name` (case-insensitive), or nullopt.
std::optional<std::string_view> Header(const WebhookRequest& request, std::string_view name) {
  for (const auto& [k, v] : request.headers) {
    if (EqualsIgnoreCase(k, name)) return std::string_view(v);
  }
  return std::nullopt;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space, %XX a byte; a malformed escape is
// kept as is).
std::string FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 &&
               HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The first value of query parameter `name`, decoded; nullopt when absent.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t eq = pair.find('=');
    if (FormDecode(pair.substr(0, eq)) != name) continue;
    return eq == std::string_view::npos ? std::string() : FormDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (Meta's tokens have a known shape); the content is.
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

using Digest = std::array<unsigned char, 32>;

std::optional<Digest> HmacSha256(std::string_view key, std::string_view body) {
  Digest out{};
  unsigned int len = 0;
  // HMAC() with an empty message takes a null pointer; any valid pointer works for size 0.
  static const unsigned char kEmpty = 0;
  const auto* data = body.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(body.data());
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, body.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    return std::nullopt;
  }
  return out;
}

// "sha256=<hex>" to the 32 bytes, or nullopt when it has another shape.
std::optional<Digest> ParseSignature(std::string_view value) {
  constexpr std::string_view kPrefix = "sha256=";
  if (value.size() != kPrefix.size() + 64 || !EqualsIgnoreCase(value.substr(0, 7), kPrefix)) {
    return std::nullopt;
  }
  value.remove_prefix(kPrefix.size());
  Digest out{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = HexDigit(value[2 * i]);
    const int lo = HexDigit(value[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return out;
}

std::string StringField(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::string SignatureHeaderValue(std::string_view app_secret, std::string_view body) {
  auto mac = HmacSha256(app_secret, body);
  if (!mac) return "";
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned char b : *mac) {
    out += kHex[b >> 4];
    out += kHex[b & 0xf];
  }
  return out;
}

bool ContentLengthTooLarge(std::string_view content_length) {
  while (!content_length.empty() && content_length.front() == ' ') content_length.remove_prefix(1);
  while (!content_length.empty() && content_length.back() == ' ') content_length.remove_suffix(1);
  std::uint64_t n = 0;
  auto [end, ec] =
      std::from_chars(content_length.data(), content_length.data() + content_length.size(), n);
  if (ec == std::errc::result_out_of_range) return true;
  if (ec != std::errc() || end != content_length.data() + content_length.size()) return false;
  return n > kMaxWebhookBodyBytes;
}

std::optional<std::vector<QualityUpdate>> ParseQualityUpdates(std::string_view body) {
  constexpr auto kLimit = static_cast<std::size_t>(kMaxWebhookJsonDepth);
  if (JsonNestingDepth(body, kLimit) > kLimit) return std::nullopt;
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
  std::vector<QualityUpdate> out;
  auto entries = doc.find("entry");
  if (entries == doc.end() || !entries->is_array()) return out;
  for (const json& entry : *entries) {
    if (!entry.is_object()) continue;
    auto changes = entry.find("changes");
    if (changes == entry.end() || !changes->is_array()) continue;
    for (const json& change : *changes) {
      if (!change.is_object() || StringField(change, "field") != kQualityUpdateField) continue;
      auto value = change.find("value");
      if (value == change.end() || !value->is_object()) continue;
      QualityUpdate u;
      u.display_phone_number = StringField(*value, "display_phone_number");
      u.event = StringField(*value, "event");
      u.current_limit = StringField(*value, "current_limit");
      u.waba_id = StringField(entry, "id");
      // Without a number there is nothing to refresh.
      if (u.display_phone_number.empty()) continue;
      out.push_back(std::move(u));
    }
  }
  return out;
}

WebhookResponse MetaWebhookHandler::Handle(const WebhookRequest& request) const {
  try {
    if (request.path != kWebhookPath) return Text(404, "404 page not found\n");
    if (request.method == "GET") return Verify(request);
    if (request.method == "POST") return Notify(request);
    return Reject(405, "method not allowed: use GET or POST\n", "method");
  } catch (...) {
    // Nothing above throws by design; an allocation failure or a throwing callback must still
    // not take the server down.
    return Text(500, "internal error\n");
  }
}

WebhookResponse MetaWebhookHandler::Verify(const WebhookRequest& request) const {
  const std::string expected = credentials_.Current()->Get(kWebhookVerifyTokenKey);
  const auto mode = QueryParam(request.query, "hub.mode");
  const auto token = QueryParam(request.query, "hub.verify_token");
  const auto challenge = QueryParam(request.query, "hub.challenge");
  if (expected.empty()) return Reject(403, "forbidden\n", "no verify token configured");
  if (!mode || *mode != "subscribe" || !token || !challenge) {
    return Reject(403, "forbidden\n", "not a subscription request");
  }
  if (!ConstantTimeEquals(*token, expected))
    return Reject(403, "forbidden\n", "wrong verify token");
  logging::Log(lvl::info, "Meta webhook subscription verified");
  return Text(200, *challenge);
}

WebhookResponse MetaWebhookHandler::Notify(const WebhookRequest& request) const {
  if (auto length = Header(request, "Content-Length"); length && ContentLengthTooLarge(*length)) {
    return Reject(413, "request body too large\n", "Content-Length over the limit");
  }
  if (request.body.size() > kMaxWebhookBodyBytes) {
    return Reject(413, "request body too large\n", "body over the limit");
  }
  const std::string secret = credentials_.Current()->Get(kAppSecretKey);
  if (secret.empty()) {
    logging::Log(lvl::warn,
                 "Meta webhook delivery refused: WHATSAPP_APP_SECRET is not configured, so its "
                 "signature cannot be checked");
    return Text(503, "webhook signature secret not configured\n");
  }
  const auto header = Header(request, kSignatureHeader);
  if (!header) return Reject(401, "missing X-Hub-Signature-256\n", "no signature");
  const auto claimed = ParseSignature(*header);
  if (!claimed) return Reject(401, "invalid X-Hub-Signature-256\n", "malformed signature");
  const auto actual = HmacSha256(secret, request.body);
  if (!actual) return Text(500, "internal error\n");
  if (CRYPTO_memcmp(claimed->data(), actual->data(), actual->size()) != 0) {
    return Reject(401, "invalid X-Hub-Signature-256\n", "signature mismatch");
  }
  auto updates = ParseQualityUpdates(request.body);
  if (!updates) {
    return Reject(400, "body is not a JSON object (or nests too deep)\n", "malformed JSON");
  }
  bool refused = false;
  for (const QualityUpdate& u : *updates) {
    logging::Log(lvl::debug, "Meta webhook: phone number quality update",
                 {{"displayPhoneNumber", u.display_phone_number},
                  {"event", u.event},
                  {"currentLimit", u.current_limit},
                  {"wabaId", u.waba_id}});
    if (on_quality_update_ && !on_quality_update_(u)) refused = true;
  }
  if (refused) return Text(503, "not the leader; deliver again later\n");
  return Text(200, "");
}

}  // namespace waop::meta
