#!/usr/bin/env bash
# Installs what the local control plane needs (and a kubectl of the same version) and caches it outside the repository:
#   etcd (Debian's etcd-server), kube-apiserver and kube-controller-manager 1.20.2 built
#   from Debian's `kubernetes` source package with Debian's Go.
# Only the first run builds (about 8 minutes on 2 cores); later runs find the cached
# binaries and return at once. Safe to run again after a failure.
#
# Two traps, both handled here (see shared/DESIGN.md):
#  1. Go 1.19 + the vendored modern-go/reflect2 v1.0.1 gives an apiserver that segfaults in
#     map iteration on the first custom-resource write: the whole vendored directory is
#     replaced by Debian's golang-github-modern-go-reflect2-dev (1.0.2).
#  2. The tree builds with its own make only from inside a GOPATH layout.
set -euo pipefail

CACHE="${GOVCLOUD_CACHE:-$HOME/.cache/govcloud-operator}"
BIN="$CACHE/bin"
K8S_VERSION="1.20.2"

log() { printf '[install-control-plane] %s\n' "$*" >&2; }

have_bins() {
  [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kubectl" ] && command -v etcd >/dev/null 2>&1
}

if have_bins && [ "${1:-}" != "--force" ]; then
  log "cached: $BIN (etcd: $(command -v etcd))"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

export DEBIAN_FRONTEND=noninteractive
src_list=/etc/apt/sources.list.d/govcloud-deb-src.sources
if [ ! -f "$src_list" ]; then
  log "enabling deb-src for the Debian archive"
  $SUDO tee "$src_list" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
log "apt-get update"
$SUDO apt-get update -qq
log "installing build and runtime packages"
$SUDO apt-get install -y -qq --no-install-recommends \
  etcd-server golang-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev curl ca-certificates openssl >/dev/null

# etcd-server starts a system service on install; the control plane runs its own.
$SUDO systemctl disable --now etcd >/dev/null 2>&1 || true
pkill -x etcd >/dev/null 2>&1 || true

if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kubectl" ] && [ "${1:-}" != "--force" ]; then
  log "binaries already cached"
  exit 0
fi

WORK="$CACHE/build"
mkdir -p "$WORK" "$BIN"
cd "$WORK"
tree=$(find "$WORK" -maxdepth 1 -type d -name "kubernetes-*${K8S_VERSION}" | head -n1 || true)
if [ -z "$tree" ]; then
  log "fetching the kubernetes source package"
  apt-get source -qq kubernetes >/dev/null 2>&1
  tree=$(find "$WORK" -maxdepth 1 -type d -name "kubernetes-*${K8S_VERSION}" | head -n1)
fi
[ -n "$tree" ] || { log "kubernetes ${K8S_VERSION} source tree not found in $WORK"; exit 1; }

reflect2_src=/usr/share/gocode/src/github.com/modern-go/reflect2
vendored="$tree/vendor/github.com/modern-go/reflect2"
if [ ! -f "$vendored/.govcloud-replaced" ]; then
  log "replacing vendored modern-go/reflect2 with Debian's 1.0.2"
  rm -rf "$vendored"
  mkdir -p "$vendored"
  cp -a "$reflect2_src/." "$vendored/"
  rm -f "$vendored/go.mod" "$vendored/go.sum"
  touch "$vendored/.govcloud-replaced"
  # keep vendor/modules.txt consistent with the replacement
  sed -i 's#^\# github.com/modern-go/reflect2 v1.0.1#\# github.com/modern-go/reflect2 v1.0.2#' "$tree/vendor/modules.txt" || true
  sed -i 's#github.com/modern-go/reflect2 v1.0.1#github.com/modern-go/reflect2 v1.0.2#' "$tree/go.mod" || true
fi

GOPATH_DIR="$CACHE/gopath"
mkdir -p "$GOPATH_DIR/src/k8s.io"
ln -sfn "$tree" "$GOPATH_DIR/src/k8s.io/kubernetes"
cd "$GOPATH_DIR/src/k8s.io/kubernetes"
log "building kube-apiserver, kube-controller-manager and kubectl (first run only, ~10 min)"
GOPATH="$GOPATH_DIR" GO111MODULE=off GOFLAGS="" KUBE_GIT_VERSION="v${K8S_VERSION}" \
  make WHAT="cmd/kube-apiserver cmd/kube-controller-manager cmd/kubectl" >"$CACHE/build.log" 2>&1 || {
  log "build failed; last lines of $CACHE/build.log:"; tail -n 40 "$CACHE/build.log" >&2; exit 1; }
out=$(find "$tree/_output" -type f -name kube-apiserver -path '*bin*' | head -n1)
for b in kube-apiserver kube-controller-manager kubectl; do cp "$(dirname "$out")/$b" "$BIN/"; done
log "cached: $BIN"
"$BIN/kube-apiserver" --version >&2 || true
