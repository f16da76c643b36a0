#!/usr/bin/env bash
# Fails when README.md or docs/*.md names a file or folder of this
# repository that does not exist: a path in backticks that starts with one
# of the repository's top-level folders (or `store/`, short for the store
# crate's src/), and every relative Markdown link.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 - README.md docs/*.md <<'PY'
import os, re, sys

roots = ("crates/", "src/", "tests/", "scripts/", "migrations/", "docs/", "web/",
         "proto/", "deploy/", ".ci/", "fuzz/")
missing = []
for doc in sys.argv[1:]:
    text = open(doc, encoding="utf-8").read()
    here = os.path.dirname(doc)
    candidates = []
    for path in re.findall(r"`([^`\s]+)`", text):
        if path.startswith("store/"):
            path = "crates/ngalam112-store/src/" + path[len("store/"):]
        if path.startswith(roots):
            candidates.append(path)
    for link in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", link) or link.startswith("#"):
            continue
        candidates.append(os.path.normpath(os.path.join(here, link)))
    for path in candidates:
        path = re.split(r"[#:]", path)[0].rstrip(".,;")
        if not path or any(c in path for c in "*<>{}$"):
            continue
        if not os.path.exists(path):
            missing.append(f"{doc}: {path}")
for line in missing:
    print(f"check-doc-paths: no such path: {line}", file=sys.stderr)
sys.exit(1 if missing else 0)
PY
