#!/usr/bin/env python3
"""Schema tests for the WhatsAppAssignment and WhatsAppPhoneNumber CRDs.

Usage: test_crd_schema.py <crds dir> [<samples dir>]

1. Structure: names, scope, status subresource, printer columns, descriptions on every
   property, the field rules the C++ validation shares (patterns, lengths, enums, defaults),
   the tenantId immutability rule, the full metav1.Condition schema, RE2-portable patterns.
2. Samples (tests/crds/samples/{good,bad}/*.yaml): every good sample validates; every bad
   sample is refused, at the field its `# field:` comment names, with a message containing
   its `# expect:` fragment (the API server's wording, reused by the kubectl tests).

Prints one line per failure and a summary; exits 1 when anything failed.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdlib  # noqa: E402


class Checker:
    """Collects check results so that one run reports every failure, not just the first."""

    def __init__(self):
        self.passed = 0
        self.failures = []

    def check(self, ok, where, what):
        if ok:
            self.passed += 1
        else:
            self.failures.append(f"{where}: {what}")
        return ok

    def merge(self, other):
        """Adds another Checker's results (one per worker thread)."""
        self.passed += other.passed
        self.failures += other.failures

    def summary(self, name):
        for f in self.failures:
            print(f"FAIL {f}")
        print(f"{name}: {self.passed} checks passed, {len(self.failures)} failed")
        return 1 if self.failures else 0


# ---- What the CRDs must say (SPEC section 2 and the shared field rules) ----------------------

LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
CONDITION_REASON = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
QUALITY = ["GREEN", "YELLOW", "RED", "UNKNOWN"]

EXPECTED = {
    "WhatsAppAssignment": {
        "plural": "whatsappassignments",
        "singular": "whatsappassignment",
        "listKind": "WhatsAppAssignmentList",
        "shortNames": ["wa"],
        "scope": "Namespaced",
        # (name, jsonPath, type, priority)
        "columns": [
            ("TENANT", ".spec.tenantName", "string", 0),
            ("TENANT-ID", ".spec.tenantId", "string", 1),
            ("PHONE", ".status.displayPhoneNumber", "string", 0),
            ("PHONE-NUMBER-ID", ".spec.phoneNumberId", "string", 1),
            ("QUALITY", ".status.qualityRating", "string", 0),
            ("READY", '.status.conditions[?(@.type=="Ready")].status', "string", 0),
            ("REASON", '.status.conditions[?(@.type=="Ready")].reason', "string", 0),
            ("AGE", ".metadata.creationTimestamp", "date", 0),
        ],
        "root_required": ["spec"],
        # path: {key: value} that must hold exactly
        "fields": {
            "spec": {"type": "object", "required": ["tenantId", "phoneNumberId"]},
            "spec.tenantId": {"type": "string", "minLength": 1, "maxLength": 63, "pattern": LABEL_VALUE},
            "spec.tenantName": {"type": "string", "maxLength": 200, "pattern": r"^[^\x00-\x1F\x7F]*$"},
            "spec.phoneNumberId": {"type": "string", "maxLength": 32, "pattern": r"^[0-9]{1,32}$"},
            "spec.displayPhoneNumber": {"type": "string", "maxLength": 30, "pattern": r"^\+[1-9]( ?[0-9]){6,14}$"},
            "spec.enabled": {"type": "boolean", "default": True},
            "spec.defaultLanguage": {"type": "string", "default": "es", "maxLength": 6,
                                     "pattern": r"^[a-z]{2,3}(_[A-Z]{2})?$"},
            "status.observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
            "status.displayPhoneNumber": {"type": "string"},
            "status.verifiedName": {"type": "string"},
            "status.qualityRating": {"type": "string", "enum": QUALITY},
            "status.qualityCheckedAt": {"type": "string", "format": "date-time"},
            "status.settingsConfigMap": {"type": "string", "maxLength": 253},
        },
        "spec_keys": ["tenantId", "tenantName", "phoneNumberId", "displayPhoneNumber", "enabled", "defaultLanguage"],
        "status_keys": ["observedGeneration", "displayPhoneNumber", "verifiedName", "qualityRating",
                        "qualityCheckedAt", "settingsConfigMap", "conditions"],
        "root_rules": ["self.metadata.name.size() <= 235"],
    },
    "WhatsAppPhoneNumber": {
        "plural": "whatsappphonenumbers",
        "singular": "whatsappphonenumber",
        "listKind": "WhatsAppPhoneNumberList",
        "shortNames": ["wapn"],
        "scope": "Cluster",
        "columns": [
            ("PHONE", ".status.displayPhoneNumber", "string", 0),
            ("VERIFIED-NAME", ".status.verifiedName", "string", 0),
            ("QUALITY", ".status.qualityRating", "string", 0),
            ("TENANT", ".status.assignment.tenantName", "string", 0),
            ("TIER", ".status.messagingLimitTier", "string", 1),
            ("ASSIGNMENT-NAMESPACE", ".status.assignment.namespace", "string", 1),
            ("ASSIGNMENT", ".status.assignment.name", "string", 1),
            ("AGE", ".metadata.creationTimestamp", "date", 0),
        ],
        "root_required": [],
        "fields": {
            "spec": {"type": "object"},
            "status.displayPhoneNumber": {"type": "string"},
            "status.verifiedName": {"type": "string"},
            "status.qualityRating": {"type": "string", "enum": QUALITY},
            "status.messagingLimitTier": {"type": "string"},
            "status.lastSyncTime": {"type": "string", "format": "date-time"},
            "status.assignment": {"type": "object", "required": ["namespace", "name", "tenantId"]},
            "status.assignment.tenantName": {"type": "string", "maxLength": 200},
            "status.assignment.tenantId": {"type": "string", "maxLength": 63},
        },
        "spec_keys": [],
        "status_keys": ["displayPhoneNumber", "verifiedName", "qualityRating", "messagingLimitTier",
                        "lastSyncTime", "assignment", "conditions"],
        "root_rules": ["self.metadata.name.matches('^[0-9]{1,32}$')"],
    },
}

CONDITION_FIELDS = {
    "type": {"type": "string", "maxLength": 316, "pattern": CONDITION_TYPE},
    "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
    "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
    "lastTransitionTime": {"type": "string", "format": "date-time"},
    "reason": {"type": "string", "minLength": 1, "maxLength": 1024, "pattern": CONDITION_REASON},
    "message": {"type": "string", "maxLength": 32768},
}

# Keys a structural schema in apiextensions.k8s.io/v1 may not use.
FORBIDDEN_KEYS = {"$ref", "definitions", "dependencies", "patternProperties", "additionalItems", "id", "$schema"}


def node_at(schema, dotted):
    node = schema
    for part in dotted.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def column_path_exists(schema, json_path):
    """Whether a printer column's JSONPath names a field of the schema (filters allowed)."""
    if json_path == ".metadata.creationTimestamp":
        return True
    node = schema
    # .status.conditions[?(@.type=="Ready")].status -> status, conditions, [], status
    for part in re.findall(r"\.([A-Za-z0-9_]+)|(\[[^\]]*\])", json_path):
        name, index = part
        if index:
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(name) if node else None
        if node is None:
            return False
    return True


def check_structure(c, kind, crd):
    exp = EXPECTED[kind]
    where = f"crd {kind}"
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    c.check(crd.get("apiVersion") == "apiextensions.k8s.io/v1", where, "apiVersion must be apiextensions.k8s.io/v1")
    c.check(crd.get("metadata", {}).get("name") == f"{exp['plural']}.{crdlib.GROUP}", where,
            f"metadata.name must be {exp['plural']}.{crdlib.GROUP}")
    c.check(spec.get("group") == crdlib.GROUP, where, f"spec.group must be {crdlib.GROUP}")
    for key in ("plural", "singular", "listKind", "shortNames"):
        c.check(names.get(key) == exp[key], where, f"spec.names.{key} is {names.get(key)!r}, want {exp[key]!r}")
    c.check(names.get("categories") == ["whatsapp"], where, "spec.names.categories must be [whatsapp]")
    c.check(spec.get("scope") == exp["scope"], where, f"spec.scope must be {exp['scope']}")

    versions = spec.get("versions", [])
    c.check(len(versions) == 1 and versions[0].get("name") == crdlib.VERSION, where,
            f"exactly one version, {crdlib.VERSION}")
    if not versions:
        return
    v = versions[0]
    c.check(v.get("served") is True and v.get("storage") is True, where, "version must be served and storage")
    c.check(v.get("subresources", {}).get("status") == {}, where, "status subresource must be enabled")

    got_columns = [(col.get("name", "").upper(), col.get("jsonPath"), col.get("type"), col.get("priority", 0))
                   for col in v.get("additionalPrinterColumns", [])]
    c.check(got_columns == exp["columns"], where, f"printer columns are {got_columns}, want {exp['columns']}")
    for col in v.get("additionalPrinterColumns", []):
        if col.get("type") != "date":
            c.check(bool(col.get("description")), where, f"printer column {col.get('name')} has no description")

    schema = v["schema"]["openAPIV3Schema"]
    for col in v.get("additionalPrinterColumns", []):
        c.check(column_path_exists(schema, col.get("jsonPath", "")), where,
                f"printer column {col.get('name')}: {col.get('jsonPath')} names no field of the schema")
    c.check(schema.get("type") == "object", where, "root schema must be type: object")
    c.check(schema.get("required", []) == exp["root_required"], where,
            f"root required is {schema.get('required')}, want {exp['root_required']}")
    c.check(set(schema.get("properties", {})) == {"apiVersion", "kind", "metadata", "spec", "status"}, where,
            "root properties must be apiVersion, kind, metadata, spec, status")
    c.check(schema.get("properties", {}).get("metadata") == {"type": "object"}, where,
            "metadata must be exactly {type: object} (the API server owns ObjectMeta)")
    rules = [r.get("rule") for r in schema.get("x-kubernetes-validations", [])]
    c.check(rules == exp["root_rules"], where, f"root rules are {rules}, want {exp['root_rules']}")
    for r in schema.get("x-kubernetes-validations", []):
        c.check(bool(r.get("message")), where, f"root rule {r.get('rule')!r} has no message")

    spec_keys = list(node_at(schema, "spec").get("properties", {}))
    c.check(spec_keys == exp["spec_keys"], where, f"spec fields are {spec_keys}, want {exp['spec_keys']}")
    status_keys = list(node_at(schema, "status").get("properties", {}))
    c.check(status_keys == exp["status_keys"], where, f"status fields are {status_keys}, want {exp['status_keys']}")

    for path, want in exp["fields"].items():
        node = node_at(schema, path)
        if not c.check(node is not None, where, f"{path} is missing"):
            continue
        for key, value in want.items():
            c.check(node.get(key) == value, where, f"{path}.{key} is {node.get(key)!r}, want {value!r}")

    # Every property documented, typed, structural, with portable patterns and valid defaults.
    for parts, node in crdlib.iter_properties(schema):
        path = ".".join(parts)
        if parts == ("metadata",):
            continue
        c.check(isinstance(node.get("description"), str) and len(node["description"].strip()) >= 10,
                where, f"{path} needs a description (kubectl explain shows it)")
        c.check("type" in node, where, f"{path} has no type (structural schemas need one)")
        if "conditions" not in parts and parts not in (("apiVersion",), ("kind",)):
            c.check("\n" not in node.get("description", ""), where,
                    f"{path} description has line breaks: fold it (>-) so kubectl explain wraps it")
        bad_keys = FORBIDDEN_KEYS & set(node)
        c.check(not bad_keys, where, f"{path} uses keys not allowed in a structural schema: {sorted(bad_keys)}")
        c.check(node.get("uniqueItems") is not True, where, f"{path}: uniqueItems: true is not allowed")
        c.check(not ("properties" in node and "additionalProperties" in node), where,
                f"{path}: properties and additionalProperties together are not allowed")
        for r in node.get("required", []):
            c.check(r in node.get("properties", {}), where, f"{path} requires {r!r}, which it does not declare")
            c.check("default" not in node.get("properties", {}).get(r, {}), where,
                    f"{path}.{r} is required and has a default: the default could never apply")
        if node.get("x-kubernetes-list-type") == "map":
            item = node.get("items", {})
            for key in node.get("x-kubernetes-list-map-keys", []):
                c.check(key in item.get("required", []) or "default" in item.get("properties", {}).get(key, {}),
                        where, f"{path}: list-map key {key!r} must be required or defaulted")
        if "pattern" in node:
            problems = crdlib.pattern_portability_problems(node["pattern"])
            c.check(not problems, where, f"{path} pattern {node['pattern']!r}: {problems}")
        if (node.get("type") == "string" and "enum" not in node and "format" not in node
                and parts not in (("apiVersion",), ("kind",))):
            c.check("maxLength" in node, where, f"{path} needs a maxLength (bounds CEL cost and storage)")
        if "default" in node:
            errors = crdlib._Validator(crdlib.to_json_schema(node, at_root=False)).iter_errors(node["default"])
            c.check(not list(errors), where, f"{path} default {node['default']!r} fails its own schema")

    status = node_at(schema, "status")
    conditions = status.get("properties", {}).get("conditions")
    if c.check(conditions is not None, where, "status.conditions is missing"):
        c.check(conditions.get("type") == "array", where, "status.conditions must be an array")
        c.check(conditions.get("x-kubernetes-list-type") == "map", where, "status.conditions must be a list map")
        c.check(conditions.get("x-kubernetes-list-map-keys") == ["type"], where,
                "status.conditions must be keyed by type")
        items = conditions.get("items", {})
        c.check(sorted(items.get("required", [])) == ["lastTransitionTime", "message", "reason", "status", "type"],
                where, "condition required fields must be type, status, lastTransitionTime, reason, message")
        for name, want in CONDITION_FIELDS.items():
            node = items.get("properties", {}).get(name, {})
            for key, value in want.items():
                c.check(node.get(key) == value, where, f"status.conditions[].{name}.{key} is {node.get(key)!r}, want {value!r}")

    if kind == "WhatsAppAssignment":
        tenant = node_at(schema, "spec.tenantId") or {}
        rules = tenant.get("x-kubernetes-validations", [])
        immutable = [r for r in rules if r.get("rule") == "self == oldSelf"]
        c.check(len(immutable) == 1, where, "spec.tenantId needs the rule 'self == oldSelf'")
        c.check(all("immutable" in r.get("message", "") for r in immutable), where,
                "the tenantId immutability rule needs a message that says it is immutable")
        # Nothing else may be immutable by accident.
        others = [".".join(p) for p, n in crdlib.iter_properties(schema)
                  if p != ("spec", "tenantId") and n.get("x-kubernetes-validations")]
        c.check(not others, where, f"unexpected CEL rules on {others}")


# ---- Samples --------------------------------------------------------------------------------

HEADER = re.compile(r"^#\s*(field|expect|operation):\s*(.*?)\s*$")


def read_sample(path):
    """Returns (headers, documents) of a sample file."""
    headers = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = HEADER.match(line)
            if m:
                headers[m.group(1)] = m.group(2)
    return headers, crdlib.load_yaml_documents(path)


def sample_errors(validators, headers, docs):
    """Validates a sample as its operation would; returns (kind, errors)."""
    operation = headers.get("operation", "create")
    kind = docs[-1].get("kind")
    validator = validators.get(kind)
    if validator is None:
        return kind, [("kind", f"no CRD for kind {kind!r}")]
    if operation == "update":
        errors = validator.errors(docs[1], old=docs[0])
    else:
        # Status is written with a patch or PUT whose unknown fields are pruned, not refused.
        errors = validator.errors(docs[0], strict=operation != "status")
    return kind, errors


def check_samples(c, validators, samples_dir):
    good_dir = os.path.join(samples_dir, "good")
    bad_dir = os.path.join(samples_dir, "bad")
    bad_fields = {}

    for directory in (good_dir, bad_dir):
        for name in sorted(os.listdir(directory)):
            for line, value in crdlib.go_yaml_misreads(os.path.join(directory, name)):
                c.check(False, f"{os.path.basename(directory)}/{name}:{line}",
                        f"quote {value!r}: kubectl's YAML parser reads it as a number/bool/null")

    for name in sorted(os.listdir(good_dir)):
        where = f"good/{name}"
        headers, docs = read_sample(os.path.join(good_dir, name))
        op = headers.get("operation", "create")
        if not c.check(op in ("create", "update", "status"), where, f"operation {op!r} is not create|update|status"):
            continue
        if not c.check(len(docs) == (2 if op == "update" else 1), where, "update samples hold 2 documents, others 1"):
            continue
        kind, errors = sample_errors(validators, headers, docs)
        c.check(not errors, where, f"refused: {[m for _, m in errors]}")
        if op == "update":
            c.check(not validators[kind].errors(docs[0]), where, "the stored (first) object must be valid")
        if op == "create":
            c.check("status" not in docs[0], where, "create samples carry no status (the API server drops it)")
        defaulted = validators[kind].apply_defaults(docs[-1])
        c.check(not validators[kind].errors(defaulted), where, "invalid after defaulting")
        if kind == "WhatsAppAssignment":
            c.check("enabled" in defaulted["spec"] and "defaultLanguage" in defaulted["spec"], where,
                    "defaulting must fill spec.enabled and spec.defaultLanguage")
            if "enabled" not in docs[-1]["spec"]:
                c.check(defaulted["spec"]["enabled"] is True, where, "spec.enabled must default to true")
            if "defaultLanguage" not in docs[-1]["spec"]:
                c.check(defaulted["spec"]["defaultLanguage"] == "es", where, "spec.defaultLanguage must default to es")

    for name in sorted(os.listdir(bad_dir)):
        where = f"bad/{name}"
        headers, docs = read_sample(os.path.join(bad_dir, name))
        missing = [h for h in ("field", "expect", "operation") if h not in headers]
        if not c.check(not missing, where, f"missing header comment(s): {missing}"):
            continue
        op, field, expect = headers["operation"], headers["field"], headers["expect"]
        if not c.check(len(docs) == (2 if op == "update" else 1), where, "update samples hold 2 documents, others 1"):
            continue
        c.check((op == "status") == field.startswith("status"), where,
                "status fields can only be written through the status subresource (operation: status), "
                "and only they")
        kind, errors = sample_errors(validators, headers, docs)
        bad_fields.setdefault(kind, set()).add(field)
        if not c.check(errors, where, f"accepted, but {field} should be refused ({expect})"):
            continue
        at_field = [m for p, m in errors if p == field]
        c.check(at_field, where, f"refused, but not at {field}: {[m for _, m in errors]}")
        c.check(any(expect in m for m in at_field), where,
                f"no error at {field} contains {expect!r}: {at_field}")
        if op == "update":
            c.check(not validators[kind].errors(docs[0]), where, "the stored (first) object must be valid")
    return bad_fields


def check_coverage(c, validators, bad_fields):
    """Every spec field, and every constrained status field, has at least one bad sample."""
    for kind, validator in validators.items():
        covered = bad_fields.get(kind, set())
        for parts, node in crdlib.iter_properties(validator.schema):
            path = ".".join(parts)
            if "[]" in parts or parts[0] not in ("spec", "status") or len(parts) < 2:
                continue
            constrained = parts[0] == "spec" or any(k in node for k in ("enum", "format", "pattern", "required"))
            if not constrained:
                continue
            c.check(any(f == path or f.startswith(path + ".") or f.startswith(path + "[") for f in covered),
                    f"coverage {kind}", f"no bad sample for {path}")


def main(argv):
    if len(argv) < 2:
        print(__doc__)
        return 2
    crd_dir = argv[1]
    samples_dir = argv[2] if len(argv) > 2 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "samples")
    c = Checker()
    crds = crdlib.load_crds(crd_dir)
    c.check(sorted(crds) == sorted(EXPECTED), crd_dir, f"CRDs found: {sorted(crds)}, want {sorted(EXPECTED)}")
    validators = {}
    for kind, crd in crds.items():
        if kind in EXPECTED:
            check_structure(c, kind, crd)
            validators[kind] = crdlib.CrdValidator(crd)
    if len(validators) == len(EXPECTED):
        bad_fields = check_samples(c, validators, samples_dir)
        check_coverage(c, validators, bad_fields)
    return c.summary("crd_schema")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
