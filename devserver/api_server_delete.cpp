// Deletion: delete options and preconditions, propagation policies (Background, Foreground,
// Orphan), finalizers and deletionTimestamp, garbage collection of dependents, namespace
// termination, and removal of a CRD's objects.
#include <algorithm>

#include "api_server.h"
#include "api_server_internal.h"

namespace devserver {

using nlohmann::json;

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

}  // namespace devserver
