#!/usr/bin/env python3
"""Renders the generated parts of docs/api.md (field and printer-column tables) from crds/.

Usage:
  api_doc.py <crds dir> <docs/api.md>           check: exit 1 if the doc is out of date
  api_doc.py <crds dir> <docs/api.md> --write   rewrite the generated blocks in place

The doc's prose is written by hand; each generated block sits between
`<!-- BEGIN GENERATED <name> -->` and `<!-- END GENERATED <name> -->`, with <name> one of
`<Kind> fields` or `<Kind> columns`. The CRDs are the source of truth.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdlib  # noqa: E402

BLOCK = re.compile(r"(<!-- BEGIN GENERATED (.+?) -->\n)(.*?)(<!-- END GENERATED \2 -->)", re.S)


def _cell(text):
    return " ".join(str(text).split()).replace("|", "\\|")


def _code(text):
    # Backticks inside a code span need a longer fence; our patterns have none.
    return f"`{text}`"


def _rules(node):
    out = []
    if "enum" in node:
        out.append("one of " + ", ".join(_code(v) for v in node["enum"]))
    if "pattern" in node:
        out.append("pattern " + _code(node["pattern"]))
    if "minLength" in node:
        out.append(f"minLength {node['minLength']}")
    if "maxLength" in node:
        out.append(f"maxLength {node['maxLength']}")
    if "minimum" in node:
        out.append(f"minimum {node['minimum']}")
    if "format" in node:
        out.append(f"format {node['format']}")
    for r in node.get("x-kubernetes-validations", []):
        if r["rule"] == "self == oldSelf":
            out.append("immutable")
        else:
            out.append("rule " + _code(r["rule"]))
    if node.get("x-kubernetes-list-type") == "map":
        out.append("list map keyed by " + ", ".join(node.get("x-kubernetes-list-map-keys", [])))
    return "; ".join(out)


def _type(node):
    t = node.get("type", "")
    if t == "array" and "items" in node:
        return f"[]{node['items'].get('type', '')}"
    return t


def field_rows(schema):
    rows = []

    def walk(node, prefix, required):
        for name, sub in node.get("properties", {}).items():
            path = f"{prefix}{name}"
            if path in ("apiVersion", "kind", "metadata"):
                continue
            default = _code(_yaml_scalar(sub["default"])) if "default" in sub else ""
            rows.append((path, _type(sub), "yes" if name in required else "", default, _rules(sub),
                         sub.get("description", "")))
            if sub.get("type") == "object":
                walk(sub, path + ".", set(sub.get("required", [])))
            elif sub.get("type") == "array" and sub.get("items", {}).get("type") == "object":
                walk(sub["items"], path + "[].", set(sub["items"].get("required", [])))

    walk(schema, "", set(schema.get("required", [])))
    return rows


def _yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_fields(crd):
    lines = ["| Field | Type | Required | Default | Rules | Description |",
             "| --- | --- | --- | --- | --- | --- |"]
    for path, typ, req, default, rules, desc in field_rows(crdlib.root_schema(crd)):
        lines.append(f"| {_code(path)} | {typ} | {req} | {default} | {_cell(rules)} | {_cell(desc)} |")
    return "\n".join(lines) + "\n"


def render_columns(crd):
    version = next(v for v in crd["spec"]["versions"] if v["name"] == crdlib.VERSION)
    lines = ["| Column | Shown | JSONPath | Type | Description |", "| --- | --- | --- | --- | --- |"]
    for col in version.get("additionalPrinterColumns", []):
        shown = "`-o wide`" if col.get("priority", 0) else "always"
        lines.append(f"| {col['name'].upper()} | {shown} | {_code(col['jsonPath'])} | {col['type']} | "
                     f"{_cell(col.get('description', 'Time since creation.'))} |")
    return "\n".join(lines) + "\n"


def render(crds, doc_text):
    """Returns (new text, [block names that were missing])."""
    wanted = {}
    for kind, crd in crds.items():
        wanted[f"{kind} fields"] = render_fields(crd)
        wanted[f"{kind} columns"] = render_columns(crd)
    seen = set()

    def replace(m):
        name = m.group(2)
        seen.add(name)
        if name not in wanted:
            return m.group(0)
        return m.group(1) + wanted[name] + m.group(4)

    new_text = BLOCK.sub(replace, doc_text)
    return new_text, sorted(set(wanted) - seen)


def undocumented_reasons(crds, doc_text):
    """Condition types and reasons the CRDs' conditions descriptions name, missing from the doc.

    Each must appear in a table row of the doc as `Name` (code span), so the conditions table
    keeps up with what the CRD promises.
    """
    missing = []
    for crd in crds.values():
        status = crdlib.root_schema(crd)["properties"].get("status", {})
        desc = status.get("properties", {}).get("conditions", {}).get("description", "")
        for word in sorted(set(re.findall(r"\b([A-Z][a-z]+(?:[A-Z][a-z]+)+|Ready|Reconciling|Stalled|Bound)\b", desc))):
            if not re.search(rf"^\|.*`{word}(=[A-Za-z]+)?`", doc_text, re.M):
                missing.append(word)
    return missing


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    crds = crdlib.load_crds(argv[1])
    with open(argv[2], encoding="utf-8") as f:
        text = f.read()
    new_text, missing = render(crds, text)
    unexplained = undocumented_reasons(crds, text)
    if unexplained:
        print(f"api_doc: condition types/reasons named in the CRDs but not in the doc's tables: {unexplained}")
        return 1
    if "--write" in argv:
        with open(argv[2], "w", encoding="utf-8") as f:
            f.write(new_text)
        print(f"wrote {argv[2]}; blocks without markers: {missing}")
        return 0
    ok = new_text == text and not missing
    print("api_doc: up to date" if ok else
          f"api_doc: {argv[2]} is out of date (missing blocks: {missing}); "
          f"run python3 tests/crds/api_doc.py crds docs/api.md --write")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
