#!/usr/bin/env bash
# Install everything the tests need, then run them. Used by the README's Quick start and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(docker-registry nginx apache2-utils containerd runc openssl skopeo)
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

python3 -m pip install --disable-pip-version-check -q -e '.[test]'
exec python3 -m pytest -q "$@"
