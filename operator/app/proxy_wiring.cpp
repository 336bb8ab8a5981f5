#include "app/proxy_wiring.h"

#include "common/logging.h"

namespace waop::app {

Result<std::optional<Proxy>> ProxyFromEnvironment(std::string_view what, const std::string& url) {
  auto proxy = ProxyFor(ProxySettings::FromEnvironment(), url);
  if (!proxy.ok()) {
    return Status::InvalidArgument(std::string(what) + ": " + proxy.status().message());
  }
  if (*proxy) {
    logging::Log(spdlog::level::info, std::string(what) + " through a proxy",
                 {{"proxy", (*proxy)->display},
                  {"authenticated", (*proxy)->username.empty() ? "false" : "true"}});
  }
  return proxy;
}

}  // namespace waop::app
