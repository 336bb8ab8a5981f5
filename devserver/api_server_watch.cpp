// Watch serving: a watch request turned into a WatchSpec streamed from the store (selectors,
// resourceVersion, bookmarks, timeouts, Table and other-version rendering).
#include "api_server.h"
#include "api_server_internal.h"
#include "common/clock.h"
#include "schema/table.h"
#include "selectors.h"
#include "tables.h"

namespace devserver {

using nlohmann::json;

HttpResponse ApiServer::Watch(const HttpRequest& req, const Target& t) {
  auto selectors = ParseSelectors(req, t.r->resource);
  if (!selectors.ok()) return ErrorResponse(ApiError::BadRequest(selectors.status().message()));
  bool ok;
  uint64_t from = ParseRv(req.Query("resourceVersion"), &ok);
  if (!ok) {
    return ErrorResponse(ApiError::BadRequest("resourceVersion: Invalid value: \"" +
                                              req.Query("resourceVersion") +
                                              "\": must be a non-negative integer"));
  }
  std::string timeout = req.Query("timeoutSeconds");
  WatchSpec spec;
  spec.storage_key = t.r->StorageKey();
  spec.ns = t.ns;
  spec.labels = selectors->labels;
  spec.fields = selectors->fields;
  spec.kind = t.r->kind;
  spec.api_version = t.r->ApiVersion();
  spec.bookmarks =
      req.Query("allowWatchBookmarks") == "true" || req.Query("allowWatchBookmarks") == "1";
  if (!timeout.empty()) {
    uint64_t secs = ParseRv(timeout, &ok);
    if (!ok) return ErrorResponse(ApiError::BadRequest("timeoutSeconds: expected an integer"));
    spec.timeout = std::chrono::seconds(secs);
  }
  bool send_initial_param = req.Query("sendInitialEvents") == "true";
  bool send_initial = from == 0 || send_initial_param;
  bool table = WantsTable(req.Header("accept"));
  ResourcePtr r = t.r;
  if (table) {
    bool full = req.Query("includeObject") == "Object";
    spec.renderer = [r, full](const std::string& type, const json& obj) {
      std::string rv = MetaString(obj, "resourceVersion");
      std::vector<const json*> objs = {&obj};
      json tbl = r->custom
                     ? BuildTable(r->printer_columns, objs, rv, full)
                     : BuildBuiltinTable(r->resource, objs, rv, full, waop::RealClock::Get().Now());
      return WatchLine(type, tbl.dump());
    };
  } else if (r->version != r->storage_version) {
    // Objects are stored in the storage version; clients of another version see theirs.
    spec.renderer = [r](const std::string& type, const json& obj) {
      if (obj.value("apiVersion", "") == r->ApiVersion()) return WatchLine(type, obj.dump());
      json copy = obj;
      copy["apiVersion"] = r->ApiVersion();
      return WatchLine(type, copy.dump());
    };
  }
  HttpResponse resp;
  resp.status = 200;
  resp.content_type = table ? "application/json;as=Table;v=v1;g=meta.k8s.io" : "application/json";
  Store* store = &store_;
  resp.on_stream = [store, spec = std::move(spec), from, send_initial,
                    send_initial_param](std::shared_ptr<StreamSink> sink) mutable {
    uint64_t oldest = 0;
    if (!store->OpenWatch(std::move(spec), sink, from, send_initial, send_initial_param, &oldest)) {
      ApiError e = ApiError::Gone("too old resource version: " + std::to_string(from) + " (" +
                                  std::to_string(oldest) + ")");
      sink->Write(WatchLine("ERROR", e.Body()));
      sink->Close();
    }
  };
  return resp;
}

}  // namespace devserver
