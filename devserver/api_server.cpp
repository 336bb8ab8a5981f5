// ApiServer's front door: construction, the request path (health checks, bearer token, latency
// fault, body limit, routing of a Kubernetes REST path to a resource target and a verb), the
// dispatch of a verb to its handler, object responses, and Preload. The handlers live in the
// other api_server_*.cpp files.
#include "api_server.h"

#include <openssl/crypto.h>

#include <thread>

#include "api_server_internal.h"
#include "common/clock.h"
#include "protobuf.h"
#include "schema/table.h"
#include "selectors.h"
#include "tables.h"

namespace devserver {

using nlohmann::json;
using waop::Status;

namespace {

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

HttpResponse TextResponse(int code, const std::string& body) {
  HttpResponse r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = body;
  return r;
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
    if (p == "/version" || p == "/version/") return Version();
    std::vector<std::string> seg = Split(p);
    if (seg.size() == 1 && (seg[0] == "api" || seg[0] == "apis") && req.method == "GET") {
      return Discovery(req, seg[0] == "api");
    }
    if (!seg.empty() && seg[0] == "openapi") return OpenApi(seg);
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
      return ApiGroup(seg[1]);
    } else {
      return ErrorResponse(
          {404, "NotFound", "the server could not find the requested resource", {}});
    }
    std::vector<std::string> rest(seg.begin() + static_cast<long>(i), seg.end());
    if (rest.empty()) return ResourceList(group, version);
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
    // The store's write log names this request's client for whatever it commits.
    Store::WriterScope writer(req.Header("user-agent"));
    return HandleResource(req, t, verb);
  } catch (const std::exception& e) {
    // Only nlohmann type errors on hostile input can land here; never crash on them.
    return ErrorResponse(ApiError::BadRequest(std::string("malformed request: ") + e.what()));
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
  if (auto fault = CheckWriteFault(verb, t, req.Header("user-agent"))) {
    return ErrorResponse(*fault);
  }
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
  auto selectors = ParseSelectors(req, t.r->resource);
  if (!selectors.ok()) return ErrorResponse(ApiError::BadRequest(selectors.status().message()));
  ListOptions lo = selectors->ListIn(t.ns);
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

Status ApiServer::UseDataFile(const std::string& path, bool* loaded) {
  WAOP_RETURN_IF_ERROR(store_.UsePersistence(path, loaded));
  if (!*loaded) return Status::Ok();
  // The custom resources the loaded CRDs define are served again.
  for (const StoredObject& crd : store_.AllOf("apiextensions.k8s.io/customresourcedefinitions")) {
    if (Status s = registry_.AddCrd(*crd.obj); !s.ok()) {
      return s.WithPrefix("--data-file " + path + ": CustomResourceDefinition " +
                          MetaString(*crd.obj, "name"));
    }
  }
  return Status::Ok();
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
  if (o.error && o.error->reason == "AlreadyExists") return Status::AlreadyExists(o.error->message);
  if (o.error) return Status::InvalidArgument(o.error->message);
  return Status::Ok();
}

}  // namespace devserver
