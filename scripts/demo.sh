#!/usr/bin/env bash
# `make demo`: the whole product on one machine, without a cluster.
#
#   1. installs what is missing and builds the four binaries it runs (skipped with
#      DEMO_SKIP_BUILD=1, as the ctest `demo` does);
#   2. starts kube-devserver (the Kubernetes API, TLS, on 127.0.0.1), graph-devserver (the Meta
#      Graph API, with devserver/graph/example-data.yaml), tenant-devserver (the platform's
#      tenant service, with devserver/tenant/example-data.yaml) and whatsapp-operator, each on a
#      free port of 127.0.0.1;
#   3. applies crds/, the admission webhook, and examples/ with the real kubectl, and shows the
#      assignments with their quality, the phone numbers, a duplicate refused at apply time, a
#      rating change arriving through Meta's signed webhook, one tenant's settings, and the
#      tenant service's rows kept in step (with a legacy row reported);
#   4. stops everything it started, or with DEMO_KEEP=1 leaves it running and says how to point
#      kubectl at it and how to stop it.
#
# It waits on conditions (kubectl wait, polls with a deadline), never for a fixed time.
# Environment: BUILD_DIR (default build), DEMO_SKIP_BUILD=1, DEMO_KEEP=1, DEMO_TIMEOUT (seconds
# per wait, default 60), KUBECTL (default kubectl).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-build}"
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR="$ROOT/$BUILD_DIR" ;; esac
KUBECTL="${KUBECTL:-kubectl}"
TIMEOUT="${DEMO_TIMEOUT:-60}"
OPERATOR="$BUILD_DIR/operator/whatsapp-operator"
KUBE_DEVSERVER="$BUILD_DIR/devserver/kube-devserver"
GRAPH_DEVSERVER="$BUILD_DIR/devserver/graph/graph-devserver"
TENANT_DEVSERVER="$BUILD_DIR/devserver/tenant/tenant-devserver"

step() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

# Polls `$@` until it succeeds, for at most TIMEOUT seconds (the short pause between tries is a
# poll interval, not a wait for something to happen).
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then die "timed out after ${TIMEOUT}s waiting for $what"; fi
    sleep 0.2
  done
}

# N free loopback ports, all different: the sockets are held open together while the kernel
# picks, so two picks cannot return the same port (one at a time, they sometimes did).
free_ports() {
  python3 -c '
import socket, sys
held = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in held:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$1"
}

# ---- 1. install and build --------------------------------------------------------------------
if [[ "${DEMO_SKIP_BUILD:-0}" != 1 ]]; then
  step "Installing missing packages and building (make deps; whatsapp-operator, kube-devserver, graph-devserver, tenant-devserver)"
  make -C "$ROOT" --no-print-directory deps
  [[ -f "$BUILD_DIR/build.ninja" ]] ||
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
  cmake --build "$BUILD_DIR" --target whatsapp-operator kube-devserver graph-devserver tenant-devserver
fi
for b in "$OPERATOR" "$KUBE_DEVSERVER" "$GRAPH_DEVSERVER" "$TENANT_DEVSERVER"; do
  [[ -x "$b" ]] || die "$b is missing: run make demo (or make build) first"
done
command -v "$KUBECTL" >/dev/null || die "kubectl not found (set KUBECTL)"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/waop-demo.XXXXXX")"
PIDS=()
cleanup() {
  local rc=$?
  if [[ "${DEMO_KEEP:-0}" == 1 && $rc == 0 ]]; then
    step "Left running (DEMO_KEEP=1)"
    echo "export KUBECONFIG=$WORK/kubeconfig    # then: kubectl get wa -A"
    echo "kill ${PIDS[*]}    # stops the operator and the dev servers; then rm -rf $WORK"
    return
  fi
  # Newest first, each one gone before the next: the operator releases its Lease while the API
  # server still answers.
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill "${PIDS[i]}" 2>/dev/null || true
    wait "${PIDS[i]}" 2>/dev/null || true
  done
  if [[ $rc != 0 && -f "$WORK/operator.log" ]]; then
    echo "--- last lines of the operator's log:" >&2
    tail -n 20 "$WORK/operator.log" >&2
  fi
  rm -rf "$WORK"
  [[ $rc == 0 ]] && step "Stopped everything the demo started"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 2. the servers --------------------------------------------------------------------------
step "Starting kube-devserver (the Kubernetes API) and graph-devserver (the Meta Graph API)"
"$KUBE_DEVSERVER" --tls --port 0 --port-file "$WORK/kube.port" --kubeconfig-out "$WORK/kubeconfig" \
  >"$WORK/kube-devserver.log" 2>&1 &
PIDS+=($!)
"$GRAPH_DEVSERVER" --data "$ROOT/devserver/graph/example-data.yaml" --port-file "$WORK/graph.port" \
  >"$WORK/graph-devserver.log" 2>&1 &
PIDS+=($!)
wait_for "kube-devserver's kubeconfig" test -s "$WORK/kubeconfig"
wait_for "graph-devserver's port" test -s "$WORK/graph.port"
export KUBECONFIG="$WORK/kubeconfig"
GRAPH_PORT="$(cat "$WORK/graph.port")"
echo "kube-devserver on https://127.0.0.1:$(cat "$WORK/kube.port"), graph-devserver on http://127.0.0.1:$GRAPH_PORT"

step "Applying the CRDs and the admission webhook's configuration"
show "$KUBECTL" apply -f "$ROOT/crds/"
show "$KUBECTL" wait --for=condition=Established --timeout="${TIMEOUT}s" \
  crd/whatsappassignments.whatsapp.bakery-ia.io crd/whatsappphonenumbers.whatsapp.bakery-ia.io
read -r WEBHOOK_PORT METRICS_PORT PROBE_PORT META_PORT <<<"$(free_ports 4)"
sed "s#https://127.0.0.1:9443/#https://127.0.0.1:$WEBHOOK_PORT/#" \
  "$ROOT/examples/webhook/validating-webhook-local.yaml" | "$KUBECTL" apply -f -

# The master credentials, laid out as a mounted Secret (one file per key). The demo's token is
# graph-devserver's; it is never printed.
mkdir -m 700 "$WORK/credentials"
printf %s test-token >"$WORK/credentials/WHATSAPP_ACCESS_TOKEN"
printf %s 102290129340398 >"$WORK/credentials/WHATSAPP_BUSINESS_ACCOUNT_ID"
printf %s 123456789012345 >"$WORK/credentials/WHATSAPP_PHONE_NUMBER_ID"
printf %s v21.0 >"$WORK/credentials/WHATSAPP_API_VERSION"
printf %s demo-verify-token >"$WORK/credentials/WHATSAPP_WEBHOOK_VERIFY_TOKEN"
printf %s app-secret >"$WORK/credentials/WHATSAPP_APP_SECRET"
# The tenant service's bearer token (read by the operator, never published to tenants).
printf %s dev-tenant-token >"$WORK/credentials/TENANT_SERVICE_TOKEN"

OPERATOR_ARGS=(
  --kubeconfig "$WORK/kubeconfig" --log-format text
  --leader-elect --leader-election-namespace default
  --metrics-bind-address "127.0.0.1:$METRICS_PORT" --health-probe-bind-address "127.0.0.1:$PROBE_PORT"
  --webhook-port "$WEBHOOK_PORT" --webhook-host 127.0.0.1 --webhook-bind-host 127.0.0.1
  --meta-webhook-bind-address "127.0.0.1:$META_PORT"
  --graph-api-url "http://127.0.0.1:$GRAPH_PORT" --credentials-dir "$WORK/credentials"
)

# ---- the platform's tenant service (fake) ------------------------------------------------------
# tenant-devserver holds the platform's rows as they were before assignments
# (devserver/tenant/example-data.yaml); the operator keeps them in step (--tenant-service-url).
step "Starting tenant-devserver (the platform's tenant service)"
"$TENANT_DEVSERVER" --data "$ROOT/devserver/tenant/example-data.yaml" --listen 127.0.0.1:0 \
  --port-file "$WORK/tenant.port" >"$WORK/tenant-devserver.log" 2>&1 &
PIDS+=($!)
wait_for "tenant-devserver to listen" test -s "$WORK/tenant.port"
TENANT_PORT="$(cat "$WORK/tenant.port")"
OPERATOR_ARGS+=(--tenant-service-url "http://127.0.0.1:$TENANT_PORT" --tenant-sync-interval 2s)

step "Starting whatsapp-operator"
printf '$ whatsapp-operator'; printf ' %q' "${OPERATOR_ARGS[@]}"; printf '\n'
"$OPERATOR" "${OPERATOR_ARGS[@]}" >"$WORK/operator.log" 2>&1 &
PIDS+=($!)
wait_for "the operator's /readyz (caches synced, webhook serving with its CA in the caBundle)" \
  curl -fs "http://127.0.0.1:$PROBE_PORT/readyz"
echo "ready: $(curl -fs "http://127.0.0.1:$PROBE_PORT/readyz")"

# ---- 3. the examples -------------------------------------------------------------------------
step "Applying the examples: the bakery-ia namespace, three tenants' assignments, the credentials Secret"
show "$KUBECTL" apply -f "$ROOT/examples/namespace.yaml" -f "$ROOT/examples/assignments/"
show "$KUBECTL" apply -f "$ROOT/examples/credentials-secret.yaml"
show "$KUBECTL" wait -n bakery-ia --for=condition=Ready wa --all --timeout="${TIMEOUT}s"
quality_is() { [[ "$("$KUBECTL" get wa -n bakery-ia "$1" -o jsonpath='{.status.qualityRating}')" == "$2" ]]; }
wait_for "San Juan's quality from Meta" quality_is panaderia-san-juan GREEN
wait_for "Goiko's quality from Meta" quality_is panaderia-goiko YELLOW

step "Assignments, with the quality Meta reports"
show "$KUBECTL" get wa -A
step "The master account's phone numbers (no TENANT = free)"
show "$KUBECTL" get wapn

step "A duplicate: a fourth tenant asks for San Juan's number"
printf '$ kubectl apply -f examples/duplicate/\n'
if "$KUBECTL" apply -f "$ROOT/examples/duplicate/" >"$WORK/duplicate.out" 2>&1; then
  cat "$WORK/duplicate.out"
  die "the duplicate was accepted; the admission webhook should have refused it"
fi
cat "$WORK/duplicate.out"
echo "(refused at apply time by the admission webhook; nothing was stored)"

step "A rating change: Meta downgrades San Juan's number to RED and sends a signed webhook"
curl -fsS -X PATCH "http://127.0.0.1:$GRAPH_PORT/_control/phone-numbers/123456789012345" \
  -H 'Content-Type: application/json' \
  -d "{\"qualityRating\":\"RED\",\"webhook\":{\"url\":\"http://127.0.0.1:$META_PORT/meta/webhook\",\"event\":\"DOWNGRADE\"}}" \
  -o "$WORK/webhook.out"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["webhook"]; print("webhook delivered, the operator answered HTTP", r["status"])' \
  "$WORK/webhook.out"
wait_for "San Juan's quality to turn RED" quality_is panaderia-san-juan RED
show "$KUBECTL" get wa -n bakery-ia panaderia-san-juan
show "$KUBECTL" get events -n bakery-ia --field-selector reason=QualityDropped \
  -o custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message

step "The platform's tenant service, kept in step (Goiko's number assigned by the operator)"
tenant_rows() {
  curl -fsS -H 'Authorization: Bearer dev-tenant-token' \
    "http://127.0.0.1:$TENANT_PORT/api/v1/admin/whatsapp/tenants" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    legacy = sorted(k for k in r if k in ("whatsapp_access_token", "whatsapp_business_account_id", "whatsapp_api_version"))
    print("%-24s %-8s %-16s %-16s %s" % (r["tenant_name"], r["whatsapp_enabled"], r["phone_number_id"],
          r["display_phone_number"], ("legacy keys: " + ", ".join(legacy)) if legacy else ""))'
}
goiko_assigned() { tenant_rows | grep -q "Panadería Goiko .*123456789012346"; }
wait_for "Goiko's number in the tenant service" goiko_assigned
tenant_rows
echo "The legacy per-tenant keys are reported as a migration to do, by name only:"
legacy_reported() {
  [[ -n "$("$KUBECTL" get events -n bakery-ia --field-selector reason=LegacyTenantCredentials -o name)" ]]
}
wait_for "the legacy keys' report" legacy_reported
show "$KUBECTL" get events -n bakery-ia --field-selector reason=LegacyTenantCredentials \
  -o custom-columns=TYPE:.type,REASON:.reason,OBJECT:.involvedObject.name,MESSAGE:.message

step "One tenant's settings, as the notification service reads them"
show "$KUBECTL" get configmap -n bakery-ia whatsapp-settings-panaderia-san-juan \
  -o jsonpath='{.data.notification_settings\.json}'
echo
echo "The master credentials published for the notification service (keys only):"
"$KUBECTL" get secret -n bakery-ia whatsapp-master-credentials -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("secret/whatsapp-master-credentials keys:", ", ".join(sorted(s["data"])))
print("content hash (never the token):", s["metadata"]["annotations"]["whatsapp.bakery-ia.io/content-hash"][:12], "...")'

step "Demo complete"
