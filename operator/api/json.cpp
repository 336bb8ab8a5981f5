#include "api/json.h"

#include <algorithm>
#include <string>

#include "common/json.h"

namespace waop::api {
namespace {

using nlohmann::json;

constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

std::string TypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "number";
    case json::value_t::string:
      return "string";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    default:
      return "binary";
  }
}

// "string \"yes\"", "integer 5", "object": what an admin wrote, in a few words.
std::string Describe(const json& j) {
  switch (j.type()) {
    case json::value_t::string:
      return "string " + QuoteForMessage(j.get_ref<const std::string&>());
    case json::value_t::boolean:
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return TypeName(j) + " " + j.dump();
    default:
      return TypeName(j);
  }
}

// Reads members of one JSON object, recording type errors under `path`.
class Reader {
 public:
  Reader(const json& object, std::string path, FieldErrors* errors)
      : object_(object), path_(std::move(path)), errors_(errors) {}

  std::string Path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  // The member, or nullptr when absent or null.
  const json* Get(std::string_view key) const {
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  void TypeError(const std::string& path, std::string_view expected, const json& got) {
    errors_->Add(FieldErrorType::kTypeError, path,
                 "expected " + std::string(expected) + ", got " + Describe(got));
  }

  // True when present and a string; `out` untouched otherwise.
  bool String(std::string_view key, std::string* out) {
    const json* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_string()) {
      TypeError(Path(key), "string", *v);
      return false;
    }
    *out = v->get<std::string>();
    return true;
  }

  void RequiredString(std::string_view key, std::string* out) {
    if (Get(key) == nullptr) {
      errors_->Required(Path(key));
      return;
    }
    String(key, out);
  }

  void Bool(std::string_view key, bool* out) {
    const json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) {
      TypeError(Path(key), "boolean", *v);
      return;
    }
    *out = v->get<bool>();
  }

  void Int(std::string_view key, int64_t* out) {
    const json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_number_integer()) {
      TypeError(Path(key), "integer", *v);
      return;
    }
    *out = v->get<int64_t>();
  }

  void OptionalInt(std::string_view key, std::optional<int64_t>* out) {
    int64_t value = 0;
    size_t before = errors_->size();
    if (Get(key) == nullptr) return;
    Int(key, &value);
    if (errors_->size() == before) *out = value;
  }

  void Time(std::string_view key, WallTime* out) {
    std::optional<WallTime> t;
    OptionalTime(key, &t);
    if (t) *out = *t;
  }

  void OptionalTime(std::string_view key, std::optional<WallTime>* out) {
    std::string text;
    if (!String(key, &text)) return;
    Result<WallTime> t = ParseRfc3339(text);
    if (!t.ok()) {
      errors_->Add(FieldErrorType::kInvalid, Path(key),
                   "expected RFC 3339 time, got " + QuoteForMessage(text));
      return;
    }
    *out = *t;
  }

  // Present object member, or nullptr (with a type error when present but not an object).
  const json* Object(std::string_view key) {
    const json* v = Get(key);
    if (v == nullptr) return nullptr;
    if (!v->is_object()) {
      TypeError(Path(key), "object", *v);
      return nullptr;
    }
    return v;
  }

  const json* Array(std::string_view key) {
    const json* v = Get(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array()) {
      TypeError(Path(key), "array", *v);
      return nullptr;
    }
    return v;
  }

  // map<string,string>; `keep` filters keys.
  template <typename Keep>
  void StringMap(std::string_view key, std::map<std::string, std::string>* out, Keep keep) {
    const json* m = Object(key);
    if (m == nullptr) return;
    for (auto it = m->begin(); it != m->end(); ++it) {
      if (!keep(it.key())) continue;
      if (!it->is_string()) {
        TypeError(Path(key) + "[" + it.key() + "]", "string", *it);
        continue;
      }
      (*out)[it.key()] = it->get<std::string>();
    }
  }

  FieldErrors* errors() const { return errors_; }

 private:
  const json& object_;
  std::string path_;
  FieldErrors* errors_;
};

std::string Index(std::string_view path, size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

// Reads `object` if it is one; otherwise records a type error and returns false.
bool ExpectObject(const json& object, const std::string& path, FieldErrors* errors) {
  if (object.is_object()) return true;
  errors->Add(FieldErrorType::kTypeError, path.empty() ? "(object)" : path,
              "expected object, got " + Describe(object));
  return false;
}

Result<ConditionStatus> ParseConditionStatus(std::string_view s) {
  if (s == "True") return ConditionStatus::kTrue;
  if (s == "False") return ConditionStatus::kFalse;
  if (s == "Unknown") return ConditionStatus::kUnknown;
  return Status::InvalidArgument("expected \"True\", \"False\" or \"Unknown\"");
}

void ParseConditions(Reader& r, std::vector<Condition>* out) {
  const json* list = r.Array("conditions");
  if (list == nullptr) return;
  for (size_t i = 0; i < list->size(); ++i) {
    const json& item = (*list)[i];
    std::string path = Index(r.Path("conditions"), i);
    if (!ExpectObject(item, path, r.errors())) continue;
    Reader c(item, path, r.errors());
    Condition cond;
    c.RequiredString("type", &cond.type);
    std::string status;
    if (c.Get("status") == nullptr) {
      r.errors()->Required(c.Path("status"));
    } else if (c.String("status", &status)) {
      Result<ConditionStatus> s = ParseConditionStatus(status);
      if (s.ok()) {
        cond.status = *s;
      } else {
        r.errors()->Invalid(c.Path("status"), "expected \"True\", \"False\" or \"Unknown\", got " +
                                                  QuoteForMessage(status));
      }
    }
    c.String("reason", &cond.reason);
    c.String("message", &cond.message);
    c.Int("observedGeneration", &cond.observed_generation);
    c.Time("lastTransitionTime", &cond.last_transition_time);
    out->push_back(std::move(cond));
  }
}

int ConditionRank(std::string_view type) {
  if (type == kConditionReady) return 0;
  if (type == kConditionReconciling) return 1;
  if (type == kConditionStalled) return 2;
  return 3;
}

void PutString(json& j, const char* key, const std::string& value) {
  if (!value.empty()) j[key] = value;
}

void PutTime(json& j, const char* key, const std::optional<WallTime>& t) {
  if (t) j[key] = FormatRfc3339(*t);
}

}  // namespace

Result<nlohmann::json> ParseJsonText(std::string_view text) {
  auto parsed = ParseJsonBounded(text);
  if (!parsed.ok()) return Status::InvalidArgument("invalid JSON: " + parsed.status().message());
  return parsed;
}

FieldErrors ParseObjectMetaInto(const json& metadata, std::string_view path, ObjectMeta* out) {
  FieldErrors errors;
  if (!ExpectObject(metadata, std::string(path), &errors)) return errors;
  Reader r(metadata, std::string(path), &errors);
  r.String("name", &out->name);
  r.String("namespace", &out->ns);
  r.String("uid", &out->uid);
  r.String("resourceVersion", &out->resource_version);
  r.Int("generation", &out->generation);
  r.Time("creationTimestamp", &out->creation_timestamp);
  r.OptionalTime("deletionTimestamp", &out->deletion_timestamp);
  r.StringMap("labels", &out->labels, [](const std::string&) { return true; });
  // Only our own annotations: the last-applied one alone can be as large as the object.
  r.StringMap("annotations", &out->annotations, [](const std::string& key) {
    return key.starts_with(kAnnotationPrefix) && key != kLastApplied;
  });
  if (const json* fins = r.Array("finalizers")) {
    for (size_t i = 0; i < fins->size(); ++i) {
      const json& f = (*fins)[i];
      if (!f.is_string()) {
        r.TypeError(Index(r.Path("finalizers"), i), "string", f);
        continue;
      }
      out->finalizers.push_back(f.get<std::string>());
    }
  }
  if (const json* refs = r.Array("ownerReferences")) {
    for (size_t i = 0; i < refs->size(); ++i) {
      std::string item_path = Index(r.Path("ownerReferences"), i);
      if (!ExpectObject((*refs)[i], item_path, &errors)) continue;
      Reader o((*refs)[i], item_path, &errors);
      OwnerReference ref;
      o.String("apiVersion", &ref.api_version);
      o.String("kind", &ref.kind);
      o.String("name", &ref.name);
      o.String("uid", &ref.uid);
      o.Bool("controller", &ref.controller);
      o.Bool("blockOwnerDeletion", &ref.block_owner_deletion);
      out->owner_references.push_back(std::move(ref));
    }
  }
  return errors;
}

FieldErrors ParseAssignmentInto(const json& object, Assignment* out, bool with_status) {
  FieldErrors errors;
  if (!ExpectObject(object, "", &errors)) return errors;
  Reader top(object, "", &errors);
  if (const json* meta = top.Object("metadata")) {
    errors.Append(ParseObjectMetaInto(*meta, "metadata", &out->metadata));
  }
  const json* spec = top.Object("spec");
  if (spec == nullptr && top.Get("spec") == nullptr) {
    errors.Required("spec");
  } else if (spec != nullptr) {
    Reader s(*spec, "spec", &errors);
    s.RequiredString("tenantId", &out->spec.tenant_id);
    s.String("tenantName", &out->spec.tenant_name);
    s.RequiredString("phoneNumberId", &out->spec.phone_number_id);
    s.String("displayPhoneNumber", &out->spec.display_phone_number);
    s.Bool("enabled", &out->spec.enabled);
    s.String("defaultLanguage", &out->spec.default_language);
  }
  if (const json* status = with_status ? top.Object("status") : nullptr) {
    Reader s(*status, "status", &errors);
    s.OptionalInt("observedGeneration", &out->status.observed_generation);
    s.String("displayPhoneNumber", &out->status.display_phone_number);
    s.String("verifiedName", &out->status.verified_name);
    s.String("qualityRating", &out->status.quality_rating);
    s.OptionalTime("qualityCheckedAt", &out->status.quality_checked_at);
    s.String("settingsConfigMap", &out->status.settings_config_map);
    ParseConditions(s, &out->status.conditions);
  }
  return errors;
}

Result<Assignment> ParseAssignment(const json& object) {
  Assignment a;
  FieldErrors errors = ParseAssignmentInto(object, &a);
  if (!errors.empty()) return errors.ToStatus();
  return a;
}

FieldErrors ParsePhoneNumberInto(const json& object, PhoneNumber* out) {
  FieldErrors errors;
  if (!ExpectObject(object, "", &errors)) return errors;
  Reader top(object, "", &errors);
  if (const json* meta = top.Object("metadata")) {
    errors.Append(ParseObjectMetaInto(*meta, "metadata", &out->metadata));
  }
  if (const json* status = top.Object("status")) {
    Reader s(*status, "status", &errors);
    s.String("displayPhoneNumber", &out->status.display_phone_number);
    s.String("verifiedName", &out->status.verified_name);
    s.String("qualityRating", &out->status.quality_rating);
    s.String("messagingLimitTier", &out->status.messaging_limit_tier);
    s.OptionalTime("lastSyncTime", &out->status.last_sync_time);
    if (const json* a = s.Object("assignment")) {
      Reader ar(*a, "status.assignment", &errors);
      PhoneAssignmentRef ref;
      ar.String("namespace", &ref.ns);
      ar.String("name", &ref.name);
      ar.String("tenantId", &ref.tenant_id);
      ar.String("tenantName", &ref.tenant_name);
      out->status.assignment = std::move(ref);
    }
    ParseConditions(s, &out->status.conditions);
  }
  return errors;
}

Result<PhoneNumber> ParsePhoneNumber(const json& object) {
  PhoneNumber p;
  FieldErrors errors = ParsePhoneNumberInto(object, &p);
  if (!errors.empty()) return errors.ToStatus();
  return p;
}

std::vector<Condition> SortedConditions(std::vector<Condition> conditions) {
  std::stable_sort(conditions.begin(), conditions.end(),
                   [](const Condition& a, const Condition& b) {
                     int ra = ConditionRank(a.type), rb = ConditionRank(b.type);
                     if (ra != rb) return ra < rb;
                     return a.type < b.type;
                   });
  return conditions;
}

json ToJson(const Condition& c) {
  return json{{"type", c.type},
              {"status", std::string(ConditionStatusName(c.status))},
              {"reason", c.reason},
              {"message", c.message},
              {"observedGeneration", c.observed_generation},
              {"lastTransitionTime", FormatRfc3339(c.last_transition_time)}};
}

json ToJson(const AssignmentStatus& s) {
  json j = json::object();
  if (s.observed_generation) j["observedGeneration"] = *s.observed_generation;
  PutString(j, "displayPhoneNumber", s.display_phone_number);
  PutString(j, "verifiedName", s.verified_name);
  PutString(j, "qualityRating", s.quality_rating);
  PutTime(j, "qualityCheckedAt", s.quality_checked_at);
  PutString(j, "settingsConfigMap", s.settings_config_map);
  if (!s.conditions.empty()) {
    json list = json::array();
    for (const Condition& c : SortedConditions(s.conditions)) list.push_back(ToJson(c));
    j["conditions"] = std::move(list);
  }
  return j;
}

json ToJson(const PhoneNumberStatus& s) {
  json j = json::object();
  PutString(j, "displayPhoneNumber", s.display_phone_number);
  PutString(j, "verifiedName", s.verified_name);
  PutString(j, "qualityRating", s.quality_rating);
  PutString(j, "messagingLimitTier", s.messaging_limit_tier);
  PutTime(j, "lastSyncTime", s.last_sync_time);
  if (s.assignment) {
    json a = json::object();
    PutString(a, "namespace", s.assignment->ns);
    PutString(a, "name", s.assignment->name);
    PutString(a, "tenantId", s.assignment->tenant_id);
    PutString(a, "tenantName", s.assignment->tenant_name);
    j["assignment"] = std::move(a);
  }
  if (!s.conditions.empty()) {
    json list = json::array();
    for (const Condition& c : SortedConditions(s.conditions)) list.push_back(ToJson(c));
    j["conditions"] = std::move(list);
  }
  return j;
}

json ToJson(const AssignmentSpec& s) {
  json j = json::object();
  j["tenantId"] = s.tenant_id;
  PutString(j, "tenantName", s.tenant_name);
  j["phoneNumberId"] = s.phone_number_id;
  PutString(j, "displayPhoneNumber", s.display_phone_number);
  j["enabled"] = s.enabled;
  j["defaultLanguage"] = s.default_language;
  return j;
}

json ToJson(const OwnerReference& r) {
  return json{{"apiVersion", r.api_version},
              {"kind", r.kind},
              {"name", r.name},
              {"uid", r.uid},
              {"controller", r.controller},
              {"blockOwnerDeletion", r.block_owner_deletion}};
}

json ToJson(const ObjectMeta& m) {
  json j = json::object();
  PutString(j, "name", m.name);
  PutString(j, "namespace", m.ns);
  PutString(j, "uid", m.uid);
  PutString(j, "resourceVersion", m.resource_version);
  if (m.generation != 0) j["generation"] = m.generation;
  if (m.creation_timestamp != WallTime{}) {
    j["creationTimestamp"] = FormatRfc3339(m.creation_timestamp);
  }
  PutTime(j, "deletionTimestamp", m.deletion_timestamp);
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  if (!m.finalizers.empty()) j["finalizers"] = m.finalizers;
  if (!m.owner_references.empty()) {
    json refs = json::array();
    for (const OwnerReference& r : m.owner_references) refs.push_back(ToJson(r));
    j["ownerReferences"] = std::move(refs);
  }
  return j;
}

json ToJson(const Assignment& a) {
  json j{{"apiVersion", std::string(kApiVersion)},
         {"kind", std::string(kAssignmentKind)},
         {"metadata", ToJson(a.metadata)},
         {"spec", ToJson(a.spec)}};
  json status = ToJson(a.status);
  if (!status.empty()) j["status"] = std::move(status);
  return j;
}

json ToJson(const PhoneNumber& p) {
  json j{{"apiVersion", std::string(kApiVersion)},
         {"kind", std::string(kPhoneNumberKind)},
         {"metadata", ToJson(p.metadata)}};
  json status = ToJson(p.status);
  if (!status.empty()) j["status"] = std::move(status);
  return j;
}

}  // namespace waop::api
