#!/usr/bin/env python3
"""Fails when a folder of operator/ includes a header from a layer above it.

Usage: check_layering.py OPERATOR_DIR LAYER...

Each LAYER is a folder of OPERATOR_DIR, lowest first ("common tls api core kube,meta ...");
folders joined by a comma are peers. A file in a folder may include `"x/..."` only when x is its
own folder or a folder of a lower layer: not a peer (that would be an edge the order hides), not
a layer above, and not a folder outside the list (test support, the dev servers). Files directly
in OPERATOR_DIR (main.cpp) sit above every layer. A folder of OPERATOR_DIR missing from the list
is an error too, so a new folder has to be given its place.

The order comes from operator/CMakeLists.txt (WAOP_LAYERS). Exit status 0 when clean, 1 with one
line per violation ("file:line: includes "x/y.h": reason"), 2 on bad usage.
"""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"(([^"/]+)/[^"]*)"')
SOURCE_SUFFIXES = (".h", ".hpp", ".cc", ".cpp")


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    root = os.path.abspath(argv[1])
    rank = {}
    for i, layer in enumerate(argv[2:]):
        for folder in layer.split(","):
            rank[folder] = i
    top = len(argv) - 2  # files directly in root (main.cpp)

    problems = []
    for folder in sorted(os.listdir(root)):
        if os.path.isdir(os.path.join(root, folder)) and folder not in rank:
            problems.append(f"{os.path.join(root, folder)}: folder has no layer; add it to "
                            "WAOP_LAYERS in operator/CMakeLists.txt")

    files = 0
    for dirpath, _, names in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        own = None if rel_dir == "." else rel_dir.split(os.sep)[0]
        own_rank = top if own is None else rank.get(own)
        if own_rank is None:
            continue  # reported above
        for name in sorted(names):
            if not name.endswith(SOURCE_SUFFIXES):
                continue
            path = os.path.join(dirpath, name)
            files += 1
            with open(path, encoding="utf-8") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    header, target = m.group(1), m.group(2)
                    if target == own:
                        continue
                    target_rank = rank.get(target)
                    if target_rank is None:
                        why = f'"{target}/" is not a layer of {root} (test or tool code?)'
                    elif target_rank > own_rank:
                        why = f'"{target}/" is a layer above "{own}/"'
                    elif target_rank == own_rank:
                        why = f'"{target}/" is a peer of "{own}/"; peers must not include each other'
                    else:
                        continue
                    problems.append(f'{path}:{lineno}: includes "{header}": {why}')

    if files == 0:
        problems.append(f"{root}: no source files found; wrong directory?")
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} violation(s); order, lowest first: {' -> '.join(argv[2:])}")
        return 1
    print(f"layering: {files} files follow {' -> '.join(argv[2:])} -> main.cpp")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
