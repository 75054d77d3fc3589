#!/usr/bin/env bash
# Install everything the tests need, then lint, type-check and run them. Used by the README's Quick start and
# by .ci/run. Python packages go into ./.venv (Debian's python3 refuses system-wide pip installs, PEP 668).
#
#   bash scripts/test.sh [PYTEST ARGS…]           the versions pinned in requirements/test.txt (what CI runs)
#   bash scripts/test.sh --latest [PYTEST ARGS…]  the newest versions pyproject.toml allows, to see what a
#                                                  new release of a dependency breaks before users do
# Refresh the pins with scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

latest=0
if [ "${1:-}" = "--latest" ]; then latest=1; shift; fi

debs=(docker-registry nginx apache2-utils containerd runc openssl skopeo podman python3-venv prometheus)  # prometheus: promtool
if [ "$(id -u)" = 0 ]; then
  missing=()
  for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  command -v kubectl >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    kubernetes-client
else
  echo "scripts/test.sh: not root, not installing Debian packages (${debs[*]}); lab tests may skip" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
if [ "$latest" = 1 ]; then
  "${pip[@]}" --upgrade --upgrade-strategy eager -e '.[test,lint]'
else
  # Exactly the pinned, hash-checked versions (build backend included), then the project itself.
  "${pip[@]}" --require-hashes --no-deps -r requirements/test.txt
  "${pip[@]}" --no-deps --no-build-isolation -e .
fi
.venv/bin/python -m pip freeze --exclude-editable | grep -iE '^(msgspec|aiohttp|kubernetes|pyyaml|ruff|mypy)==' \
  | tr '\n' ' ' | sed 's/^/scripts\/test.sh: testing with /; s/ $/\n/' >&2

.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest -q "$@"
