// The cpprestsdk implementation of GraphClient (graph.h): one http_client for the base URL,
// the token in the Authorization header (never in a URL), paged listings with limit=100 that
// follow paging.next while it stays on the base URL's scheme, host and port (else the `after`
// cursor), Meta's errors classified by graph_parse.h, and X-App-Usage /
// X-Business-Use-Case-Usage kept for LastUsage() (the higher of the two from the last answer;
// an answer with neither resets it to unseen, since Meta sends them once usage is noticeable).
// Each HTTP request, body included, is bounded by `timeout` (a timeout is kUnavailable).
//
// Thread-safety: the returned client is safe for concurrent calls.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/proxy.h"
#include "common/status.h"
#include "meta/graph.h"

namespace waop::meta {

inline constexpr std::string_view kDefaultGraphApiUrl = "https://graph.facebook.com";

struct GraphClientOptions {
  std::string base_url = std::string(kDefaultGraphApiUrl);       // http or https, no query
  std::chrono::milliseconds timeout = std::chrono::seconds(30);  // per HTTP request
  // A PEM bundle trusted instead of the system roots (https only; "" = system roots).
  std::string ca_file;
  int page_limit = 100;  // the `limit` asked for (Meta's maximum)
  int max_pages = 1000;  // a listing needing more pages is an error (guards against loops)
  std::string user_agent = "whatsapp-operator";
  // The proxy requests go through (common/proxy.h's ProxyFor); nullopt = direct.
  std::optional<Proxy> proxy;
  // Called after every HTTP request with its outcome (Ok or the classified error), e.g. for
  // the "Graph requests by outcome" metric. Must be thread-safe and must not block.
  std::function<void(const Status&)> on_request;
};

// InvalidArgument for a base URL that is not http(s)://host[:port][/path], a page_limit
// outside 1..100, or a CA file that cannot be read or holds no PEM certificate.
Result<std::unique_ptr<GraphClient>> NewGraphClient(GraphClientOptions options);

}  // namespace waop::meta
