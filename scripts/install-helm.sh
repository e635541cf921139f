#!/usr/bin/env bash
# Installs a Helm engine for the chart tests and scripts/helm.py: Helm v4's Go SDK as a
# native library, from PyPI's helm-python-sdk (Debian bookworm has no helm package), in a
# virtualenv under the project's cache. Idempotent; prints the venv's python on stdout.
#
# Environment: GOVCLOUD_CACHE (default ~/.cache/govcloud-operator); the venv is
# $GOVCLOUD_CACHE/helm-venv.
set -euo pipefail

VERSION=0.2.2 # helm-python-sdk; bundles Helm v4.2.3
CACHE="${GOVCLOUD_CACHE:-$HOME/.cache/govcloud-operator}"
VENV="$CACHE/helm-venv"
PY="$VENV/bin/python"

log() { printf '[install-helm] %s\n' "$*" >&2; }

installed() {
  [ -x "$PY" ] && "$PY" - "$VERSION" <<'PYEOF' >/dev/null 2>&1
import sys
import helm_python
sys.exit(0 if helm_python.__version__ == sys.argv[1] else 1)
PYEOF
}

if ! installed; then
  mkdir -p "$CACHE"
  if ! python3 -m venv --help >/dev/null 2>&1; then
    log "python3's venv module is missing; installing python3-venv"
    apt-get update -qq >&2 && apt-get install -y -qq python3-venv >&2
  fi
  rm -rf "$VENV"
  log "creating $VENV with helm-python-sdk==$VERSION"
  python3 -m venv "$VENV" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "helm-python-sdk==$VERSION" >&2
  installed || { log "error: helm_python $VERSION does not import from $VENV"; exit 1; }
fi
log "Helm $("$PY" -c 'import helm_python as h; print(h.helm_sdk_version())') ready in $VENV"
echo "$PY"
