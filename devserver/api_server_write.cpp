// Writes: create, update and patch with optimistic concurrency (GuaranteedUpdate), the
// server's own internal updates, and validating admission webhooks.
#include "api_server.h"
#include "api_server_internal.h"
#include "patch.h"

namespace devserver {

using nlohmann::json;
using waop::Status;

namespace {

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

}  // namespace

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

}  // namespace devserver
