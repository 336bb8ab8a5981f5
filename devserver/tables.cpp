#include "tables.h"

#include <algorithm>

#include "common/clock.h"
#include "schema/table.h"

namespace devserver {

using nlohmann::json;

json PartialObjectMetadata(const json& obj) {
  return {{"kind", "PartialObjectMetadata"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", obj.contains("metadata") ? obj["metadata"] : json::object()}};
}

bool WantsTable(const std::string& accept) {
  return accept.find("as=Table") != std::string::npos &&
         accept.find("g=meta.k8s.io") != std::string::npos &&
         accept.find("v=v1") != std::string::npos;
}

namespace {

std::string Age(const json& obj, std::chrono::system_clock::time_point now) {
  std::string ts = obj["metadata"].value("creationTimestamp", "");
  auto t = waop::ParseRfc3339(ts);
  if (!t.ok()) return "<unknown>";
  return HumanDuration(now - *t);
}

json Col(const std::string& name, const std::string& type, const std::string& format,
         const std::string& description, int priority = 0) {
  return {{"name", name},
          {"type", type},
          {"format", format},
          {"description", description},
          {"priority", priority}};
}

size_t CountKeys(const json& obj, const char* a, const char* b = nullptr) {
  size_t n = 0;
  if (obj.contains(a) && obj[a].is_object()) n += obj[a].size();
  if (b && obj.contains(b) && obj[b].is_object()) n += obj[b].size();
  return n;
}

}  // namespace

json BuildBuiltinTable(const std::string& resource, const std::vector<const json*>& objects,
                       const std::string& resource_version, bool include_object,
                       std::chrono::system_clock::time_point now) {
  json cols = json::array();
  const char* kNameDesc =
      "Name must be unique within a namespace. Is required when creating resources, although "
      "some resources may allow a client to request the generation of an appropriate name "
      "automatically.";
  const char* kAgeDesc =
      "CreationTimestamp is a timestamp representing the server time when this object was "
      "created.";
  if (resource == "events") {
    cols = {Col("Last Seen", "string", "", "Last time the event occurred"),
            Col("Type", "string", "", "Type of this event (Normal, Warning)"),
            Col("Reason", "string", "", "Reason why this event was generated"),
            Col("Object", "string", "", "The object that this event is about"),
            Col("Message", "string", "", "A human-readable description of the status")};
  } else {
    cols.push_back(Col("Name", "string", "name", kNameDesc));
    if (resource == "namespaces") cols.push_back(Col("Status", "string", "", "The status"));
    if (resource == "secrets") cols.push_back(Col("Type", "string", "", "The type of the secret"));
    if (resource == "configmaps" || resource == "secrets") {
      cols.push_back(Col("Data", "string", "", "Number of data items"));
    }
    if (resource == "leases") cols.push_back(Col("Holder", "string", "", "Holder identity"));
    if (resource == "customresourcedefinitions") {
      cols.push_back(Col("Created At", "date", "", kAgeDesc));
    } else {
      cols.push_back(Col("Age", "string", "", kAgeDesc));
    }
  }
  json rows = json::array();
  for (const json* o : objects) {
    const json& obj = *o;
    const json& md = obj["metadata"];
    json cells = json::array();
    if (resource == "events") {
      std::string last = obj.value("lastTimestamp", "");
      if (last.empty() && obj.contains("eventTime") && obj["eventTime"].is_string()) {
        last = obj["eventTime"].get<std::string>();
      }
      auto t = waop::ParseRfc3339(last);
      cells.push_back(t.ok() ? HumanDuration(now - *t) : "<unknown>");
      cells.push_back(obj.value("type", ""));
      cells.push_back(obj.value("reason", ""));
      const json& io = obj.contains("involvedObject") ? obj["involvedObject"] : json::object();
      std::string kind = io.value("kind", "");
      std::transform(kind.begin(), kind.end(), kind.begin(), ::tolower);
      cells.push_back(kind + "/" + io.value("name", ""));
      cells.push_back(obj.value("message", ""));
    } else {
      cells.push_back(md.value("name", ""));
      if (resource == "namespaces") {
        std::string phase = obj.contains("status") && obj["status"].is_object()
                                ? obj["status"].value("phase", "Active")
                                : "Active";
        cells.push_back(phase);
      }
      if (resource == "secrets") cells.push_back(obj.value("type", "Opaque"));
      if (resource == "configmaps") cells.push_back(CountKeys(obj, "data", "binaryData"));
      if (resource == "secrets") cells.push_back(CountKeys(obj, "data"));
      if (resource == "leases") {
        cells.push_back(obj.contains("spec") && obj["spec"].is_object()
                            ? obj["spec"].value("holderIdentity", "")
                            : "");
      }
      if (resource == "customresourcedefinitions") {
        cells.push_back(md.value("creationTimestamp", ""));
      } else {
        cells.push_back(Age(obj, now));
      }
    }
    rows.push_back(
        {{"cells", cells}, {"object", include_object ? obj : PartialObjectMetadata(obj)}});
  }
  return {{"kind", "Table"},
          {"apiVersion", "meta.k8s.io/v1"},
          {"metadata", {{"resourceVersion", resource_version}}},
          {"columnDefinitions", cols},
          {"rows", rows}};
}

}  // namespace devserver
