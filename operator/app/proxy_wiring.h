// The outbound proxy of a client of ours (Graph API, tenant service), from the environment:
// HTTPS_PROXY, HTTP_PROXY and NO_PROXY, read as Go programs read them (common/proxy.h).
//
// Thread-safety: reads the environment; call at start-up.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/proxy.h"
#include "common/status.h"

namespace waop::app {

// The proxy for `url`, logged at info ("<what> through a proxy", with its host:port, never its
// credentials) when there is one. InvalidArgument naming `what` and the variable when the
// setting that applies is unusable.
Result<std::optional<Proxy>> ProxyFromEnvironment(std::string_view what, const std::string& url);

}  // namespace waop::app
