#!/usr/bin/env python3
"""Applies tests/crds/samples with the real kubectl against a running API server.

Usage: kubectl_samples.py (--kubeconfig FILE | --devserver BINARY) [--crds DIR] [--samples DIR]
                          [--examples DIR] [--kubectl PATH]

For an end-to-end test against kube-devserver (or a real cluster with no whatsapp-operator
webhook installed: the samples reuse phone numbers and tenants on purpose). With --devserver,
starts that kube-devserver on a free loopback port, runs against it and stops it again.
It installs the CRDs, then for every sample does what its `# operation:` header says:

  create  kubectl apply -f <sample>                                  (good: accepted;
          bad: refused, stderr holding the `# expect:` fragment)
  update  kubectl apply the first document, then the second          (the second is judged)
  status  kubectl apply the object without status, then
          kubectl patch --subresource=status --type=merge the status  (the patch is judged)

Good samples are read back: spec defaults must be filled in (enabled, defaultLanguage) and a
status written through the subresource must read back unchanged. Everything created goes again
(namespace crd-samples and the WhatsAppPhoneNumber objects); the CRDs are left installed.

With --examples DIR, it then applies examples/ and checks what a person sees: short names and
the whatsapp category, printer columns (plain and -o wide), kubectl explain, and kubectl wait
on a Ready condition.

Prints one line per failure and a summary; exits 1 when anything failed.
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crdlib  # noqa: E402
from test_crd_schema import Checker, read_sample  # noqa: E402

NAMESPACE = "crd-samples"
WORKERS = 4
HERE = os.path.dirname(os.path.abspath(__file__))


class Kubectl:
    """Runs kubectl against one kubeconfig. Not thread-safe."""

    def __init__(self, binary, kubeconfig, tmp, prefix=""):
        # A private discovery cache: faster than rediscovering per call, and keeps ~/.kube clean.
        self.base = [binary, "--kubeconfig", kubeconfig, "--request-timeout=30s",
                     "--cache-dir", os.path.join(tmp, "kube-cache")]
        self.tmp = tmp
        self.prefix = prefix
        self.count = 0

    def run(self, *args, stdin=None):
        """Returns (exit code, stdout, stderr); exit code 124 on timeout."""
        try:
            p = subprocess.run(self.base + list(args), input=stdin, capture_output=True, text=True, timeout=90)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired:
            return 124, "", f"kubectl {' '.join(args)} timed out"

    def apply(self, obj):
        self.count += 1
        # JSON, not YAML: PyYAML would write "+034612345678" unquoted, which Go reads as a number.
        path = os.path.join(self.tmp, f"{self.prefix}obj-{self.count}.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(obj, f, ensure_ascii=False)
        return self.run("apply", "-f", path)

    def ref(self, obj):
        """kubectl arguments naming obj: <resource>/<name> [-n ns]."""
        resource = obj["kind"].lower() + "s." + crdlib.GROUP
        args = [f"{resource}/{obj['metadata']['name']}"]
        if obj["metadata"].get("namespace"):
            args += ["-n", obj["metadata"]["namespace"]]
        return args

    def get(self, obj):
        rc, out, err = self.run("get", "-o", "json", *self.ref(obj))
        return json.loads(out) if rc == 0 else None

    def patch_status(self, obj):
        return self.run("patch", *self.ref(obj), "--subresource=status", "--type=merge",
                        "-p", json.dumps({"status": obj["status"]}, ensure_ascii=False))

    def delete(self, obj):
        return self.run("delete", "--ignore-not-found", "--wait=false", *self.ref(obj))


def in_namespace(obj, ns):
    """obj moved to namespace ns when it is namespaced."""
    if not obj.get("metadata", {}).get("namespace"):
        return obj
    return {**obj, "metadata": {**obj["metadata"], "namespace": ns}}


def without_status(obj):
    return {k: v for k, v in obj.items() if k != "status"}


def run_sample(c, k, where, headers, docs, good):
    op = headers.get("operation", "create")
    expect = headers.get("expect", "")
    created = []
    try:
        if op == "update":
            rc, _, err = k.apply(docs[0])
            created.append(docs[0])
            if not c.check(rc == 0, where, f"the stored (first) object was refused: {err.strip()}"):
                return
            judged = k.apply(docs[1])
            last = docs[1]
        elif op == "status":
            rc, _, err = k.apply(without_status(docs[0]))
            created.append(docs[0])
            if not c.check(rc == 0, where, f"the object (without status) was refused: {err.strip()}"):
                return
            judged = k.patch_status(docs[0])
            last = docs[0]
        else:
            judged = k.apply(docs[0])
            created.append(docs[0])
            last = docs[0]
        rc, _, err = judged
        if rc != 0 and op == "create":
            created.clear()  # refused: nothing to clean up
        if not good:
            c.check(rc != 0, where, f"accepted, but {headers.get('field')} should be refused ({expect})")
            c.check(rc == 0 or expect in err, where, f"refused without {expect!r}: {err.strip()}")
            return
        if not c.check(rc == 0, where, f"refused: {err.strip()}"):
            return
        stored = k.get(last)
        if not c.check(stored is not None, where, "cannot be read back"):
            return
        if last["kind"] == "WhatsAppAssignment":
            spec = stored.get("spec", {})
            c.check(spec.get("enabled", None) == last["spec"].get("enabled", True), where,
                    f"spec.enabled reads back as {spec.get('enabled')!r} (default true)")
            c.check(spec.get("defaultLanguage") == last["spec"].get("defaultLanguage", "es"), where,
                    f"spec.defaultLanguage reads back as {spec.get('defaultLanguage')!r} (default es)")
        if op == "status":
            c.check(stored.get("status") == last["status"], where,
                    f"status reads back as {stored.get('status')!r}")
        elif op == "create":
            c.check(not stored.get("status"), where, "a create must not set status (status subresource)")
    finally:
        for obj in created:
            k.delete(obj)


class DevServer:
    """A kube-devserver child process on a free port; stopped (TERM, then KILL) on exit."""

    def __init__(self, binary, tmp):
        self.kubeconfig = os.path.join(tmp, "kubeconfig")
        self.log_path = os.path.join(tmp, "devserver.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "--port", "0", "--kubeconfig-out", self.kubeconfig],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=60):
        """Returns True once the kubeconfig is written, False if the server died or timed out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(self.kubeconfig) and os.path.getsize(self.kubeconfig) > 0:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def log_tail(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--kubeconfig")
    target.add_argument("--devserver", help="kube-devserver binary to start and stop")
    parser.add_argument("--crds", default=os.path.join(HERE, "..", "..", "crds"))
    parser.add_argument("--samples", default=os.path.join(HERE, "samples"))
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--examples", help="also apply examples/ and check columns, explain, wait")
    args = parser.parse_args(argv[1:])

    c = Checker()
    if not c.check(shutil.which(args.kubectl) is not None, "kubectl", f"{args.kubectl} not found on PATH"):
        return c.summary("kubectl_samples")
    with tempfile.TemporaryDirectory(prefix="waop-kubectl-samples-") as tmp:
        if args.devserver:
            with DevServer(args.devserver, tmp) as server:
                if not c.check(server.wait_ready(), "kube-devserver", f"did not start: {server.log_tail()}"):
                    return c.summary("kubectl_samples")
                return run_all(c, args, server.kubeconfig, tmp)
        return run_all(c, args, args.kubeconfig, tmp)


def table(k, *args):
    """Returns (header words, rows as lists of cells) of a kubectl get; (None, stderr) on error.

    Cells are split on runs of two or more spaces, so "Panadería San Juan" stays one cell.
    """
    rc, out, err = k.run("get", *args)
    if rc != 0 or not out.strip():
        return None, err.strip()
    lines = out.rstrip("\n").split("\n")
    rows = [[cell.strip() for cell in re.split(r"\s{2,}", line.strip())] for line in lines[1:]]
    return lines[0].split(), rows


def check_presentation(c, k, examples_dir, crds_dir):
    """What a person sees: short names, category, printer columns, explain, kubectl wait."""
    where = "kubectl presentation"
    ns = "bakery-ia"
    docs = crdlib.load_yaml_documents(os.path.join(examples_dir, "namespace.yaml"))
    for name in sorted(os.listdir(os.path.join(examples_dir, "assignments"))):
        if name.endswith(".yaml"):
            docs += crdlib.load_yaml_documents(os.path.join(examples_dir, "assignments", name))
    for doc in docs:
        rc, _, err = k.apply(doc)
        c.check(rc == 0, where, f"apply {doc['kind']} {doc['metadata']['name']}: {err.strip()}")
    # A phone number to list, with the status the operator would write.
    pn = {"apiVersion": crdlib.API_VERSION, "kind": "WhatsAppPhoneNumber", "metadata": {"name": "123456789012345"},
          "status": {"displayPhoneNumber": "+34 612 345 678", "verifiedName": "Bakery Platform",
                     "qualityRating": "GREEN", "messagingLimitTier": "TIER_1K",
                     "assignment": {"namespace": ns, "name": "panaderia-san-juan",
                                    "tenantId": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                                    "tenantName": "Panadería San Juan"}}}
    k.apply(without_status(pn))
    rc, _, err = k.patch_status(pn)
    c.check(rc == 0, where, f"status of phone number: {err.strip()}")

    crds = crdlib.load_crds(crds_dir)
    for kind, short, scope, part in (("WhatsAppAssignment", "wa", ["-n", ns], "spec"),
                                     ("WhatsAppPhoneNumber", "wapn", [], "status")):
        columns = crds[kind]["spec"]["versions"][0]["additionalPrinterColumns"]
        want = ["NAME"] + [col["name"].upper() for col in columns if not col.get("priority")]
        want_wide = ["NAME"] + [col["name"].upper() for col in columns]
        header, rows = table(k, short, *scope)
        c.check(header == want, where, f"kubectl get {short}: columns {header}, want {want} ({rows})")
        header, rows = table(k, short, *scope, "-o", "wide")
        c.check(header == want_wide, where, f"kubectl get {short} -o wide: columns {header}, want {want_wide}")
        rc, out, err = k.run("explain", f"{short}.{part}")
        fields = crdlib.root_schema(crds[kind])["properties"][part]["properties"]
        missing = [f for f in fields if f not in out]
        c.check(rc == 0 and not missing, where, f"kubectl explain {short}.{part}: missing {missing} {err.strip()}")

    _, rows = table(k, "wa", "-n", ns)
    tenants = {row[1] for row in rows or [] if len(row) > 1}
    c.check({"Panadería San Juan", "Panadería Goiko", "Obrador Nuria"} <= tenants, where,
            f"TENANT column shows {sorted(tenants)}")
    _, rows = table(k, "wapn")
    want_row = ["123456789012345", "+34 612 345 678", "Bakery Platform", "GREEN", "Panadería San Juan"]
    c.check(bool(rows) and rows[0][:5] == want_row, where, f"kubectl get wapn rows: {rows}")
    _, rows = table(k, "whatsapp", "-A")
    c.check(bool(rows) and any("panaderia-san-juan" in " ".join(r) for r in rows), where,
            f"kubectl get whatsapp -A (category) lists no assignment: {rows}")
    rc, out, _ = k.run("explain", "wa.spec.tenantId")
    c.check(rc == 0 and "immutable" in out, where, "kubectl explain wa.spec.tenantId should say it is immutable")

    # kubectl wait reads the Ready condition the operator writes, and the columns show it.
    sj = next(d for d in docs if d["metadata"]["name"] == "panaderia-san-juan")
    ready = {"observedGeneration": 1, "conditions": [{
        "type": "Ready", "status": "True", "reason": "Bound", "observedGeneration": 1,
        "lastTransitionTime": "2026-11-26T10:00:00Z",
        "message": "Phone number +34 612 345 678 assigned to tenant 'Panadería San Juan'"}]}
    rc, _, err = k.patch_status({**sj, "status": ready})
    c.check(rc == 0, where, f"status patch: {err.strip()}")
    rc, _, err = k.run("wait", "-n", ns, "--for=condition=Ready", "--timeout=30s", "wa/panaderia-san-juan")
    c.check(rc == 0, where, f"kubectl wait --for=condition=Ready: {err.strip()}")
    _, rows = table(k, "wa", "-n", ns)
    row = next((r for r in rows or [] if r and r[0] == "panaderia-san-juan"), [])
    c.check(row[-3:-1] == ["True", "Bound"], where, f"READY and REASON columns: {row}")

    # The GitOps layout as Argo CD or Flux would apply it: kubectl apply -k (kustomize built in).
    rc, out, err = k.run("apply", "-k", os.path.join(examples_dir, "gitops"))
    applied = sorted(line.split()[0] for line in out.splitlines() if line.strip())
    want = sorted(["namespace/bakery-ia"] + [f"whatsappassignment.{crdlib.GROUP}/{d['metadata']['name']}"
                                             for d in docs[1:]])
    c.check(rc == 0 and applied == want, "kubectl apply -k examples/gitops",
            f"applied {applied}, want {want}: {err.strip()}")
    # The credentials Secret example creates its own namespace first.
    rc, out, err = k.run("apply", "-f", os.path.join(examples_dir, "credentials-secret.yaml"))
    c.check(rc == 0, "kubectl apply -f examples/credentials-secret.yaml", f"{out.strip()} {err.strip()}")
    rc, _, err = k.run("get", "secret", "-n", "whatsapp-operator", "whatsapp-operator-credentials")
    c.check(rc == 0, "examples/credentials-secret.yaml", f"the Secret is not there after apply: {err.strip()}")

    for doc in docs[1:] + [pn]:
        k.delete(doc)
    k.run("delete", "namespace", ns, "whatsapp-operator", "--ignore-not-found", "--wait=false")


def run_all(c, args, kubeconfig, tmp):
    """Installs the CRDs and replays every sample; returns the exit code."""
    k = Kubectl(args.kubectl, kubeconfig, tmp)
    rc, _, err = k.run("apply", "-f", args.crds)
    if not c.check(rc == 0, "kubectl apply -f crds", err.strip()):
        return c.summary("kubectl_samples")
    for crd in crdlib.load_crds(args.crds).values():
        rc, _, err = k.run("wait", "--for=condition=Established", "--timeout=60s",
                           f"crd/{crd['metadata']['name']}")
        c.check(rc == 0, f"crd/{crd['metadata']['name']}", f"not Established: {err.strip()}")
    # Samples run in WORKERS groups at once, each in its own namespace so names cannot collide
    # (kubectl start-up dominates the run time); cluster-scoped samples share one group.
    samples = []
    for kind in ("good", "bad"):
        directory = os.path.join(args.samples, kind)
        for name in sorted(os.listdir(directory)):
            if name.endswith(".yaml"):
                headers, docs = read_sample(os.path.join(directory, name))
                samples.append((f"{kind}/{name}", headers, docs, kind == "good"))
    groups = [[] for _ in range(WORKERS)]
    namespaced = 0
    for sample in samples:
        if sample[2][0]["metadata"].get("namespace"):
            groups[1 + namespaced % (WORKERS - 1)].append(sample)
            namespaced += 1
        else:
            groups[0].append(sample)

    def run_group(index):
        gc = Checker()
        ns = f"{NAMESPACE}-{index}"
        gk = Kubectl(args.kubectl, kubeconfig, tmp, prefix=f"g{index}-")
        rc, _, err = gk.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        if gc.check(rc == 0, f"namespace {ns}", err.strip()):
            try:
                for where, headers, docs, good in groups[index]:
                    docs = [in_namespace(d, ns) for d in docs]
                    run_sample(gc, gk, where, headers, docs, good)
            finally:
                gk.run("delete", "namespace", ns, "--ignore-not-found", "--wait=false")
        return gc

    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
        for gc in pool.map(run_group, range(WORKERS)):
            c.merge(gc)
    if args.examples:
        check_presentation(c, k, args.examples, args.crds)
    return c.summary("kubectl_samples")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
