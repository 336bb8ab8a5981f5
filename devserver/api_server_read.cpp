// Reads: get and list (selectors, pagination with continue tokens, Tables).
#include "api_server.h"
#include "api_server_internal.h"
#include "base64.h"
#include "common/clock.h"
#include "schema/table.h"
#include "selectors.h"
#include "tables.h"

namespace devserver {

using nlohmann::json;

HttpResponse ApiServer::Get(const HttpRequest& req, const Target& t) {
  auto so = store_.Get(Ref(t));
  if (!so) return ErrorResponse(ApiError::NotFound(t.r->group, t.r->resource, t.name));
  return ObjectResponse(200, req, t, *so, {});
}

HttpResponse ApiServer::List(const HttpRequest& req, const Target& t) {
  auto selectors = ParseSelectors(req, t.r->resource);
  if (!selectors.ok()) return ErrorResponse(ApiError::BadRequest(selectors.status().message()));
  ListOptions lo = selectors->ListIn(t.ns);
  std::string limit = req.Query("limit");
  if (!limit.empty()) {
    bool ok;
    lo.limit = static_cast<int64_t>(ParseRv(limit, &ok));
    if (!ok) return ErrorResponse(ApiError::BadRequest("limit: expected a non-negative integer"));
  }
  std::string cont = req.Query("continue");
  if (!cont.empty()) {
    std::string decoded;
    const bool ok = Base64Decode(cont, &decoded);
    if (!ok || decoded.rfind("devserver:", 0) != 0) {
      return ErrorResponse(ApiError::BadRequest("continue key is not valid: " + cont));
    }
    lo.continue_after = decoded.substr(10);
  }
  ListResult lr = store_.List(t.r->StorageKey(), lo);
  std::string rv = std::to_string(lr.rv);
  HttpResponse r;
  if (WantsTable(req.Header("accept"))) {
    std::vector<const json*> objs;
    for (const StoredObject& so : lr.items) objs.push_back(so.obj.get());
    bool full = req.Query("includeObject") == "Object";
    json table = t.r->custom ? BuildTable(t.r->printer_columns, objs, rv, full)
                             : BuildBuiltinTable(t.r->resource, objs, rv, full,
                                                 waop::RealClock::Get().Now());
    if (!lr.last_key.empty()) {
      table["metadata"]["continue"] = Base64Encode("devserver:" + lr.last_key);
    }
    r.body = table.dump();
    return r;
  }
  std::string body;
  body.reserve(64 + lr.items.size() * 512);
  body += "{\"kind\":\"" + t.r->kind + "List\",\"apiVersion\":\"" + t.r->ApiVersion() +
          "\",\"metadata\":{\"resourceVersion\":\"" + rv + "\"";
  if (!lr.last_key.empty()) {
    body += ",\"continue\":\"" + Base64Encode("devserver:" + lr.last_key) + "\"";
    if (selectors->labels.Empty() && selectors->fields.Empty()) {
      body += ",\"remainingItemCount\":" + std::to_string(lr.remaining);
    }
  }
  body += "},\"items\":[";
  bool first = true;
  for (const StoredObject& so : lr.items) {
    if (!first) body += ',';
    first = false;
    body += View(*t.r, so);
  }
  body += "]}";
  r.body = std::move(body);
  return r;
}

}  // namespace devserver
