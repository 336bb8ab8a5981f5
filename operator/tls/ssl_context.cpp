#include "tls/ssl_context.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

#include "tls/openssl_ptr.h"

namespace waop::tls {
namespace {

// Every certificate in a PEM bundle, in order. InvalidArgument when there is none.
Result<std::vector<X509Ptr>> ParseCerts(std::string_view pem, std::string_view what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  ERR_clear_error();  // The loop always ends on a "no start line" error.
  if (certs.empty()) {
    return Status::InvalidArgument(std::string(what) + " holds no PEM certificate");
  }
  return certs;
}

Result<PkeyPtr> ParseKey(std::string_view pem, std::string_view what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Status::Internal("BIO_new_mem_buf failed");
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  ERR_clear_error();
  if (!key) return Status::InvalidArgument(std::string(what) + " does not parse as a private key");
  return key;
}

// Leaf + chain + key into an SSL_CTX; shared by the server and the mutual-TLS client side.
Status UseCertAndKey(SSL_CTX* ctx, std::string_view chain_pem, std::string_view key_pem,
                     std::string_view what) {
  auto certs = ParseCerts(chain_pem, std::string(what) + " certificate");
  if (!certs.ok()) return certs.status();
  auto key = ParseKey(key_pem, std::string(what) + " key");
  if (!key.ok()) return key.status();
  if (SSL_CTX_use_certificate(ctx, (*certs)[0].get()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string(what) + " certificate rejected by OpenSSL");
  }
  SSL_CTX_clear_chain_certs(ctx);
  for (size_t i = 1; i < certs->size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, (*certs)[i].get()) != 1) {
      ERR_clear_error();
      return Status::InvalidArgument(std::string(what) + " chain certificate rejected");
    }
  }
  if (SSL_CTX_use_PrivateKey(ctx, key->get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(std::string(what) + " key does not match its certificate");
  }
  return Status::Ok();
}

}  // namespace

Status ConfigureServerContext(boost::asio::ssl::context& ctx, std::string_view cert_chain_pem,
                              std::string_view key_pem) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  return UseCertAndKey(native, cert_chain_pem, key_pem, "server");
}

Status ConfigureClientContext(boost::asio::ssl::context& ctx, std::string_view ca_pem,
                              const std::optional<KeyPair>& client_cert) {
  auto cas = ParseCerts(ca_pem, "CA bundle");
  if (!cas.ok()) return cas.status();
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  // A fresh store replaces whatever set_default_verify_paths loaded: trust exactly ca_pem.
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return Status::Internal("X509_STORE_new failed");
  for (const auto& ca : *cas) {
    if (X509_STORE_add_cert(store, ca.get()) != 1) ERR_clear_error();  // Duplicates are fine.
  }
  SSL_CTX_set_cert_store(native, store);  // Takes ownership.
  SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  if (client_cert.has_value()) {
    WAOP_RETURN_IF_ERROR(
        UseCertAndKey(native, client_cert->cert_pem, client_cert->key_pem, "client"));
  }
  return Status::Ok();
}

Result<SslContextCallback> MakeServerSslCallback(std::string_view cert_chain_pem,
                                                 std::string_view key_pem) {
  // Try it once on a scratch context so that errors surface here, not inside cpprest.
  boost::asio::ssl::context probe(boost::asio::ssl::context::tls_server);
  WAOP_RETURN_IF_ERROR(ConfigureServerContext(probe, cert_chain_pem, key_pem));
  return SslContextCallback([chain = std::string(cert_chain_pem),
                             key = std::string(key_pem)](boost::asio::ssl::context& ctx) {
    // Checked above; a failure now would mean OpenSSL changed its mind about the same bytes.
    (void)ConfigureServerContext(ctx, chain, key);
  });
}

Result<SslContextCallback> MakeClientSslCallback(std::string_view ca_pem,
                                                 const std::optional<KeyPair>& client_cert) {
  boost::asio::ssl::context probe(boost::asio::ssl::context::tls_client);
  WAOP_RETURN_IF_ERROR(ConfigureClientContext(probe, ca_pem, client_cert));
  return SslContextCallback(
      [ca = std::string(ca_pem), client_cert](boost::asio::ssl::context& ctx) {
        (void)ConfigureClientContext(ctx, ca, client_cert);
      });
}

struct ReloadableServerCert::Loaded {
  std::vector<X509Ptr> chain;  // leaf first
  PkeyPtr key;
  std::string chain_pem;
};

ReloadableServerCert::ReloadableServerCert() = default;
ReloadableServerCert::~ReloadableServerCert() = default;

Status ReloadableServerCert::Set(std::string_view cert_chain_pem, std::string_view key_pem) {
  // The same checks a listener's context makes, on a scratch context.
  boost::asio::ssl::context probe(boost::asio::ssl::context::tls_server);
  WAOP_RETURN_IF_ERROR(ConfigureServerContext(probe, cert_chain_pem, key_pem));
  auto certs = ParseCerts(cert_chain_pem, "server certificate");
  if (!certs.ok()) return certs.status();
  auto key = ParseKey(key_pem, "server key");
  if (!key.ok()) return key.status();
  auto loaded = std::make_shared<Loaded>();
  loaded->chain = std::move(*certs);
  loaded->key = std::move(*key);
  loaded->chain_pem = std::string(cert_chain_pem);
  std::lock_guard lock(mu_);
  current_ = std::move(loaded);
  return Status::Ok();
}

bool ReloadableServerCert::loaded() const {
  std::lock_guard lock(mu_);
  return current_ != nullptr;
}

std::string ReloadableServerCert::cert_pem() const {
  std::lock_guard lock(mu_);
  return current_ ? current_->chain_pem : std::string();
}

std::shared_ptr<const ReloadableServerCert::Loaded> ReloadableServerCert::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

namespace {

// SSL_CTX_set_cert_cb: puts the current certificate on this connection. 0 fails the handshake.
int UseCurrentCert(SSL* ssl, void* arg) {
  auto* holder = static_cast<ReloadableServerCert*>(arg);
  std::shared_ptr<const ReloadableServerCert::Loaded> c = holder->Current();
  if (!c || c->chain.empty()) return 0;
  if (SSL_use_certificate(ssl, c->chain[0].get()) != 1 ||
      SSL_use_PrivateKey(ssl, c->key.get()) != 1) {
    ERR_clear_error();
    return 0;
  }
  SSL_clear_chain_certs(ssl);
  for (size_t i = 1; i < c->chain.size(); ++i) {
    if (SSL_add1_chain_cert(ssl, c->chain[i].get()) != 1) {
      ERR_clear_error();
      return 0;
    }
  }
  return 1;
}

}  // namespace

SslContextCallback MakeReloadableServerSslCallback(std::shared_ptr<ReloadableServerCert> cert) {
  return SslContextCallback([cert = std::move(cert)](boost::asio::ssl::context& ctx) {
    SSL_CTX* native = ctx.native_handle();
    SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
    // The callback holds `cert` for as long as the listener keeps its configuration, which
    // outlives every context it makes.
    SSL_CTX_set_cert_cb(native, &UseCurrentCert, cert.get());
  });
}

}  // namespace waop::tls
