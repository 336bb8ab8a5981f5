#include "webhook/cert_manager.h"

#include <arpa/inet.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <utility>

#include "common/logging.h"
#include "kube/config.h"
#include "tls/certs.h"

namespace waop::webhook {
namespace {

using logging::Log;
using nlohmann::json;
namespace lvl = spdlog::level;

constexpr char kTlsCrt[] = "tls.crt";
constexpr char kTlsKey[] = "tls.key";
constexpr char kCaCrt[] = "ca.crt";
constexpr char kCaKey[] = "ca.key";
constexpr char kCaCommonName[] = "whatsapp-operator-webhook-ca";
constexpr char kEndCert[] = "-----END CERTIFICATE-----";

std::string EncodeBase64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

// The PEM certificates of a bundle, each ending with its END line and a newline.
std::vector<std::string> SplitPem(std::string_view bundle) {
  std::vector<std::string> out;
  while (true) {
    const size_t begin = bundle.find("-----BEGIN CERTIFICATE-----");
    if (begin == std::string_view::npos) break;
    const size_t end = bundle.find(kEndCert, begin);
    if (end == std::string_view::npos) break;
    const size_t stop = end + sizeof(kEndCert) - 1;
    out.emplace_back(std::string(bundle.substr(begin, stop - begin)) + "\n");
    bundle.remove_prefix(stop);
  }
  return out;
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool Contains(const std::vector<std::string>& have, const std::string& want) {
  for (const std::string& h : have) {
    if (h == want) return true;
  }
  return false;
}

}  // namespace

bool CertReadiness::Ready() const {
  std::lock_guard lock(mu_);
  return ready_;
}

std::string CertReadiness::NotReadyReason() const {
  std::lock_guard lock(mu_);
  return ready_ ? std::string() : reason_;
}

void CertReadiness::SetReady(bool ready, std::string reason) {
  bool changed = false;
  {
    std::lock_guard lock(mu_);
    changed = ready != ready_ || reason != reason_;
    ready_ = ready;
    reason_ = std::move(reason);
  }
  if (!changed) return;
  if (ready) {
    Log(lvl::info, "admission webhook serving with the published certificate");
  } else {
    Log(lvl::warn, "admission webhook not ready", {{"reason", NotReadyReason()}});
  }
}

void AddServiceNames(CertManagerOptions* options, const std::string& service, const std::string& ns,
                     const std::vector<std::string>& hosts) {
  auto add = [](std::vector<std::string>* list, const std::string& name) {
    if (!name.empty() && !Contains(*list, name)) list->push_back(name);
  };
  add(&options->dns_names, service + "." + ns + ".svc");
  add(&options->dns_names, service + "." + ns + ".svc.cluster.local");
  for (const std::string& h : hosts) add(IsIp(h) ? &options->ip_addresses : &options->dns_names, h);
}

CertManager::CertManager(kube::Client& client, const Clock& clock, CertManagerOptions options,
                         std::shared_ptr<tls::ReloadableServerCert> serving)
    : client_(client), clock_(clock), options_(std::move(options)), serving_(std::move(serving)) {}

std::string CertManager::ca_bundle() const {
  std::lock_guard lock(mu_);
  return ca_bundle_;
}

Status RefreshCertMaterial(CertMaterial* m, const CertManagerOptions& o, WallTime now) {
  auto remaining = [&](const std::string& pem) -> std::chrono::hours {
    auto not_after = tls::CertNotAfter(pem);
    if (!not_after.ok()) return std::chrono::hours(-1);
    return std::chrono::duration_cast<std::chrono::hours>(*not_after - now);
  };
  std::vector<std::string> cas = SplitPem(m->ca_bundle);
  const bool ca_usable =
      !cas.empty() && !m->ca_key.empty() && remaining(cas.front()) > o.ca_validity / 3;
  if (!ca_usable) {
    auto ca = tls::GenerateCa(kCaCommonName, o.ca_validity);
    if (!ca.ok()) return ca.status();
    std::string bundle = ca->cert_pem;
    // The old CA stays trusted until it expires, so certificates it signed keep working
    // while the API server's copy of the bundle catches up.
    if (!cas.empty() && remaining(cas.front()) > std::chrono::hours(0)) bundle += cas.front();
    m->ca_bundle = std::move(bundle);
    m->ca_key = ca->key_pem;
    m->tls_crt.clear();
    m->changed = true;
    cas = SplitPem(m->ca_bundle);
  }
  bool serving_ok = !m->tls_crt.empty() && !m->tls_key.empty() &&
                    tls::CertSignedBy(m->tls_crt, cas.front()) &&
                    remaining(m->tls_crt) > o.cert_validity / 3;
  if (serving_ok) {
    auto dns = tls::CertDnsNames(m->tls_crt);
    auto ips = tls::CertIpAddresses(m->tls_crt);
    serving_ok = dns.ok() && ips.ok();
    for (const std::string& n : o.dns_names) serving_ok = serving_ok && Contains(*dns, n);
    for (const std::string& n : o.ip_addresses) serving_ok = serving_ok && Contains(*ips, n);
  }
  if (serving_ok) return Status::Ok();
  const std::string cn =
      o.dns_names.empty() ? std::string("whatsapp-operator-webhook") : o.dns_names.front();
  auto cert = tls::IssueServingCert(tls::KeyPair{cas.front(), m->ca_key}, cn, o.dns_names,
                                    o.ip_addresses, o.cert_validity);
  if (!cert.ok() && ca_usable) {
    // The stored CA key does not sign (damaged or mismatched): start over with a new CA.
    m->ca_bundle.clear();
    m->ca_key.clear();
    return RefreshCertMaterial(m, o, now);
  }
  if (!cert.ok()) return cert.status();
  m->tls_crt = cert->cert_pem;
  m->tls_key = cert->key_pem;
  m->changed = true;
  return Status::Ok();
}

namespace {

std::string DataString(const json& secret, const char* key) {
  auto data = secret.find("data");
  if (data == secret.end() || !data->is_object()) return "";
  auto it = data->find(key);
  if (it == data->end() || !it->is_string()) return "";
  auto decoded = kube::DecodeBase64(it->get<std::string>());
  return decoded.ok() ? *decoded : std::string();
}

CertMaterial FromSecret(const json& secret) {
  CertMaterial m;
  m.resource_version = kube::ObjectResourceVersion(secret);
  m.ca_bundle = DataString(secret, kCaCrt);
  m.ca_key = DataString(secret, kCaKey);
  m.tls_crt = DataString(secret, kTlsCrt);
  m.tls_key = DataString(secret, kTlsKey);
  return m;
}

json ToSecret(const CertMaterial& m, const CertManagerOptions& o) {
  json metadata = {{"name", o.secret_name},
                   {"namespace", o.secret_namespace},
                   {"labels", {{"app.kubernetes.io/managed-by", "whatsapp-operator"}}}};
  if (!m.resource_version.empty()) metadata["resourceVersion"] = m.resource_version;
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", std::move(metadata)},
          {"type", "kubernetes.io/tls"},
          {"data",
           {{kTlsCrt, EncodeBase64(m.tls_crt)},
            {kTlsKey, EncodeBase64(m.tls_key)},
            {kCaCrt, EncodeBase64(m.ca_bundle)},
            {kCaKey, EncodeBase64(m.ca_key)}}}};
}

}  // namespace

Result<CertMaterial> CertManager::ReadOrCreateSecret() {
  const std::string where = options_.secret_namespace + "/" + options_.secret_name;
  // A few rounds: a create or renewal raced by another replica reads the winner's and looks again.
  for (int round = 0; round < 4; ++round) {
    auto got =
        client_.Get(kube::resources::kSecrets, options_.secret_namespace, options_.secret_name);
    CertMaterial m;
    if (got.ok()) {
      m = FromSecret(*got);
    } else if (got.status().code() != StatusCode::kNotFound) {
      return Status(got.status().code(), "reading Secret " + where + ": " + got.status().message());
    }
    WAOP_RETURN_IF_ERROR(RefreshCertMaterial(&m, options_, clock_.Now()));
    if (!m.changed) return m;
    logging::RegisterSecret(m.ca_key);
    logging::RegisterSecret(m.tls_key);
    const bool create = m.resource_version.empty();
    auto written = create ? client_.Create(kube::resources::kSecrets, ToSecret(m, options_))
                          : client_.Update(kube::resources::kSecrets, ToSecret(m, options_));
    if (written.ok()) {
      Log(lvl::info,
          create ? "created the webhook certificate Secret" : "renewed the webhook certificate",
          {{"secret", where}});
      m.resource_version = kube::ObjectResourceVersion(*written);
      m.changed = false;
      return m;
    }
    const StatusCode code = written.status().code();
    if (code != StatusCode::kAlreadyExists && code != StatusCode::kConflict) {
      return Status(code, std::string(create ? "creating" : "updating") + " Secret " + where +
                              ": " + written.status().message());
    }
    // Another replica got there first: use what it wrote.
    Log(lvl::info, "another replica wrote the webhook certificate Secret first; reading it",
        {{"secret", where}});
  }
  return Status::Unavailable("Secret " + where + " keeps changing under concurrent writers");
}

Result<std::string> CertManager::Inject(const std::string& ca_bundle_pem) {
  const std::string& name = options_.configuration_name;
  auto vwc = client_.Get(kValidatingWebhookConfigurations, "", name);
  if (!vwc.ok()) {
    if (vwc.status().code() == StatusCode::kNotFound) {
      return "ValidatingWebhookConfiguration " + name +
             " not found: create it (the Helm chart and examples/webhook/ have one), or run "
             "with --webhook-port=0 to serve no webhook";
    }
    return Status(vwc.status().code(),
                  "reading ValidatingWebhookConfiguration " + name + ": " + vwc.status().message());
  }
  json updated = *vwc;
  const std::string encoded = EncodeBase64(ca_bundle_pem);
  bool changed = false;
  auto webhooks = updated.find("webhooks");
  if (webhooks == updated.end() || !webhooks->is_array() || webhooks->empty()) {
    return "ValidatingWebhookConfiguration " + name + " has no webhooks";
  }
  for (json& w : *webhooks) {
    if (!w.is_object()) continue;
    json& config = w["clientConfig"];
    if (!config.is_object()) config = json::object();
    if (config.value("caBundle", "") != encoded) {
      config["caBundle"] = encoded;
      changed = true;
    }
  }
  if (changed) {
    auto written = client_.Update(kValidatingWebhookConfigurations, updated);
    if (!written.ok()) {
      return Status(written.status().code(),
                    "updating the caBundle of "
                    "ValidatingWebhookConfiguration " +
                        name + ": " + written.status().message());
    }
    Log(lvl::info, "injected the webhook CA into the ValidatingWebhookConfiguration",
        {{"validatingWebhookConfiguration", name}});
  }
  return std::string();
}

Status CertManager::Sync() {
  auto m = ReadOrCreateSecret();
  if (!m.ok()) {
    if (!serving_->loaded()) SetReady(false, m.status().message());
    return m.status();
  }
  logging::RegisterSecret(m->ca_key);
  logging::RegisterSecret(m->tls_key);
  if (serving_->cert_pem() != m->tls_crt) {
    if (Status s = serving_->Set(m->tls_crt, m->tls_key); !s.ok()) {
      SetReady(false, "the serving certificate from the Secret does not load: " + s.message());
      return s;
    }
  }
  {
    std::lock_guard lock(mu_);
    ca_bundle_ = m->ca_bundle;
  }
  auto not_ready = Inject(m->ca_bundle);
  if (!not_ready.ok()) {
    // An API server blip does not stop a webhook that serves with the published CA.
    if (!Ready()) SetReady(false, not_ready.status().message());
    return not_ready.status();
  }
  SetReady(not_ready->empty(), *not_ready);
  return Status::Ok();
}

Status DirCertSource::Sync() {
  auto read = [&](const char* name, std::string* out) -> Status {
    const std::string path = dir_ + "/" + name;
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::NotFound("--webhook-cert-dir: cannot read " + path);
    std::stringstream buf;
    buf << in.rdbuf();
    *out = buf.str();
    return Status::Ok();
  };
  std::string crt;
  std::string key;
  Status s = read(kTlsCrt, &crt);
  if (s.ok()) s = read(kTlsKey, &key);
  if (s.ok() && (crt != loaded_cert_ || key != loaded_key_)) {
    logging::RegisterSecret(key);
    s = serving_->Set(crt, key);
    if (s.ok()) {
      loaded_cert_ = crt;
      loaded_key_ = key;
      Log(lvl::info, "loaded the webhook certificate", {{"dir", dir_}});
    } else {
      s = Status::InvalidArgument("--webhook-cert-dir " + dir_ + ": " + s.message());
    }
  }
  if (!s.ok()) {
    if (!serving_->loaded()) SetReady(false, s.message());
    return s;
  }
  SetReady(true, "");
  return Status::Ok();
}

}  // namespace waop::webhook
