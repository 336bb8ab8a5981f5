#!/usr/bin/env python3
"""Docs against the binary and the code.

Usage: check_docs.py --operator BINARY --source DIR

- the code block under "## Flags" in docs/operating.md is exactly `whatsapp-operator --help`, and
  its Permissions table grants what `whatsapp-operator --print-rbac --leader-elect` prints;
- docs/runbook.md names every Ready/condition reason (operator/api/types.h kReason*) and every
  Event reason the code records (string literals passed to EventRecorder::Record);
- README.md, docs/*.md, examples/README.md and the chart's files link only inside the repository
  (no http(s) links; relative links resolve to files that exist).
"""

import argparse
import glob
import os
import re
import subprocess
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--operator", required=True)
    ap.add_argument("--source", required=True)
    a = ap.parse_args()
    failures = []

    helptext = subprocess.run([a.operator, "--help"], capture_output=True, text=True, timeout=30).stdout
    operating = open(os.path.join(a.source, "docs", "operating.md"), encoding="utf-8").read()
    m = re.search(r"## Flags\n\n```\n(.*?)```", operating, re.S)
    if not m:
        failures.append("docs/operating.md: no ``` block under ## Flags")
    elif m.group(1) != helptext:
        import difflib
        diff = "".join(difflib.unified_diff(m.group(1).splitlines(True), helptext.splitlines(True),
                                            "docs/operating.md", "whatsapp-operator --help"))
        failures.append("docs/operating.md: the flag list differs from --help:\n" + diff)

    # The Permissions table says what --print-rbac prints (every rule on: --leader-elect).
    import yaml
    rbac = subprocess.run([a.operator, "--print-rbac", "--leader-elect"], capture_output=True, text=True,
                          timeout=30).stdout
    printed = set()
    for doc in yaml.safe_load_all(rbac):
        for rule in (doc or {}).get("rules") or []:
            printed |= {f"{v} {r}" for r in rule["resources"] for v in rule["verbs"]}
    section = re.search(r"\n## Permissions\n(.*?)\n## ", operating, re.S)
    documented = set()
    for line in (section.group(1) if section else "").splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 3:
            resource = re.search(r"`([^`]+)`", cells[1]).group(1)
            documented |= {f"{v.strip()} {resource}" for v in cells[2].split(",") if v.strip()}
    if printed != documented or not printed:
        failures.append("docs/operating.md: the Permissions table differs from --print-rbac --leader-elect: "
                        f"only in the table {sorted(documented - printed)}, only printed {sorted(printed - documented)}")

    types = open(os.path.join(a.source, "operator", "api", "types.h"), encoding="utf-8").read()
    reasons = set(re.findall(r'kReason[A-Za-z]+ = "([A-Za-z]+)"', types))
    for path in glob.glob(os.path.join(a.source, "operator", "**", "*.cpp"), recursive=True):
        text = open(path, encoding="utf-8").read()
        reasons |= set(re.findall(r'\.Record\([^;]*?"(?:Warning|Normal)",\s*"([A-Za-z]+)"', text, re.S))
    runbook_path = os.path.join(a.source, "docs", "runbook.md")
    runbook = open(runbook_path, encoding="utf-8").read() if os.path.exists(runbook_path) else ""
    for r in sorted(reasons):
        if f"`{r}`" not in runbook:
            failures.append(f"docs/runbook.md: reason `{r}` (from operator/) is not explained")
    if len(reasons) < 20:
        failures.append(f"found only {len(reasons)} reasons in operator/; the grep is broken")

    pages = [os.path.join(a.source, "README.md"), os.path.join(a.source, "examples", "README.md")]
    pages += glob.glob(os.path.join(a.source, "docs", "*.md"))
    pages += glob.glob(os.path.join(a.source, "charts", "whatsapp-operator", "*.md"))
    for page in pages:
        text = open(page, encoding="utf-8").read()
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # code is not a link
        text = re.sub(r"`[^`\n]*`", "", text)
        rel = os.path.relpath(page, a.source)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                failures.append(f"{rel}: links outside the repository: {target}")
                continue
            path = target.split("#", 1)[0]
            if path and not os.path.exists(os.path.join(os.path.dirname(page), path)):
                failures.append(f"{rel}: link to a missing file: {target}")

    for f in failures:
        print("FAIL " + f)
    print(f"docs_consistent: {len(failures)} failures ({len(reasons)} reasons, {len(pages)} pages checked)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
