#include "tls/certs.h"

#include <arpa/inet.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <memory>

#include "tls/openssl_ptr.h"

namespace waop::tls {
namespace {

// The most recent OpenSSL error as text, and the error queue cleared so the next call
// starts clean.
std::string OpenSslError(std::string_view what) {
  std::string out(what);
  unsigned long err = ERR_get_error();  // NOLINT(google-runtime-int): OpenSSL's type.
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    out += ": ";
    out += buf;
  }
  ERR_clear_error();
  return out;
}

Result<X509Ptr> ParseCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal(OpenSslError("BIO_new_mem_buf"));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate PEM does not parse as an X.509 certificate");
  }
  return cert;
}

Result<PkeyPtr> ParseKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal(OpenSslError("BIO_new_mem_buf"));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    ERR_clear_error();
    return Status::InvalidArgument("private key PEM does not parse");
  }
  return key;
}

Result<PkeyPtr> NewEcKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return Status::Internal(OpenSslError("EVP_EC_gen(P-256)"));
  return key;
}

Result<std::string> CertToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return Status::Internal(OpenSslError("PEM_write_bio_X509"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(len));
}

Result<std::string> KeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Status::Internal(OpenSslError("PEM_write_bio_PrivateKey"));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);  // NOLINT(google-runtime-int)
  return std::string(data, static_cast<size_t>(len));
}

// A positive random 128-bit serial (RFC 5280 allows up to 20 octets; random serials are what
// browsers and cert-manager use so that reissued certificates never collide).
Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return Status::Internal(OpenSslError("RAND_bytes"));
  bytes[0] &= 0x7f;  // Positive.
  bytes[0] |= 0x01;  // Never zero, never shorter than it looks.
  BignumPtr bn(BN_bin2bn(bytes, sizeof(bytes), nullptr));
  if (!bn) return Status::Internal(OpenSslError("BN_bin2bn"));
  if (BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert)) == nullptr) {
    return Status::Internal(OpenSslError("BN_to_ASN1_INTEGER"));
  }
  return Status::Ok();
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) return Status::Internal(OpenSslError("X509V3_EXT_conf_nid " + value));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return Status::Internal(OpenSslError("X509_add_ext"));
  return Status::Ok();
}

Status SetName(X509* cert, const std::string& common_name, bool also_issuer) {
  X509_NAME* name = X509_get_subject_name(cert);
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    return Status::InvalidArgument(OpenSslError("common name '" + common_name + "' rejected"));
  }
  if (also_issuer && X509_set_issuer_name(cert, name) != 1) {
    return Status::Internal(OpenSslError("X509_set_issuer_name"));
  }
  return Status::Ok();
}

Status SetValidity(X509* cert, std::chrono::hours validity) {
  // Backdated an hour so that a peer whose clock runs slightly behind accepts it at once.
  if (X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(validity.count()) * 3600) ==
          nullptr) {  // NOLINT(google-runtime-int)
    return Status::Internal(OpenSslError("X509_gmtime_adj"));
  }
  return Status::Ok();
}

Result<WallTime> Asn1TimeToWall(const ASN1_TIME* t) {
  struct tm tm_value {};
  if (ASN1_TIME_to_tm(t, &tm_value) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("certificate time does not parse");
  }
  time_t secs = timegm(&tm_value);
  return std::chrono::system_clock::from_time_t(secs);
}

Result<GeneralNamesPtr> SubjectAltNames(std::string_view pem) {
  auto cert = ParseCert(pem);
  if (!cert.ok()) return cert.status();
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert->get(), NID_subject_alt_name, nullptr, nullptr)));
  return names;
}

}  // namespace

Result<KeyPair> GenerateCa(std::string common_name, std::chrono::hours validity) {
  if (common_name.empty()) return Status::InvalidArgument("CA common name is empty");
  if (validity.count() <= 0) return Status::InvalidArgument("CA validity must be positive");
  auto key = NewEcKey();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("X509_new"));
  if (X509_set_version(cert.get(), 2) != 1) return Status::Internal(OpenSslError("version"));
  WAOP_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  WAOP_RETURN_IF_ERROR(SetName(cert.get(), common_name, /*also_issuer=*/true));
  WAOP_RETURN_IF_ERROR(SetValidity(cert.get(), validity));
  if (X509_set_pubkey(cert.get(), key->get()) != 1) {
    return Status::Internal(OpenSslError("X509_set_pubkey"));
  }
  WAOP_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE"));
  WAOP_RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign"));
  WAOP_RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  if (X509_sign(cert.get(), key->get(), EVP_sha256()) == 0) {
    return Status::Internal(OpenSslError("X509_sign"));
  }
  auto cert_pem = CertToPem(cert.get());
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return KeyPair{std::move(*cert_pem), std::move(*key_pem)};
}

Result<KeyPair> IssueServingCert(const KeyPair& ca, std::string common_name,
                                 std::vector<std::string> dns_names,
                                 std::vector<std::string> ip_addresses,
                                 std::chrono::hours validity) {
  if (validity.count() <= 0)
    return Status::InvalidArgument("certificate validity must be positive");
  if (common_name.empty() && dns_names.empty() && ip_addresses.empty()) {
    return Status::InvalidArgument("serving certificate needs a common name, DNS name or IP");
  }
  auto ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status().WithPrefix("CA certificate");
  auto ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) return ca_key.status().WithPrefix("CA key");
  if (X509_check_private_key(ca_cert->get(), ca_key->get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument("CA key does not match the CA certificate");
  }

  std::string san;
  for (const auto& dns : dns_names) {
    if (dns.empty() || dns.find_first_of(",\n") != std::string::npos) {
      return Status::InvalidArgument("DNS name '" + dns + "' is not a valid DNS name");
    }
    san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  }
  for (const auto& ip : ip_addresses) {
    ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
    if (parsed == nullptr) {
      ERR_clear_error();
      return Status::InvalidArgument("IP address '" + ip + "' does not parse");
    }
    ASN1_OCTET_STRING_free(parsed);
    san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  }
  if (common_name.empty()) {
    common_name = dns_names.empty() ? ip_addresses.front() : dns_names.front();
  }

  auto key = NewEcKey();
  if (!key.ok()) return key.status();
  X509Ptr cert(X509_new());
  if (!cert) return Status::Internal(OpenSslError("X509_new"));
  if (X509_set_version(cert.get(), 2) != 1) return Status::Internal(OpenSslError("version"));
  WAOP_RETURN_IF_ERROR(SetRandomSerial(cert.get()));
  WAOP_RETURN_IF_ERROR(SetName(cert.get(), common_name, /*also_issuer=*/false));
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert->get())) != 1) {
    return Status::Internal(OpenSslError("X509_set_issuer_name"));
  }
  WAOP_RETURN_IF_ERROR(SetValidity(cert.get(), validity));
  if (X509_set_pubkey(cert.get(), key->get()) != 1) {
    return Status::Internal(OpenSslError("X509_set_pubkey"));
  }
  WAOP_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert->get(), NID_basic_constraints, "critical,CA:FALSE"));
  WAOP_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert->get(), NID_key_usage,
                                    "critical,digitalSignature,keyEncipherment"));
  WAOP_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert->get(), NID_ext_key_usage, "serverAuth"));
  WAOP_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert->get(), NID_subject_key_identifier, "hash"));
  WAOP_RETURN_IF_ERROR(
      AddExtension(cert.get(), ca_cert->get(), NID_authority_key_identifier, "keyid:always"));
  if (!san.empty()) {
    WAOP_RETURN_IF_ERROR(AddExtension(cert.get(), ca_cert->get(), NID_subject_alt_name, san));
  }
  if (X509_sign(cert.get(), ca_key->get(), EVP_sha256()) == 0) {
    return Status::Internal(OpenSslError("X509_sign"));
  }
  auto cert_pem = CertToPem(cert.get());
  if (!cert_pem.ok()) return cert_pem.status();
  auto key_pem = KeyToPem(key->get());
  if (!key_pem.ok()) return key_pem.status();
  return KeyPair{std::move(*cert_pem), std::move(*key_pem)};
}

Result<WallTime> CertNotAfter(std::string_view pem) {
  auto cert = ParseCert(pem);
  if (!cert.ok()) return cert.status();
  return Asn1TimeToWall(X509_get0_notAfter(cert->get()));
}

Result<WallTime> CertNotBefore(std::string_view pem) {
  auto cert = ParseCert(pem);
  if (!cert.ok()) return cert.status();
  return Asn1TimeToWall(X509_get0_notBefore(cert->get()));
}

bool CertSignedBy(std::string_view cert_pem, std::string_view ca_pem) {
  auto cert = ParseCert(cert_pem);
  if (!cert.ok()) return false;
  X509StorePtr store(X509_STORE_new());
  if (!store) return false;
  // Every certificate in ca_pem becomes a trust anchor (a bundle may hold several CAs).
  BioPtr bio(BIO_new_mem_buf(ca_pem.data(), static_cast<int>(ca_pem.size())));
  if (!bio) return false;
  int anchors = 0;
  while (true) {
    X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!ca) break;
    if (X509_STORE_add_cert(store.get(), ca.get()) == 1) ++anchors;
  }
  ERR_clear_error();  // The loop ends on a "no start line" error.
  if (anchors == 0) return false;
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert->get(), nullptr) != 1) {
    ERR_clear_error();
    return false;
  }
  bool ok = X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok;
}

Result<std::vector<std::string>> CertDnsNames(std::string_view pem) {
  auto names = SubjectAltNames(pem);
  if (!names.ok()) return names.status();
  std::vector<std::string> out;
  if (!*names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names->get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names->get(), i);
    if (name->type != GEN_DNS) continue;
    const ASN1_IA5STRING* dns = name->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                     static_cast<size_t>(ASN1_STRING_length(dns)));
  }
  return out;
}

Result<std::vector<std::string>> CertIpAddresses(std::string_view pem) {
  auto names = SubjectAltNames(pem);
  if (!names.ok()) return names.status();
  std::vector<std::string> out;
  if (!*names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names->get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names->get(), i);
    if (name->type != GEN_IPADD) continue;
    const unsigned char* b = ASN1_STRING_get0_data(name->d.iPAddress);
    int len = ASN1_STRING_length(name->d.iPAddress);
    char buf[INET6_ADDRSTRLEN];
    if ((len == 4 && inet_ntop(AF_INET, b, buf, sizeof(buf)) != nullptr) ||
        (len == 16 && inet_ntop(AF_INET6, b, buf, sizeof(buf)) != nullptr)) {
      out.emplace_back(buf);
    }
  }
  return out;
}

}  // namespace waop::tls
