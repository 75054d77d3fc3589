#!/usr/bin/env bash
# Install everything the tests need, then run them. Used by the README's Quick start and by .ci/run.
# Python packages go into ./.venv (Debian's python3 refuses system-wide pip installs, PEP 668).
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(docker-registry nginx apache2-utils containerd runc openssl skopeo python3-venv)
if [ "$(id -u)" = 0 ]; then
  missing=()
  for d in "${debs[@]}"; do dpkg -s "$d" >/dev/null 2>&1 || missing+=("$d"); done
  if [ "${#missing[@]}" -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
else
  echo "scripts/test.sh: not root, not installing Debian packages (${debs[*]}); lab tests may skip" >&2
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install --disable-pip-version-check -q -e '.[test]'
exec .venv/bin/python -m pytest -q "$@"
