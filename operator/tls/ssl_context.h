// Boost.Asio SSL contexts for cpprestsdk listeners and clients, built from PEM strings (so a
// certificate can come from a Secret or from GenerateCa without touching the filesystem).
// cpprest exposes the context only through a callback (http_listener_config /
// http_client_config::set_ssl_context_callback); the Make* functions parse and check the PEMs
// first, so a bad certificate is a Status here rather than an exception inside cpprest.
//
// This header pulls in boost/asio; it lives in target waop_tls_asio so that waop_tls stays
// free of cpprest. Thread-safety: the returned callbacks hold immutable parsed copies of the
// PEMs and may be called from any thread, any number of times.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "tls/certs.h"

namespace waop::tls {

using SslContextCallback = std::function<void(boost::asio::ssl::context&)>;

// Loads the certificate chain (leaf first, then intermediates) and its private key into
// `ctx`, and disables TLS < 1.2. InvalidArgument when a PEM does not parse or the key does not
// match the leaf certificate.
Status ConfigureServerContext(boost::asio::ssl::context& ctx, std::string_view cert_chain_pem,
                              std::string_view key_pem);

// Makes `ctx` trust exactly the certificates in `ca_pem` (the system store is replaced, so a
// certificate from any other CA fails), requires peer verification, and loads an optional
// client certificate for mutual TLS. Hostname / IP checking is done by the client (cpprest
// does RFC 2818 verification against the URL's host). InvalidArgument when a PEM is bad.
Status ConfigureClientContext(boost::asio::ssl::context& ctx, std::string_view ca_pem,
                              const std::optional<KeyPair>& client_cert = std::nullopt);

// The same, as callbacks for http_listener_config / http_client_config. The PEMs are checked
// now; InvalidArgument when they are bad.
Result<SslContextCallback> MakeServerSslCallback(std::string_view cert_chain_pem,
                                                 std::string_view key_pem);
Result<SslContextCallback> MakeClientSslCallback(
    std::string_view ca_pem, const std::optional<KeyPair>& client_cert = std::nullopt);

// A server certificate that can be replaced while a listener serves it: the listener's SSL
// context asks for the current one at every handshake (SSL_CTX_set_cert_cb), so a renewed or
// rotated certificate is served from the next connection on, without reopening the port.
//
// Thread-safety: Set and the accessors may be called from any thread while handshakes read it.
class ReloadableServerCert {
 public:
  struct Loaded;  // parsed leaf, chain and key (opaque; see ssl_context.cpp)

  ReloadableServerCert();
  ~ReloadableServerCert();
  ReloadableServerCert(const ReloadableServerCert&) = delete;
  ReloadableServerCert& operator=(const ReloadableServerCert&) = delete;

  // Replaces the certificate (chain leaf first) and key. InvalidArgument when a PEM does not
  // parse or the key does not match the leaf; then the previous certificate stays.
  [[nodiscard]] Status Set(std::string_view cert_chain_pem, std::string_view key_pem);
  // True once a certificate was set.
  bool loaded() const;
  // The certificate chain PEM being served ("" before the first Set). Never the key.
  std::string cert_pem() const;
  // What handshakes use; null before the first Set.
  std::shared_ptr<const Loaded> Current() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Loaded> current_;  // guarded by mu_
};

// A callback for http_listener_config: TLS 1.2 or newer, serving whatever `cert` holds at each
// handshake; a handshake fails while it holds nothing. The callback keeps `cert` alive.
SslContextCallback MakeReloadableServerSslCallback(std::shared_ptr<ReloadableServerCert> cert);

}  // namespace waop::tls
