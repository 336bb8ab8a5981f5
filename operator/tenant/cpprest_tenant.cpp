// The cpprestsdk adapter of TenantServiceClient: the only file of waop_tenant that includes
// cpprest headers. Everything cpprest throws is caught here and becomes a Status. Each request,
// body included, is bounded by `timeout` (the request is cancelled when it passes: cpprest's
// own timeout does not fire on a reused keep-alive connection).
#include <cpprest/http_client.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tenant/tenant_client.h"
#include "tenant/tenant_parse.h"
#include "tls/cpprest_call.h"
#include "tls/ssl_context.h"

namespace waop::tenant {
namespace {

namespace http = web::http;
namespace client = web::http::client;

std::string Redact(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "[REDACTED]");
  }
  return text;
}

class CpprestTenantClient final : public TenantServiceClient {
 public:
  CpprestTenantClient(TenantClientOptions options, const web::uri& base,
                      std::optional<tls::SslContextCallback> ssl)
      : options_(std::move(options)),
        client_(base, tls::ClientConfig(options_.timeout, ssl ? *ssl : nullptr, options_.proxy)) {
    base_path_ = base.path();
    while (!base_path_.empty() && base_path_.back() == '/') base_path_.pop_back();
  }

  Result<std::vector<core::TenantRow>> ListTenants() override {
    auto body = Call("list", http::methods::GET, std::string(kTenantsPath), "");
    if (!body.ok()) return body.status();
    auto rows = ParseTenantList(*body);
    if (!rows.ok()) Report("list", rows.status());
    return rows;
  }

  Status AssignPhone(std::string_view tenant_id, std::string_view phone_number_id,
                     std::string_view display_phone_number) override {
    WAOP_RETURN_IF_ERROR(CheckTenantId(tenant_id));
    nlohmann::json body = {{"phone_number_id", phone_number_id},
                           {"display_phone_number", display_phone_number}};
    return Call("assign", http::methods::POST,
                std::string(kTenantsPath) + "/" + std::string(tenant_id) + "/assign-phone",
                body.dump())
        .status();
  }

  Status UnassignPhone(std::string_view tenant_id) override {
    WAOP_RETURN_IF_ERROR(CheckTenantId(tenant_id));
    return Call("unassign", http::methods::DEL,
                std::string(kTenantsPath) + "/" + std::string(tenant_id) + "/unassign-phone", "")
        .status();
  }

 private:
  void Report(std::string_view method, const Status& s) const {
    if (options_.on_request) options_.on_request(method, s);
  }

  Status Timeout(const std::string& what) const {
    return Status::Unavailable(what + ": timed out after " +
                               std::to_string(options_.timeout.count()) + " ms");
  }

  // One request; the body of a 2xx answer, else the classified error.
  Result<std::string> Call(std::string_view method, const http::method& verb,
                           const std::string& path, const std::string& body) {
    const std::string what = verb + " " + path;
    const std::string token = options_.token ? options_.token() : std::string();
    Status outcome = Status::Ok();
    std::string answer;
    try {
      http::http_request req(verb);
      req.set_request_uri(web::uri(base_path_ + path));
      if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
      req.headers().add("Accept", "application/json");
      req.headers().add("User-Agent", options_.user_agent);
      if (!body.empty()) req.set_body(body, "application/json");
      std::optional<tls::CpprestAnswer> a = tls::RequestWithin(client_, req, options_.timeout);
      if (!a) {
        outcome = Timeout(what);
      } else {
        answer = std::move(a->body);
        if (a->status < 200 || a->status > 299)
          outcome = TenantErrorStatus(a->status, answer, what);
      }
    } catch (const http::http_exception& e) {
      outcome = e.error_code() == std::errc::timed_out
                    ? Timeout(what)
                    : Status::Unavailable(what + ": " + e.what());
    } catch (const std::exception& e) {
      outcome = Status::Unavailable(what + ": " + e.what());
    }
    if (!outcome.ok()) {
      outcome = Status(outcome.code(), Redact(outcome.message(), token));
    }
    Report(method, outcome);
    if (!outcome.ok()) return outcome;
    return answer;
  }

  const TenantClientOptions options_;
  std::string base_path_;
  client::http_client client_;
};

}  // namespace

Status CheckTenantId(std::string_view id) {
  const bool ok = !id.empty() && id.size() <= 63 &&
                  std::isalnum(static_cast<unsigned char>(id.front())) != 0 &&
                  std::isalnum(static_cast<unsigned char>(id.back())) != 0 &&
                  id.find_first_not_of(
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-_.") == std::string_view::npos;
  if (!ok) {
    return Status::InvalidArgument("tenant id \"" + std::string(id.substr(0, 64)) +
                                   "\": expected a label value (letters, digits, '-', '_', '.')");
  }
  return Status::Ok();
}

Result<std::unique_ptr<TenantServiceClient>> NewTenantServiceClient(TenantClientOptions options) {
  web::uri base;
  try {
    base = web::uri(options.base_url);
  } catch (const std::exception&) {
    return Status::InvalidArgument("tenant service URL \"" + options.base_url +
                                   "\": not a valid URL");
  }
  if ((base.scheme() != "https" && base.scheme() != "http") || base.host().empty() ||
      !base.query().empty() || !base.fragment().empty()) {
    return Status::InvalidArgument("tenant service URL \"" + options.base_url +
                                   "\": expected http(s)://host[:port][/path] without a query");
  }
  if (options.timeout.count() <= 0) options.timeout = std::chrono::seconds(10);
  std::optional<tls::SslContextCallback> ssl;
  if (!options.ca_file.empty() && base.scheme() == "https") {
    std::ifstream in(options.ca_file);
    if (!in) {
      return Status::InvalidArgument("tenant service CA file " + options.ca_file +
                                     ": cannot be read");
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto cb = tls::MakeClientSslCallback(ss.str());
    if (!cb.ok()) return cb.status();
    ssl = std::move(*cb);
  }
  try {
    return std::unique_ptr<TenantServiceClient>(
        std::make_unique<CpprestTenantClient>(std::move(options), base, std::move(ssl)));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("tenant service client: ") + e.what());
  }
}

}  // namespace waop::tenant
