#!/usr/bin/env bash
# Installs Debian's Prometheus (server and promtool) and Alertmanager for the utilization
# and notice tests, from the machine's configured apt sources (as root, through sudo when
# run as a user). Tests start their own servers on free loopback ports, so a host's
# Prometheus or Alertmanager does not matter and is left alone; only when this run
# installs a package is the service its postinst just started stopped and disabled.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 \
  && command -v prometheus-alertmanager >/dev/null 2>&1; then
  exit 0
fi
log() { printf '[install-prometheus] %s\n' "$*" >&2; }
# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"

require_root "installing prometheus"
new_packages=()
for pkg in prometheus prometheus-alertmanager; do
  pkg_installed "$pkg" || new_packages+=("$pkg")
done
apt_get update -qq
apt_get install -y -qq --no-install-recommends prometheus prometheus-alertmanager >/dev/null
for pkg in "${new_packages[@]}"; do
  stop_new_service "$pkg"
done
prometheus --version 2>&1 | head -n1 >&2
prometheus-alertmanager --version 2>&1 | head -n1 >&2
