#!/usr/bin/env bash
# Lays out the runtime image's whole filesystem in ROOTFS: the operator binary, exactly the shared
# libraries `ldd` says it loads (and the dynamic loader), the CA bundle (for https to
# graph.facebook.com), and passwd/group entries for the non-root user 65532. The Dockerfile's
# runtime stage is `FROM scratch` plus this directory; tests/demo's image_rootfs runs the binary
# from it to prove nothing is missing.
#
# Usage: scripts/image-rootfs.sh BINARY ROOTFS
set -euo pipefail
[[ $# == 2 ]] || { echo "usage: $0 BINARY ROOTFS" >&2; exit 2; }
BINARY="$1"
ROOTFS="$2"
mkdir -p "$ROOTFS/usr/local/bin" "$ROOTFS/etc/ssl/certs" "$ROOTFS/tmp"
chmod 1777 "$ROOTFS/tmp"
cp "$BINARY" "$ROOTFS/usr/local/bin/whatsapp-operator"
ldd "$BINARY" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u |
  while read -r lib; do
    mkdir -p "$ROOTFS$(dirname "$lib")"
    cp -L "$lib" "$ROOTFS$lib"
  done
if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
  cp /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
echo "nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin" >"$ROOTFS/etc/passwd"
echo "nonroot:x:65532:" >"$ROOTFS/etc/group"
echo "hosts: files dns" >"$ROOTFS/etc/nsswitch.conf"
