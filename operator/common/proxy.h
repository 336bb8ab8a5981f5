// Outbound HTTP proxies, chosen as Go programs choose them (net/http's ProxyFromEnvironment), so
// that one set of variables in a Pod sends every client through the same proxy: HTTPS_PROXY
// for https URLs, HTTP_PROXY for http URLs (upper case before lower case), and NO_PROXY for the
// hosts reached directly. localhost and loopback addresses are always reached directly.
//
// NO_PROXY is a comma-separated list of: "*" (no proxy at all); an IP address; a CIDR range; a
// domain name, which matches itself and its subdomains ("example.com" matches
// "api.example.com"); a domain with a leading "." or "*.", which matches subdomains only; any
// of them with ":port" to match that port only.
//
// Thread-safety: plain values and pure functions (FromEnvironment reads the environment).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace waop {

struct ProxySettings {
  std::string http_proxy;   // HTTP_PROXY or http_proxy
  std::string https_proxy;  // HTTPS_PROXY or https_proxy
  std::string no_proxy;     // NO_PROXY or no_proxy

  static ProxySettings FromEnvironment();
};

// The proxy to send a request through.
struct Proxy {
  std::string url;       // "http://host:port", without credentials
  std::string username;  // from the URL's user information, percent-decoded ("" = none)
  std::string password;  // secret: never logged
  std::string display;   // "host:port", for logs and messages
};

// The proxy for requests to `target_url` (http or https), or nullopt to connect directly.
// InvalidArgument naming the variable when the proxy setting that applies is not an http://
// URL with a host (a proxy with no scheme is taken as http://, as Go does); the message never
// quotes the setting's password.
Result<std::optional<Proxy>> ProxyFor(const ProxySettings& settings, std::string_view target_url);

}  // namespace waop
