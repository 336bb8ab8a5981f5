#!/usr/bin/env python3
"""Runs scripts/demo.sh (DEMO_SKIP_BUILD=1, against --build-dir) and checks its output:
assignments Ready with quality from graph-devserver, the phone numbers listed, the duplicate
refused by the webhook with the holder's name, the rating change to RED with its Event, a
tenant's settings, no secret printed, and no process left running.

Usage: check_demo.py --script scripts/demo.sh --build-dir build
"""

import argparse
import os
import re
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--build-dir", required=True)
    a = ap.parse_args()
    env = dict(os.environ, DEMO_SKIP_BUILD="1", BUILD_DIR=a.build_dir, DEMO_KEEP="0")
    env.pop("KUBECONFIG", None)
    started = time.monotonic()
    run = subprocess.run(["bash", a.script], capture_output=True, text=True, timeout=280, env=env)
    took = time.monotonic() - started
    out = run.stdout + run.stderr
    print(out)
    failures = []

    def want(ok, what):
        if not ok:
            failures.append(what)

    want(run.returncode == 0, f"demo.sh exited {run.returncode}")
    # kubectl get wa -A: three tenants Ready, with Meta's ratings.
    for tenant, quality in (("Panadería San Juan", "GREEN"), ("Panadería Goiko", "YELLOW"), ("Obrador Nuria", "GREEN")):
        want(re.search(rf"{tenant}\s+\+34 \d+ \d+ \d+\s+{quality}\s+True\s+Bound", out),
             f"kubectl get wa -A should show {tenant} {quality} True Bound")
    want(re.search(r"123456789012345\s+\+34 612 345 678\s+Bakery Platform\s+GREEN\s+Panadería San Juan", out),
         "kubectl get wapn should list San Juan's number with its tenant")
    want("already assigned to tenant 'Panadería San Juan' (bakery-ia/panaderia-san-juan)" in out
         and "denied the request" in out,
         "the duplicate must be refused by the webhook, naming the holder")
    want("the operator answered HTTP 200" in out, "the signed webhook must be accepted")
    want(re.search(r"panaderia-san-juan\s+Panadería San Juan\s+\+34 612 345 678\s+RED", out),
         "San Juan's assignment must show RED after the webhook")
    want(re.search(r"Warning\s+QualityDropped", out), "a QualityDropped Warning Event")
    want('"whatsapp_phone_number_id":"123456789012345"' in out.replace(" ", ""), "San Juan's settings JSON")
    want("Stopped everything the demo started" in out, "the demo must say it stopped what it started")
    want(re.search(r"Panadería Goiko\s+True\s+123456789012346", out),
         "the tenant service must show Goiko's number, assigned by the operator")
    want(re.search(r"Warning\s+LegacyTenantCredentials\s+obrador-nuria", out),
         "Obrador Nuria's legacy per-tenant keys must be reported on its assignment")
    for secret in ("test-token", "app-secret", "demo-verify-token", "dev-tenant-token",
                   "EAAG-legacy-per-tenant-demo"):
        want(secret not in out, f"the output contains the secret {secret!r}")
    # No process of the demo is left (the script kills and waits for them).
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    left = [line for line in ps.splitlines() if "waop-demo." in line and "check_demo" not in line]
    want(not left, f"processes left running: {left}")
    for f in failures:
        print("FAIL " + f)
    print(f"demo: {len(failures)} failures; the demo took {took:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
