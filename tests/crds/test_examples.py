#!/usr/bin/env python3
"""Checks examples/ against the CRDs and against what the examples promise.

Usage: test_examples.py <examples dir> <crds dir>

- every WhatsAppAssignment / WhatsAppPhoneNumber object in examples/ validates against its CRD;
- examples/assignments: three tenants in bakery-ia with distinct tenants and numbers, and a
  kustomize base listing exactly those files;
- examples/duplicate: reuses the phone number of another example (for another tenant), so it
  is refused with DuplicatePhoneNumber;
- examples/webhook: the ValidatingWebhookConfiguration for a local run (SPEC section 3 names);
- the credentials Secret has exactly the SPEC section 4 keys, with placeholder values only;
- the GitOps layout: kustomization (built with `kubectl kustomize` when kubectl is on PATH),
  Argo CD Application and Flux Kustomization pointing at it, and the Argo CD health check
  (health.lua, the same script in argocd-cm-patch.yaml; run with a Lua interpreter when one is
  installed, against Ready / Stalled / stale-generation objects).

Prints one line per failure and a summary; exits 1 when anything failed.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdlib  # noqa: E402
from test_crd_schema import Checker  # noqa: E402

OUR_KINDS = ("WhatsAppAssignment", "WhatsAppPhoneNumber")
SECRET_KEYS = {
    "WHATSAPP_ACCESS_TOKEN",
    "WHATSAPP_BUSINESS_ACCOUNT_ID",
    "WHATSAPP_PHONE_NUMBER_ID",
    "WHATSAPP_API_VERSION",
    "WHATSAPP_WEBHOOK_VERIFY_TOKEN",
    "WHATSAPP_APP_SECRET",
}
TENANTS = {"Panadería San Juan", "Panadería Goiko", "Obrador Nuria"}


def example_files(examples_dir):
    """Yields (relative path, documents) for every YAML file under examples_dir."""
    for dirpath, _, names in sorted(os.walk(examples_dir)):
        for name in sorted(names):
            if name.endswith((".yaml", ".yml")) or name == "Kustomization":
                path = os.path.join(dirpath, name)
                yield os.path.relpath(path, examples_dir), crdlib.load_yaml_documents(path)


def objects_in(examples_dir, sub):
    out = []
    for name in sorted(os.listdir(os.path.join(examples_dir, sub))):
        if name.endswith((".yaml", ".yml")):
            out += crdlib.load_yaml_documents(os.path.join(examples_dir, sub, name))
    return out


def check_all_objects(c, examples_dir, validators):
    count = 0
    for rel, docs in example_files(examples_dir):
        c.check(docs, rel, "holds no YAML document")
        for line, value in crdlib.go_yaml_misreads(os.path.join(examples_dir, rel)):
            c.check(False, f"{rel}:{line}", f"quote {value!r}: kubectl's YAML parser reads it as a number/bool/null")
        for doc in docs:
            kind = doc.get("kind")
            if kind in OUR_KINDS:
                count += 1
                errors = validators[kind].errors(doc)
                c.check(not errors, rel, f"{kind} {doc.get('metadata', {}).get('name')}: {[m for _, m in errors]}")
                c.check("status" not in doc, rel, "examples carry no status (the operator writes it)")
    c.check(count >= 4, examples_dir, f"found {count} objects of our kinds, want at least 4")


def check_assignments(c, examples_dir):
    where = "assignments/"
    items = objects_in(examples_dir, "assignments")
    c.check(len(items) == 3 and all(i.get("kind") == "WhatsAppAssignment" for i in items), where,
            "must hold exactly three WhatsAppAssignments")
    c.check(all(i["metadata"].get("namespace") == "bakery-ia" for i in items), where, "namespace must be bakery-ia")
    names = {i["spec"].get("tenantName") for i in items}
    c.check(names == TENANTS, where, f"tenant names are {sorted(map(str, names))}, want {sorted(TENANTS)}")
    for key in ("tenantId", "phoneNumberId", "displayPhoneNumber"):
        values = [i["spec"].get(key) for i in items]
        c.check(len(set(values)) == len(values) and None not in values, where, f"spec.{key} must be set and distinct")
    c.check(len({i["metadata"]["name"] for i in items}) == 3, where, "names must be distinct")

    base = crdlib.load_yaml_documents(os.path.join(examples_dir, "assignments", "Kustomization"))
    listed = sorted(base[0].get("resources", [])) if base else []
    files = sorted(n for n in os.listdir(os.path.join(examples_dir, "assignments")) if n.endswith(".yaml"))
    c.check(listed == files, "assignments/Kustomization", f"lists {listed}, the directory holds {files}")
    return items


def check_duplicate(c, examples_dir, assignments):
    where = "duplicate/duplicate-assignment.yaml"
    docs = crdlib.load_yaml_documents(os.path.join(examples_dir, where))
    if not c.check(len(docs) == 1 and docs[0].get("kind") == "WhatsAppAssignment", where,
                   "must hold one WhatsAppAssignment"):
        return
    dup = docs[0]
    holders = [a for a in assignments if a["spec"]["phoneNumberId"] == dup["spec"]["phoneNumberId"]]
    c.check(len(holders) == 1, where, f"phoneNumberId {dup['spec']['phoneNumberId']} must be one of another example's")
    c.check(all(a["spec"]["tenantId"] != dup["spec"]["tenantId"] for a in assignments), where,
            "must be a different tenant (else it is a DuplicateTenant case, not DuplicatePhoneNumber)")
    c.check(all(a["metadata"]["name"] != dup["metadata"]["name"] for a in assignments), where,
            "must have its own name (same name would update the holder, not duplicate it)")
    text = open(os.path.join(examples_dir, where), encoding="utf-8").read()
    if holders:
        h = holders[0]
        expected = (f"Phone number {h['spec']['displayPhoneNumber']} already assigned to tenant "
                    f"'{h['spec']['tenantName']}' ({h['metadata']['namespace']}/{h['metadata']['name']})")
        c.check(expected in text, where, f"the comment should quote the refusal: {expected}")


def check_webhook(c, examples_dir):
    """examples/webhook: the SPEC section 3 names, a url on 127.0.0.1:9443, no caBundle (the
    operator injects it)."""
    where = "webhook/validating-webhook-local.yaml"
    docs = crdlib.load_yaml_documents(os.path.join(examples_dir, where))
    if not c.check(len(docs) == 1 and docs[0].get("kind") == "ValidatingWebhookConfiguration"
                   and docs[0].get("apiVersion") == "admissionregistration.k8s.io/v1", where,
                   "must hold one admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration"):
        return
    vwc = docs[0]
    c.check(vwc["metadata"].get("name") == "whatsapp-operator", where, "must be named whatsapp-operator")
    hooks = vwc.get("webhooks") or []
    if not c.check(len(hooks) == 1, where, "must have one webhook"):
        return
    h = hooks[0]
    c.check(h.get("name") == "vwhatsappassignment.whatsapp.bakery-ia.io", where, "webhook name")
    c.check(h.get("admissionReviewVersions") == ["v1"] and h.get("sideEffects") == "None", where,
            "admissionReviewVersions [v1] and sideEffects None")
    cfg = h.get("clientConfig") or {}
    c.check(cfg.get("url") == "https://127.0.0.1:9443/validate-whatsapp-bakery-ia-io-v1alpha1-whatsappassignment",
            where, "url must be the operator's path on https://127.0.0.1:9443")
    c.check("caBundle" not in cfg, where, "no caBundle: the operator injects it")
    rules = h.get("rules") or []
    c.check(len(rules) == 1 and rules[0].get("apiGroups") == ["whatsapp.bakery-ia.io"]
            and rules[0].get("apiVersions") == ["v1alpha1"]
            and sorted(rules[0].get("operations", [])) == ["CREATE", "UPDATE"]
            and rules[0].get("resources") == ["whatsappassignments"], where,
            "one rule: CREATE and UPDATE of whatsappassignments.whatsapp.bakery-ia.io/v1alpha1")


def check_namespace_and_secret(c, examples_dir):
    ns = crdlib.load_yaml_documents(os.path.join(examples_dir, "namespace.yaml"))
    c.check(len(ns) == 1 and ns[0].get("kind") == "Namespace" and ns[0]["metadata"]["name"] == "bakery-ia",
            "namespace.yaml", "must be Namespace bakery-ia")
    copy = crdlib.load_yaml_documents(os.path.join(examples_dir, "gitops", "namespace.yaml"))
    c.check(copy == ns, "gitops/namespace.yaml", "must be the same object as namespace.yaml")

    where = "credentials-secret.yaml"
    docs = crdlib.load_yaml_documents(os.path.join(examples_dir, where))
    secrets = [d for d in docs if d.get("kind") == "Secret"]
    if not c.check(len(secrets) == 1, where, "must hold one Secret"):
        return
    secret = secrets[0]
    # The Secret's namespace exists once the file is applied: a Namespace before it in the file.
    ns_name = secret.get("metadata", {}).get("namespace")
    c.check(ns_name == "whatsapp-operator", where, "the Secret belongs in the operator's namespace, whatsapp-operator")
    c.check(docs[0].get("kind") == "Namespace" and docs[0]["metadata"]["name"] == ns_name, where,
            "the file must create the Secret's namespace first (a Namespace document before the Secret)")
    data = secret.get("stringData", {})
    c.check("data" not in secret, where, "use stringData with placeholders, not base64 data")
    c.check(set(data) == SECRET_KEYS, where, f"keys are {sorted(data)}, want {sorted(SECRET_KEYS)}")
    for key, value in data.items():
        if key == "WHATSAPP_API_VERSION":
            c.check(value == "v21.0", where, "WHATSAPP_API_VERSION should show the default, v21.0")
        else:
            c.check(value == "REPLACE_ME", where, f"{key} must be the placeholder REPLACE_ME")
    text = open(os.path.join(examples_dir, where), encoding="utf-8").read()
    c.check("kubectl create secret generic" in text and "--from-file=WHATSAPP_ACCESS_TOKEN" in text, where,
            "must show how to create the Secret from the command line, the token from a file")


def check_gitops(c, examples_dir, assignments):
    gitops = os.path.join(examples_dir, "gitops")
    k = crdlib.load_yaml_documents(os.path.join(gitops, "kustomization.yaml"))[0]
    c.check(k.get("kind") == "Kustomization" and k.get("resources") == ["namespace.yaml", "../assignments"],
            "gitops/kustomization.yaml", "must list namespace.yaml and ../assignments")

    kubectl = shutil.which("kubectl")
    if kubectl:
        run = subprocess.run([kubectl, "kustomize", gitops], capture_output=True, text=True, timeout=60)
        if c.check(run.returncode == 0, "kubectl kustomize gitops", run.stderr.strip()[:500]):
            built = [d for d in yaml.safe_load_all(run.stdout) if d]
            kinds = sorted((d["kind"], d["metadata"]["name"]) for d in built)
            want = sorted([("Namespace", "bakery-ia")] + [("WhatsAppAssignment", a["metadata"]["name"]) for a in assignments])
            c.check(kinds == want, "kubectl kustomize gitops", f"builds {kinds}, want {want}")
            for d in built:
                if d["kind"] == "WhatsAppAssignment":
                    src = next(a for a in assignments if a["metadata"]["name"] == d["metadata"]["name"])
                    c.check(d == src, "kubectl kustomize gitops", f"{d['metadata']['name']} differs from its source")
        # What `kubectl apply -f <dir>` would send, read offline: the kustomize base file in
        # assignments/ must not be among them (it is named Kustomization for that reason).
        for sub, want in (("assignments", sorted(a["metadata"]["name"] for a in assignments)),
                          ("duplicate", None)):
            run = subprocess.run([kubectl, "annotate", "--local", "-o", "name", "-f",
                                  os.path.join(examples_dir, sub), "waop-test=1"],
                                 capture_output=True, text=True, timeout=60)
            names = sorted(line.split("/", 1)[1] for line in run.stdout.split())
            kinds = {line.split("/", 1)[0] for line in run.stdout.split()}
            ok = run.returncode == 0 and kinds == {f"whatsappassignment.{crdlib.GROUP}"}
            c.check(ok and (want is None or names == want), f"kubectl apply -f examples/{sub}/",
                    f"would send {run.stdout.split()} {run.stderr.strip()[:300]}")
    else:
        print("note: kubectl not on PATH; skipped building the kustomization")

    repo_root = os.path.dirname(os.path.abspath(examples_dir))
    app = crdlib.load_yaml_documents(os.path.join(gitops, "argocd", "application.yaml"))
    where = "gitops/argocd/application.yaml"
    if c.check(len(app) == 1 and app[0].get("kind") == "Application"
               and app[0].get("apiVersion") == "argoproj.io/v1alpha1", where, "must hold one argoproj.io Application"):
        src = app[0]["spec"]["source"]
        c.check(os.path.isfile(os.path.join(repo_root, src["path"], "kustomization.yaml")), where,
                f"source.path {src['path']} must be the kustomization directory")
        c.check(app[0]["spec"]["destination"].get("namespace") == "bakery-ia", where, "destination namespace bakery-ia")

    flux = crdlib.load_yaml_documents(os.path.join(gitops, "flux", "bakery-ia-whatsapp.yaml"))
    where = "gitops/flux/bakery-ia-whatsapp.yaml"
    repos = [d for d in flux if d.get("kind") == "GitRepository"]
    kusts = [d for d in flux if d.get("kind") == "Kustomization"]
    if c.check(len(repos) == 1 and len(kusts) == 1, where, "must hold a GitRepository and a Kustomization"):
        ks = kusts[0]
        c.check(ks["apiVersion"] == "kustomize.toolkit.fluxcd.io/v1", where, "Kustomization apiVersion")
        c.check(ks["spec"]["sourceRef"] == {"kind": "GitRepository", "name": repos[0]["metadata"]["name"]}, where,
                "sourceRef must name the GitRepository")
        path = ks["spec"]["path"]
        c.check(os.path.isfile(os.path.join(repo_root, path, "kustomization.yaml")), where,
                f"spec.path {path} must be the kustomization directory")
        c.check(ks["spec"].get("wait") is True, where, "wait: true, so Flux reads the Ready/Stalled conditions")


# ---- Argo CD health check -------------------------------------------------------------------


def lua_literal(value):
    """Renders JSON-like data as a Lua table constructor."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "{" + ", ".join(lua_literal(v) for v in value) + "}"
    return "{" + ", ".join(f"[{json.dumps(k)}] = {lua_literal(v)}" for k, v in value.items()) + "}"


def cond(type_, status, reason="Bound", generation=2):
    return {"type": type_, "status": status, "reason": reason, "message": f"{type_} is {status}",
            "observedGeneration": generation, "lastTransitionTime": "2026-11-26T10:00:00Z"}


def wa(generation=2, conditions=None, observed=None):
    obj = {"apiVersion": crdlib.API_VERSION, "kind": "WhatsAppAssignment",
           "metadata": {"name": "x", "namespace": "bakery-ia", "generation": generation}}
    if conditions is not None:
        obj["status"] = {"conditions": conditions}
        if observed is not None:
            obj["status"]["observedGeneration"] = observed
    return obj


HEALTH_CASES = [
    ("no status", wa(), "Progressing"),
    ("Ready=True", wa(conditions=[cond("Ready", "True")], observed=2), "Healthy"),
    ("Ready=Unknown", wa(conditions=[cond("Ready", "Unknown", "Progressing"),
                                     cond("Reconciling", "True", "Progressing")]), "Progressing"),
    ("Ready=False retrying", wa(conditions=[cond("Ready", "False", "SettingsSyncFailed")]), "Progressing"),
    ("Stalled=True duplicate", wa(conditions=[cond("Ready", "False", "DuplicatePhoneNumber"),
                                              cond("Stalled", "True", "DuplicatePhoneNumber")]), "Degraded"),
    ("Ready=True for an older generation", wa(generation=3, conditions=[cond("Ready", "True")]), "Progressing"),
    ("status.observedGeneration behind", wa(generation=3, conditions=[cond("Ready", "True", generation=3)],
                                            observed=2), "Progressing"),
    ("phone number synced", {"kind": "WhatsAppPhoneNumber", "metadata": {"name": "1", "generation": 1},
                             "status": {"lastSyncTime": "2026-11-26T10:00:00Z"}}, "Healthy"),
    ("phone number new", {"kind": "WhatsAppPhoneNumber", "metadata": {"name": "1", "generation": 1}}, "Progressing"),
]


def check_health(c, examples_dir):
    argocd = os.path.join(examples_dir, "gitops", "argocd")
    path = os.path.join(argocd, "health.lua")
    if not c.check(os.path.isfile(path), "gitops/argocd/health.lua", "missing"):
        return
    script = open(path, encoding="utf-8").read()
    for status in ("Healthy", "Degraded", "Progressing"):
        c.check(f'"{status}"' in script, "health.lua", f"never sets {status}")
    for ctype in ("Ready", "Stalled"):
        c.check(f'"{ctype}"' in script, "health.lua", f"never reads the {ctype} condition")

    patch = crdlib.load_yaml_documents(os.path.join(argocd, "argocd-cm-patch.yaml"))[0]
    c.check(patch.get("kind") == "ConfigMap" and patch["metadata"]["name"] == "argocd-cm"
            and patch["metadata"].get("namespace") == "argocd", "argocd-cm-patch.yaml", "must patch argocd/argocd-cm")
    for kind in OUR_KINDS:
        key = f"resource.customizations.health.{crdlib.GROUP}_{kind}"
        c.check(patch.get("data", {}).get(key) == script, "argocd-cm-patch.yaml",
                f"{key} must be exactly health.lua")

    lua = shutil.which("lua5.4") or shutil.which("lua5.3") or shutil.which("lua")
    if not lua:
        print("note: no Lua interpreter on PATH; health.lua was checked as text only")
        return
    with tempfile.TemporaryDirectory(prefix="waop-health-") as tmp:
        for name, obj, want in HEALTH_CASES:
            harness = os.path.join(tmp, "case.lua")
            with open(harness, "w", encoding="utf-8") as f:
                f.write(f"obj = {lua_literal(obj)}\n")
                f.write("local check = assert(loadfile(arg[1]))\n")
                f.write("local hs = check()\nprint(hs.status)\nprint(hs.message)\n")
            run = subprocess.run([lua, harness, path], capture_output=True, text=True, timeout=30)
            got = run.stdout.splitlines()[0] if run.returncode == 0 and run.stdout else run.stderr.strip()
            c.check(got == want, f"health.lua case '{name}'", f"got {got!r}, want {want!r}")


def main(argv):
    if len(argv) < 3:
        print(__doc__)
        return 2
    examples_dir, crd_dir = argv[1], argv[2]
    c = Checker()
    crds = crdlib.load_crds(crd_dir)
    validators = {k: crdlib.CrdValidator(v) for k, v in crds.items()}
    if not c.check(set(validators) == set(OUR_KINDS), crd_dir, f"CRDs found: {sorted(validators)}"):
        return c.summary("examples_valid")
    check_all_objects(c, examples_dir, validators)
    assignments = check_assignments(c, examples_dir)
    check_duplicate(c, examples_dir, assignments)
    check_namespace_and_secret(c, examples_dir)
    check_webhook(c, examples_dir)
    check_gitops(c, examples_dir, assignments)
    check_health(c, examples_dir)
    return c.summary("examples_valid")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
