// The structural schema of one served version of a CustomResourceDefinition
// (spec.versions[].schema.openAPIV3Schema), and the three things the API server does with it
// on every write: prune unknown fields, apply defaults, validate (with the same field paths,
// reasons and messages as kube-apiserver, so kubectl shows what a real cluster would show).
//
// Supported keywords: type, properties, additionalProperties (bool or schema), items,
// required, enum, pattern (std::regex ECMAScript), minLength / maxLength (Unicode code
// points), minimum / maximum (+ exclusive), multipleOf, minItems / maxItems, minProperties /
// maxProperties, format (date-time, date, int32, int64, byte, uuid), nullable, default,
// x-kubernetes-preserve-unknown-fields, x-kubernetes-embedded-resource,
// x-kubernetes-int-or-string, x-kubernetes-list-type (set, map + list-map-keys), and the CEL
// subset in x-kubernetes-validations named in cel_rule.h. allOf/anyOf/oneOf/not are ignored.
//
// Thread-safety: immutable after construction; concurrent const use is safe. Copies are
// cheap (shared immutable tree).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"

namespace devserver {

// One metav1.StatusCause.
struct FieldCause {
  // "FieldValueRequired" | "FieldValueInvalid" | "FieldValueNotSupported" |
  // "FieldValueTooLong" | "FieldValueTooMany" | "FieldValueTypeInvalid" |
  // "FieldValueForbidden" | "FieldValueDuplicate"
  std::string reason;
  std::string message;  // "Required value", "Invalid value: \"abc\": spec.x in body should ..."
  std::string field;    // "spec.phoneNumberId", "status.conditions[1]"
  friend bool operator==(const FieldCause&, const FieldCause&) = default;
};

struct SchemaNode;  // defined in crd_schema.cpp

class CrdSchema {
 public:
  // Parses and checks the schema (types known, patterns compile, CEL rules parse or are
  // recorded as unsupported). InvalidArgument names the offending path and keyword.
  static waop::Result<CrdSchema> FromJson(const nlohmann::json& open_api_v3_schema);

  // Drops fields the schema does not know, in place. Honours
  // x-kubernetes-preserve-unknown-fields and x-kubernetes-embedded-resource (whose
  // apiVersion/kind/metadata are kept). apiVersion, kind and metadata are always kept at root.
  void Prune(nlohmann::json& obj) const;

  // Fills `default`s in place, as the API server does: a property's default applies only
  // when its parent object exists (defaults do not create parents unless the parent has a
  // default of its own, which is applied first).
  void ApplyDefaults(nlohmann::json& obj) const;

  // Every schema violation in `obj`, in a stable order (depth first, properties sorted).
  // Empty when valid.
  std::vector<FieldCause> Validate(const nlohmann::json& obj) const;

  // Validate plus transition rules (x-kubernetes-validations using oldSelf), which apply
  // only where the old object has a value at the same path.
  std::vector<FieldCause> ValidateUpdate(const nlohmann::json& obj,
                                         const nlohmann::json& old) const;

  // Paths (".spec.foo", ".spec.items[0].bar") of fields the schema does not know, for
  // fieldValidation=Strict / Warn. Call before Prune.
  std::vector<std::string> UnknownFields(const nlohmann::json& obj) const;

  // CEL expressions this schema carries that the evaluator does not support (they are
  // skipped, never failed); for a warning log.
  const std::vector<std::string>& UnsupportedRules() const;

 private:
  explicit CrdSchema(std::shared_ptr<const SchemaNode> root,
                     std::shared_ptr<const std::vector<std::string>> unsupported)
      : root_(std::move(root)), unsupported_(std::move(unsupported)) {}

  std::shared_ptr<const SchemaNode> root_;
  std::shared_ptr<const std::vector<std::string>> unsupported_;
};

}  // namespace devserver
