#include "api_server.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <thread>

#include "base64.h"
#include "common/clock.h"
#include "openapi.h"
#include "patch.h"
#include "protobuf.h"
#include "schema/crd_schema.h"
#include "schema/table.h"
#include "selectors.h"
#include "tables.h"

namespace devserver {

using nlohmann::json;
using waop::Status;

namespace {

constexpr int kMaxRetries = 16;

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

HttpResponse JsonResponse(int code, const json& body) {
  HttpResponse r;
  r.status = code;
  r.body = body.dump();
  return r;
}

HttpResponse TextResponse(int code, const std::string& body) {
  HttpResponse r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = body;
  return r;
}

const json& Meta(const json& obj) {
  static const json kEmpty = json::object();
  auto it = obj.find("metadata");
  return it != obj.end() && it->is_object() ? *it : kEmpty;
}

std::string MetaString(const json& obj, const char* key) {
  const json& m = Meta(obj);
  auto it = m.find(key);
  return it != m.end() && it->is_string() ? it->get<std::string>() : "";
}

uint64_t ParseRv(const std::string& s, bool* ok) {
  *ok = true;
  if (s.empty()) return 0;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      *ok = false;
      return 0;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

bool HasFinalizers(const json& obj) {
  const json& m = Meta(obj);
  auto it = m.find("finalizers");
  return it != m.end() && it->is_array() && !it->empty();
}

bool BeingDeleted(const json& obj) {
  const json& m = Meta(obj);
  auto it = m.find("deletionTimestamp");
  return it != m.end() && !it->is_null();
}

// A Warning header value: 299 - "text".
std::string WarningValue(const std::vector<std::string>& warnings) {
  std::string out;
  for (const std::string& w : warnings) {
    if (!out.empty()) out += ", ";
    out += "299 - \"";
    for (char c : w) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += "\"";
  }
  return out;
}

// Hand-written matchers for the apiserver's name regexes (std::regex costs microseconds per
// call, which showed in the write benchmark).
bool IsAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return IsAlnumLower(c) || (c >= 'A' && c <= 'Z'); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool IsRfc1123Label(std::string_view s) {
  if (s.empty() || !IsAlnumLower(s.front()) || !IsAlnumLower(s.back())) return false;
  for (char c : s) {
    if (!IsAlnumLower(c) && c != '-') return false;
  }
  return true;
}

// Labels joined by dots.
bool IsRfc1123Subdomain(std::string_view s) {
  if (s.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!IsRfc1123Label(s.substr(start, dot == std::string_view::npos ? s.npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// (([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?
bool IsLabelValue(std::string_view s) {
  if (s.empty()) return true;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Optional DNS subdomain prefix and "/", then a label-value-like name.
bool IsQualifiedName(std::string_view s) {
  size_t slash = s.find('/');
  if (slash != std::string_view::npos) {
    if (!IsRfc1123Subdomain(s.substr(0, slash))) return false;
    s = s.substr(slash + 1);
  }
  return !s.empty() && IsLabelValue(s);
}

std::string ReasonForCode(int code) {
  switch (code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 409:
      return "Conflict";
    case 410:
      return "Expired";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return code >= 500 ? "InternalError" : "";
  }
}

// The parts of an object that, when changed, move metadata.generation.
json GenerationRelevant(const json& obj, bool has_status) {
  json o = obj;
  o.erase("metadata");
  if (has_status) o.erase("status");
  return o;
}

}  // namespace

HttpResponse ErrorResponse(const ApiError& e) { return JsonResponse(e.code, e.ToStatus()); }

ApiServer::ApiServer(ServerOptions options)
    : options_(std::move(options)),
      hub_(options_.watch_history, options_.bookmark_interval),
      store_(&hub_),
      rng_(std::random_device{}()) {
  for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
    Status s = Preload({{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
    (void)s;
  }
}

ApiServer::~ApiServer() { Shutdown(); }

void ApiServer::Shutdown() { hub_.Shutdown(); }

std::string ApiServer::NowRfc3339() const {
  return waop::FormatRfc3339(waop::RealClock::Get().Now());
}

std::string ApiServer::RandomSuffix() {
  static const char* kAlphabet = "bcdfghjklmnpqrstvwxz2456789";
  std::lock_guard lock(rng_mu_);
  std::string s;
  for (int i = 0; i < 5; ++i) s += kAlphabet[rng_() % 27];
  return s;
}

json ApiServer::NamespaceLabels(const std::string& ns) {
  auto so = store_.Get({"/namespaces", "", ns});
  if (!so) return json::object();
  const json& m = Meta(*so->obj);
  return m.contains("labels") ? m["labels"] : json::object();
}

std::string ApiServer::View(const ResourceInfo& r, const StoredObject& so) const {
  const json& obj = *so.obj;
  auto av = obj.find("apiVersion");
  if (av != obj.end() && av->is_string() && av->get_ref<const std::string&>() == r.ApiVersion()) {
    return *so.text;
  }
  json copy = obj;
  copy["apiVersion"] = r.ApiVersion();
  return copy.dump();
}

std::optional<ApiServer::Target> ApiServer::TargetFor(const ObjectRef& ref) {
  size_t slash = ref.storage_key.find('/');
  std::string group = ref.storage_key.substr(0, slash);
  std::string resource = ref.storage_key.substr(slash + 1);
  auto versions = registry_.Versions(group, resource);
  if (versions.empty()) return std::nullopt;
  return Target{versions.front(), ref.ns, ref.name, ""};
}

// ---------------------------------------------------------------------------------------------
// Routing

HttpResponse ApiServer::Handle(const HttpRequest& req) {
  try {
    const std::string& p = req.path;
    if (p == "/healthz" || p == "/readyz" || p == "/livez" || p.rfind("/healthz/", 0) == 0 ||
        p.rfind("/readyz/", 0) == 0 || p.rfind("/livez/", 0) == 0) {
      return TextResponse(200, "ok");
    }
    if (!options_.token.empty()) {
      std::string auth = req.Header("authorization");
      std::string want = "Bearer " + options_.token;
      if (auth.size() != want.size() || CRYPTO_memcmp(auth.data(), want.data(), want.size()) != 0) {
        return ErrorResponse(ApiError::Unauthorized());
      }
    }
    auto latency = faults_.Latency();
    if (latency.count() > 0 && p.rfind("/debug/", 0) != 0) std::this_thread::sleep_for(latency);
    if (req.body.size() > options_.max_body_bytes) {
      return ErrorResponse(ApiError::TooLarge("Request entity too large: limit is " +
                                              std::to_string(options_.max_body_bytes)));
    }
    if (p.rfind("/debug/", 0) == 0) return DebugEndpoint(req);
    if (p == "/version" || p == "/version/") {
      return JsonResponse(200, {{"major", "1"},
                                {"minor", "32"},
                                {"gitVersion", "v1.32.0"},
                                {"gitCommit", "kube-devserver"},
                                {"gitTreeState", "clean"},
                                {"buildDate", "2026-01-01T00:00:00Z"},
                                {"goVersion", "go1.23.4"},
                                {"compiler", "gc"},
                                {"platform", "linux/amd64"}});
    }
    std::vector<std::string> seg = Split(p);
    std::string accept = req.Header("accept");
    bool aggregated = accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
                      accept.find("v=v2;") != std::string::npos;
    if (seg.size() == 1 && (seg[0] == "api" || seg[0] == "apis") && req.method == "GET") {
      if (aggregated) {
        HttpResponse r = JsonResponse(200, registry_.AggregatedDiscovery(seg[0] == "api"));
        r.content_type = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
        return r;
      }
      return JsonResponse(200,
                          seg[0] == "api" ? registry_.ApiVersions() : registry_.ApiGroupList());
    }
    if (!seg.empty() && seg[0] == "openapi") {
      if (seg.size() == 2 && seg[1] == "v3") return JsonResponse(200, OpenApiIndex(registry_));
      if (seg.size() >= 3 && seg[1] == "v3") {
        std::string gv;
        for (size_t i = 2; i < seg.size(); ++i) gv += (i > 2 ? "/" : "") + seg[i];
        json doc = OpenApiDocument(registry_, gv);
        if (doc.is_null()) return ErrorResponse({404, "NotFound", "404 page not found", {}});
        return JsonResponse(200, doc);
      }
      return ErrorResponse(
          {404, "NotFound", "the server could not find the requested resource", {}});
    }
    // /api/v1/... or /apis/<group>/<version>/...
    std::string group, version;
    size_t i;
    if (seg.size() >= 2 && seg[0] == "api") {
      version = seg[1];
      i = 2;
    } else if (seg.size() >= 3 && seg[0] == "apis") {
      group = seg[1];
      version = seg[2];
      i = 3;
    } else if (seg.size() == 2 && seg[0] == "apis") {
      json groups = registry_.ApiGroupList();
      for (const json& g : groups["groups"]) {
        if (g["name"] == seg[1]) {
          json out = g;
          out["kind"] = "APIGroup";
          out["apiVersion"] = "v1";
          return JsonResponse(200, out);
        }
      }
      return ErrorResponse(
          {404, "NotFound", "the server could not find the requested resource", {}});
    } else {
      return ErrorResponse(
          {404, "NotFound", "the server could not find the requested resource", {}});
    }
    std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
    if (rest.empty()) {
      json list = registry_.ResourceList(group, version);
      if (list.is_null()) {
        return ErrorResponse(
            {404, "NotFound", "the server could not find the requested resource", {}});
      }
      return JsonResponse(200, list);
    }
    Target t;
    if (rest.size() >= 3 && rest[0] == "namespaces") {
      ResourcePtr r = registry_.Find(group, version, rest[2]);
      if (r && r->namespaced) {
        t.r = r;
        t.ns = rest[1];
        if (rest.size() >= 4) t.name = rest[3];
        if (rest.size() >= 5) t.subresource = rest[4];
        if (rest.size() > 5) {
          return ErrorResponse({404,
                                "NotFound",
                                "the server could not find the requested "
                                "resource",
                                {}});
        }
      }
    }
    if (!t.r) {
      t.r = registry_.Find(group, version, rest[0]);
      if (!t.r) {
        return ErrorResponse(
            {404, "NotFound", "the server could not find the requested resource", {}});
      }
      if (rest.size() >= 2) t.name = rest[1];
      if (rest.size() >= 3) t.subresource = rest[2];
      if (rest.size() > 3) {
        return ErrorResponse(
            {404, "NotFound", "the server could not find the requested resource", {}});
      }
    }
    if (!t.subresource.empty() && !(t.subresource == "status" && t.r->has_status) &&
        !(t.subresource == "finalize" && t.r->resource == "namespaces")) {
      return ErrorResponse(
          {404, "NotFound", "the server could not find the requested resource", {}});
    }
    std::string verb;
    const std::string& m = req.method;
    bool watch = req.Query("watch") == "1" || req.Query("watch") == "true";
    if (m == "GET") {
      verb = !t.name.empty() ? "get" : watch ? "watch" : "list";
    } else if (m == "POST") {
      verb = "create";
    } else if (m == "PUT") {
      verb = "update";
    } else if (m == "PATCH") {
      verb = "patch";
    } else if (m == "DELETE") {
      verb = t.name.empty() ? "deletecollection" : "delete";
    } else {
      return ErrorResponse(
          ApiError::MethodNotAllowed("the server does not allow this method on "
                                     "the requested resource"));
    }
    if ((verb == "update" || verb == "patch") && t.name.empty()) {
      return ErrorResponse(
          ApiError::MethodNotAllowed("the server does not allow this method on "
                                     "the requested resource"));
    }
    if (verb == "create" && !t.name.empty()) {
      return ErrorResponse(
          ApiError::MethodNotAllowed("the server does not allow this method on "
                                     "the requested resource"));
    }
    counter_.Count(verb, t.r->resource, t.subresource, req.Header("user-agent"));
    return HandleResource(req, t, verb);
  } catch (const std::exception& e) {
    // Only nlohmann type errors on hostile input can land here; never crash on them.
    return ErrorResponse(ApiError::BadRequest(std::string("malformed request: ") + e.what()));
  }
}

HttpResponse ApiServer::DebugEndpoint(const HttpRequest& req) {
  if (req.path == "/debug/requests" && req.method == "GET") {
    json j = counter_.ToJson(req.Query("client"));
    j["openWatches"] = hub_.OpenWatches();
    j["resourceVersion"] = std::to_string(store_.CurrentRv());
    return JsonResponse(200, j);
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

std::optional<ApiError> ApiServer::CheckWriteFault(const std::string& verb, const Target& t) {
  auto code = faults_.WriteFailure(verb, t.r->resource);
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

HttpResponse ApiServer::ObjectResponse(int code, const HttpRequest& req, const Target& t,
                                       const StoredObject& so,
                                       const std::vector<std::string>& warnings) {
  HttpResponse r;
  r.status = code;
  if (WantsTable(req.Header("accept"))) {
    std::vector<const json*> objs = {so.obj.get()};
    bool full = req.Query("includeObject") == "Object";
    json table = t.r->custom ? BuildTable(t.r->printer_columns, objs, std::to_string(so.rv), full)
                             : BuildBuiltinTable(t.r->resource, objs, std::to_string(so.rv), full,
                                                 waop::RealClock::Get().Now());
    r.body = table.dump();
  } else {
    r.body = View(*t.r, so);
  }
  if (!warnings.empty()) r.headers["Warning"] = WarningValue(warnings);
  return r;
}

HttpResponse ApiServer::HandleResource(const HttpRequest& req, const Target& t,
                                       const std::string& verb) {
  if (verb == "get") return Get(req, t);
  if (verb == "list") return List(req, t);
  if (verb == "watch") return Watch(req, t);
  if (auto fault = CheckWriteFault(verb, t)) return ErrorResponse(*fault);
  bool dry_run = req.Query("dryRun") == "All";
  if (verb == "create") {
    if (t.r->namespaced && t.ns.empty()) {
      return ErrorResponse(ApiError::NotFound("", "namespaces", ""));
    }
    std::string ct = req.Header("content-type");
    json body;
    if (ct.find("application/vnd.kubernetes.protobuf") == 0) {
      auto decoded = DecodeK8sProtobuf(req.body);
      if (!decoded.ok()) return ErrorResponse(ApiError::UnsupportedMediaType(ct));
      body = std::move(*decoded);
    } else if (!ct.empty() && ct.find("json") == std::string::npos) {
      return ErrorResponse(ApiError::UnsupportedMediaType(ct));
    } else {
      body = json::parse(req.body, nullptr, false);
    }
    if (body.is_discarded() || !body.is_object()) {
      return ErrorResponse(ApiError::BadRequest(
          "the object provided is unrecognized (must be of type " + t.r->kind +
          "): couldn't get version/kind; json parse error: " +
          (body.is_discarded() ? std::string("invalid JSON") : "expected a JSON object")));
    }
    Outcome o = Create(t, std::move(body), &req, true);
    if (o.error) return ErrorResponse(*o.error);
    return ObjectResponse(o.code, req, t, o.so, o.warnings);
  }
  if (verb == "update") {
    std::string ct = req.Header("content-type");
    if (!ct.empty() && ct.find("json") == std::string::npos) {
      return ErrorResponse(ApiError::UnsupportedMediaType(ct));
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
      return ErrorResponse(ApiError::BadRequest(
          "the object provided is unrecognized (must be of type " + t.r->kind +
          "): couldn't get version/kind; json parse error: " +
          (body.is_discarded() ? std::string("invalid JSON") : "expected a JSON object")));
    }
    Outcome o = Update(t, body, req);
    if (o.error) return ErrorResponse(*o.error);
    return ObjectResponse(o.code, req, t, o.so, o.warnings);
  }
  if (verb == "patch") {
    Outcome o = Patch(t, req);
    if (o.error) return ErrorResponse(*o.error);
    return ObjectResponse(o.code, req, t, o.so, o.warnings);
  }
  // delete / deletecollection
  json options = json::object();
  if (!req.body.empty()) {
    options = json::parse(req.body, nullptr, false);
    if (options.is_discarded() || !options.is_object()) {
      return ErrorResponse(ApiError::BadRequest("DeleteOptions: invalid JSON body"));
    }
  }
  if (req.HasQuery("propagationPolicy"))
    options["propagationPolicy"] = req.Query("propagationPolicy");
  if (options.contains("dryRun") && options["dryRun"].is_array()) {
    for (const json& d : options["dryRun"]) dry_run = dry_run || d == "All";
  }
  if (verb == "delete") {
    Outcome o = Delete(t, options, dry_run, true);
    if (o.error) return ErrorResponse(*o.error);
    return ObjectResponse(o.code, req, t, o.so, o.warnings);
  }
  // deletecollection: delete each listed object; answer with the list of what was deleted.
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) return ErrorResponse(ApiError::BadRequest(labels.status().message()));
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"), t.r->resource);
  if (!fields.ok()) return ErrorResponse(ApiError::BadRequest(fields.status().message()));
  ListOptions lo;
  lo.ns = t.ns;
  lo.labels = &*labels;
  lo.fields = &*fields;
  ListResult lr = store_.List(t.r->StorageKey(), lo);
  std::string items;
  for (const StoredObject& so : lr.items) {
    Target each = t;
    each.ns = MetaString(*so.obj, "namespace");
    each.name = MetaString(*so.obj, "name");
    Outcome o = Delete(each, options, dry_run, true);
    if (o.error) return ErrorResponse(*o.error);
    items += (items.empty() ? "" : ",") + View(*t.r, o.so);
  }
  HttpResponse r;
  r.body = "{\"kind\":\"" + t.r->kind + "List\",\"apiVersion\":\"" + t.r->ApiVersion() +
           "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(store_.CurrentRv()) +
           "\"},\"items\":[" + items + "]}";
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reads

HttpResponse ApiServer::Get(const HttpRequest& req, const Target& t) {
  auto so = store_.Get(Ref(t));
  if (!so) return ErrorResponse(ApiError::NotFound(t.r->group, t.r->resource, t.name));
  return ObjectResponse(200, req, t, *so, {});
}

HttpResponse ApiServer::List(const HttpRequest& req, const Target& t) {
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) return ErrorResponse(ApiError::BadRequest(labels.status().message()));
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"), t.r->resource);
  if (!fields.ok()) return ErrorResponse(ApiError::BadRequest(fields.status().message()));
  ListOptions lo;
  lo.ns = t.ns;
  lo.labels = &*labels;
  lo.fields = &*fields;
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
    if (labels->Empty() && fields->Empty()) {
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

HttpResponse ApiServer::Watch(const HttpRequest& req, const Target& t) {
  auto labels = LabelSelector::Parse(req.Query("labelSelector"));
  if (!labels.ok()) return ErrorResponse(ApiError::BadRequest(labels.status().message()));
  auto fields = FieldSelector::Parse(req.Query("fieldSelector"), t.r->resource);
  if (!fields.ok()) return ErrorResponse(ApiError::BadRequest(fields.status().message()));
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
  spec.labels = *labels;
  spec.fields = *fields;
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

// ---------------------------------------------------------------------------------------------
// Writes

std::optional<ApiError> ApiServer::ValidateMetadata(const ResourceInfo& r, const json& obj) {
  const json& md = obj["metadata"];
  std::string name = MetaString(obj, "name");
  std::vector<ApiCause> causes;
  if (r.resource == "namespaces") {
    if (name.size() > 63 || !IsRfc1123Label(name)) {
      causes.push_back({"FieldValueInvalid",
                        "metadata.name: Invalid value: \"" + name +
                            "\": a lowercase RFC 1123 label must consist of lower case "
                            "alphanumeric characters or '-', and must start and end with an "
                            "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used "
                            "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
                        "metadata.name"});
    }
  } else if (name.size() > 253 || !IsRfc1123Subdomain(name)) {
    causes.push_back({"FieldValueInvalid",
                      "metadata.name: Invalid value: \"" + name +
                          "\": a lowercase RFC 1123 subdomain must consist of lower case "
                          "alphanumeric characters, '-' or '.', and must start and end with an "
                          "alphanumeric character (e.g. 'example.com', regex used for validation "
                          "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                      "metadata.name"});
  }
  auto check_map = [&](const char* field, bool label_values) {
    auto it = md.find(field);
    if (it == md.end() || it->is_null()) return;
    if (!it->is_object()) {
      causes.push_back({"FieldValueTypeInvalid",
                        std::string("metadata.") + field + ": Invalid value: \"" + it->type_name() +
                            "\": must be an object",
                        std::string("metadata.") + field});
      return;
    }
    for (auto kv = it->begin(); kv != it->end(); ++kv) {
      std::string path = std::string("metadata.") + field;
      std::string key = kv.key();
      std::string key_name = key.substr(key.find('/') == std::string::npos ? 0 : key.find('/') + 1);
      if (!IsQualifiedName(key) || key_name.size() > 63) {
        causes.push_back({"FieldValueInvalid",
                          path + ": Invalid value: \"" + key +
                              "\": name part must consist of alphanumeric characters, '-', '_' or "
                              "'.', and must start and end with an alphanumeric character",
                          path});
      }
      if (!kv->is_string()) {
        causes.push_back({"FieldValueTypeInvalid",
                          path + "." + key + ": Invalid value: must be a string", path});
        continue;
      }
      const std::string& v = kv->get_ref<const std::string&>();
      if (label_values && (v.size() > 63 || !IsLabelValue(v))) {
        causes.push_back({"FieldValueInvalid",
                          path + ": Invalid value: \"" + v +
                              "\": a valid label must be an empty string or consist of "
                              "alphanumeric characters, '-', '_' or '.', and must start and end "
                              "with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  "
                              "or '12345', regex used for validation is "
                              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                          path});
      }
    }
  };
  check_map("labels", true);
  check_map("annotations", false);
  if (md.contains("finalizers") && !md["finalizers"].is_null()) {
    const json& f = md["finalizers"];
    bool ok = f.is_array();
    if (ok) {
      for (const json& e : f) ok = ok && e.is_string() && IsQualifiedName(e.get<std::string>());
    }
    if (!ok) {
      causes.push_back({"FieldValueInvalid",
                        "metadata.finalizers: Invalid value: " + f.dump() +
                            ": must be a list of qualified names",
                        "metadata.finalizers"});
    }
  }
  if (md.contains("ownerReferences") && !md["ownerReferences"].is_null()) {
    const json& o = md["ownerReferences"];
    if (!o.is_array()) {
      causes.push_back({"FieldValueTypeInvalid", "metadata.ownerReferences: must be a list",
                        "metadata.ownerReferences"});
    } else {
      int controllers = 0;
      for (size_t i = 0; i < o.size(); ++i) {
        std::string path = "metadata.ownerReferences[" + std::to_string(i) + "]";
        const json& e = o[i];
        if (!e.is_object()) {
          causes.push_back({"FieldValueTypeInvalid", path + ": must be an object", path});
          continue;
        }
        for (const char* k : {"apiVersion", "kind", "name", "uid"}) {
          if (!e.contains(k) || !e[k].is_string() || e[k].get<std::string>().empty()) {
            causes.push_back(
                {"FieldValueRequired", path + "." + k + ": Required value", path + "." + k});
          }
        }
        if (e.value("controller", false)) ++controllers;
      }
      if (controllers > 1) {
        causes.push_back({"FieldValueInvalid",
                          "metadata.ownerReferences: Invalid value: []v1.OwnerReference{...}: "
                          "Only one reference can have Controller set to true",
                          "metadata.ownerReferences"});
      }
    }
  }
  if (causes.empty()) return std::nullopt;
  return ApiError::Invalid(r.group, r.kind, name, causes);
}

std::optional<ApiError> ApiServer::ApplySchema(const ResourceInfo& r, json* obj, const json* old,
                                               const std::string& field_validation,
                                               std::vector<std::string>* warnings) {
  if (!r.custom || !r.schema) return std::nullopt;
  if (field_validation != "Ignore") {
    std::vector<std::string> unknown = r.schema->UnknownFields(*obj);
    if (!unknown.empty()) {
      std::string list;
      for (std::string f : unknown) {
        if (!f.empty() && f[0] == '.') f = f.substr(1);
        list += (list.empty() ? "" : ", ") + std::string("unknown field \"") + f + "\"";
        if (field_validation != "Strict") warnings->push_back("unknown field \"" + f + "\"");
      }
      if (field_validation == "Strict") {
        return ApiError::BadRequest(r.kind + " in version \"" + r.version +
                                    "\" cannot be handled as a " + r.kind +
                                    ": strict decoding error: " + list);
      }
    }
  }
  r.schema->Prune(*obj);
  r.schema->ApplyDefaults(*obj);
  std::vector<FieldCause> causes =
      old ? r.schema->ValidateUpdate(*obj, *old) : r.schema->Validate(*obj);
  if (causes.empty()) return std::nullopt;
  std::vector<ApiCause> api;
  for (const FieldCause& c : causes) {
    // kube-apiserver's aggregate message is "<field>: <detail>" per cause.
    api.push_back({c.reason, c.message, c.field});
  }
  return ApiError::Invalid(r.group, r.kind, MetaString(*obj, "name"), api);
}

std::optional<ApiError> ApiServer::PrepareKind(const Target& t, json* obj, const json* old) {
  const std::string& res = t.r->resource;
  json& o = *obj;
  if (res == "namespaces" && t.r->group.empty()) {
    if (!o.contains("spec") || !o["spec"].is_object()) o["spec"] = json::object();
    if (!o["spec"].contains("finalizers")) o["spec"]["finalizers"] = {"kubernetes"};
    if (!o["metadata"].contains("labels") || !o["metadata"]["labels"].is_object()) {
      o["metadata"]["labels"] = json::object();
    }
    o["metadata"]["labels"]["kubernetes.io/metadata.name"] = MetaString(o, "name");
    if (!old) o["status"] = {{"phase", "Active"}};
  } else if (res == "secrets" && t.r->group.empty()) {
    if (o.contains("stringData") && o["stringData"].is_object()) {
      if (!o.contains("data") || !o["data"].is_object()) o["data"] = json::object();
      for (auto it = o["stringData"].begin(); it != o["stringData"].end(); ++it) {
        if (!it->is_string()) {
          return ApiError::BadRequest("stringData." + it.key() + ": expected a string");
        }
        o["data"][it.key()] = Base64Encode(it->get<std::string>());
      }
      o.erase("stringData");
    }
    if (!o.contains("type")) o["type"] = "Opaque";
    if (o.contains("data") && o["data"].is_object()) {
      for (auto it = o["data"].begin(); it != o["data"].end(); ++it) {
        std::string decoded;
        const bool ok = it->is_string() && Base64Decode(it->get<std::string>(), &decoded);
        if (!ok) {
          return ApiError::BadRequest(
              "Secret in version \"v1\" cannot be handled as a Secret: "
              "illegal base64 data in data." +
              it.key());
        }
      }
    }
  } else if (res == "customresourcedefinitions") {
    std::vector<CrdProblem> problems = CheckCrd(o);
    std::vector<ApiCause> causes;
    for (const CrdProblem& p : problems) {
      causes.push_back({"FieldValueInvalid", p.field + ": " + p.message, p.field});
    }
    if (causes.empty()) {
      for (const json& v : o["spec"]["versions"]) {
        if (v.contains("schema") && v["schema"].is_object() &&
            v["schema"].contains("openAPIV3Schema")) {
          auto s = CrdSchema::FromJson(v["schema"]["openAPIV3Schema"]);
          if (!s.ok()) {
            std::string f = "spec.versions[" + v.value("name", "") + "].schema.openAPIV3Schema";
            causes.push_back({"FieldValueInvalid", f + ": " + s.status().message(), f});
          }
        }
      }
    }
    if (!causes.empty()) {
      return ApiError::Invalid(t.r->group, t.r->kind, MetaString(o, "name"), causes);
    }
    // The apiextensions controllers would set these a moment later; doing it in the same write
    // lets `kubectl wait --for condition=established` and clients see them at once.
    std::string now = NowRfc3339();
    json names = o["spec"]["names"];
    if (!names.contains("singular")) {
      std::string s = names.value("kind", "");
      std::transform(s.begin(), s.end(), s.begin(), ::tolower);
      names["singular"] = s;
    }
    if (!names.contains("listKind")) names["listKind"] = names.value("kind", "") + "List";
    json stored = json::array();
    if (old && old->contains("status") && (*old)["status"].contains("storedVersions")) {
      stored = (*old)["status"]["storedVersions"];
    }
    for (const json& v : o["spec"]["versions"]) {
      if (v.value("storage", false) &&
          std::find(stored.begin(), stored.end(), v["name"]) == stored.end()) {
        stored.push_back(v["name"]);
      }
    }
    o["status"] = {{"acceptedNames", names},
                   {"storedVersions", stored},
                   {"conditions",
                    {{{"type", "NamesAccepted"},
                      {"status", "True"},
                      {"reason", "NoConflicts"},
                      {"message", "no conflicts found"},
                      {"lastTransitionTime", now}},
                     {{"type", "Established"},
                      {"status", "True"},
                      {"reason", "InitialNamesAccepted"},
                      {"message", "the initial names have been accepted"},
                      {"lastTransitionTime", now}}}}};
    if (old && old->contains("status") && (*old)["status"].contains("conditions")) {
      // Keep transition times stable across updates.
      o["status"]["conditions"] = (*old)["status"]["conditions"];
    }
  }
  return std::nullopt;
}

bool ApiServer::NamespaceUsable(const std::string& ns, std::optional<ApiError>* err,
                                const Target& t) {
  auto so = store_.Get({"/namespaces", "", ns});
  if (!so) {
    *err = ApiError::NotFound("", "namespaces", ns);
    return false;
  }
  if (BeingDeleted(*so->obj)) {
    std::string msg =
        "unable to create new content in namespace " + ns + " because it is being terminated";
    *err = ApiError::Forbidden(
        QualifiedResource(t.r->group, t.r->resource) + " \"" + t.name + "\" is forbidden: " + msg,
        {{"name", t.name},
         {"kind", t.r->resource},
         {"causes",
          {{{"reason", "NamespaceTerminating"},
            {"message", msg},
            {"field", "metadata.namespace"}}}}});
    return false;
  }
  return true;
}

std::optional<ApiError> ApiServer::Admit(const Target& t, const std::string& operation,
                                         const json& obj, const json& old, bool dry_run,
                                         std::vector<std::string>* warnings) {
  if (t.r->resource == "validatingwebhookconfigurations") return std::nullopt;
  ListOptions lo;
  ListResult configs =
      store_.List("admissionregistration.k8s.io/validatingwebhookconfigurations", lo);
  if (configs.items.empty()) return std::nullopt;
  std::vector<json> cfgs;
  for (const StoredObject& so : configs.items) cfgs.push_back(*so.obj);
  AdmissionAttributes a;
  a.operation = operation;
  a.group = t.r->group;
  a.version = t.r->version;
  a.resource = t.r->resource;
  a.subresource = t.subresource;
  a.kind = t.r->kind;
  a.name = t.name;
  a.ns = t.ns;
  a.object = obj;
  a.old_object = old;
  if (a.object.is_object()) a.object["apiVersion"] = t.r->ApiVersion();
  if (a.old_object.is_object()) a.old_object["apiVersion"] = t.r->ApiVersion();
  a.user = "kubernetes-admin";
  a.dry_run = dry_run;
  AdmissionResult res =
      webhooks_.Validate(cfgs, a, [this](const std::string& ns) { return NamespaceLabels(ns); });
  for (const std::string& w : res.warnings) warnings->push_back(w);
  if (res.allowed) return std::nullopt;
  int code = res.code >= 400 ? res.code : 403;
  return ApiError{code, ReasonForCode(code), res.message, {}};
}

ApiServer::Outcome ApiServer::Create(const Target& target, json obj, const HttpRequest* req,
                                     bool admission) {
  Outcome o;
  Target t = target;
  const ResourceInfo& r = *t.r;
  std::string fv = req ? req->Query("fieldValidation") : "Ignore";
  bool dry = req && req->Query("dryRun") == "All";
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = json::object();
  if (!obj["metadata"].is_object()) {
    o.error =
        ApiError::BadRequest("the object provided is unrecognized (must be of type " + r.kind +
                             "): metadata: expected an object, got " + obj["metadata"].type_name());
    return o;
  }
  if (obj.contains("kind") && obj["kind"] != r.kind) {
    o.error = ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                   ") does not match the expected kind (" + r.kind + ")");
    return o;
  }
  if (obj.contains("apiVersion") && obj["apiVersion"] != r.ApiVersion()) {
    o.error =
        ApiError::BadRequest("the API version in the data (" + obj["apiVersion"].dump() +
                             ") does not match the expected API version (" + r.ApiVersion() + ")");
    return o;
  }
  json& md = obj["metadata"];
  if (r.namespaced) {
    std::string body_ns = md.contains("namespace") && md["namespace"].is_string()
                              ? md["namespace"].get<std::string>()
                              : "";
    if (!body_ns.empty() && body_ns != t.ns) {
      o.error = ApiError::BadRequest(
          "the namespace of the provided object does not match the namespace sent on the "
          "request");
      return o;
    }
    md["namespace"] = t.ns;
  } else {
    md.erase("namespace");
  }
  if (md.contains("name") && !md["name"].is_string()) {
    o.error = ApiError::BadRequest("metadata.name: expected a string");
    return o;
  }
  std::string name = md.value("name", "");
  std::string generate = md.contains("generateName") && md["generateName"].is_string()
                             ? md["generateName"].get<std::string>()
                             : "";
  if (name.empty() && generate.empty()) {
    o.error = ApiError::Invalid(r.group, r.kind, "",
                                {{"FieldValueRequired",
                                  "metadata.name: Required value: name or generateName is "
                                  "required",
                                  "metadata.name"}});
    return o;
  }
  if (name.empty()) name = generate + RandomSuffix();
  md["name"] = name;
  t.name = name;
  if (auto e = ValidateMetadata(r, obj)) {
    o.error = e;
    return o;
  }
  if (r.namespaced && !NamespaceUsable(t.ns, &o.error, t)) return o;
  md["uid"] = store_.NewUid();
  md["creationTimestamp"] = NowRfc3339();
  md.erase("resourceVersion");
  md.erase("deletionTimestamp");
  md.erase("deletionGracePeriodSeconds");
  md.erase("managedFields");
  if (r.has_generation) {
    md["generation"] = 1;
  } else {
    md.erase("generation");
  }
  if (r.has_status) obj.erase("status");  // status is written through /status only
  obj["apiVersion"] = r.group.empty() ? r.storage_version : r.group + "/" + r.storage_version;
  obj["kind"] = r.kind;
  if (auto e = PrepareKind(t, &obj, nullptr)) {
    o.error = e;
    return o;
  }
  if (auto e = ApplySchema(r, &obj, nullptr, fv, &o.warnings)) {
    o.error = e;
    return o;
  }
  if (admission) {
    if (auto e = Admit(t, "CREATE", obj, json(), dry, &o.warnings)) {
      o.error = e;
      return o;
    }
  }
  auto res = store_.Create(Ref(t), obj, dry);
  for (int i = 0; !res.ok() && !generate.empty() && i < 8; ++i) {
    // generateName collision: pick another suffix, as the real server's retry does.
    t.name = generate + RandomSuffix();
    obj["metadata"]["name"] = t.name;
    name = t.name;
    res = store_.Create(Ref(t), obj, dry);
  }
  if (!res.ok()) {
    o.error = ApiError::AlreadyExists(r.group, r.resource, name);
    return o;
  }
  o.so = *res;
  o.code = 201;
  if (!dry && r.resource == "customresourcedefinitions") {
    Status s = registry_.AddCrd(*o.so.obj);
    if (!s.ok()) o.warnings.push_back(s.message());
  }
  return o;
}

std::optional<ApiError> ApiServer::PrepareUpdate(const Target& t, const json& cur, json* objp,
                                                 const std::string& field_validation,
                                                 std::vector<std::string>* warnings,
                                                 bool internal) {
  const ResourceInfo& r = *t.r;
  json& obj = *objp;
  if (!obj.is_object()) return ApiError::BadRequest("the object provided must be a JSON object");
  if (!obj.contains("metadata") || obj["metadata"].is_null()) obj["metadata"] = json::object();
  if (!obj["metadata"].is_object()) {
    return ApiError::BadRequest("the object provided is unrecognized (must be of type " + r.kind +
                                "): metadata: expected an object, got " +
                                obj["metadata"].type_name());
  }
  if (obj.contains("kind") && obj["kind"] != r.kind) {
    return ApiError::BadRequest("the kind in the data (" + obj["kind"].dump() +
                                ") does not match the expected kind (" + r.kind + ")");
  }
  const json& cmd = cur["metadata"];
  json& md = obj["metadata"];
  for (const char* k : {"uid", "creationTimestamp", "generation", "name", "namespace"}) {
    if (cmd.contains(k)) {
      md[k] = cmd[k];
    } else {
      md.erase(k);
    }
  }
  if (!internal) {
    for (const char* k : {"deletionTimestamp", "deletionGracePeriodSeconds"}) {
      if (cmd.contains(k)) {
        md[k] = cmd[k];
      } else {
        md.erase(k);
      }
    }
  }
  md["resourceVersion"] = cmd["resourceVersion"];
  obj["apiVersion"] = cur["apiVersion"];
  obj["kind"] = r.kind;
  if (t.subresource == "status") {
    json next = cur;
    if (obj.contains("status")) {
      next["status"] = obj["status"];
    } else {
      next.erase("status");
    }
    obj = std::move(next);
  } else if (t.subresource == "finalize") {
    json next = cur;
    next["spec"]["finalizers"] = obj.contains("spec") && obj["spec"].contains("finalizers")
                                     ? obj["spec"]["finalizers"]
                                     : json::array();
    obj = std::move(next);
  } else if (r.has_status && !internal) {
    if (cur.contains("status")) {
      obj["status"] = cur["status"];
    } else {
      obj.erase("status");
    }
  }
  if (auto e = ValidateMetadata(r, obj)) return e;
  if (auto e = PrepareKind(t, &obj, &cur)) return e;
  if (auto e = ApplySchema(r, &obj, &cur, field_validation, warnings)) return e;
  if (!internal && BeingDeleted(cur) && md.contains("finalizers") && md["finalizers"].is_array()) {
    std::vector<std::string> added;
    const json empty = json::array();
    const json& old_f = cmd.contains("finalizers") ? cmd["finalizers"] : empty;
    for (const json& f : md["finalizers"]) {
      if (std::find(old_f.begin(), old_f.end(), f) == old_f.end()) added.push_back(f.dump());
    }
    if (!added.empty()) {
      std::string list;
      for (const auto& a : added) list += (list.empty() ? "" : ", ") + a;
      return ApiError::Invalid(r.group, r.kind, t.name,
                               {{"FieldValueForbidden",
                                 "metadata.finalizers: Forbidden: no new finalizers can be added "
                                 "if the object is being deleted, found new finalizers []string{" +
                                     list + "}",
                                 "metadata.finalizers"}});
    }
  }
  if (r.has_generation &&
      GenerationRelevant(obj, r.has_status) != GenerationRelevant(cur, r.has_status)) {
    md["generation"] = cmd.value("generation", 0) + 1;
  }
  return std::nullopt;
}

ApiServer::Outcome ApiServer::GuaranteedUpdate(
    const Target& t, bool dry_run, const std::string& field_validation, bool internal,
    const std::function<std::optional<ApiError>(const json& cur, json* desired)>& mutate) {
  Outcome o;
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    auto cur = store_.Get(Ref(t));
    if (!cur) {
      o.error = ApiError::NotFound(t.r->group, t.r->resource, t.name);
      return o;
    }
    json desired;
    if (auto e = mutate(*cur->obj, &desired)) {
      o.error = e;
      return o;
    }
    o.warnings.clear();
    if (auto e = PrepareUpdate(t, *cur->obj, &desired, field_validation, &o.warnings, internal)) {
      o.error = e;
      return o;
    }
    if (desired == *cur->obj) {
      // A no-op update writes nothing and keeps the resourceVersion, like etcd3's store.
      o.so = *cur;
      return o;
    }
    if (!internal) {
      if (auto e = Admit(t, "UPDATE", desired, *cur->obj, dry_run, &o.warnings)) {
        o.error = e;
        return o;
      }
    }
    auto res = store_.Update(Ref(t), cur->rv, std::move(desired), dry_run);
    if (!res.ok()) {
      if (res.status().code() == waop::StatusCode::kConflict) continue;
      o.error = ApiError::NotFound(t.r->group, t.r->resource, t.name);
      return o;
    }
    o.so = *res;
    if (!dry_run) {
      if (t.r->resource == "customresourcedefinitions") {
        Status s = registry_.AddCrd(*o.so.obj);
        if (!s.ok()) o.warnings.push_back(s.message());
      }
      FinishIfDone(t, o.so);
    }
    return o;
  }
  o.error = ApiError::Conflict(t.r->group, t.r->resource, t.name,
                               "the object has been modified; please apply your changes to the "
                               "latest version and try again");
  return o;
}

ApiServer::Outcome ApiServer::InternalUpdate(const Target& t,
                                             const std::function<void(json* obj)>& mutate) {
  return GuaranteedUpdate(t, false, "Ignore", true,
                          [&](const json& cur, json* desired) -> std::optional<ApiError> {
                            *desired = cur;
                            mutate(desired);
                            return std::nullopt;
                          });
}

ApiServer::Outcome ApiServer::Update(const Target& t, const json& body, const HttpRequest& req) {
  Outcome o;
  json b = body;
  if (!b.contains("metadata") || b["metadata"].is_null()) b["metadata"] = json::object();
  if (!b["metadata"].is_object()) {
    o.error = ApiError::BadRequest("the object provided is unrecognized (must be of type " +
                                   t.r->kind + "): metadata: expected an object");
    return o;
  }
  std::string body_name = MetaString(b, "name");
  if (!body_name.empty() && body_name != t.name) {
    o.error = ApiError::BadRequest("the name of the object (" + body_name +
                                   ") does not match the name on the URL (" + t.name + ")");
    return o;
  }
  std::string body_ns = MetaString(b, "namespace");
  if (t.r->namespaced && !body_ns.empty() && body_ns != t.ns) {
    o.error = ApiError::BadRequest(
        "the namespace of the provided object does not match the namespace sent on the request");
    return o;
  }
  bool ok;
  std::string rv_text = MetaString(b, "resourceVersion");
  uint64_t want_rv = ParseRv(rv_text, &ok);
  if (!ok) {
    o.error = ApiError::BadRequest("metadata.resourceVersion: Invalid value: \"" + rv_text +
                                   "\": must be an unsigned integer");
    return o;
  }
  if (want_rv == 0 && !t.r->allow_unconditional_update) {
    o.error = ApiError::Invalid(t.r->group, t.r->kind, t.name,
                                {{"FieldValueInvalid",
                                  "metadata.resourceVersion: Invalid value: 0x0: must be "
                                  "specified for an update",
                                  "metadata.resourceVersion"}});
    return o;
  }
  return GuaranteedUpdate(
      t, req.Query("dryRun") == "All", req.Query("fieldValidation"), false,
      [&](const json& cur, json* desired) -> std::optional<ApiError> {
        if (want_rv != 0 && MetaString(cur, "resourceVersion") != std::to_string(want_rv)) {
          return ApiError::Conflict(t.r->group, t.r->resource, t.name,
                                    "the object has been modified; please apply your changes to "
                                    "the latest version and try again");
        }
        *desired = b;
        return std::nullopt;
      });
}

ApiServer::Outcome ApiServer::Patch(const Target& t, const HttpRequest& req) {
  Outcome o;
  std::string ct = req.Header("content-type");
  std::string type = ct.substr(0, ct.find(';'));
  if (type == "application/apply-patch+yaml" || type == "application/apply-patch+cbor") {
    o.error = ApiError{415,
                       "UnsupportedMediaType",
                       "server-side apply is not supported by kube-devserver; use "
                       "client-side apply or a merge patch",
                       {}};
    return o;
  }
  bool strategic = type == "application/strategic-merge-patch+json";
  bool merge = type == "application/merge-patch+json";
  bool jsonpatch = type == "application/json-patch+json";
  if ((!strategic && !merge && !jsonpatch) || (strategic && t.r->custom)) {
    o.error = ApiError{415,
                       "UnsupportedMediaType",
                       "the body of the request was in an unknown format - accepted media types "
                       "include: application/json-patch+json, application/merge-patch+json, " +
                           std::string(t.r->custom ? "application/apply-patch+yaml"
                                                   : "application/strategic-merge-patch+json, "
                                                     "application/apply-patch+yaml"),
                       {}};
    return o;
  }
  json patch = json::parse(req.body, nullptr, false);
  if (patch.is_discarded()) {
    o.error = ApiError::BadRequest("error decoding patch: invalid JSON");
    return o;
  }
  if ((merge || strategic) && !patch.is_object()) {
    o.error = ApiError::BadRequest("error decoding patch: the patch must be a JSON object");
    return o;
  }
  return GuaranteedUpdate(
      t, req.Query("dryRun") == "All", req.Query("fieldValidation"), false,
      [&](const json& cur, json* desired) -> std::optional<ApiError> {
        if (merge) {
          *desired = ApplyMergePatch(cur, patch);
        } else if (strategic) {
          auto r = ApplyStrategicMergePatch(cur, patch);
          if (!r.ok()) return ApiError{422, "Invalid", r.status().message(), {}};
          *desired = std::move(*r);
        } else {
          auto r = ApplyJsonPatch(cur, patch);
          if (!r.ok()) return ApiError{422, "Invalid", r.status().message(), {}};
          *desired = std::move(*r);
        }
        if (!desired->is_object()) {
          return ApiError::BadRequest("the patch made the object something other than an object");
        }
        std::string want =
            (*desired)["metadata"].is_object() ? MetaString(*desired, "resourceVersion") : "";
        if (!want.empty() && want != MetaString(cur, "resourceVersion")) {
          return ApiError::Conflict(t.r->group, t.r->resource, t.name,
                                    "the object has been modified; please apply your changes to "
                                    "the latest version and try again");
        }
        return std::nullopt;
      });
}

// ---------------------------------------------------------------------------------------------
// Deletion and garbage collection

ApiServer::Outcome ApiServer::Delete(const Target& t, const json& options, bool dry_run,
                                     bool admission) {
  Outcome o;
  std::string policy = "Background";
  if (options.contains("propagationPolicy") && options["propagationPolicy"].is_string()) {
    policy = options["propagationPolicy"].get<std::string>();
    if (policy != "Background" && policy != "Foreground" && policy != "Orphan") {
      o.error = ApiError::Invalid(
          "", "DeleteOptions", "",
          {{"FieldValueNotSupported",
            "propagationPolicy: Unsupported value: \"" + policy +
                "\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\"",
            "propagationPolicy"}});
      o.error->message = "DeleteOptions.meta.k8s.io \"\" is invalid: " +
                         o.error->details["causes"][0]["message"].get<std::string>();
      return o;
    }
  } else if (options.contains("orphanDependents") && options["orphanDependents"] == true) {
    policy = "Orphan";
  }
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    auto cur = store_.Get(Ref(t));
    if (!cur) {
      o.error = ApiError::NotFound(t.r->group, t.r->resource, t.name);
      return o;
    }
    const json& obj = *cur->obj;
    if (options.contains("preconditions") && options["preconditions"].is_object()) {
      const json& pc = options["preconditions"];
      if (pc.contains("uid") && pc["uid"].is_string() &&
          pc["uid"].get<std::string>() != MetaString(obj, "uid")) {
        o.error = ApiError::Conflict(
            t.r->group, t.r->resource, t.name,
            "Precondition failed: UID in precondition: " + pc["uid"].get<std::string>() +
                ", UID in object meta: " + MetaString(obj, "uid"));
        return o;
      }
      if (pc.contains("resourceVersion") && pc["resourceVersion"].is_string() &&
          pc["resourceVersion"].get<std::string>() != MetaString(obj, "resourceVersion")) {
        o.error = ApiError::Conflict(
            t.r->group, t.r->resource, t.name,
            "Precondition failed: ResourceVersion in precondition: " +
                pc["resourceVersion"].get<std::string>() +
                ", ResourceVersion in object meta: " + MetaString(obj, "resourceVersion"));
        return o;
      }
    }
    if (admission) {
      if (auto e = Admit(t, "DELETE", json(), obj, dry_run, &o.warnings)) {
        o.error = e;
        return o;
      }
    }
    if (dry_run) {
      o.so = *cur;
      return o;
    }
    std::string uid = MetaString(obj, "uid");
    if (policy == "Orphan") {
      for (const ObjectRef& dep : store_.DependentsOf(uid)) {
        auto dt = TargetFor(dep);
        if (!dt) continue;
        InternalUpdate(*dt, [&](json* d) {
          json& refs = (*d)["metadata"]["ownerReferences"];
          json kept = json::array();
          for (const json& r : refs) {
            if (r.value("uid", "") != uid) kept.push_back(r);
          }
          if (kept.empty()) {
            (*d)["metadata"].erase("ownerReferences");
          } else {
            refs = kept;
          }
        });
      }
    }
    bool is_namespace = t.r->resource == "namespaces" && t.r->group.empty();
    bool foreground = policy == "Foreground" && !store_.DependentsOf(uid).empty();
    bool graceful = HasFinalizers(obj) || foreground || is_namespace || BeingDeleted(obj);
    if (!graceful) {
      auto res = store_.Remove(Ref(t), cur->rv, false);
      if (!res.ok()) {
        if (res.status().code() == waop::StatusCode::kConflict) continue;
        o.error = ApiError::NotFound(t.r->group, t.r->resource, t.name);
        return o;
      }
      o.so = *res;
      o.code = 200;
      AfterRemoval(t, *res->obj);
      return o;
    }
    // Graceful: mark for deletion; finalizers (or the namespace lifecycle) finish it.
    std::string now = NowRfc3339();
    Outcome u = InternalUpdate(t, [&](json* d) {
      json& md = (*d)["metadata"];
      if (!md.contains("deletionTimestamp") || md["deletionTimestamp"].is_null()) {
        md["deletionTimestamp"] = now;
        md["deletionGracePeriodSeconds"] = 0;
        if (foreground) {
          if (!md.contains("finalizers") || !md["finalizers"].is_array()) {
            md["finalizers"] = json::array();
          }
          md["finalizers"].push_back("foregroundDeletion");
        }
      }
      if (is_namespace) (*d)["status"]["phase"] = "Terminating";
    });
    if (u.error) {
      // Gone in between (finalizers removed concurrently): that is a completed delete.
      if (u.error->code == 404) {
        o.so = *cur;
        return o;
      }
      o.error = u.error;
      return o;
    }
    o.so = u.so;
    o.code = 202;
    if (foreground) {
      for (const ObjectRef& dep : store_.DependentsOf(uid)) {
        auto dt = TargetFor(dep);
        if (dt) Delete(*dt, {{"propagationPolicy", "Foreground"}}, false, false);
      }
      // Dependents may all be gone already.
      auto again = store_.Get(Ref(t));
      if (again && store_.DependentsOf(uid).empty()) {
        InternalUpdate(t, [](json* d) {
          json& f = (*d)["metadata"]["finalizers"];
          json kept = json::array();
          for (const json& e : f) {
            if (e != "foregroundDeletion") kept.push_back(e);
          }
          f = kept;
        });
      }
    }
    if (is_namespace) {
      for (const ObjectRef& ref : store_.ObjectsInNamespace(t.name)) {
        auto dt = TargetFor(ref);
        if (dt) Delete(*dt, json::object(), false, false);
      }
      MaybeFinalizeNamespace(t.name);
    }
    auto latest = store_.Get(Ref(t));
    if (latest) {
      o.so = *latest;
    } else {
      o.code = 200;
    }
    return o;
  }
  o.error = ApiError::Conflict(t.r->group, t.r->resource, t.name,
                               "the object has been modified; please apply your changes to the "
                               "latest version and try again");
  return o;
}

void ApiServer::FinishIfDone(const Target& t, const StoredObject& so) {
  if (!BeingDeleted(*so.obj) || HasFinalizers(*so.obj)) return;
  if (t.r->resource == "namespaces" && t.r->group.empty()) {
    MaybeFinalizeNamespace(t.name);
    return;
  }
  auto res = store_.Remove(Ref(t), so.rv, false);
  if (res.ok()) AfterRemoval(t, *res->obj);
}

void ApiServer::MaybeFinalizeNamespace(const std::string& ns) {
  auto so = store_.Get({"/namespaces", "", ns});
  if (!so || !BeingDeleted(*so->obj) || HasFinalizers(*so->obj)) return;
  if (!store_.ObjectsInNamespace(ns).empty()) return;
  auto res = store_.Remove({"/namespaces", "", ns}, so->rv, false);
  (void)res;
}

void ApiServer::AfterRemoval(const Target& t, const json& removed) {
  std::string uid = MetaString(removed, "uid");
  // Background garbage collection: dependents whose owners are all gone go too.
  for (const ObjectRef& dep : store_.DependentsOf(uid)) {
    auto d = store_.Get(dep);
    if (!d) continue;
    bool orphaned = true;
    for (const json& r : Meta(*d->obj)["ownerReferences"]) {
      if (store_.UidExists(r.value("uid", ""))) orphaned = false;
    }
    if (!orphaned) continue;
    auto dt = TargetFor(dep);
    if (dt) Delete(*dt, json::object(), false, false);
  }
  // Owners waiting in foreground deletion for their last dependent.
  const json& md = Meta(removed);
  if (md.contains("ownerReferences") && md["ownerReferences"].is_array()) {
    for (const json& r : md["ownerReferences"]) {
      auto owner = store_.RefOf(r.value("uid", ""));
      if (!owner) continue;
      auto os = store_.Get(*owner);
      if (!os || !BeingDeleted(*os->obj)) continue;
      const json& f = Meta(*os->obj)["finalizers"];
      if (!f.is_array() || std::find(f.begin(), f.end(), "foregroundDeletion") == f.end()) {
        continue;
      }
      if (!store_.DependentsOf(r.value("uid", "")).empty()) continue;
      auto ot = TargetFor(*owner);
      if (!ot) continue;
      InternalUpdate(*ot, [](json* d) {
        json& fin = (*d)["metadata"]["finalizers"];
        json kept = json::array();
        for (const json& e : fin) {
          if (e != "foregroundDeletion") kept.push_back(e);
        }
        fin = kept;
      });
    }
  }
  if (t.r->namespaced && !t.ns.empty()) MaybeFinalizeNamespace(t.ns);
  if (t.r->resource == "customresourcedefinitions") {
    const json& spec = removed["spec"];
    std::string key = spec.value("group", "") + "/" + spec["names"].value("plural", "");
    for (const ObjectRef& ref : store_.ObjectsOf(key)) {
      auto ct = TargetFor(ref);
      auto res = store_.Remove(ref, 0, false);
      if (res.ok() && ct) AfterRemoval(*ct, *res->obj);
    }
    registry_.RemoveCrd(MetaString(removed, "name"));
  }
}

Status ApiServer::Preload(const json& obj) {
  if (!obj.is_object()) return Status::InvalidArgument("object: expected a mapping");
  std::string api_version = obj.value("apiVersion", "");
  std::string kind = obj.value("kind", "");
  ResourcePtr r = registry_.FindKind(api_version, kind);
  if (!r) {
    return Status::InvalidArgument("no resource for apiVersion \"" + api_version + "\" kind \"" +
                                   kind + "\" (install its CRD first)");
  }
  Target t{r, "", "", ""};
  if (r->namespaced) {
    t.ns = obj.contains("metadata") && obj["metadata"].is_object()
               ? obj["metadata"].value("namespace", "default")
               : "default";
    if (!store_.Get({"/namespaces", "", t.ns})) {
      ResourcePtr nsr = registry_.Find("", "v1", "namespaces");
      Outcome n =
          Create({nsr, "", t.ns, ""},
                 {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", t.ns}}}},
                 nullptr, false);
      if (n.error) return Status::InvalidArgument(n.error->message);
    }
  }
  Outcome o = Create(t, obj, nullptr, false);
  if (o.error) return Status::InvalidArgument(o.error->message);
  return Status::Ok();
}

}  // namespace devserver
