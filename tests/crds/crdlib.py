"""Validate objects against our CustomResourceDefinitions the way the API server would.

Shared by test_crd_schema.py and test_examples.py. The CRD's openAPIV3Schema is turned into
a JSON Schema (draft 7) and checked with the `jsonschema` package; the parts of Kubernetes
validation that JSON Schema has no word for are emulated here:

  * `pattern` uses Go RE2 semantics for `$` (end of text only; Python's `$` also matches
    before a final newline, so "123\\n" would slip through `^[0-9]+$`);
  * `format: date-time` (RFC 3339) and `format: int64`;
  * unknown fields are errors, as with `kubectl apply` (server-side strict field validation);
  * `x-kubernetes-list-type: map` key uniqueness;
  * the few CEL rules (`x-kubernetes-validations`) our CRDs use; any other rule is reported
    as unsupported, so adding a rule to a CRD means teaching this file about it.

Errors come back as (field path, message) with the API server's wording, e.g.
("spec.tenantId", 'spec.tenantId in body should match \'^...$\'') or
("spec", "Required value"), so sample files can name the message a real API server gives.
"""

import copy
import datetime
import os
import re

import jsonschema
import yaml

GROUP = "whatsapp.bakery-ia.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


def load_yaml_documents(path):
    """Returns the non-empty YAML documents of a file."""
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


_GO_BOOL_NULL = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|true|True|TRUE|false|False|FALSE|~|null|Null|NULL)$")
_GO_NUMBER = re.compile(
    r"^[-+]?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?|\.[0-9]+([eE][-+]?[0-9]+)?)$"
    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$"
)


def go_yaml_misreads(path):
    """Returns [(line, value)] of unquoted scalars that PyYAML reads as strings but Go's YAML
    (kubectl, sigs.k8s.io/yaml on yaml.v2) reads as a number, bool or null, e.g. +034612345678.

    Such a value passes this test suite and fails against a real API server: quote it.
    """
    out = []

    def walk(node):
        if isinstance(node, yaml.ScalarNode):
            if node.style is None and node.tag == "tag:yaml.org,2002:str":
                v = node.value.replace("_", "")
                if _GO_BOOL_NULL.match(node.value) or _GO_NUMBER.match(v):
                    out.append((node.start_mark.line + 1, node.value))
        elif isinstance(node, yaml.SequenceNode):
            for item in node.value:
                walk(item)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(key)
                walk(value)

    with open(path, encoding="utf-8") as f:
        for doc in yaml.compose_all(f):
            if doc is not None:
                walk(doc)
    return out


def load_crds(crd_dir):
    """Returns {kind: crd} for every CRD file in crd_dir."""
    crds = {}
    for name in sorted(os.listdir(crd_dir)):
        if not name.endswith((".yaml", ".yml")):
            continue
        for doc in load_yaml_documents(os.path.join(crd_dir, name)):
            if doc.get("kind") == "CustomResourceDefinition":
                crds[doc["spec"]["names"]["kind"]] = doc
    return crds


def root_schema(crd):
    """Returns the openAPIV3Schema of the CRD's v1alpha1 version."""
    for version in crd["spec"]["versions"]:
        if version["name"] == VERSION:
            return version["schema"]["openAPIV3Schema"]
    raise KeyError(f"{crd['metadata']['name']} has no version {VERSION}")


# ---- Go regular expressions ----------------------------------------------------------------

# Syntax that Python `re` and Go RE2 read differently or that RE2 refuses.
_NON_PORTABLE = [
    (r"\(\?[=!<]", "lookaround (RE2 has none)"),
    (r"\\[1-9]", "backreference (RE2 has none)"),
    (r"\\[dDwWsSbB]", "class shorthand (Unicode-aware in Python, ASCII in Go)"),
    (r"\\[AZz]", "anchor spelled differently in Python and Go"),
    (r"[*+?}]\+", "possessive quantifier"),
]


def pattern_portability_problems(pattern):
    """Returns the reasons the pattern is not safe for both Python re and Go RE2 ([] if fine)."""
    problems = [why for rx, why in _NON_PORTABLE if re.search(rx, pattern)]
    if not pattern.startswith("^") or not pattern.endswith("$"):
        problems.append("not anchored with ^...$ (JSON Schema patterns match anywhere)")
    try:
        re.compile(pattern)
    except re.error as e:
        problems.append(f"does not compile: {e}")
    return problems


def go_regex(pattern):
    """Compiles a Go RE2 pattern into a Python regex with the same meaning.

    Only `$` differs for the portable subset: outside a character class, Go's `$` (without
    the m flag) matches at the end of the text only, which Python spells `\\Z`.
    """
    out, in_class, i = [], False, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            # A ']' right after '[' or '[^' is a literal member, not the end of the class.
            j = i + 1 + (pattern[i + 1 : i + 2] == "^")
            if pattern[j : j + 1] == "]":
                out.append(pattern[i : j + 1])
                i = j + 1
                continue
        elif c == "$":
            c = r"\Z"
        out.append(c)
        i += 1
    return re.compile("".join(out))


# ---- Schema conversion ----------------------------------------------------------------------


def to_json_schema(node, at_root=True):
    """Converts a structural OpenAPI v3 schema to a JSON Schema, dropping x-kubernetes-* keys.

    Objects that declare properties get additionalProperties: false, except the root's
    metadata (ObjectMeta is validated by the API server itself, not by the CRD schema).
    """
    out = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-") or key in ("description", "default", "example"):
            continue
        if key == "properties":
            out[key] = {
                name: ({} if at_root and name == "metadata" else to_json_schema(sub, False))
                for name, sub in value.items()
            }
        elif key == "items":
            out[key] = to_json_schema(value, False)
        elif key == "additionalProperties" and isinstance(value, dict):
            out[key] = to_json_schema(value, False)
        else:
            out[key] = value
    if "properties" in out and "additionalProperties" not in out:
        out["additionalProperties"] = False
    if at_root:
        out["$schema"] = "http://json-schema.org/draft-07/schema#"
    return out


_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z"
)


def is_rfc3339(value):
    """Returns whether value is an RFC 3339 date-time (what metav1.Time serialises to)."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00").replace("t", "T"))
    except ValueError:
        return False
    return True


def _pattern(validator, pattern, instance, schema):
    if isinstance(instance, str) and not go_regex(pattern).search(instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


def _format(validator, fmt, instance, schema):
    if fmt == "date-time" and isinstance(instance, str) and not is_rfc3339(instance):
        yield jsonschema.ValidationError(f"{instance!r} is not a date-time")
    if fmt == "int64" and isinstance(instance, int) and not -(2**63) <= instance < 2**63:
        yield jsonschema.ValidationError(f"{instance!r} does not fit in int64")


_Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {"pattern": _pattern, "format": _format}
)


# ---- Error wording --------------------------------------------------------------------------


def format_path(parts):
    """Renders a path as the API server does: status.conditions[0].reason."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _go_value(v):
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return f'"{type(v).__name__ if isinstance(v, list) else "object"}"'
    return str(v)


_JSON_TYPE = {str: "string", bool: "boolean", int: "integer", float: "number", list: "array",
              dict: "object", type(None): "null"}


def _explain(error):
    """Turns a jsonschema error into (path, message) worded like the API server."""
    parts = list(error.absolute_path)
    path = format_path(parts)
    v, kind = error.instance, error.validator
    if kind == "required":
        missing = [r for r in error.validator_value if r not in error.instance]
        p = format_path(parts + [missing[0]])
        return p, f"{p}: Required value"
    if kind == "additionalProperties":
        extra = sorted(set(v) - set(error.schema.get("properties", {})))
        p = format_path(parts + [extra[0]])
        return p, f'unknown field "{p}"'
    if kind == "pattern":
        return path, f"{path}: Invalid value: {_go_value(v)}: {path} in body should match '{error.validator_value}'"
    if kind == "maxLength":
        # Older API servers say "must have at most N bytes", newer "may not be more than N
        # bytes"; both start with "Too long" and count characters despite the word.
        return path, f"{path}: Too long: must have at most {error.validator_value} bytes"
    if kind == "minLength":
        return path, f"{path}: Invalid value: {_go_value(v)}: {path} in body should be at least {error.validator_value} chars long"
    if kind == "enum":
        supported = ", ".join(_go_value(x) for x in error.validator_value)
        return path, f"{path}: Unsupported value: {_go_value(v)}: supported values: {supported}"
    if kind == "type":
        actual = _go_value(_JSON_TYPE.get(type(v), "?"))
        return path, f"{path}: Invalid value: {actual}: {path} in body must be of type {error.validator_value}: {actual}"
    if kind == "format":
        return path, f"{path}: Invalid value: {_go_value(v)}: {path} in body must be of type {error.validator_value}: {_go_value(v)}"
    if kind == "minimum":
        return path, f"{path}: Invalid value: {v}: {path} in body should be greater than or equal to {error.validator_value}"
    if kind == "maximum":
        return path, f"{path}: Invalid value: {v}: {path} in body should be less than or equal to {error.validator_value}"
    return path, f"{path}: Invalid value: {error.message}"


# ---- Kubernetes extensions: list maps and CEL -----------------------------------------------

_MISSING = object()


def _walk_extensions(schema, value, old, parts, errors):
    """Checks list-map key uniqueness and CEL rules along the schema and the value."""
    if value is _MISSING or value is None:
        return
    path = format_path(parts)
    for rule in schema.get("x-kubernetes-validations", []):
        ok = _eval_cel(rule["rule"], value, old)
        if ok is None:
            errors.append((path, f"{path}: unsupported CEL rule {rule['rule']!r}: teach tests/crds/crdlib.py"))
        elif not ok:
            # The API server reports a root rule at the root (no field path); the rules we
            # have there are all about the name, so attribute them to metadata.name.
            where = path or ("metadata.name" if "self.metadata.name" in rule["rule"] else "")
            errors.append((where, f"{path or '<nil>'}: Invalid value: \"object\": {rule.get('message', rule['rule'])}"))
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            old_sub = old.get(name, _MISSING) if isinstance(old, dict) else _MISSING
            _walk_extensions(sub, value.get(name, _MISSING), old_sub, parts + [name], errors)
    elif isinstance(value, list) and "items" in schema:
        keys = schema.get("x-kubernetes-list-map-keys", [])
        seen = set()
        for i, item in enumerate(value):
            if schema.get("x-kubernetes-list-type") == "map" and isinstance(item, dict):
                key = tuple(item.get(k) for k in keys)
                if key in seen:
                    p = format_path(parts + [i])
                    errors.append((p, f"{p}: Duplicate value: {dict(zip(keys, key))}"))
                seen.add(key)
            # Transition rules inside lists are not used by our CRDs; compare no old items.
            _walk_extensions(schema["items"], item, _MISSING, parts + [i], errors)


_SIZE_RULE = re.compile(r"^self\.metadata\.name\.size\(\) <= ([0-9]+)$")
_MATCHES_RULE = re.compile(r"^self\.metadata\.name\.matches\('([^']*)'\)$")


def _eval_cel(rule, value, old):
    """Evaluates the CEL rules our CRDs use. Returns True/False, or None when unsupported."""
    if rule == "self == oldSelf":
        # A transition rule only runs on update, and only when the old value exists.
        return True if old is _MISSING else value == old
    m = _SIZE_RULE.match(rule)
    if m:
        return len(value.get("metadata", {}).get("name", "")) <= int(m.group(1))
    m = _MATCHES_RULE.match(rule)
    if m:
        # CEL matches() is RE2 and unanchored, like JSON Schema patterns.
        return bool(go_regex(m.group(1)).search(value.get("metadata", {}).get("name", "")))
    return None


# ---- Entry points ---------------------------------------------------------------------------


class CrdValidator:
    """Validates objects of one CRD. Not thread-safe; cheap to build."""

    def __init__(self, crd):
        self.crd = crd
        self.schema = root_schema(crd)
        self.json_schema = to_json_schema(self.schema)
        _Validator.check_schema(self.json_schema)
        self._validator = _Validator(self.json_schema)

    def errors(self, obj, old=None, strict=True):
        """Returns the (path, message) errors the API server would report for obj.

        old is the stored object on update (enables transition rules), None on create.
        strict: unknown fields are errors, as with `kubectl apply` (fieldValidation=Strict);
        without it they are pruned, as for a status write with the default (Warn).
        """
        out = [_explain(e) for e in self._validator.iter_errors(obj)
               if strict or e.validator != "additionalProperties"]
        expect_api = API_VERSION
        if obj.get("apiVersion") != expect_api:
            out.append(("apiVersion", f'apiVersion: Invalid value: {_go_value(obj.get("apiVersion"))}: must be {expect_api}'))
        if obj.get("kind") != self.crd["spec"]["names"]["kind"]:
            out.append(("kind", f"kind: Invalid value: {_go_value(obj.get('kind'))}"))
        if not (obj.get("metadata") or {}).get("name"):
            out.append(("metadata.name", "metadata.name: Required value: name or generateName is required"))
        namespaced = self.crd["spec"]["scope"] == "Namespaced"
        if namespaced and not (obj.get("metadata") or {}).get("namespace"):
            out.append(("metadata.namespace", "metadata.namespace: Required value"))
        _walk_extensions(self.schema, obj, _MISSING if old is None else old, [], out)
        return out

    def apply_defaults(self, obj):
        """Returns a copy of obj with the schema's defaults filled in, as the API server does."""
        obj = copy.deepcopy(obj)
        _default(self.schema, obj)
        return obj


def _default(schema, value):
    if isinstance(value, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in value and "default" in sub:
                value[name] = sub["default"]
            if name in value:
                _default(sub, value[name])
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _default(schema["items"], item)


def iter_properties(schema, parts=()):
    """Yields (path parts, schema node) for every property below schema, items included."""
    for name, sub in schema.get("properties", {}).items():
        yield parts + (name,), sub
        yield from iter_properties(sub, parts + (name,))
    if "items" in schema:
        yield parts + ("[]",), schema["items"]
        yield from iter_properties(schema["items"], parts + ("[]",))
