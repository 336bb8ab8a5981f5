#!/usr/bin/env python3
"""Static checks of charts/whatsapp-operator (there is no helm binary here).

Usage: check_chart.py --chart DIR --crds DIR --operator BINARY --source DIR
       check_chart.py --chart DIR --crds DIR --write-crds   (regenerates templates/crds/ from crds/)

- values.yaml is valid against values.schema.json, and the schema refuses unknown keys and bad
  values; every key of values.yaml is commented;
- every `.Values` path the templates use exists in values.yaml;
- every template parses (balanced actions and blocks) with tests/chart/gotemplate.py, a renderer
  for the Go template subset the chart uses, and renders to YAML documents for several value sets;
- the CRD templates are crds/ plus the keep annotation (and absent with crds.enabled=false);
- the Deployment's flags are accepted by `whatsapp-operator`, and the ClusterRole and Role equal
  what `whatsapp-operator --print-rbac <the same flags>` prints;
- the Deployment, Service, webhook configuration, cert-manager objects and alerts say what
  SPEC sections 3, 6 and 7 ask (names, ports, probes, security context, POD_NAME/POD_NAMESPACE,
  the credentials mount at --credentials-dir, metric names the operator really exports).

Prints one line per failure and a summary; exits 1 when anything failed.
"""

import argparse
import copy
import glob
import json
import os
import re
import subprocess
import sys

import jsonschema
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gotemplate import Renderer, TemplateError  # noqa: E402

CRD_HEADER = """{{- if .Values.crds.enabled }}
{{- /* Generated from crds/%s by tests/chart/check_chart.py --write-crds; do not edit. */}}
"""
KEEP = """  {{- if .Values.crds.keep }}
  annotations:
    helm.sh/resource-policy: keep
  {{- end }}
"""


class Checker:
    def __init__(self):
        self.failures = 0
        self.checks = 0

    def check(self, ok, where, what):
        self.checks += 1
        if not ok:
            self.failures += 1
            print(f"FAIL {where}: {what}")
        return ok


def crd_template(crd_path):
    text = open(crd_path, encoding="utf-8").read()
    if "{{" in text:
        raise SystemExit(f"{crd_path} contains '{{{{', which Helm would read as an action")
    marker = "\nmetadata:\n"
    at = text.index(marker) + len(marker)
    return CRD_HEADER % os.path.basename(crd_path) + text[:at] + KEEP + text[at:] + "{{- end }}\n"


def write_crds(chart, crds):
    out = os.path.join(chart, "templates", "crds")
    os.makedirs(out, exist_ok=True)
    for path in sorted(glob.glob(os.path.join(crds, "*.yaml"))):
        with open(os.path.join(out, os.path.basename(path)), "w", encoding="utf-8") as f:
            f.write(crd_template(path))
    print(f"wrote {out}")


def load_chart(chart):
    files = {}
    for path in sorted(glob.glob(os.path.join(chart, "templates", "**", "*"), recursive=True)):
        if os.path.isfile(path):
            files[os.path.relpath(path, os.path.join(chart, "templates"))] = open(path, encoding="utf-8").read()
    meta = yaml.safe_load(open(os.path.join(chart, "Chart.yaml"), encoding="utf-8"))
    values = yaml.safe_load(open(os.path.join(chart, "values.yaml"), encoding="utf-8"))
    schema = json.load(open(os.path.join(chart, "values.schema.json"), encoding="utf-8"))
    return files, meta, values, schema


def merge(base, over):
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def render(renderer, files, meta, values, namespace="whatsapp-operator", release="whatsapp-operator"):
    root = {
        "Values": values,
        "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
        "Chart": {"Name": meta["name"], "Version": meta["version"], "AppVersion": meta["appVersion"]},
    }
    docs = {}
    for name in files:
        if name.endswith(".tpl"):
            continue
        docs[name] = renderer.render(name, root)
    return docs


# ---- values ---------------------------------------------------------------------------------


OPAQUE = {"resources", "podSecurityContext", "securityContext"}  # Kubernetes objects, passed as is


def check_values_commented(c, chart):
    lines = open(os.path.join(chart, "values.yaml"), encoding="utf-8").read().split("\n")
    stack = []  # (indent, key)
    for i, line in enumerate(lines):
        m = re.match(r"^( *)([A-Za-z][A-Za-z0-9_]*):", line)
        if not m:
            continue
        ind = len(m.group(1))
        while stack and stack[-1][0] >= ind:
            stack.pop()
        parents = [k for _, k in stack]
        stack.append((ind, m.group(2)))
        if any(p in OPAQUE for p in parents):
            continue
        prev = lines[i - 1].strip() if i else ""
        c.check(prev.startswith("#"), f"values.yaml:{i + 1}",
                f"{'.'.join(parents + [m.group(2)])} has no comment above it")


def values_paths(values, prefix=""):
    out = set()
    if isinstance(values, dict):
        for k, v in values.items():
            p = f"{prefix}.{k}"
            out.add(p)
            out |= values_paths(v, p)
    return out


def check_values(c, files, values, schema):
    try:
        jsonschema.validate(values, schema)
        c.check(True, "values.yaml", "")
    except jsonschema.ValidationError as e:
        c.check(False, "values.yaml", f"not valid against values.schema.json: {e.message}")
    c.check(schema.get("additionalProperties") is False, "values.schema.json",
            "the top level must refuse unknown keys (additionalProperties: false)")
    for bad, what in (({"replicas": 2}, "an unknown key"),
                      ({"webhook": {"failurePolicy": "Sometimes"}}, "failurePolicy Sometimes"),
                      ({"logging": {"format": "xml"}}, "log format xml"),
                      ({"credentials": {"existingSecret": 5}}, "a number as existingSecret"),
                      ({"extraEnv": [{"value": "http://proxy:3128"}]}, "an extraEnv entry without a name")):
        try:
            jsonschema.validate(merge(values, bad), schema)
            c.check(False, "values.schema.json", f"accepts {what}")
        except jsonschema.ValidationError:
            pass
    known = values_paths(values)
    for name, text in files.items():
        for path in sorted(set(re.findall(r"\.Values((?:\.[A-Za-z0-9_]+)+)", text))):
            c.check(path in known, f"templates/{name}", f".Values{path} is not in values.yaml")


# ---- rendered objects -----------------------------------------------------------------------


def parse_docs(c, rendered, label):
    objects = []
    for name, text in rendered.items():
        if name == "NOTES.txt":
            c.check("kubectl" in text, f"[{label}] NOTES.txt", "should say what to run next")
            continue
        try:
            docs = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as e:
            c.check(False, f"[{label}] templates/{name}", f"renders to invalid YAML: {e}")
            continue
        for d in docs:
            ok = isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name")
            if c.check(ok, f"[{label}] templates/{name}", "every document needs apiVersion, kind, metadata.name"):
                d["__file"] = name
                objects.append(d)
    return objects


def find(objects, kind, name=None):
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def normalize_rules(rules):
    out = set()
    for r in rules or []:
        for g in r.get("apiGroups", []):
            for res in r.get("resources", []):
                for v in r.get("verbs", []):
                    for n in r.get("resourceNames") or ["*"]:
                        out.add((g, res, v, n))
    return out


def check_rbac(c, objects, args, operator, label):
    run = subprocess.run([operator, "--print-rbac"] + args, capture_output=True, text=True, timeout=30)
    if not c.check(run.returncode == 0, f"[{label}] deployment args",
                   f"whatsapp-operator refuses them: {run.stderr.strip()}"):
        return
    printed = [d for d in yaml.safe_load_all(run.stdout) if d]
    want = {d["kind"]: d for d in printed}
    c.check(set(want) == {"ClusterRole", "Role"}, f"[{label}] --print-rbac", f"prints {sorted(want)}")
    for kind in ("ClusterRole", "Role"):
        got = find(objects, kind)
        if not c.check(len(got) == 1, f"[{label}] rbac.yaml", f"want one {kind}, got {len(got)}"):
            continue
        g, w = normalize_rules(got[0].get("rules")), normalize_rules(want.get(kind, {}).get("rules"))
        c.check(g == w, f"[{label}] rbac.yaml {kind}",
                f"differs from --print-rbac: extra {sorted(g - w)}, missing {sorted(w - g)}")
    for kind, ref in (("ClusterRoleBinding", "ClusterRole"), ("RoleBinding", "Role")):
        b = find(objects, kind)
        sa = find(objects, "ServiceAccount")
        if c.check(len(b) == 1 and len(sa) == 1, f"[{label}] rbac.yaml", f"want one {kind} and one ServiceAccount"):
            c.check(b[0]["roleRef"]["kind"] == ref and b[0]["roleRef"]["name"] == find(objects, ref)[0]["metadata"]["name"]
                    and b[0]["subjects"][0]["name"] == sa[0]["metadata"]["name"], f"[{label}] {kind}",
                    "must bind the role to the ServiceAccount")


def flag_value(args, flag):
    for a in args:
        if a == f"--{flag}":
            return True
        if a.startswith(f"--{flag}="):
            return a.split("=", 1)[1]
    return None


def check_deployment(c, objects, values, label):
    deps = find(objects, "Deployment")
    if not c.check(len(deps) == 1, f"[{label}] deployment.yaml", "want one Deployment"):
        return []
    d = deps[0]
    spec = d["spec"]["template"]["spec"]
    c.check(d["spec"]["replicas"] == values["replicaCount"], f"[{label}] Deployment", "replicas")
    c.check(d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items(),
            f"[{label}] Deployment", "the selector must match the Pod's labels")
    ctr = spec["containers"][0]
    args = ctr["args"]
    where = f"[{label}] Deployment container"
    # Probes on 8081.
    ports = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    c.check(ports == {"webhook": 9443, "metrics": 8080, "health": 8081, "meta-webhook": 8082}, where, f"ports {ports}")
    c.check(ctr["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}, where, "liveness /healthz on 8081")
    c.check(ctr["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}, where, "readiness /readyz on 8081")
    c.check(flag_value(args, "health-probe-bind-address") == ":8081", where, "probes must listen on :8081")
    # Security.
    psc, sc = spec["securityContext"], ctr["securityContext"]
    c.check(psc.get("runAsNonRoot") is True and psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
            where, "pod: runAsNonRoot and seccomp RuntimeDefault")
    c.check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
            and sc.get("capabilities", {}).get("drop") == ["ALL"], where,
            "container: read-only root filesystem, no privilege escalation, capabilities dropped")
    c.check("memory" in ctr["resources"].get("limits", {}) and ctr["resources"].get("requests"), where, "resources")
    # Downward API.
    env = {e["name"]: e.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") for e in ctr.get("env", [])}
    c.check(env.get("POD_NAME") == "metadata.name" and env.get("POD_NAMESPACE") == "metadata.namespace", where,
            "POD_NAME and POD_NAMESPACE from the downward API")
    # Credentials: the Secret mounted whole at --credentials-dir.
    cred_dir = flag_value(args, "credentials-dir")
    mounts = {m["mountPath"]: m for m in ctr["volumeMounts"]}
    vols = {v["name"]: v for v in spec["volumes"]}
    m = mounts.get(cred_dir)
    if c.check(m is not None and "subPath" not in m and m.get("readOnly"), where,
               f"the credentials Secret must be mounted whole, read-only, at --credentials-dir {cred_dir}"):
        secret = vols[m["name"]].get("secret", {}).get("secretName")
        want = values["credentials"]["existingSecret"] or "whatsapp-operator-credentials"
        c.check(secret == want, where, f"credentials volume is Secret {secret}, want {want}")
    # Leader election with more than one replica.
    if values["replicaCount"] > 1:
        c.check(flag_value(args, "leader-elect") is True, where, "more than one replica needs --leader-elect")
    # Topology spread.
    if values["topologySpread"]["enabled"]:
        tsc = spec.get("topologySpreadConstraints", [])
        c.check(len(tsc) == 1 and tsc[0]["labelSelector"]["matchLabels"] == d["spec"]["selector"]["matchLabels"],
                where, "topologySpreadConstraints over the operator's Pods")
    # cert-manager: the Secret mounted at --webhook-cert-dir.
    cert_dir = flag_value(args, "webhook-cert-dir")
    if values["webhook"]["enabled"] and values["webhook"]["certManager"]["enabled"]:
        m = mounts.get(cert_dir) if isinstance(cert_dir, str) else None
        c.check(m is not None and vols[m["name"]]["secret"]["secretName"] == values["webhook"]["secretName"],
                where, "with cert-manager, webhook.secretName mounted at --webhook-cert-dir")
        certs = find(objects, "Certificate")
        c.check(len(certs) == 1 and certs[0]["spec"]["secretName"] == values["webhook"]["secretName"], where,
                "a cert-manager Certificate writing webhook.secretName")
    else:
        c.check(cert_dir is None, where, "without cert-manager the operator manages its certificates (no --webhook-cert-dir)")
        c.check(not find(objects, "Certificate"), where, "no Certificate without cert-manager")
    return args


def check_service_and_webhook(c, objects, values, args, label):
    svc = find(objects, "Service")
    where = f"[{label}] service.yaml"
    if not c.check(len(svc) == 1, where, "want one Service"):
        return
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in svc[0]["spec"]["ports"]}
    c.check(ports == {"webhook": (443, "webhook"), "metrics": (8080, "metrics"), "meta-webhook": (8082, "meta-webhook")},
            where, f"ports {ports}")
    vwcs = find(objects, "ValidatingWebhookConfiguration")
    where = f"[{label}] webhook.yaml"
    if not values["webhook"]["enabled"]:
        c.check(not vwcs and flag_value(args, "webhook-port") == "0", where, "webhook off: no configuration, --webhook-port=0")
        return
    if not c.check(len(vwcs) == 1, where, "want one ValidatingWebhookConfiguration"):
        return
    v = vwcs[0]
    c.check(v["metadata"]["name"] == "whatsapp-operator" == flag_value(args, "webhook-configuration-name"), where,
            "named whatsapp-operator, as --webhook-configuration-name")
    h = v["webhooks"][0]
    c.check(h["name"] == "vwhatsappassignment.whatsapp.bakery-ia.io", where, "webhook name")
    c.check(h["failurePolicy"] == values["webhook"]["failurePolicy"], where, "failurePolicy from values")
    s = h["clientConfig"]["service"]
    c.check(s == {"name": svc[0]["metadata"]["name"], "namespace": "whatsapp-operator",
                  "path": "/validate-whatsapp-bakery-ia-io-v1alpha1-whatsappassignment", "port": 443}, where,
            f"clientConfig.service {s}")
    c.check(flag_value(args, "webhook-service-name") == svc[0]["metadata"]["name"], where,
            "--webhook-service-name must be the Service (the certificate names it)")
    c.check(flag_value(args, "webhook-port") == "9443", where, "--webhook-port=9443 (the Service's target)")
    c.check("caBundle" not in h["clientConfig"], where, "no caBundle: the operator (or cert-manager) injects it")
    inject = v["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from")
    if values["webhook"]["certManager"]["enabled"]:
        cert = find(objects, "Certificate")
        c.check(cert and inject == f"whatsapp-operator/{cert[0]['metadata']['name']}", where,
                "cert-manager.io/inject-ca-from names the Certificate")
    else:
        c.check(inject is None, where, "no CA injector annotation when the operator injects its CA")


def check_crds(c, objects, crds, values, label):
    got = {o["metadata"]["name"]: o for o in find(objects, "CustomResourceDefinition")}
    if not values["crds"]["enabled"]:
        c.check(not got, f"[{label}] crds", "crds.enabled=false must install no CRD")
        return
    for path in sorted(glob.glob(os.path.join(crds, "*.yaml"))):
        want = yaml.safe_load(open(path, encoding="utf-8"))
        name = want["metadata"]["name"]
        g = copy.deepcopy(got.get(name))
        if not c.check(g is not None, f"[{label}] crds", f"{name} missing"):
            continue
        g.pop("__file")
        ann = g["metadata"].pop("annotations", None)
        c.check(g == want, f"[{label}] templates/crds", f"{name} differs from crds/ (run --write-crds)")
        keep = (ann or {}).get("helm.sh/resource-policy") == "keep"
        c.check(keep == values["crds"]["keep"], f"[{label}] templates/crds",
                f"{name}: helm.sh/resource-policy keep must follow crds.keep")


def check_monitoring(c, objects, source, label):
    exported = set()
    for path in glob.glob(os.path.join(source, "operator", "**", "*.cpp"), recursive=True):
        exported |= set(re.findall(r'Add(?:Counter|Gauge|Histogram)\(\s*"([a-z_]+)"', open(path).read()))
    for rule in find(objects, "PrometheusRule"):
        for group in rule["spec"]["groups"]:
            for r in group["rules"]:
                names = set(re.findall(r"\b((?:whatsapp|controller_runtime|workqueue)_[a-z_]+)\b", r["expr"]))
                c.check(names and names <= exported, f"[{label}] prometheusrule.yaml {r['alert']}",
                        f"uses {sorted(names - exported)} which operator/ does not export")
    for sm in find(objects, "ServiceMonitor"):
        c.check(sm["spec"]["endpoints"][0]["port"] == "metrics", f"[{label}] servicemonitor.yaml", "scrapes port metrics")


CONFIGS = [
    ("defaults", {}),
    ("cert-manager", {"webhook": {"certManager": {"enabled": True}}}),
    ("cert-manager with issuer", {"webhook": {"certManager": {"enabled": True, "issuerRef": {"kind": "ClusterIssuer", "name": "ca"}}}}),
    ("minimal", {"publishCredentials": False, "leaderElection": {"enabled": False}, "replicaCount": 1,
                 "webhook": {"enabled": False}, "crds": {"enabled": False}, "metaWebhook": {"enabled": False},
                 "metrics": {"enabled": False}, "podDisruptionBudget": {"enabled": False},
                 "topologySpread": {"enabled": False}}),
    ("everything", {"credentials": {"create": True, "accessToken": "t0ken", "businessAccountId": "1",
                                    "tenantServiceToken": "tenant-t0ken"},
                    "tenantService": {"url": "http://tenant-service.platform.svc:8000", "syncInterval": "2m",
                                      "prune": True},
                    "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}},
                                "prometheusRule": {"enabled": True}},
                    "networkPolicy": {"enabled": True, "metricsFrom": [{"namespaceSelector": {}}]},
                    "crds": {"keep": False}, "watchNamespace": "bakery-ia", "extraArgs": ["--sync-period=1h"],
                    "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.corp:3128"},
                                 {"name": "NO_PROXY", "value": ".cluster.local,10.0.0.0/8"}],
                    "podAnnotations": {"a": "b"}, "tolerations": [{"operator": "Exists"}]}),
    ("existing secret", {"credentials": {"existingSecret": "my-whatsapp"}, "webhook": {"failurePolicy": "Ignore"}}),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chart", required=True)
    ap.add_argument("--crds", required=True)
    ap.add_argument("--operator")
    ap.add_argument("--source")
    ap.add_argument("--write-crds", action="store_true")
    a = ap.parse_args()
    if a.write_crds:
        write_crds(a.chart, a.crds)
        return 0
    c = Checker()
    files, meta, values, schema = load_chart(a.chart)
    check_values_commented(c, a.chart)
    version = subprocess.run([a.operator, "--version"], capture_output=True, text=True, timeout=30).stdout.split()
    c.check(version[-1:] == [str(meta["appVersion"])], "Chart.yaml",
            f"appVersion {meta['appVersion']} is not the binary's version {version}")
    check_values(c, files, values, schema)
    for path in sorted(glob.glob(os.path.join(a.crds, "*.yaml"))):
        name = os.path.join("crds", os.path.basename(path))
        c.check(files.get(name) == crd_template(path), f"templates/{name}",
                "is not generated from crds/ (run tests/chart/check_chart.py --chart charts/whatsapp-operator "
                "--crds crds --write-crds)")
    try:
        renderer = Renderer(files)
    except TemplateError as e:
        c.check(False, "templates", str(e))
        print(f"chart_static: {c.failures} of {c.checks} checks failed")
        return 1
    for label, over in CONFIGS:
        vals = merge(values, over)
        try:
            jsonschema.validate(vals, schema)
        except jsonschema.ValidationError as e:
            c.check(False, f"[{label}]", f"values refused by the schema: {e.message}")
        try:
            rendered = render(renderer, files, meta, vals)
        except TemplateError as e:
            c.check(False, f"[{label}]", f"does not render: {e}")
            continue
        objects = parse_docs(c, rendered, label)
        args = check_deployment(c, objects, vals, label)
        check_rbac(c, objects, args, a.operator, label) if vals["rbac"]["create"] else None
        check_service_and_webhook(c, objects, vals, args, label)
        check_crds(c, objects, a.crds, vals, label)
        check_monitoring(c, objects, a.source, label)
        if "credentials" in over and over["credentials"].get("create"):
            s = find(objects, "Secret")
            c.check(len(s) == 1 and set(s[0]["stringData"]) == {"WHATSAPP_ACCESS_TOKEN", "WHATSAPP_BUSINESS_ACCOUNT_ID",
                                                                 "WHATSAPP_API_VERSION", "TENANT_SERVICE_TOKEN"},
                    f"[{label}] credentials-secret.yaml", "the Secret carries the non-empty values only")
        else:
            c.check(not find(objects, "Secret"), f"[{label}]", "no credentials Secret unless credentials.create")
        deployments = find(objects, "Deployment")
        env = [e.get("name") for e in deployments[0]["spec"]["template"]["spec"]["containers"][0].get("env", [])] \
            if deployments else []
        c.check(env == ["POD_NAME", "POD_NAMESPACE"] + [e["name"] for e in vals["extraEnv"]],
                f"[{label}] deployment.yaml", f"the container's env is POD_NAME, POD_NAMESPACE, then extraEnv: {env}")
        pdb = find(objects, "PodDisruptionBudget")
        c.check(bool(pdb) == vals["podDisruptionBudget"]["enabled"], f"[{label}] poddisruptionbudget.yaml", "PDB")
        c.check(bool(find(objects, "NetworkPolicy")) == vals["networkPolicy"]["enabled"], f"[{label}]", "NetworkPolicy")
        print(f"[{label}] rendered {len(objects)} objects: "
              f"{', '.join(sorted(set(o['kind'] for o in objects)))}")
    print(f"chart_static: {c.failures} of {c.checks} checks failed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
