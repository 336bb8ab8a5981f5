// X.509 certificates for our own TLS endpoints, made with OpenSSL 3 (EVP APIs only): a private
// CA, serving certificates it signs, and the few questions we ask of a certificate (expiry,
// issuer, names). The dev API server uses it for its HTTPS CA, tests for their webhook
// servers, and the operator for its webhook serving certificate (renewed before expiry, so it
// needs CertNotAfter). Keys are EC P-256: small, fast to make, accepted by every client.
//
// Thread-safety: free functions without shared state; safe to call from any thread.
// Ownership: everything goes in and out as PEM strings; no OpenSSL object escapes.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace waop::tls {

// A certificate and its private key, both PEM. key_pem is a secret: never log it.
struct KeyPair {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed CA: basicConstraints CA:TRUE (critical), keyUsage keyCertSign+cRLSign
// (critical), subject key identifier. Valid from one hour ago (clock skew) for `validity`.
// Fails with InvalidArgument for an empty name or non-positive validity, Internal when
// OpenSSL fails.
Result<KeyPair> GenerateCa(std::string common_name, std::chrono::hours validity);

// A serving certificate signed by `ca`: subjectAltName with every DNS name and IP address
// (IPv4 or IPv6 text), extendedKeyUsage serverAuth, keyUsage digitalSignature, random 128-bit
// serial, authority key id. Fails with InvalidArgument when the CA PEMs do not parse or do not
// belong together, when an IP address does not parse, or when no name at all is given.
Result<KeyPair> IssueServingCert(const KeyPair& ca, std::string common_name,
                                 std::vector<std::string> dns_names,
                                 std::vector<std::string> ip_addresses,
                                 std::chrono::hours validity);

// The notAfter time of the first certificate in `pem`. InvalidArgument when it does not parse.
Result<WallTime> CertNotAfter(std::string_view pem);

// The notBefore time of the first certificate in `pem`. InvalidArgument when it does not parse.
Result<WallTime> CertNotBefore(std::string_view pem);

// True when the first certificate in `cert_pem` verifies (signature, validity period, CA
// constraints) against the certificates in `ca_pem` as trust anchors, with X509_STORE.
// False for anything that does not parse.
bool CertSignedBy(std::string_view cert_pem, std::string_view ca_pem);

// The DNS names in the subjectAltName of the first certificate in `pem` (empty when it has
// none). InvalidArgument when the PEM does not parse.
Result<std::vector<std::string>> CertDnsNames(std::string_view pem);

// The IP addresses in the subjectAltName, as text ("127.0.0.1", "::1").
// InvalidArgument when the PEM does not parse.
Result<std::vector<std::string>> CertIpAddresses(std::string_view pem);

}  // namespace waop::tls
