// The API semantics of kube-devserver: routing of Kubernetes REST paths, object lifecycle
// (uid, creationTimestamp, resourceVersion, generation, status subresource, finalizers,
// deletionTimestamp, garbage collection, namespaces), CRD registration and schema
// enforcement, patches, lists, watches, Tables, discovery, OpenAPI, admission webhooks, fault
// injection and the /debug endpoints. Transport-neutral: http_adapter.cpp feeds it.
// One file per concern: api_server.cpp (request path, routing, dispatch), api_server_discovery
// (version, discovery, OpenAPI), _read (get, list), _watch, _write (create, update, patch,
// admission), _rules (what a new state of an object must satisfy), _delete (deletion,
// finalizers, garbage collection), _debug (/debug endpoints, injected write faults).
//
// /debug endpoints: GET /debug/requests (API request counts by verb, resource, subresource and
// client; `?client=kubectl` keeps one User-Agent's product token), POST /debug/requests/reset,
// GET and POST /debug/faults (see Faults::Parse), GET /debug/writes (every committed write in
// resourceVersion order with its time and User-Agent, and a Lease's holder; `?after=RV`).
//
// Thread-safety: Handle may be called concurrently from many threads. Writes go through the
// Store's optimistic concurrency (read, compute, commit-if-unchanged, retry), so no lock is
// held while webhooks are called.
// Ownership: owns the store, registry, watch hub, faults and webhook dispatcher.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "admission/webhook_dispatcher.h"
#include "api_error.h"
#include "common/status.h"
#include "faults.h"
#include "http_types.h"
#include "resources.h"
#include "store.h"
#include "watch_hub.h"

namespace devserver {

struct ServerOptions {
  std::string token;  // bearer token demanded on every request but health checks; "" = none
  size_t watch_history = 10000;
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(5)};
  size_t max_body_bytes = 3 * 1024 * 1024;
};

class ApiServer {
 public:
  explicit ApiServer(ServerOptions options);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Answers one request; never throws. Streamed responses (watch) set on_stream.
  HttpResponse Handle(const HttpRequest& request);

  // Creates one object as if POSTed (CRDs included), creating its namespace if missing, with
  // no admission. For --crd and --load. Returns the API error's message on failure.
  waop::Status Preload(const nlohmann::json& obj);

  // --data-file: keeps the store in `path` (see Store::UsePersistence), loading it first when
  // it exists (`loaded`), and serves the CRDs it holds. Before serving; InvalidArgument naming
  // the file and the problem when it cannot be read.
  waop::Status UseDataFile(const std::string& path, bool* loaded);

  Faults& faults() { return faults_; }
  WatchHub& hub() { return hub_; }
  // Closes every watch; later requests still work (used on shutdown).
  void Shutdown();

 private:
  struct Target {
    ResourcePtr r;
    std::string ns;
    std::string name;
    std::string subresource;
  };
  struct Outcome {
    int code = 200;
    StoredObject so;
    std::optional<ApiError> error;
    std::vector<std::string> warnings;
  };

  // Discovery and OpenAPI (api_server_discovery.cpp). `core`: /api rather than /apis;
  // `seg`: the path's segments, "openapi" first.
  HttpResponse Version() const;
  HttpResponse Discovery(const HttpRequest& req, bool core);
  HttpResponse ApiGroup(const std::string& group);
  HttpResponse ResourceList(const std::string& group, const std::string& version);
  HttpResponse OpenApi(const std::vector<std::string>& seg);

  HttpResponse HandleResource(const HttpRequest& req, const Target& t, const std::string& verb);
  HttpResponse Get(const HttpRequest& req, const Target& t);
  HttpResponse List(const HttpRequest& req, const Target& t);
  HttpResponse Watch(const HttpRequest& req, const Target& t);
  HttpResponse DebugEndpoint(const HttpRequest& req);

  Outcome Create(const Target& t, nlohmann::json obj, const HttpRequest* req, bool admission);
  Outcome Update(const Target& t, const nlohmann::json& body, const HttpRequest& req);
  Outcome Patch(const Target& t, const HttpRequest& req);
  // `mutate` turns the current object into the desired one (or an error); retried on
  // conflicts unless `precondition_rv` pins the version.
  Outcome GuaranteedUpdate(const Target& t, bool dry_run, const std::string& field_validation,
                           bool internal,
                           const std::function<std::optional<ApiError>(
                               const nlohmann::json& cur, nlohmann::json* desired)>& mutate);
  Outcome Delete(const Target& t, const nlohmann::json& options, bool dry_run, bool admission);

  // Server-side rules for a new state of an object: keeps immutable metadata, status
  // subresource split, generation, finalizer rules, schema (prune/default/validate).
  // `internal` lets the server itself set deletion fields (delete, garbage collector).
  std::optional<ApiError> PrepareUpdate(const Target& t, const nlohmann::json& cur,
                                        nlohmann::json* obj, const std::string& field_validation,
                                        std::vector<std::string>* warnings, bool internal);
  // Kind-specific rules on create and update (namespaces, secrets, CRDs).
  std::optional<ApiError> PrepareKind(const Target& t, nlohmann::json* obj,
                                      const nlohmann::json* old);
  // Removes a terminating namespace once nothing is left in it.
  void MaybeFinalizeNamespace(const std::string& ns);
  // Internal read-modify-write without admission (garbage collector, delete bookkeeping).
  Outcome InternalUpdate(const Target& t, const std::function<void(nlohmann::json* obj)>& mutate);
  std::optional<ApiError> ApplySchema(const ResourceInfo& r, nlohmann::json* obj,
                                      const nlohmann::json* old,
                                      const std::string& field_validation,
                                      std::vector<std::string>* warnings);
  std::optional<ApiError> ValidateMetadata(const ResourceInfo& r, const nlohmann::json& obj);
  std::optional<ApiError> Admit(const Target& t, const std::string& operation,
                                const nlohmann::json& obj, const nlohmann::json& old, bool dry_run,
                                std::vector<std::string>* warnings);
  std::optional<ApiError> CheckWriteFault(const std::string& verb, const Target& t,
                                          const std::string& user_agent);

  // After an object is removed: garbage-collect dependents, finish foreground deletions and
  // terminating namespaces, unregister CRDs.
  void AfterRemoval(const Target& t, const nlohmann::json& removed);
  // Removes the object now if it is being deleted and has no finalizers left.
  void FinishIfDone(const Target& t, const StoredObject& so);

  // The target for an object of storage ref (any served version).
  std::optional<Target> TargetFor(const ObjectRef& ref);
  ObjectRef Ref(const Target& t) const { return {t.r->StorageKey(), t.ns, t.name}; }
  std::string NowRfc3339() const;
  std::string RandomSuffix();
  nlohmann::json NamespaceLabels(const std::string& ns);
  bool NamespaceUsable(const std::string& ns, std::optional<ApiError>* err, const Target& t);
  // The object as a client of `r` sees it (apiVersion of the requested version).
  std::string View(const ResourceInfo& r, const StoredObject& so) const;
  HttpResponse ObjectResponse(int code, const HttpRequest& req, const Target& t,
                              const StoredObject& so, const std::vector<std::string>& warnings);

  ServerOptions options_;
  Registry registry_;
  WatchHub hub_;
  Store store_;
  Faults faults_;
  RequestCounter counter_;
  WebhookDispatcher webhooks_;
  std::mutex rng_mu_;
  std::mt19937_64 rng_;
};

// ApiError as an HTTP response.
HttpResponse ErrorResponse(const ApiError& e);

}  // namespace devserver
