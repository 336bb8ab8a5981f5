#include "server/http_server.h"

#include <cpprest/http_listener.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <set>

namespace waop::server {
namespace {

using web::http::http_request;
using web::http::http_response;
using web::http::methods;
using web::http::experimental::listener::http_listener;

// The query's parameters: "verbose&exclude=a&exclude=b" -> {verbose:[""], exclude:[a,b]}.
std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string key(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    out.emplace(web::uri::decode(key), web::uri::decode(value));
  }
  return out;
}

// Ports opened by HttpServers in this process. cpprestsdk's Linux listener shares one acceptor
// per port within a process, and a failed second open() on a port tears down the first
// listener's registration; so a clash inside the process is refused before cpprest sees it.
std::mutex g_ports_mu;
std::set<std::uint16_t> g_ports;

}  // namespace

std::string BindAddress::ToString() const {
  if (!enabled()) return "disabled";
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

Result<BindAddress> ParseBindAddress(std::string_view value, std::string_view flag) {
  const std::string name = "--" + std::string(flag);
  if (value == "0") return BindAddress{};
  auto invalid = [&](const std::string& why) {
    return Status::InvalidArgument(name + "=\"" + std::string(value) + "\": " + why +
                                   " (want host:port, :port, or 0 to disable)");
  };
  std::string host;
  std::string_view port_text;
  if (!value.empty() && value.front() == '[') {
    const size_t close = value.find(']');
    if (close == std::string_view::npos) return invalid("unterminated '[' in IPv6 address");
    host = std::string(value.substr(1, close - 1));
    if (close + 1 >= value.size() || value[close + 1] != ':') return invalid("missing port");
    port_text = value.substr(close + 2);
  } else {
    const size_t colon = value.rfind(':');
    if (colon == std::string_view::npos) return invalid("missing port");
    host = std::string(value.substr(0, colon));
    if (host.find(':') != std::string::npos) return invalid("IPv6 hosts must be in brackets");
    port_text = value.substr(colon + 1);
  }
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size()) {
    return invalid("port '" + std::string(port_text) + "' is not a number");
  }
  if (port == 0) return invalid("port 0 (an ephemeral port) is not supported");
  if (port < 0 || port > 65535) return invalid("port " + std::to_string(port) + " out of range");
  return BindAddress{host, static_cast<std::uint16_t>(port)};
}

void HealthChecks::Add(Kind kind, const std::string& name, Check check) {
  std::lock_guard lock(mu_);
  (kind == Kind::kHealthz ? healthz_ : readyz_)[name] = std::move(check);
}

HealthChecks::Response HealthChecks::Evaluate(Kind kind, std::string_view subpath,
                                              std::string_view query) const {
  const std::string what = kind == Kind::kHealthz ? "healthz" : "readyz";
  std::map<std::string, Check> checks;
  {
    std::lock_guard lock(mu_);
    checks = kind == Kind::kHealthz ? healthz_ : readyz_;
  }
  const auto params = ParseQuery(query);
  if (!subpath.empty()) {
    auto it = checks.find(std::string(subpath));
    if (it == checks.end())
      return {404, what + " check \"" + std::string(subpath) + "\" not found\n"};
    const Status s = it->second();
    if (s.ok()) return {200, "ok"};
    spdlog::info("{} check {} failed: {}", what, it->first, s.ToString());
    return {500, "[-]" + it->first + " failed: reason withheld\n" + what + " check failed\n"};
  }
  std::set<std::string> excluded;
  for (auto [it, end] = params.equal_range("exclude"); it != end; ++it) excluded.insert(it->second);
  const bool verbose = params.count("verbose") > 0;
  std::string listing;
  bool failed = false;
  for (const auto& [name, check] : checks) {
    if (excluded.erase(name)) {
      listing += "[+]" + name + " excluded: ok\n";
      continue;
    }
    const Status s = check();
    if (s.ok()) {
      listing += "[+]" + name + " ok\n";
    } else {
      failed = true;
      listing += "[-]" + name + " failed: reason withheld\n";
      spdlog::info("{} check {} failed: {}", what, name, s.ToString());
    }
  }
  for (const auto& name : excluded)
    listing += "warn: some health checks cannot be excluded: no matches for \"" + name + "\"\n";
  if (failed) return {500, listing + what + " check failed\n"};
  if (verbose) return {200, listing + what + " check passed\n"};
  return {200, "ok"};
}

class HttpServer::Impl {
 public:
  Impl(const Registry* registry, const HealthChecks* checks)
      : registry_(registry), checks_(checks) {}
  ~Impl() { Stop(); }

  Status Listen(const BindAddress& address, bool metrics, bool health) {
    const std::string url = "http://" + address.ToString();
    {
      std::lock_guard lock(g_ports_mu);
      if (!g_ports.insert(address.port).second) {
        return Status::Unavailable("cannot listen on " + address.ToString() +
                                   ": port already served by this process");
      }
    }
    try {
      auto listener = std::make_unique<http_listener>(url);
      listener->support([this, metrics, health](http_request request) {
        Handle(std::move(request), metrics, health);
      });
      listener->open().wait();
      std::lock_guard lock(mu_);
      listeners_.push_back(std::move(listener));
    } catch (const std::exception& e) {
      std::lock_guard lock(g_ports_mu);
      g_ports.erase(address.port);
      return Status::Unavailable("cannot listen on " + address.ToString() + ": " + e.what());
    }
    return Status::Ok();
  }

  void Stop() {
    std::vector<std::unique_ptr<http_listener>> listeners;
    {
      std::lock_guard lock(mu_);
      listeners.swap(listeners_);
    }
    for (auto& listener : listeners) {
      try {
        listener->close().wait();
      } catch (const std::exception& e) {
        spdlog::warn("closing HTTP listener: {}", e.what());
      }
      std::lock_guard lock(g_ports_mu);
      g_ports.erase(static_cast<std::uint16_t>(listener->uri().port()));
    }
  }

 private:
  void Handle(http_request request, bool metrics, bool health) {
    int status = 404;
    std::string body = "404 page not found\n";
    std::string content_type = "text/plain; charset=utf-8";
    try {
      const std::string path = request.request_uri().path();
      const std::string query = request.request_uri().query();
      auto route = [&](std::string_view prefix, std::string_view& sub) {
        if (path == prefix || path == std::string(prefix) + "/") return true;
        if (path.rfind(std::string(prefix) + "/", 0) == 0) {
          sub = std::string_view(path).substr(prefix.size() + 1);
          return true;
        }
        return false;
      };
      std::string_view sub;
      const bool is_get = request.method() == methods::GET || request.method() == methods::HEAD;
      if (metrics && path == "/metrics") {
        if (!is_get) {
          status = 405;
          body = "method not allowed\n";
        } else {
          status = 200;
          body = registry_->Expose();
          content_type = "text/plain; version=0.0.4; charset=utf-8";
        }
      } else if (health && (route("/healthz", sub) || route("/readyz", sub))) {
        const auto kind = path.rfind("/healthz", 0) == 0 ? HealthChecks::Kind::kHealthz
                                                         : HealthChecks::Kind::kReadyz;
        if (!is_get) {
          status = 405;
          body = "method not allowed\n";
        } else {
          auto response = checks_->Evaluate(kind, sub, query);
          status = response.status;
          body = std::move(response.body);
        }
      }
      http_response response(static_cast<web::http::status_code>(status));
      response.headers().add("X-Content-Type-Options", "nosniff");
      response.set_body(std::move(body), content_type);
      request.reply(response).then([](pplx::task<void> done) {
        try {
          done.get();
        } catch (const std::exception&) {
          // The client went away; nothing to do.
        }
      });
    } catch (const std::exception& e) {
      spdlog::warn("HTTP handler error: {}", e.what());
    } catch (...) {
      spdlog::warn("HTTP handler error: a non-standard exception");
    }
  }

  const Registry* registry_;
  const HealthChecks* checks_;
  std::mutex mu_;
  std::vector<std::unique_ptr<http_listener>> listeners_;
};

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                      const Registry* registry,
                                                      const HealthChecks* checks) {
  auto impl = std::make_unique<Impl>(registry, checks);
  const bool metrics = options.metrics.enabled() && registry != nullptr;
  const bool health = options.health.enabled() && checks != nullptr;
  if (metrics && health && options.metrics == options.health) {
    WAOP_RETURN_IF_ERROR(impl->Listen(options.metrics, true, true));
  } else {
    if (metrics) WAOP_RETURN_IF_ERROR(impl->Listen(options.metrics, true, false));
    if (health) WAOP_RETURN_IF_ERROR(impl->Listen(options.health, false, true));
  }
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  if (impl_) impl_->Stop();
}

}  // namespace waop::server
