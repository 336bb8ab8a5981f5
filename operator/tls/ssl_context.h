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
#include <optional>
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

}  // namespace waop::tls
