// The cpprest client settings every client of ours uses, and one cpprest client request with a
// deadline on the whole exchange (connect, headers, body), shared by the Graph and
// tenant-service clients. cpprest's own timeout does not fire on a
// reused keep-alive connection, so a server that stops answering there would hold the caller for
// good; this waits at most the deadline for the last body byte, then cancels the request.
//
// Lives in target waop_tls_asio, the cpprest layer below the clients. Thread-safety: as the
// http_client passed in (cpprest's clients are safe for concurrent requests).
#pragma once

#include <cpprest/http_client.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "common/proxy.h"
#include "tls/cpprest_pool.h"

namespace waop::tls {

// cpprest client settings with cpprest's per-client `timeout` and, when given, a TLS context
// callback. Redirects are never followed: cpprest follows up to 10 by default and sends the
// request again with all its headers, the bearer token included, to wherever the Location
// header points. None of the servers we call (API server, Graph API, tenant service) answers
// a request of ours with a redirect, so a 3xx is an error for the caller.
// `proxy`, when given, is an http:// proxy the client goes through (CONNECT for https), with
// Basic credentials when it has a username.
web::http::client::http_client_config ClientConfig(
    std::chrono::milliseconds timeout,
    std::function<void(boost::asio::ssl::context&)> ssl_context = nullptr,
    const std::optional<Proxy>& proxy = std::nullopt);

struct CpprestAnswer {
  int status = 0;
  web::http::http_headers headers;
  std::string body;  // as UTF-8 text
};

// Sends `request` and waits at most `timeout` for the whole answer. nullopt: the deadline passed
// (the request is cancelled). A failure before that (connection refused, TLS, cpprest's own
// timeout) throws what cpprest throws, web::http::http_exception mostly, for the caller to word.
std::optional<CpprestAnswer> RequestWithin(web::http::client::http_client& client,
                                           const web::http::http_request& request,
                                           std::chrono::milliseconds timeout);

}  // namespace waop::tls
