#!/usr/bin/env bash
# Installs a Helm engine for the chart tests and scripts/helm.py: Helm v4's Go SDK as a
# native library, the Python package helm-python-sdk installed by pip from its configured
# index (Debian bookworm has no helm package), in a virtualenv under the project's cache.
# Idempotent; prints the venv's python on stdout. The only system change: python3-venv
# from the machine's apt sources when python3's venv module is missing (as root, through
# sudo when run as a user).
#
# Environment: GOVCLOUD_CACHE (default ~/.cache/govcloud-operator); the venv is
# $GOVCLOUD_CACHE/helm-venv. A venv there is replaced (on a version change) only when this
# script created it.
set -euo pipefail

VERSION=0.2.2 # helm-python-sdk; bundles Helm v4.2.3
CACHE="${GOVCLOUD_CACHE:-$HOME/.cache/govcloud-operator}"
VENV="$CACHE/helm-venv"
PY="$VENV/bin/python"

log() { printf '[install-helm] %s\n' "$*" >&2; }
# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"
OWNED="$VENV/.govcloud-helm-venv" # written into every venv this script creates

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
    require_root "installing python3-venv"
    apt_get update -qq >&2 && apt_get install -y -qq python3-venv >&2
  fi
  if [ -e "$VENV" ] || [ -L "$VENV" ]; then
    [ -f "$OWNED" ] || {
      log "error: $VENV exists but was not created by this script (no ${OWNED##*/}); not replacing it: remove it yourself, or set GOVCLOUD_CACHE"
      exit 1
    }
    rm -rf -- "$VENV"
  fi
  log "creating $VENV with helm-python-sdk==$VERSION"
  # marked before anything goes in, so a failed attempt is still recognised as ours
  mkdir -- "$VENV"
  : >"$OWNED"
  python3 -m venv "$VENV" >&2
  "$PY" -m pip install --quiet --disable-pip-version-check "helm-python-sdk==$VERSION" >&2
  installed || { log "error: helm_python $VERSION does not import from $VENV"; exit 1; }
fi
log "Helm $("$PY" -c 'import helm_python as h; print(h.helm_sdk_version())') ready in $VENV"
echo "$PY"
