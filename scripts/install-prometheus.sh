#!/usr/bin/env bash
# Installs Debian's Prometheus (server and promtool) for the utilization tests, from the
# machine's configured apt sources (as root, through sudo when run as a user). Tests start
# their own servers on free loopback ports, so a host's Prometheus does not matter and is
# left alone; only when this run installs the package is the service its postinst just
# started stopped and disabled.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
log() { printf '[install-prometheus] %s\n' "$*" >&2; }
# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"

require_root "installing prometheus"
was_installed=""
! pkg_installed prometheus || was_installed=1
apt_get update -qq
apt_get install -y -qq --no-install-recommends prometheus >/dev/null
[ -n "$was_installed" ] || stop_new_service prometheus
prometheus --version 2>&1 | head -n1 >&2
