#include "schema/crd_schema.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>

#include "common/clock.h"
#include "schema/cel_rule.h"

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

struct CelRuleSpec {
  std::string rule;
  std::string message;
  std::string reason;                 // empty: FieldValueInvalid
  std::string field_path;             // ".x.y" relative to the node, or empty
  std::optional<CelProgram> program;  // nullopt: outside the supported subset, skipped
};

struct SchemaNode {
  std::string type;  // "" (any / int-or-string), object, array, string, integer, number, boolean
  bool nullable = false;
  bool preserve_unknown = false;
  bool embedded = false;
  bool int_or_string = false;
  std::map<std::string, std::shared_ptr<const SchemaNode>> properties;
  std::shared_ptr<const SchemaNode> additional;  // additionalProperties as a schema
  bool additional_any = false;                   // additionalProperties: true
  std::shared_ptr<const SchemaNode> items;
  std::vector<std::string> required;
  std::optional<json> default_value;
  std::string pattern;
  std::shared_ptr<const std::regex> regex;
  std::optional<std::vector<json>> enum_values;
  std::optional<int64_t> max_length, min_length, max_items, min_items, max_properties,
      min_properties;
  std::optional<double> minimum, maximum, multiple_of;
  bool exclusive_minimum = false;
  bool exclusive_maximum = false;
  std::string format;
  std::string list_type;  // atomic (default), set, map
  std::vector<std::string> map_keys;
  std::vector<CelRuleSpec> rules;
};

namespace {

using NodePtr = std::shared_ptr<const SchemaNode>;

// field.Path as kube-apiserver prints it: "spec.conditions[1].type", "spec.labels[key]".
class FieldPath {
 public:
  FieldPath Child(const std::string& name) const {
    FieldPath p = *this;
    p.text_ += (p.text_.empty() ? "" : ".") + name;
    return p;
  }
  FieldPath Index(size_t i) const {
    FieldPath p = *this;
    p.text_ += "[" + std::to_string(i) + "]";
    return p;
  }
  FieldPath Key(const std::string& k) const {
    FieldPath p = *this;
    p.text_ += "[" + k + "]";
    return p;
  }
  // "<nil>" at the root, as a nil *field.Path prints.
  std::string String() const { return text_.empty() ? "<nil>" : text_; }
  // The "<path> in body" prefix of kube-openapi messages.
  std::string InBody() const { return (text_.empty() ? "" : text_ + " ") + "in body"; }
  bool root() const { return text_.empty(); }

 private:
  std::string text_;
};

// Go's %v for numbers and bools, %q for strings, as field.Error prints bad values.
std::string GoValue(const json& v) {
  if (v.is_string()) return json(v.get<std::string>()).dump();
  if (v.is_null()) return "\"null\"";
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
    std::ostringstream s;
    s << d;
    return s.str();
  }
  if (v.is_number() || v.is_boolean()) return v.dump();
  if (v.is_object()) {
    // map[string]interface {}{"type":"Ready"}, Go's %#v of an unstructured map.
    std::string out = "map[string]interface {}{";
    bool first = true;
    for (const auto& [k, x] : v.items()) {
      out += (first ? "" : ", ") + json(k).dump() + ":" + x.dump();
      first = false;
    }
    return out + "}";
  }
  return v.dump();
}

// The JSON type name as kube-openapi reports it.
std::string JsonTypeName(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
  if (v.is_number_float()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool IsIntegral(const json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return true;
  if (v.is_number_float()) {
    double d = v.get<double>();
    return std::isfinite(d) && std::floor(d) == d;
  }
  return false;
}

size_t CodePoints(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Trim(const std::string& s) {
  size_t begin = s.find_first_not_of(" \t\n\r");
  if (begin == std::string::npos) return "";
  size_t end = s.find_last_not_of(" \t\n\r");
  return s.substr(begin, end - begin + 1);
}

std::string FormatNumber(double d) { return GoValue(json(d)); }

FieldCause Cause(std::string reason, std::string message, const FieldPath& path) {
  return FieldCause{std::move(reason), std::move(message), path.String()};
}

FieldCause Invalid(const FieldPath& path, const json& value, const std::string& detail) {
  return Cause("FieldValueInvalid", "Invalid value: " + GoValue(value) + ": " + detail, path);
}

FieldCause TypeInvalid(const FieldPath& path, const json& value, const std::string& detail) {
  return Cause("FieldValueTypeInvalid", "Invalid value: " + GoValue(value) + ": " + detail, path);
}

// CEL rules outside the subset are logged once per process, not once per request.
void WarnUnsupportedOnce(const std::string& rule, const std::string& why) {
  static std::mutex mu;
  static std::set<std::string> seen;
  std::lock_guard lock(mu);
  if (seen.insert(rule).second) {
    spdlog::warn("x-kubernetes-validations rule not supported by the dev server, skipped: {} ({})",
                 rule, why);
  }
}

Result<std::optional<int64_t>> OptInt(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) return std::optional<int64_t>();
  if (!IsIntegral(j[key]) || j[key].get<double>() < 0) {
    return Status::InvalidArgument(where + "." + key + ": must be a non-negative integer");
  }
  return std::optional<int64_t>(j[key].get<int64_t>());
}

Result<std::optional<double>> OptNumber(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key)) return std::optional<double>();
  if (!j[key].is_number()) return Status::InvalidArgument(where + "." + key + ": must be a number");
  return std::optional<double>(j[key].get<double>());
}

Result<NodePtr> ParseNode(const json& j, const std::string& where,
                          std::vector<std::string>* unsupported) {
  if (!j.is_object()) return Status::InvalidArgument(where + ": schema must be an object");
  auto node = std::make_shared<SchemaNode>();
  if (j.contains("type")) {
    if (!j["type"].is_string()) return Status::InvalidArgument(where + ".type: must be a string");
    node->type = j["type"].get<std::string>();
    static const std::set<std::string> kTypes = {"object",  "array",  "string",
                                                 "integer", "number", "boolean"};
    if (!kTypes.count(node->type)) {
      return Status::InvalidArgument(where + ".type: unsupported type \"" + node->type +
                                     "\" (expected object, array, string, integer, number or "
                                     "boolean)");
    }
  }
  auto flag = [&](const char* key) {
    return j.contains(key) && j[key].is_boolean() && j[key].get<bool>();
  };
  node->nullable = flag("nullable");
  node->preserve_unknown = flag("x-kubernetes-preserve-unknown-fields");
  node->embedded = flag("x-kubernetes-embedded-resource");
  node->int_or_string = flag("x-kubernetes-int-or-string");
  if (j.contains("properties")) {
    if (!j["properties"].is_object()) {
      return Status::InvalidArgument(where + ".properties: must be an object");
    }
    for (const auto& [name, sub] : j["properties"].items()) {
      auto child = ParseNode(sub, where + ".properties[" + name + "]", unsupported);
      if (!child.ok()) return child;
      node->properties[name] = *child;
    }
  }
  if (j.contains("additionalProperties")) {
    const json& ap = j["additionalProperties"];
    if (ap.is_boolean()) {
      node->additional_any = ap.get<bool>();
    } else {
      auto child = ParseNode(ap, where + ".additionalProperties", unsupported);
      if (!child.ok()) return child;
      node->additional = *child;
    }
  }
  if (j.contains("items")) {
    auto child = ParseNode(j["items"], where + ".items", unsupported);
    if (!child.ok()) return child;
    node->items = *child;
  }
  if (j.contains("required")) {
    if (!j["required"].is_array())
      return Status::InvalidArgument(where + ".required: must be a list");
    for (const auto& r : j["required"]) {
      if (!r.is_string()) return Status::InvalidArgument(where + ".required: must hold strings");
      node->required.push_back(r.get<std::string>());
    }
  }
  if (j.contains("default")) node->default_value = j["default"];
  if (j.contains("pattern")) {
    if (!j["pattern"].is_string())
      return Status::InvalidArgument(where + ".pattern: must be a string");
    node->pattern = j["pattern"].get<std::string>();
    try {
      node->regex = std::make_shared<const std::regex>(node->pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return Status::InvalidArgument(where + ".pattern: \"" + node->pattern +
                                     "\" does not compile: " + e.what());
    }
  }
  if (j.contains("enum")) {
    if (!j["enum"].is_array()) return Status::InvalidArgument(where + ".enum: must be a list");
    node->enum_values = std::vector<json>(j["enum"].begin(), j["enum"].end());
  }
#define WAOP_OPT(field, fn, key)    \
  {                                 \
    auto v = fn(j, key, where);     \
    if (!v.ok()) return v.status(); \
    node->field = *v;               \
  }
  WAOP_OPT(max_length, OptInt, "maxLength")
  WAOP_OPT(min_length, OptInt, "minLength")
  WAOP_OPT(max_items, OptInt, "maxItems")
  WAOP_OPT(min_items, OptInt, "minItems")
  WAOP_OPT(max_properties, OptInt, "maxProperties")
  WAOP_OPT(min_properties, OptInt, "minProperties")
  WAOP_OPT(minimum, OptNumber, "minimum")
  WAOP_OPT(maximum, OptNumber, "maximum")
  WAOP_OPT(multiple_of, OptNumber, "multipleOf")
#undef WAOP_OPT
  node->exclusive_minimum = flag("exclusiveMinimum");
  node->exclusive_maximum = flag("exclusiveMaximum");
  if (j.contains("format") && j["format"].is_string())
    node->format = j["format"].get<std::string>();
  if (j.contains("x-kubernetes-list-type") && j["x-kubernetes-list-type"].is_string()) {
    node->list_type = j["x-kubernetes-list-type"].get<std::string>();
  }
  if (j.contains("x-kubernetes-list-map-keys") && j["x-kubernetes-list-map-keys"].is_array()) {
    for (const auto& k : j["x-kubernetes-list-map-keys"]) {
      if (k.is_string()) node->map_keys.push_back(k.get<std::string>());
    }
  }
  if (node->list_type == "map" && node->map_keys.empty()) {
    return Status::InvalidArgument(where +
                                   ".x-kubernetes-list-map-keys: required when list-type is map");
  }
  if (j.contains("x-kubernetes-validations")) {
    const json& rules = j["x-kubernetes-validations"];
    if (!rules.is_array()) {
      return Status::InvalidArgument(where + ".x-kubernetes-validations: must be a list");
    }
    for (size_t i = 0; i < rules.size(); ++i) {
      const json& r = rules[i];
      std::string at = where + ".x-kubernetes-validations[" + std::to_string(i) + "]";
      if (!r.is_object() || !r.contains("rule") || !r["rule"].is_string()) {
        return Status::InvalidArgument(at + ".rule: Required value");
      }
      CelRuleSpec spec;
      spec.rule = r["rule"].get<std::string>();
      if (r.contains("message") && r["message"].is_string()) spec.message = r["message"];
      if (r.contains("reason") && r["reason"].is_string()) spec.reason = r["reason"];
      if (r.contains("fieldPath") && r["fieldPath"].is_string()) spec.field_path = r["fieldPath"];
      auto program = CelProgram::Parse(spec.rule);
      if (program.ok()) {
        spec.program = std::move(*program);
      } else {
        WarnUnsupportedOnce(spec.rule, program.status().message());
        unsupported->push_back(spec.rule);
      }
      node->rules.push_back(std::move(spec));
    }
  }
  return NodePtr(node);
}

bool IsRootMetaField(const std::string& key) {
  return key == "apiVersion" || key == "kind" || key == "metadata";
}

void PruneNode(const SchemaNode& node, json& v, bool object_root) {
  if (v.is_object()) {
    if (node.additional) {
      for (auto& [k, x] : v.items()) PruneNode(*node.additional, x, false);
      return;
    }
    bool keep_unknown = node.preserve_unknown || node.additional_any;
    for (auto it = v.begin(); it != v.end();) {
      auto prop = node.properties.find(it.key());
      bool meta = (object_root || node.embedded) && IsRootMetaField(it.key());
      if (meta && it.key() == "metadata") {
        ++it;  // ObjectMeta is the apiserver's, never pruned by the CRD schema.
      } else if (prop != node.properties.end()) {
        PruneNode(*prop->second, it.value(), false);
        ++it;
      } else if (keep_unknown || meta) {
        ++it;
      } else {
        it = v.erase(it);
      }
    }
  } else if (v.is_array() && node.items) {
    for (auto& x : v) PruneNode(*node.items, x, false);
  }
}

void UnknownNode(const SchemaNode& node, const json& v, const std::string& path, bool object_root,
                 std::vector<std::string>* out) {
  if (v.is_object()) {
    if (node.additional) {
      for (const auto& [k, x] : v.items())
        UnknownNode(*node.additional, x, path + "." + k, false, out);
      return;
    }
    bool keep_unknown = node.preserve_unknown || node.additional_any;
    for (const auto& [k, x] : v.items()) {
      auto prop = node.properties.find(k);
      bool meta = (object_root || node.embedded) && IsRootMetaField(k);
      if (meta && k == "metadata") continue;
      if (prop != node.properties.end()) {
        UnknownNode(*prop->second, x, path + "." + k, false, out);
      } else if (!keep_unknown && !meta) {
        out->push_back(path + "." + k);
      }
    }
  } else if (v.is_array() && node.items) {
    for (size_t i = 0; i < v.size(); ++i) {
      UnknownNode(*node.items, v[i], path + "[" + std::to_string(i) + "]", false, out);
    }
  }
}

void DefaultNode(const SchemaNode& node, json& v) {
  if (v.is_object()) {
    for (const auto& [name, prop] : node.properties) {
      auto it = v.find(name);
      if (prop->default_value.has_value() &&
          (it == v.end() || (it->is_null() && !prop->nullable))) {
        v[name] = *prop->default_value;
      }
    }
    for (auto& [k, x] : v.items()) {
      auto prop = node.properties.find(k);
      if (prop != node.properties.end()) {
        DefaultNode(*prop->second, x);
      } else if (node.additional) {
        DefaultNode(*node.additional, x);
      }
    }
  } else if (v.is_array() && node.items) {
    for (auto& x : v) DefaultNode(*node.items, x);
  }
}

bool ValidDateTime(const std::string& s) { return waop::ParseRfc3339(s).ok(); }

bool ValidDate(const std::string& s) {
  static const std::regex kDate(R"(^\d{4}-\d{2}-\d{2}$)");
  return std::regex_match(s, kDate);
}

// The value of a list-map item's keys, for uniqueness and old/new correlation.
std::optional<json> MapKey(const SchemaNode& list, const json& item) {
  if (!item.is_object()) return std::nullopt;
  json key = json::object();
  for (const auto& k : list.map_keys) {
    auto it = item.find(k);
    if (it != item.end()) key[k] = *it;
  }
  return key;
}

class Validator {
 public:
  explicit Validator(std::vector<FieldCause>* out) : out_(out) {}

  void Validate(const SchemaNode& node, const json& v, const json* old, const FieldPath& path,
                bool object_root) {
    if (v.is_null()) {
      if (!node.nullable && !node.type.empty()) {
        out_->push_back(TypeInvalid(
            path, json("null"), path.InBody() + " must be of type " + node.type + ": \"null\""));
      }
      return;
    }
    if (!CheckType(node, v, path)) return;
    if (node.enum_values.has_value()) CheckEnum(node, v, path);
    if (v.is_string()) CheckString(node, v.get<std::string>(), path);
    if (v.is_number()) CheckNumber(node, v, path);
    if (v.is_array()) CheckArray(node, v, old, path);
    if (v.is_object()) CheckObject(node, v, old, path, object_root);
    CheckRules(node, v, old, path);
  }

 private:
  bool CheckType(const SchemaNode& node, const json& v, const FieldPath& path) {
    if (node.int_or_string) {
      if (v.is_string() || IsIntegral(v)) return true;
      out_->push_back(TypeInvalid(
          path, json(JsonTypeName(v)),
          path.InBody() + " must be of type integer-or-string: " + GoValue(json(JsonTypeName(v)))));
      return false;
    }
    if (node.type.empty()) return true;
    bool ok = (node.type == "object" && v.is_object()) || (node.type == "array" && v.is_array()) ||
              (node.type == "string" && v.is_string()) ||
              (node.type == "boolean" && v.is_boolean()) ||
              (node.type == "number" && v.is_number()) || (node.type == "integer" && IsIntegral(v));
    if (!ok) {
      std::string actual = JsonTypeName(v);
      out_->push_back(TypeInvalid(
          path, json(actual),
          path.InBody() + " must be of type " + node.type + ": " + GoValue(json(actual))));
    }
    return ok;
  }

  void CheckEnum(const SchemaNode& node, const json& v, const FieldPath& path) {
    for (const auto& e : *node.enum_values) {
      if (e == v) return;
    }
    std::string supported;
    for (const auto& e : *node.enum_values) {
      supported += (supported.empty() ? "" : ", ") + GoValue(e);
    }
    out_->push_back(Cause("FieldValueNotSupported",
                          "Unsupported value: " + GoValue(v) + ": supported values: " + supported,
                          path));
  }

  void CheckString(const SchemaNode& node, const std::string& s, const FieldPath& path) {
    size_t length = CodePoints(s);
    if (node.max_length && static_cast<int64_t>(length) > *node.max_length) {
      // The apiserver counts characters but words the limit in bytes; match it.
      out_->push_back(Cause("FieldValueTooLong",
                            "Too long: may not be more than " + std::to_string(*node.max_length) +
                                (*node.max_length == 1 ? " byte" : " bytes"),
                            path));
    }
    if (node.min_length && static_cast<int64_t>(length) < *node.min_length) {
      out_->push_back(Invalid(path, json(s),
                              path.InBody() + " should be at least " +
                                  std::to_string(*node.min_length) + " chars long"));
    }
    if (node.regex && !std::regex_search(s, *node.regex)) {
      out_->push_back(
          Invalid(path, json(s), path.InBody() + " should match '" + node.pattern + "'"));
    }
    bool format_ok = true;
    if (node.format == "date-time") format_ok = ValidDateTime(s);
    if (node.format == "date") format_ok = ValidDate(s);
    if (node.format == "uuid") {
      static const std::regex kUuid(
          "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
      format_ok = std::regex_match(s, kUuid);
    }
    if (node.format == "byte") {
      static const std::regex kBase64("^[A-Za-z0-9+/]*={0,2}$");
      format_ok = s.size() % 4 == 0 && std::regex_match(s, kBase64);
    }
    if (!format_ok) {
      out_->push_back(
          TypeInvalid(path, json(s),
                      path.InBody() + " must be of type " + node.format + ": " + GoValue(json(s))));
    }
  }

  void CheckNumber(const SchemaNode& node, const json& v, const FieldPath& path) {
    double d = v.get<double>();
    if (node.minimum) {
      bool bad = node.exclusive_minimum ? d <= *node.minimum : d < *node.minimum;
      if (bad) {
        out_->push_back(Invalid(path, v,
                                path.InBody() + " should be greater than " +
                                    (node.exclusive_minimum ? "" : "or equal to ") +
                                    FormatNumber(*node.minimum)));
      }
    }
    if (node.maximum) {
      bool bad = node.exclusive_maximum ? d >= *node.maximum : d > *node.maximum;
      if (bad) {
        out_->push_back(Invalid(path, v,
                                path.InBody() + " should be less than " +
                                    (node.exclusive_maximum ? "" : "or equal to ") +
                                    FormatNumber(*node.maximum)));
      }
    }
    if (node.multiple_of && *node.multiple_of != 0) {
      double q = d / *node.multiple_of;
      if (std::fabs(q - std::round(q)) > 1e-9) {
        out_->push_back(
            Invalid(path, v,
                    path.InBody() + " should be a multiple of " + FormatNumber(*node.multiple_of)));
      }
    }
    if (node.format == "int32" && IsIntegral(v) && (d < -2147483648.0 || d > 2147483647.0)) {
      out_->push_back(
          TypeInvalid(path, v, path.InBody() + " must be of type int32: " + GoValue(v)));
    }
    if (node.format == "int64" && !IsIntegral(v)) {
      out_->push_back(
          TypeInvalid(path, v, path.InBody() + " must be of type int64: " + GoValue(v)));
    }
  }

  void CheckArray(const SchemaNode& node, const json& v, const json* old, const FieldPath& path) {
    if (node.max_items && static_cast<int64_t>(v.size()) > *node.max_items) {
      out_->push_back(Cause("FieldValueTooMany",
                            "Too many: " + std::to_string(v.size()) + ": must have at most " +
                                std::to_string(*node.max_items) + " items",
                            path));
    }
    if (node.min_items && static_cast<int64_t>(v.size()) < *node.min_items) {
      out_->push_back(Invalid(
          path, json(static_cast<int64_t>(v.size())),
          path.InBody() + " should have at least " + std::to_string(*node.min_items) + " items"));
    }
    if (node.list_type == "set") {
      for (size_t i = 0; i < v.size(); ++i) {
        for (size_t k = 0; k < i; ++k) {
          if (v[k] == v[i]) {
            out_->push_back(
                Cause("FieldValueDuplicate", "Duplicate value: " + GoValue(v[i]), path.Index(i)));
            break;
          }
        }
      }
    }
    std::vector<std::optional<json>> keys;
    if (node.list_type == "map") {
      for (size_t i = 0; i < v.size(); ++i) {
        keys.push_back(MapKey(node, v[i]));
        for (size_t k = 0; k < i; ++k) {
          if (keys[i] && keys[k] && *keys[i] == *keys[k]) {
            out_->push_back(Cause("FieldValueDuplicate", "Duplicate value: " + GoValue(*keys[i]),
                                  path.Index(i)));
            break;
          }
        }
      }
    }
    if (!node.items) return;
    for (size_t i = 0; i < v.size(); ++i) {
      // Transition rules inside lists see oldSelf only where the item can be correlated:
      // list-type map items by their keys (as the apiserver does).
      const json* old_item = nullptr;
      if (old != nullptr && old->is_array() && node.list_type == "map" && keys[i]) {
        for (const auto& o : *old) {
          auto ok = MapKey(node, o);
          if (ok && *ok == *keys[i]) {
            old_item = &o;
            break;
          }
        }
      }
      Validate(*node.items, v[i], old_item, path.Index(i), false);
    }
  }

  void CheckObject(const SchemaNode& node, const json& v, const json* old, const FieldPath& path,
                   bool object_root) {
    for (const auto& name : node.required) {
      if (!v.contains(name)) {
        out_->push_back(Cause("FieldValueRequired", "Required value", path.Child(name)));
      }
    }
    if (node.max_properties && static_cast<int64_t>(v.size()) > *node.max_properties) {
      out_->push_back(Cause("FieldValueTooMany",
                            "Too many: " + std::to_string(v.size()) + ": must have at most " +
                                std::to_string(*node.max_properties) + " items",
                            path));
    }
    if (node.min_properties && static_cast<int64_t>(v.size()) < *node.min_properties) {
      out_->push_back(Invalid(path, json(static_cast<int64_t>(v.size())),
                              path.InBody() + " should have at least " +
                                  std::to_string(*node.min_properties) + " properties"));
    }
    for (const auto& [k, x] : v.items()) {
      // ObjectMeta at the root (and of embedded objects) is validated by the apiserver itself.
      if ((object_root || node.embedded) && k == "metadata") continue;
      const json* old_child = nullptr;
      if (old != nullptr && old->is_object()) {
        auto it = old->find(k);
        if (it != old->end()) old_child = &*it;
      }
      auto prop = node.properties.find(k);
      if (prop != node.properties.end()) {
        Validate(*prop->second, x, old_child, path.Child(k), false);
      } else if (node.additional) {
        Validate(*node.additional, x, old_child, path.Key(k), false);
      }
    }
  }

  void CheckRules(const SchemaNode& node, const json& v, const json* old, const FieldPath& path) {
    for (const auto& rule : node.rules) {
      if (!rule.program) continue;  // Unsupported: logged once at load, skipped.
      if (rule.program->UsesOldSelf() && old == nullptr) continue;  // Transition rule.
      FieldPath at = path;
      if (!rule.field_path.empty()) {
        std::string fp = rule.field_path;
        size_t start = fp[0] == '.' ? 1 : 0;
        while (start < fp.size()) {
          size_t end = fp.find('.', start);
          if (end == std::string::npos) end = fp.size();
          at = at.Child(fp.substr(start, end - start));
          start = end + 1;
        }
      }
      // The bad value the apiserver reports is the schema type of the node, not its content.
      json type_name = json(node.type.empty() ? "object" : node.type);
      auto result = rule.program->Evaluate(v, old);
      // As ruleErrorString in apiextensions: the message when there is one, else the rule.
      std::string rule_text = Trim(rule.message.empty() ? rule.rule : rule.message);
      if (!result.ok()) {
        out_->push_back(
            Invalid(at, type_name, result.status().message() + " evaluating rule: " + rule_text));
        continue;
      }
      if (*result) continue;
      std::string detail = rule.message.empty() ? "failed rule: " + rule_text : rule_text;
      if (rule.reason == "FieldValueForbidden") {
        out_->push_back(Cause("FieldValueForbidden", "Forbidden: " + detail, at));
      } else if (rule.reason == "FieldValueRequired") {
        out_->push_back(Cause("FieldValueRequired", "Required value: " + detail, at));
      } else if (rule.reason == "FieldValueDuplicate") {
        out_->push_back(Cause("FieldValueDuplicate", "Duplicate value: " + GoValue(type_name), at));
      } else {
        out_->push_back(Invalid(at, type_name, detail));
      }
    }
  }

  std::vector<FieldCause>* out_;
};

}  // namespace

Result<CrdSchema> CrdSchema::FromJson(const json& open_api_v3_schema) {
  auto unsupported = std::make_shared<std::vector<std::string>>();
  auto root = ParseNode(open_api_v3_schema, "openAPIV3Schema", unsupported.get());
  if (!root.ok()) return root.status();
  return CrdSchema(*root, unsupported);
}

void CrdSchema::Prune(json& obj) const { PruneNode(*root_, obj, /*object_root=*/true); }

void CrdSchema::ApplyDefaults(json& obj) const { DefaultNode(*root_, obj); }

std::vector<FieldCause> CrdSchema::Validate(const json& obj) const {
  std::vector<FieldCause> out;
  Validator(&out).Validate(*root_, obj, nullptr, FieldPath(), /*object_root=*/true);
  return out;
}

std::vector<FieldCause> CrdSchema::ValidateUpdate(const json& obj, const json& old) const {
  std::vector<FieldCause> out;
  Validator(&out).Validate(*root_, obj, &old, FieldPath(), /*object_root=*/true);
  return out;
}

std::vector<std::string> CrdSchema::UnknownFields(const json& obj) const {
  std::vector<std::string> out;
  UnknownNode(*root_, obj, "", /*object_root=*/true, &out);
  return out;
}

const std::vector<std::string>& CrdSchema::UnsupportedRules() const { return *unsupported_; }

}  // namespace devserver
