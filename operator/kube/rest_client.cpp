#include <utility>

#include "common/json.h"
#include "kube/api_error.h"
#include "kube/client.h"

namespace waop::kube {

using nlohmann::json;

std::string ResourceType::ApiVersion() const {
  return group.empty() ? version : group + "/" + version;
}

std::string ResourceType::Path(std::string_view ns, std::string_view name,
                               std::string_view subresource) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += "/" + resource;
  if (!name.empty()) {
    p += "/";
    p += name;
    if (!subresource.empty()) {
      p += "/";
      p += subresource;
    }
  }
  return p;
}

std::string ResourceType::QualifiedName() const {
  return group.empty() ? resource : resource + "." + group;
}

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJsonPatch:
      return "application/json-patch+json";
    case PatchType::kStrategicMerge:
      return "application/strategic-merge-patch+json";
  }
  return "application/merge-patch+json";
}

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "UNKNOWN";
}

Status WatchErrorStatus(const WatchEvent& event) {
  ApiError error = ApiErrorFromStatus(event.object);
  if (error.http_code == 0) error.http_code = 500;
  return error.ToStatus("watch");
}

namespace {

std::string Quote(std::string_view line) {
  std::string s(line.substr(0, 60));
  if (line.size() > 60) s += "...";
  return "\"" + s + "\"";
}

}  // namespace

Result<WatchEvent> WatchDecoder::DecodeLine(std::string_view line) {
  if (JsonNestingDepth(line) > kMaxJsonDepth) {
    return Status::InvalidArgument("watch stream: line " + Quote(line) + " is nested deeper than " +
                                   std::to_string(kMaxJsonDepth) + " levels");
  }
  // The depth was checked just above: parse without ParseJsonBounded's second scan.
  json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::InvalidArgument("watch stream: line " + Quote(line) + " is not JSON");
  }
  if (!j.is_object()) {
    return Status::InvalidArgument("watch stream: line " + Quote(line) + " is not a JSON object");
  }
  auto type = j.find("type");
  if (type == j.end() || !type->is_string()) {
    return Status::InvalidArgument("watch stream: event " + Quote(line) +
                                   " has no string field \"type\"");
  }
  WatchEvent event;
  const std::string& t = type->get_ref<const std::string&>();
  if (t == "ADDED") {
    event.type = WatchEventType::kAdded;
  } else if (t == "MODIFIED") {
    event.type = WatchEventType::kModified;
  } else if (t == "DELETED") {
    event.type = WatchEventType::kDeleted;
  } else if (t == "BOOKMARK") {
    event.type = WatchEventType::kBookmark;
  } else if (t == "ERROR") {
    event.type = WatchEventType::kError;
  } else {
    return Status::InvalidArgument("watch stream: event type \"" + t +
                                   "\" is not ADDED, MODIFIED, DELETED, BOOKMARK or ERROR");
  }
  auto object = j.find("object");
  if (object == j.end() || !object->is_object()) {
    return Status::InvalidArgument("watch stream: " + t + " event has no object field \"object\"");
  }
  event.object = std::move(*object);
  return event;
}

Status WatchDecoder::Feed(std::string_view chunk) {
  WAOP_RETURN_IF_ERROR(lines_.Feed(chunk));
  if (next_ == events_.size()) {
    events_.clear();
    next_ = 0;
  }
  while (auto line = lines_.Next()) {
    if (line->find_first_not_of(" \t") == std::string::npos) continue;
    auto event = DecodeLine(*line);
    if (!event.ok()) return event.status();
    events_.push_back(std::move(*event));
  }
  return Status::Ok();
}

std::optional<WatchEvent> WatchDecoder::Next() {
  if (next_ >= events_.size()) return std::nullopt;
  return std::move(events_[next_++]);
}

std::string ObjectNamespace(const json& object) {
  const json* md = JsonObject(object, "metadata");
  return md == nullptr ? "" : JsonString(*md, "namespace");
}

std::string ObjectName(const json& object) {
  const json* md = JsonObject(object, "metadata");
  return md == nullptr ? "" : JsonString(*md, "name");
}

std::string ObjectResourceVersion(const json& object) {
  const json* md = JsonObject(object, "metadata");
  return md == nullptr ? "" : JsonString(*md, "resourceVersion");
}

std::string ObjectKey(const json& object) {
  std::string ns = ObjectNamespace(object);
  if (ns.empty()) return ObjectName(object);
  return ns + "/" + ObjectName(object);
}

namespace {

// The member as a key part: its value when a string, else "<type>".
std::string KeyPart(const json& md, const char* key) {
  if (!md.is_object()) return "<no metadata>";
  auto it = md.find(key);
  if (it == md.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return std::string("<") + it->type_name() + ">";
}

}  // namespace

Status ValidateObjectMeta(const json& object, bool require_name) {
  if (!object.is_object()) {
    return Status::InvalidArgument(std::string("object is not a JSON object but ") +
                                   object.type_name());
  }
  auto md = object.find("metadata");
  if (md == object.end() || !md->is_object()) {
    if (!require_name && (md == object.end() || md->is_null())) return Status::Ok();
    return Status::InvalidArgument("object has no metadata object");
  }
  const std::string ns = KeyPart(*md, "namespace");
  const std::string key = (ns.empty() ? "" : ns + "/") + KeyPart(*md, "name");
  for (const char* field : {"name", "namespace", "resourceVersion"}) {
    auto it = md->find(field);
    if (it == md->end() || it->is_null() || it->is_string()) continue;
    return Status::InvalidArgument("object \"" + key + "\": metadata." + field +
                                   ": expected a string, got " + it->type_name());
  }
  if (require_name && JsonString(*md, "name").empty()) {
    return Status::InvalidArgument("object \"" + key + "\": metadata.name is empty");
  }
  return Status::Ok();
}

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

namespace {

// Builds "?a=b&c=d" from the set parameters.
class Query {
 public:
  void Add(std::string_view key, std::string_view value) {
    if (value.empty()) return;
    out_ += out_.empty() ? "?" : "&";
    out_ += key;
    out_ += "=";
    out_ += UrlEncode(value);
  }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// A watch over a LineReader from the transport.
class RestWatchStream final : public WatchStream {
 public:
  explicit RestWatchStream(std::unique_ptr<LineReader> lines) : lines_(std::move(lines)) {}

  Result<std::optional<WatchEvent>> Next() override {
    for (;;) {
      auto line = lines_->ReadLine();
      if (!line.ok()) return line.status();
      if (!line->has_value()) return std::optional<WatchEvent>();
      const std::string& l = **line;
      if (l.find_first_not_of(" \t") == std::string::npos) continue;
      auto event = WatchDecoder::DecodeLine(l);
      if (!event.ok()) return event.status();
      return std::optional<WatchEvent>(std::move(*event));
    }
  }

  void Cancel() override { lines_->Cancel(); }

 private:
  std::unique_ptr<LineReader> lines_;
};

class RestClient final : public Client {
 public:
  RestClient(std::shared_ptr<HttpTransport> transport, std::chrono::milliseconds timeout)
      : transport_(std::move(transport)), timeout_(timeout) {}

  Result<json> Get(const ResourceType& type, std::string_view ns, std::string_view name) override {
    return DoObject("GET", type.Path(ns, name), "", "", Context("get", type, ns, name));
  }

  Result<ListResult> List(const ResourceType& type, std::string_view ns,
                          const ListOptions& options) override {
    Query q;
    q.Add("labelSelector", options.label_selector);
    q.Add("fieldSelector", options.field_selector);
    if (options.limit > 0) q.Add("limit", std::to_string(options.limit));
    q.Add("continue", options.continue_token);
    q.Add("resourceVersion", options.resource_version);
    auto body = DoObject("GET", type.Path(ns) + q.str(), "", "", Context("list", type, ns, ""));
    if (!body.ok()) return body.status();
    ListResult result;
    json& j = *body;
    if (const json* md = JsonObject(j, "metadata")) {
      for (const char* key : {"resourceVersion", "continue"}) {
        auto it = md->find(key);
        if (it != md->end() && !it->is_null() && !it->is_string()) {
          return Status::Internal(Context("list", type, ns, "") + ": metadata." + key +
                                  " is not a string");
        }
      }
      result.resource_version = JsonString(*md, "resourceVersion");
      result.continue_token = JsonString(*md, "continue");
    }
    auto items = j.find("items");
    if (items != j.end() && items->is_array()) {
      result.items.reserve(items->size());
      for (auto& item : *items) {
        // List items come without apiVersion/kind; fill them so objects look the same
        // whether they came from a list, a get or a watch.
        if (item.is_object()) {
          item["apiVersion"] = type.ApiVersion();
          item["kind"] = type.kind;
        }
        result.items.push_back(std::move(item));
      }
    } else if (items != j.end() && !items->is_null()) {
      return Status::Internal(Context("list", type, ns, "") + ": \"items\" is not a list");
    }
    return result;
  }

  Result<json> Create(const ResourceType& type, const json& object) override {
    const std::string ns = ObjectNamespace(object);
    if (type.namespaced && ns.empty()) {
      return Status::InvalidArgument("create " + type.QualifiedName() +
                                     ": metadata.namespace is required");
    }
    return DoObject("POST", type.Path(ns), object.dump(), "application/json",
                    Context("create", type, ns, ObjectName(object)));
  }

  Result<json> Update(const ResourceType& type, const json& object) override {
    return Put(type, object, "", "update");
  }

  Result<json> UpdateStatus(const ResourceType& type, const json& object) override {
    return Put(type, object, "status", "update status of");
  }

  Result<json> Patch(const ResourceType& type, std::string_view ns, std::string_view name,
                     PatchType patch_type, const json& patch,
                     std::string_view subresource) override {
    if (name.empty()) return Status::InvalidArgument("patch " + type.QualifiedName() + ": no name");
    return DoObject("PATCH", type.Path(ns, name, subresource), patch.dump(),
                    std::string(PatchContentType(patch_type)), Context("patch", type, ns, name));
  }

  Status Delete(const ResourceType& type, std::string_view ns, std::string_view name,
                const DeleteOptions& options) override {
    if (name.empty())
      return Status::InvalidArgument("delete " + type.QualifiedName() + ": no name");
    json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
    if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
    if (!options.precondition_uid.empty()) body["preconditions"]["uid"] = options.precondition_uid;
    if (!options.precondition_resource_version.empty()) {
      body["preconditions"]["resourceVersion"] = options.precondition_resource_version;
    }
    auto r = DoObject("DELETE", type.Path(ns, name), body.dump(), "application/json",
                      Context("delete", type, ns, name));
    return r.status();
  }

  Result<std::unique_ptr<WatchStream>> Watch(const ResourceType& type, std::string_view ns,
                                             const WatchOptions& options) override {
    Query q;
    q.Add("watch", "true");
    q.Add("resourceVersion", options.resource_version);
    q.Add("labelSelector", options.label_selector);
    q.Add("fieldSelector", options.field_selector);
    if (options.timeout_seconds > 0)
      q.Add("timeoutSeconds", std::to_string(options.timeout_seconds));
    if (options.allow_bookmarks) q.Add("allowWatchBookmarks", "true");
    HttpRequest request;
    request.method = "GET";
    request.path = type.Path(ns) + q.str();
    request.headers = {{"Accept", "application/json"}};
    // The server ends the watch after timeoutSeconds; allow it that long to be silent, plus
    // slack, before calling the connection dead.
    request.timeout =
        std::chrono::seconds(options.timeout_seconds > 0 ? options.timeout_seconds + 30 : 15 * 60);
    auto response = transport_->Stream(request);
    const std::string context = Context("watch", type, ns, "");
    if (!response.ok()) return response.status().WithPrefix(context);
    if (response->status < 200 || response->status > 299 || !response->lines) {
      return ParseApiError(response->status, response->headers, response->error_body)
          .ToStatus(context);
    }
    return std::unique_ptr<WatchStream>(
        std::make_unique<RestWatchStream>(std::move(response->lines)));
  }

 private:
  static std::string Context(std::string_view verb, const ResourceType& type, std::string_view ns,
                             std::string_view name) {
    std::string s(verb);
    s += " " + type.QualifiedName();
    if (!name.empty()) {
      s += " ";
      if (type.namespaced && !ns.empty()) {
        s += ns;
        s += "/";
      }
      s += name;
    } else if (type.namespaced && !ns.empty()) {
      s += " in namespace ";
      s += ns;
    }
    return s;
  }

  Result<json> Put(const ResourceType& type, const json& object, std::string_view subresource,
                   std::string_view verb) {
    const std::string ns = ObjectNamespace(object);
    const std::string name = ObjectName(object);
    if (name.empty()) {
      return Status::InvalidArgument(std::string(verb) + " " + type.QualifiedName() +
                                     ": metadata.name is required");
    }
    if (ObjectResourceVersion(object).empty()) {
      // Without it the PUT is an unconditional overwrite, which loses concurrent writes.
      return Status::InvalidArgument(std::string(verb) + " " + type.QualifiedName() + " " + name +
                                     ": metadata.resourceVersion is required");
    }
    return DoObject("PUT", type.Path(ns, name, subresource), object.dump(), "application/json",
                    Context(verb, type, ns, name));
  }

  Result<json> DoObject(const std::string& method, std::string path, std::string body,
                        const std::string& content_type, const std::string& context) {
    HttpRequest request;
    request.method = method;
    request.path = std::move(path);
    request.headers = {{"Accept", "application/json"}};
    if (!content_type.empty()) request.headers.emplace_back("Content-Type", content_type);
    request.body = std::move(body);
    request.timeout = timeout_;
    auto response = transport_->Send(request);
    if (!response.ok()) return response.status().WithPrefix(context);
    if (response->status < 200 || response->status > 299) {
      return ParseApiError(*response).ToStatus(context);
    }
    auto j = ParseJsonBounded(response->body);
    if (!j.ok() || !j->is_object()) {
      return Status::Internal(context + ": the server answered HTTP " +
                              std::to_string(response->status) +
                              " with a body that is not a JSON object" +
                              (j.ok() ? std::string() : " (" + j.status().message() + ")"));
    }
    return j;
  }

  std::shared_ptr<HttpTransport> transport_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<Client> NewRestClient(std::shared_ptr<HttpTransport> transport,
                                      std::chrono::milliseconds request_timeout) {
  return std::make_unique<RestClient>(std::move(transport), request_timeout);
}

}  // namespace waop::kube
