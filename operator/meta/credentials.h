// The master WhatsApp Business Account credentials (SPEC section 4): one Secret whose keys are
// the platform's environment names, mounted as files in --credentials-dir. The operator reads
// them from there, picks up a rotation (kubelet swaps the `..data` symlink) without a restart,
// and publishes all but the app secret to every namespace with assignments.
//
// Thread-safety: MasterCredentials is an immutable value; CredentialsSource implementations
// are safe for concurrent Current() calls.
// Secrets: the token and the app secret are secrets. Nothing here logs or prints them; the
// loader registers them with logging::RegisterSecret so a stray log line redacts them.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace waop::meta {

inline constexpr std::string_view kAccessTokenKey = "WHATSAPP_ACCESS_TOKEN";
inline constexpr std::string_view kBusinessAccountIdKey = "WHATSAPP_BUSINESS_ACCOUNT_ID";
inline constexpr std::string_view kPhoneNumberIdKey = "WHATSAPP_PHONE_NUMBER_ID";
inline constexpr std::string_view kApiVersionKey = "WHATSAPP_API_VERSION";
inline constexpr std::string_view kWebhookVerifyTokenKey = "WHATSAPP_WEBHOOK_VERIFY_TOKEN";
inline constexpr std::string_view kAppSecretKey = "WHATSAPP_APP_SECRET";
// The bearer token of the platform's tenant service (--tenant-service-url), optional. Read from
// the same directory, never published: the notification service has no use for it.
inline constexpr std::string_view kTenantServiceTokenKey = "TENANT_SERVICE_TOKEN";
inline constexpr std::string_view kDefaultApiVersion = "v21.0";

// The Secret the operator publishes into each namespace that holds assignments, and the
// annotation with the hash of its content (never the token itself).
inline constexpr std::string_view kPublishedSecretName = "whatsapp-master-credentials";
inline constexpr std::string_view kContentHashAnnotation = "whatsapp.bakery-ia.io/content-hash";

// What was read from the credentials directory: key -> value, for the seven keys above only
// (other files are ignored). A value is the file's content with one trailing newline removed;
// an empty file counts as missing.
struct MasterCredentials {
  std::map<std::string, std::string, std::less<>> values;

  // The value of `key`, or "" when missing.
  std::string Get(std::string_view key) const;
  // The keys the Graph API needs (token, business account id) that are missing, in that order.
  std::vector<std::string> MissingForGraph() const;
  // True when MissingForGraph() is empty.
  bool Configured() const { return MissingForGraph().empty(); }
  // WHATSAPP_API_VERSION, or kDefaultApiVersion when missing.
  std::string ApiVersion() const;
  // The keys and values published to tenant namespaces: all present keys but the app secret and
  // the tenant service's token.
  std::map<std::string, std::string> Published() const;
  // Hex SHA-256 over Published() (keys and values, length-prefixed): changes when any
  // published value changes; reveals nothing of the token.
  std::string PublishedHash() const;
  friend bool operator==(const MasterCredentials&, const MasterCredentials&) = default;
};

// Where the operator gets the current credentials.
class CredentialsSource {
 public:
  virtual ~CredentialsSource() = default;
  // The latest snapshot; never null (no values when nothing is mounted).
  virtual std::shared_ptr<const MasterCredentials> Current() const = 0;
};

// A fixed snapshot, for tests and for the export subcommand.
class StaticCredentialsSource final : public CredentialsSource {
 public:
  explicit StaticCredentialsSource(MasterCredentials c)
      : current_(std::make_shared<const MasterCredentials>(std::move(c))) {}
  std::shared_ptr<const MasterCredentials> Current() const override { return current_; }

 private:
  std::shared_ptr<const MasterCredentials> current_;
};

}  // namespace waop::meta
