#!/usr/bin/env bash
# Refresh requirements/test.txt: the exact, hash-pinned versions that scripts/test.sh and CI install.
# Run it, then `bash scripts/test.sh` (and commit both the lock and any fixes) — a refreshed lock lands only
# with a green suite. `bash scripts/lock.sh --upgrade-package msgspec` moves one package only.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check -q 'uv>=0.9'
[ "$#" -gt 0 ] || set -- --upgrade
exec .venv/bin/uv pip compile pyproject.toml requirements/build.in --extra test --extra lint --extra aws \
  --generate-hashes --universal --python-version 3.11 -o requirements/test.txt "$@"
