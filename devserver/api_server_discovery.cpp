// What kubectl reads before it touches a resource: /version, discovery (/api, /apis, an API
// group, a group version's resource list, aggregated discovery v2) and OpenAPI v3.
#include "api_server.h"
#include "api_server_internal.h"
#include "openapi.h"

namespace devserver {

using nlohmann::json;

HttpResponse ApiServer::Version() const {
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

HttpResponse ApiServer::Discovery(const HttpRequest& req, bool core) {
  std::string accept = req.Header("accept");
  bool aggregated = accept.find("as=APIGroupDiscoveryList") != std::string::npos &&
                    accept.find("v=v2;") != std::string::npos;
  if (aggregated) {
    HttpResponse r = JsonResponse(200, registry_.AggregatedDiscovery(core));
    r.content_type = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
    return r;
  }
  return JsonResponse(200, core ? registry_.ApiVersions() : registry_.ApiGroupList());
}

HttpResponse ApiServer::ApiGroup(const std::string& group) {
  json groups = registry_.ApiGroupList();
  for (const json& g : groups["groups"]) {
    if (g["name"] == group) {
      json out = g;
      out["kind"] = "APIGroup";
      out["apiVersion"] = "v1";
      return JsonResponse(200, out);
    }
  }
  return ErrorResponse({404, "NotFound", "the server could not find the requested resource", {}});
}

HttpResponse ApiServer::ResourceList(const std::string& group, const std::string& version) {
  json list = registry_.ResourceList(group, version);
  if (list.is_null()) {
    return ErrorResponse({404, "NotFound", "the server could not find the requested resource", {}});
  }
  return JsonResponse(200, list);
}

HttpResponse ApiServer::OpenApi(const std::vector<std::string>& seg) {
  if (seg.size() == 2 && seg[1] == "v3") return JsonResponse(200, OpenApiIndex(registry_));
  if (seg.size() >= 3 && seg[1] == "v3") {
    std::string gv;
    for (size_t i = 2; i < seg.size(); ++i) gv += (i > 2 ? "/" : "") + seg[i];
    json doc = OpenApiDocument(registry_, gv);
    if (doc.is_null()) return ErrorResponse({404, "NotFound", "404 page not found", {}});
    return JsonResponse(200, doc);
  }
  return ErrorResponse({404, "NotFound", "the server could not find the requested resource", {}});
}

}  // namespace devserver
