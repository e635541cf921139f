#!/usr/bin/env bash
# Installs Debian's Prometheus (server and promtool) for the utilization tests. The
# package's own service is stopped: tests start their own servers on loopback.
set -euo pipefail
if command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
$SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
$SUDO service prometheus stop >/dev/null 2>&1 || true
pkill -x prometheus >/dev/null 2>&1 || true
prometheus --version 2>&1 | head -n1 >&2
