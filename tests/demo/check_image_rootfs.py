#!/usr/bin/env python3
"""Builds the runtime image's filesystem with scripts/image-rootfs.sh into a temporary directory
and runs the operator from it alone: `--version` and `--print-rbac` must work with nothing from
the host (chroot when run as root; otherwise through the copied loader with only the copied
libraries on its path). Prints the file count and size of the filesystem.

Usage: check_image_rootfs.py --script scripts/image-rootfs.sh --operator BINARY
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--script", required=True)
    ap.add_argument("--operator", required=True)
    a = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory(prefix="waop-rootfs-") as tmp:
        rootfs = os.path.join(tmp, "rootfs")
        run = subprocess.run(["bash", a.script, a.operator, rootfs], capture_output=True, text=True, timeout=60)
        if run.returncode != 0:
            print(run.stdout + run.stderr)
            print("FAIL image-rootfs.sh failed")
            return 1
        files = [p for p in glob.glob(os.path.join(rootfs, "**"), recursive=True) if os.path.isfile(p)]
        size = sum(os.path.getsize(p) for p in files)
        print(f"rootfs: {len(files)} files, {size / 1e6:.1f} MB (binary unstripped here; the image strips it)")
        for must in ("usr/local/bin/whatsapp-operator", "etc/passwd", "etc/ssl/certs/ca-certificates.crt"):
            if not os.path.exists(os.path.join(rootfs, must)):
                failures.append(f"{must} missing from the rootfs")
        chroot = shutil.which("chroot") or "/usr/sbin/chroot"
        # A sanitizer build's runtime reads its options and threads from /proc, which the image
        # does not have: such a binary runs through the copied loader instead of a chroot.
        ldd = subprocess.run(["ldd", a.operator], capture_output=True, text=True).stdout
        sanitized = "libasan" in ldd or "libubsan" in ldd
        if os.geteuid() == 0 and os.path.exists(chroot) and not sanitized:
            base = [chroot, rootfs, "/usr/local/bin/whatsapp-operator"]
            how = "chroot"
        else:
            loader = glob.glob(os.path.join(rootfs, "lib*", "ld-linux*.so*"))
            libdirs = sorted({os.path.dirname(p) for p in files if ".so" in os.path.basename(p)})
            base = [loader[0], "--library-path", ":".join(libdirs),
                    os.path.join(rootfs, "usr/local/bin/whatsapp-operator")]
            how = "the copied loader"
        for args, want in ((["--version"], "whatsapp-operator"), (["--print-rbac"], "kind: ClusterRole")):
            r = subprocess.run(base + args, capture_output=True, text=True, timeout=30, env={"PATH": "/nonexistent"})
            if r.returncode != 0 or want not in r.stdout:
                failures.append(f"{' '.join(args)} from the rootfs ({how}) failed: {r.returncode} {r.stderr.strip()}")
        print(f"ran the operator from the rootfs via {how}")
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
