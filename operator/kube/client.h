// The Kubernetes REST client the operator uses: a small interface over JSON objects (like
// controller-runtime's client.Client over unstructured objects), a REST implementation over
// an HttpTransport, and the watch-stream decoder. The fake in tests/support/fake_client.h
// implements the same interface for other components' tests.
//
// Thread-safety: Client implementations are thread-safe. A WatchStream is read by one thread;
// Cancel() may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "kube/http.h"

namespace waop::kube {

// A kind of resource as the API serves it.
struct ResourceType {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lower case: "configmaps"
  std::string kind;      // "ConfigMap"
  bool namespaced = true;

  // "v1" or "group/version", as in an object's apiVersion.
  std::string ApiVersion() const;
  // "/api/v1/namespaces/<ns>/configmaps[/<name>[/<subresource>]]"; `ns` empty means all
  // namespaces (collections) and is ignored for cluster-scoped types.
  std::string Path(std::string_view ns, std::string_view name = "",
                   std::string_view subresource = "") const;
  // "configmaps" or "leases.coordination.k8s.io", for messages and counters.
  std::string QualifiedName() const;
};

namespace resources {
inline const ResourceType kConfigMaps{"", "v1", "configmaps", "ConfigMap", true};
inline const ResourceType kSecrets{"", "v1", "secrets", "Secret", true};
inline const ResourceType kEvents{"", "v1", "events", "Event", true};
inline const ResourceType kNamespaces{"", "v1", "namespaces", "Namespace", false};
inline const ResourceType kLeases{"coordination.k8s.io", "v1", "leases", "Lease", true};
inline const ResourceType kWhatsAppAssignments{"whatsapp.bakery-ia.io", "v1alpha1",
                                               "whatsappassignments", "WhatsAppAssignment", true};
inline const ResourceType kWhatsAppPhoneNumbers{
    "whatsapp.bakery-ia.io", "v1alpha1", "whatsappphonenumbers", "WhatsAppPhoneNumber", false};
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0 = no paging
  std::string continue_token;
  std::string resource_version;  // "" = most recent (a consistent read)
};

struct ListResult {
  std::vector<nlohmann::json> items;  // each with apiVersion and kind filled in
  std::string resource_version;
  std::string continue_token;  // empty on the last page
};

enum class PatchType { kMerge, kJsonPatch, kStrategicMerge };
// The Content-Type for a patch type.
std::string_view PatchContentType(PatchType type);

struct DeleteOptions {
  std::string propagation_policy;  // "", "Foreground", "Background", "Orphan"
  std::string precondition_uid;
  std::string precondition_resource_version;
};

struct WatchOptions {
  std::string resource_version;  // start after this version; "" = from now with a synthetic list
  std::string label_selector;
  std::string field_selector;
  int64_t timeout_seconds = 0;  // the server ends the watch after this; 0 = server default
  bool allow_bookmarks = true;
};

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view WatchEventTypeName(WatchEventType type);

struct WatchEvent {
  WatchEventType type = WatchEventType::kAdded;
  nlohmann::json object;  // the object; for kError, the metav1.Status
};

// Turns an ERROR watch event's Status into a typed Status (410 -> Gone, ...).
Status WatchErrorStatus(const WatchEvent& event);

// Decodes a watch response body: newline-delimited JSON `{"type": ..., "object": {...}}`,
// fed in arbitrary chunks.
class WatchDecoder {
 public:
  // Appends bytes. InvalidArgument when a complete line is not a watch event (the message
  // quotes the start of the offending line and says what was expected).
  Status Feed(std::string_view chunk);
  // The next decoded event, if one is complete.
  std::optional<WatchEvent> Next();
  // Decodes one line. Blank lines are skipped by Feed, not accepted here.
  static Result<WatchEvent> DecodeLine(std::string_view line);
  // True when undecoded bytes remain (a stream ending here was cut mid-event).
  bool HasPartialForTesting() const { return !lines_.partial().empty(); }

 private:
  LineSplitter lines_;
  std::vector<WatchEvent> events_;
  std::size_t next_ = 0;
};

class WatchStream {
 public:
  virtual ~WatchStream() = default;
  // Blocks for the next event. nullopt when the server ended the watch (its timeout);
  // Cancelled after Cancel(); Unavailable when the connection broke; InvalidArgument on
  // garbage. ERROR events are returned as events (see WatchErrorStatus).
  virtual Result<std::optional<WatchEvent>> Next() = 0;
  // Unblocks Next() and closes the stream; any thread, idempotent.
  virtual void Cancel() = 0;
};

class Client {
 public:
  virtual ~Client() = default;

  // The object; NotFound when absent. `ns` is ignored for cluster-scoped types.
  virtual Result<nlohmann::json> Get(const ResourceType& type, std::string_view ns,
                                     std::string_view name) = 0;
  // One page (or everything when options.limit is 0). `ns` "" = all namespaces. Gone when
  // a continue token expired.
  virtual Result<ListResult> List(const ResourceType& type, std::string_view ns,
                                  const ListOptions& options) = 0;
  // Creates `object` in its metadata.namespace; returns it as stored. AlreadyExists.
  virtual Result<nlohmann::json> Create(const ResourceType& type, const nlohmann::json& object) = 0;
  // Replaces the object (PUT); metadata.resourceVersion must be current, else Conflict.
  virtual Result<nlohmann::json> Update(const ResourceType& type, const nlohmann::json& object) = 0;
  // Replaces the status subresource (PUT .../status); Conflict on a stale resourceVersion.
  virtual Result<nlohmann::json> UpdateStatus(const ResourceType& type,
                                              const nlohmann::json& object) = 0;
  // Patches the object or `subresource` ("status"); returns the patched object.
  virtual Result<nlohmann::json> Patch(const ResourceType& type, std::string_view ns,
                                       std::string_view name, PatchType patch_type,
                                       const nlohmann::json& patch,
                                       std::string_view subresource = "") = 0;
  // Deletes; NotFound when absent, Conflict when a precondition fails.
  virtual Status Delete(const ResourceType& type, std::string_view ns, std::string_view name,
                        const DeleteOptions& options = {}) = 0;
  // Opens a watch. Gone when options.resource_version is too old (relist).
  virtual Result<std::unique_ptr<WatchStream>> Watch(const ResourceType& type, std::string_view ns,
                                                     const WatchOptions& options) = 0;
};

// The namespace and name of an object's metadata, for keys and messages.
std::string ObjectNamespace(const nlohmann::json& object);
std::string ObjectName(const nlohmann::json& object);
std::string ObjectResourceVersion(const nlohmann::json& object);
// "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKey).
// These never throw: a member that is absent or not a string reads as "".
std::string ObjectKey(const nlohmann::json& object);
// OK when `object` can be cached: a JSON object whose metadata is an object with a non-empty
// string name (unless `require_name` is false, as for a BOOKMARK) and, when present, a string
// namespace and resourceVersion. Otherwise InvalidArgument naming the field, what it holds and
// the object's key as far as it can be read ("ns/<integer>").
Status ValidateObjectMeta(const nlohmann::json& object, bool require_name = true);

// Percent-encodes a query parameter value.
std::string UrlEncode(std::string_view value);

// A Client speaking the Kubernetes REST protocol over `transport`.
std::unique_ptr<Client> NewRestClient(
    std::shared_ptr<HttpTransport> transport,
    std::chrono::milliseconds request_timeout = std::chrono::seconds(30));

}  // namespace waop::kube
