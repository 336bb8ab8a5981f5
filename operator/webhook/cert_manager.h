// The webhook's certificates (SPEC section 7), so that no one has to make them by hand:
//
// - CertManager (the default): a private CA and a serving certificate (EC P-256; SANs the
//   Service's DNS names and any --webhook-host), kept in one Secret (type kubernetes.io/tls;
//   keys tls.crt, tls.key, ca.crt, ca.key) shared by every replica. The Secret is created once:
//   a replica that loses the create race (AlreadyExists) reads the winner's. The serving
//   certificate is renewed when a third of its validity is left, or at once when it lacks a
//   name this replica needs; the CA likewise, and then ca.crt holds the new CA and the old one
//   until the old one expires, so the API server trusts both across the change. Renewals are
//   written with the resourceVersion read, so of two replicas renewing at once one wins and the
//   other reads its result (409, read again). The CA bundle (ca.crt) is written into the
//   caBundle of every webhook of the ValidatingWebhookConfiguration, only when it differs. The
//   configuration itself is created by Helm or by hand; the operator only updates it. Every
//   replica runs this: it is idempotent, and a standby must serve as well as the leader.
// - DirCertSource (--webhook-cert-dir): tls.crt and tls.key from a directory (cert-manager, a
//   mounted Secret), read again when their contents change; nothing is injected.
//
// Both feed a tls::ReloadableServerCert the HTTPS server reads at every handshake, so new
// certificates are served without a restart.
//
// Thread-safety: Sync is called from one thread (the runnable's); Ready, NotReadyReason may be
// called from any thread (the readiness probe).
// Ownership: borrows the client and the clock; shares the ReloadableServerCert.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "kube/client.h"
#include "tls/ssl_context.h"

namespace waop::webhook {

inline const kube::ResourceType kValidatingWebhookConfigurations{
    "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations",
    "ValidatingWebhookConfiguration", false};

// What the readiness check reports.
class CertReadiness {
 public:
  bool Ready() const;
  // "" when ready; else why not (for the log; never a secret).
  std::string NotReadyReason() const;

 protected:
  void SetReady(bool ready, std::string reason);

 private:
  mutable std::mutex mu_;
  bool ready_ = false;
  std::string reason_ = "no certificate loaded yet";
};

struct CertManagerOptions {
  std::string secret_namespace;
  std::string secret_name = "whatsapp-operator-webhook-tls";
  std::string configuration_name = "whatsapp-operator";
  // Subject alternative names of the serving certificate; the first DNS name is its CN.
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::chrono::hours ca_validity{5 * 365 * 24};
  std::chrono::hours cert_validity{365 * 24};
};

// The serving certificate's names for Service `service` in `ns` plus `hosts` (--webhook-host;
// IP addresses go to ip_addresses).
void AddServiceNames(CertManagerOptions* options, const std::string& service, const std::string& ns,
                     const std::vector<std::string>& hosts);

// The Secret's contents, decoded. Secret: key PEMs never reach a log.
struct CertMaterial {
  std::string resource_version;  // "" for one not stored yet
  std::string ca_bundle;         // current CA first, then an old one being retired
  std::string ca_key;            // the current CA's key
  std::string tls_crt;
  std::string tls_key;
  bool changed = false;  // differs from what is stored
};

// Makes `m` good for `options` at `now`: a new CA when there is none usable or a third of its
// validity is left (the old one stays in the bundle until it expires), a new serving
// certificate when there is none signed by the current CA, a third of its validity is left, or
// it lacks a name. Sets m->changed when it made anything. Internal when OpenSSL fails.
[[nodiscard]] Status RefreshCertMaterial(CertMaterial* m, const CertManagerOptions& options,
                                         WallTime now);

class CertManager final : public CertReadiness {
 public:
  CertManager(kube::Client& client, const Clock& clock, CertManagerOptions options,
              std::shared_ptr<tls::ReloadableServerCert> serving);

  // One pass: read or create the Secret, renew what is due, load the serving certificate,
  // inject the CA bundle. Errors are the API server's (the caller retries); a missing
  // ValidatingWebhookConfiguration is not an error but leaves the replica not ready.
  [[nodiscard]] Status Sync();

  // The CA bundle last read from the Secret ("" before the first Sync).
  std::string ca_bundle() const;

 private:
  Result<CertMaterial> ReadOrCreateSecret();
  // Writes the bundle into every webhook's caBundle where it differs. "" once published, else
  // why it cannot be (no such configuration, no webhooks); an error from the API server.
  Result<std::string> Inject(const std::string& ca_bundle_pem);

  kube::Client& client_;
  const Clock& clock_;
  const CertManagerOptions options_;
  std::shared_ptr<tls::ReloadableServerCert> serving_;
  mutable std::mutex mu_;
  std::string ca_bundle_;  // guarded by mu_
};

// --webhook-cert-dir: tls.crt and tls.key, loaded again when their contents change (the
// kubelet swaps a mounted Secret's files atomically).
class DirCertSource final : public CertReadiness {
 public:
  DirCertSource(std::string dir, std::shared_ptr<tls::ReloadableServerCert> serving)
      : dir_(std::move(dir)), serving_(std::move(serving)) {}
  // Reads the files; NotFound / InvalidArgument naming the file when one is missing or bad
  // (the certificate loaded before stays in use).
  [[nodiscard]] Status Sync();

 private:
  const std::string dir_;
  std::shared_ptr<tls::ReloadableServerCert> serving_;
  std::string loaded_cert_, loaded_key_;
};

}  // namespace waop::webhook
