// The /debug endpoints (request counts, fault configuration) and the write faults they inject.
#include "api_server.h"
#include "api_server_internal.h"

namespace devserver {

using nlohmann::json;

HttpResponse ApiServer::DebugEndpoint(const HttpRequest& req) {
  if (req.path == "/debug/requests" && req.method == "GET") {
    json j = counter_.ToJson(req.Query("client"));
    j["openWatches"] = hub_.OpenWatches();
    j["resourceVersion"] = std::to_string(store_.CurrentRv());
    return JsonResponse(200, j);
  }
  if (req.path == "/debug/writes" && req.method == "GET") {
    uint64_t after = 0;
    if (req.HasQuery("after")) {
      try {
        after = std::stoull(req.Query("after"));
      } catch (const std::exception&) {
        return ErrorResponse(ApiError::BadRequest("after: expected a resourceVersion"));
      }
    }
    return JsonResponse(200, store_.WritesJson(after));
  }
  if (req.path == "/debug/requests/reset" && req.method == "POST") {
    counter_.Reset();
    return JsonResponse(200, {{"reset", true}});
  }
  if (req.path == "/debug/faults") {
    if (req.method == "GET") return JsonResponse(200, Faults::ToJson(faults_.Get()));
    if (req.method == "POST") {
      json body = json::parse(req.body, nullptr, false);
      if (body.is_discarded()) return ErrorResponse(ApiError::BadRequest("body: invalid JSON"));
      bool drop_now = false, expire_now = false;
      auto cfg = Faults::Parse(body, faults_.Get(), &drop_now, &expire_now);
      if (!cfg.ok()) return ErrorResponse(ApiError::BadRequest(cfg.status().message()));
      faults_.Set(*cfg);
      hub_.SetDropEvery(cfg->drop_watches_every);
      if (expire_now) hub_.Compact();
      if (drop_now) hub_.DropAll();
      return JsonResponse(200, Faults::ToJson(*cfg));
    }
  }
  return ErrorResponse({404, "NotFound", "unknown debug endpoint " + req.path, {}});
}

std::optional<ApiError> ApiServer::CheckWriteFault(const std::string& verb, const Target& t,
                                                   const std::string& user_agent) {
  auto code = faults_.WriteFailure(verb, t.r->resource, user_agent);
  if (!code) return std::nullopt;
  switch (*code) {
    case 409:
      return ApiError::Conflict(t.r->group, t.r->resource, t.name.empty() ? "" : t.name,
                                "the object has been modified; please apply your changes to the "
                                "latest version and try again");
    case 410:
      return ApiError::Gone("injected fault: resource version expired");
    case 429:
      return ApiError{429, "TooManyRequests", "injected fault: too many requests", {}};
    case 503:
      return ApiError::Unavailable("injected fault: service unavailable");
    default:
      return ApiError{500, "InternalError", "Internal error occurred: injected fault", {}};
  }
}

}  // namespace devserver
