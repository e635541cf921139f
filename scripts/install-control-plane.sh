#!/usr/bin/env bash
# Installs what the local control plane needs (and a kubectl of the same version) and caches it outside the repository:
#   etcd (Debian's etcd-server), kube-apiserver and kube-controller-manager 1.20.2 built
#   from Debian's `kubernetes` source package with Debian's Go;
#   for the node of tests/node.rs (scripts/node.sh): kubelet and kube-scheduler from the
#   same source and build step, the pause binary from its build/pause (C, gcc -static)
#   packaged as an OCI image archive (buildah), and Debian's containerd, runc and
#   containernetworking-plugins.
# Only the first run builds (about 8 minutes on 2 cores); later runs find the cached
# binaries and return at once. A cache from before the node was added builds only the
# missing binaries. Safe to run again after a failure.
#
# What it changes on the machine (as root, through sudo when run as a user):
#  - installs Debian packages from the machine's own configured apt sources;
#  - when it has to build, adds the `deb-src` type to those sources, since the build needs
#    Debian's source package: each enabled `deb` entry without a matching `deb-src` one is
#    copied with only its type changed, into /etc/apt/sources.list.d/govcloud-deb-src.sources
#    (deb822 stanzas) and govcloud-deb-src.list (one-line entries). No other source is
#    added. `install-control-plane.sh --print-deb-src` shows them and changes nothing;
#  - stops and disables the etcd service only when this run installed etcd-server (its
#    postinst starts one). A host's own etcd is left alone: the control plane runs its
#    own on free loopback ports (scripts/control-plane.sh).
# Everything else goes to the cache ($GOVCLOUD_CACHE, default ~/.cache/govcloud-operator).
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
SRC_NAME=govcloud-deb-src # our files in sources.list.d: $SRC_NAME.sources, $SRC_NAME.list

log() { printf '[install-control-plane] %s\n' "$*" >&2; }
# shellcheck source=scripts/install-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/install-common.sh"

# deb_src_entries OUTDIR: write into OUTDIR/sources (deb822) and OUTDIR/list (one-line)
# a deb-src copy of every enabled `deb` entry of the machine's apt sources that has no
# deb-src entry for the same URI and suite yet. Our own files are not read.
deb_src_entries() {
  local out=$1 SOURCELIST="" SOURCEPARTS="" files=() f
  eval "$(apt-config shell SOURCELIST Dir::Etc::sourcelist/f SOURCEPARTS Dir::Etc::sourceparts/d)"
  [ -z "$SOURCELIST" ] || [ ! -f "$SOURCELIST" ] || files+=("$SOURCELIST")
  for f in "${SOURCEPARTS%/}"/*.list "${SOURCEPARTS%/}"/*.sources; do
    [ -f "$f" ] || continue
    case "${f##*/}" in "$SRC_NAME.list" | "$SRC_NAME.sources") continue ;; esac
    files+=("$f")
  done
  : >"$out/sources"
  : >"$out/list"
  [ "${#files[@]}" -gt 0 ] || return 0
  awk -v out822="$out/sources" -v outlist="$out/list" '
    function has(words, w) { return (" " words " ") ~ (" " w " ") }
    function norm(u) { sub(/\/+$/, "", u); return u }
    # covered(uris, suites, comps): every URI/suite/component already has a deb-src entry
    function covered(uris, suites, comps,   nu, ns, nc, u, s, c, i, j, k) {
      nu = split(uris, u, " "); ns = split(suites, s, " "); nc = split(comps, c, " ")
      if (nc == 0) { nc = 1; c[1] = "" } # a flat repository
      for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) for (k = 1; k <= nc; k++)
        if (!((norm(u[i]) SUBSEP s[j] SUBSEP c[k]) in src)) return 0
      return 1
    }
    function mark(uris, suites, comps,   nu, ns, nc, u, s, c, i, j, k) {
      nu = split(uris, u, " "); ns = split(suites, s, " "); nc = split(comps, c, " ")
      if (nc == 0) { nc = 1; c[1] = "" }
      for (i = 1; i <= nu; i++) for (j = 1; j <= ns; j++) for (k = 1; k <= nc; k++)
        src[norm(u[i]), s[j], c[k]] = 1
    }
    function end_stanza() {
      if (body != "" && tolower(enabled) != "no" && uris !~ /(^| )cdrom:/) {
        if (has(types, "deb-src")) mark(uris, suites, comps)
        if (has(types, "deb")) { n++; kind[n] = "822"; text[n] = "Types: deb-src\n" body; cu[n] = uris; cs[n] = suites; cc[n] = comps }
      }
      body = ""; types = ""; uris = ""; suites = ""; comps = ""; enabled = ""; field = ""
    }
    FNR == 1 { end_stanza(); deb822 = (FILENAME ~ /\.sources$/) }
    deb822 {
      if ($0 ~ /^#/) next
      if ($0 ~ /^[ \t]*$/) { end_stanza(); next }
      if ($0 ~ /^[ \t]/) { if (field != "types") body = body $0 "\n"; next } # continuation
      field = tolower($0); sub(/:.*/, "", field)
      value = $0; sub(/^[^:]*:[ \t]*/, "", value); gsub(/[ \t]+/, " ", value); sub(/ $/, "", value)
      if (field == "types") { types = value; next }
      if (field == "uris") uris = value
      else if (field == "suites") suites = value
      else if (field == "components") comps = value
      else if (field == "enabled") enabled = value
      body = body $0 "\n"
      next
    }
    {
      line = $0; sub(/#.*/, "", line); sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line)
      if (line == "") next
      nt = split(line, t, /[ \t]+/)
      i = 2
      if (t[i] ~ /^\[/) { while (i <= nt && t[i] !~ /\]$/) i++; i++ }
      if (i + 1 > nt || t[i] ~ /^cdrom:/) next
      c = ""
      for (j = i + 2; j <= nt; j++) c = c " " t[j]
      if (t[1] == "deb-src") mark(t[i], t[i + 1], c)
      else if (t[1] == "deb") { n++; kind[n] = "list"; text[n] = line; sub(/^deb[ \t]+/, "deb-src ", text[n]); cu[n] = t[i]; cs[n] = t[i + 1]; cc[n] = c }
    }
    END {
      end_stanza()
      for (k = 1; k <= n; k++) {
        if (covered(cu[k], cs[k], cc[k])) continue
        mark(cu[k], cs[k], cc[k])
        if (kind[k] == "822") printf "%s\n", text[k] > out822
        else print text[k] > outlist
      }
    }' "${files[@]}"
}

if [ "${1:-}" = "--print-deb-src" ]; then
  tmp=$(mktemp -d)
  trap 'rm -f -- "$tmp/sources" "$tmp/list"; rmdir -- "$tmp"' EXIT
  deb_src_entries "$tmp"
  eval "$(apt-config shell SOURCEPARTS Dir::Etc::sourceparts/d)"
  echo "# ${SOURCEPARTS%/}/$SRC_NAME.sources"
  cat "$tmp/sources"
  echo "# ${SOURCEPARTS%/}/$SRC_NAME.list"
  cat "$tmp/list"
  exit 0
fi

# enable_deb_src: (re)write our two files from the machine's current sources; drop a file
# that has nothing left to add.
enable_deb_src() {
  local tmp SOURCEPARTS="" kind dest
  tmp=$(mktemp -d)
  deb_src_entries "$tmp"
  eval "$(apt-config shell SOURCEPARTS Dir::Etc::sourceparts/d)"
  for kind in sources list; do
    dest="${SOURCEPARTS%/}/$SRC_NAME.$kind"
    if [ -s "$tmp/$kind" ]; then
      if ! cmp -s "$tmp/$kind" "$dest"; then
        log "adding deb-src to the machine's apt sources: $dest"
        as_root install -m 0644 "$tmp/$kind" "$dest"
      fi
    elif [ -e "$dest" ]; then
      as_root rm -f -- "$dest"
    fi
  done
  rm -f -- "$tmp/sources" "$tmp/list"
  rmdir -- "$tmp"
}

# The binaries built from the kubernetes source, each by `make WHAT=cmd/NAME`.
K8S_BINS=(kube-apiserver kube-controller-manager kubectl kube-scheduler kubelet)
# The node's packages (Debian's; their commands checked below).
NODE_PKGS=(containerd runc containernetworking-plugins buildah gcc libc6-dev iproute2 iptables)
PAUSE_IMAGE="$CACHE/images/pause.oci.tar"
missing_k8s_bins() {
  local b
  for b in "${K8S_BINS[@]}"; do [ -x "$BIN/$b" ] || echo "$b"; done
}
have_k8s_bins() { [ -z "$(missing_k8s_bins)" ]; }
have_node_pkgs() {
  local p
  for p in "${NODE_PKGS[@]}"; do pkg_installed "$p" || return 1; done
}
have_bins() {
  have_k8s_bins && command -v etcd >/dev/null 2>&1 && [ -x "$BIN/pause" ] && [ -s "$PAUSE_IMAGE" ] && have_node_pkgs
}

FORCE=""
[ "${1:-}" != "--force" ] || FORCE=1

if have_bins && [ -z "$FORCE" ]; then
  log "cached: $BIN (etcd: $(command -v etcd))"
  exit 0
fi

require_root "installing packages"
if ! have_k8s_bins || [ -n "$FORCE" ]; then
  enable_deb_src
fi
etcd_was_installed=""
! pkg_installed etcd-server || etcd_was_installed=1
containerd_was_installed=""
! pkg_installed containerd || containerd_was_installed=1
log "apt-get update"
apt_get update -qq
log "installing build and runtime packages"
apt_get install -y -qq --no-install-recommends \
  etcd-server golang-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev curl ca-certificates openssl \
  "${NODE_PKGS[@]}" >/dev/null

if [ -z "$etcd_was_installed" ]; then
  # this run installed etcd-server, whose postinst started a system etcd: the control
  # plane runs its own
  stop_new_service etcd
fi
if [ -z "$containerd_was_installed" ]; then
  # likewise a system containerd: each node runs its own (scripts/node.sh)
  stop_new_service containerd
fi

# build_pause: the sandbox ("pause") container every pod needs, from the source tree's
# build/pause, statically linked as its Makefile does; packaged FROM scratch as an OCI
# archive that scripts/node.sh imports into each node's containerd (no registry here).
build_pause() {
  local tree=$1 ctr
  gcc -Os -Wall -Werror -static -DVERSION="v3.4-govcloud" -o "$BIN/pause.tmp" "$tree/build/pause/linux/pause.c"
  mv -f "$BIN/pause.tmp" "$BIN/pause"
  mkdir -p "$(dirname "$PAUSE_IMAGE")"
  ctr=$(buildah --storage-driver vfs from scratch)
  buildah --storage-driver vfs copy "$ctr" "$BIN/pause" /pause >/dev/null
  buildah --storage-driver vfs config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  buildah --storage-driver vfs commit --quiet --rm --format oci "$ctr" \
    "oci-archive:$PAUSE_IMAGE.tmp:localhost/pause:3.4" >/dev/null
  mv -f "$PAUSE_IMAGE.tmp" "$PAUSE_IMAGE"
  log "cached: $PAUSE_IMAGE"
}

if have_k8s_bins && [ -z "$FORCE" ]; then
  if [ ! -x "$BIN/pause" ] || [ ! -s "$PAUSE_IMAGE" ]; then
    tree=$(find "$CACHE/build" -maxdepth 1 -type d -name "kubernetes-*${K8S_VERSION}" 2>/dev/null | head -n1 || true)
    if [ -z "$tree" ]; then
      mkdir -p "$CACHE/build"
      (cd "$CACHE/build" && apt-get source -qq kubernetes >/dev/null 2>&1) || {
        log "error: 'apt-get source kubernetes' failed (see --print-deb-src)"; exit 1; }
      tree=$(find "$CACHE/build" -maxdepth 1 -type d -name "kubernetes-*${K8S_VERSION}" | head -n1)
    fi
    build_pause "$tree"
  fi
  log "binaries already cached"
  exit 0
fi

WORK="$CACHE/build"
mkdir -p "$WORK" "$BIN"
cd "$WORK"
find_tree() { find "$WORK" -maxdepth 1 -type d -name "kubernetes-*${K8S_VERSION}" | head -n1; }
tree=$(find_tree || true)
if [ -z "$tree" ]; then
  log "fetching the kubernetes source package"
  apt-get source -qq kubernetes >/dev/null 2>&1 || {
    log "error: 'apt-get source kubernetes' failed (are deb-src entries configured? see --print-deb-src)"; exit 1; }
  tree=$(find_tree)
  # a tree this script unpacked: the only kind it edits below
  [ -z "$tree" ] || touch "$tree/.govcloud-extracted"
fi
[ -n "$tree" ] || { log "kubernetes ${K8S_VERSION} source tree not found in $WORK"; exit 1; }

reflect2_src=/usr/share/gocode/src/github.com/modern-go/reflect2
vendored="$tree/vendor/github.com/modern-go/reflect2"
if [ ! -f "$vendored/.govcloud-replaced" ]; then
  [ -f "$tree/.govcloud-extracted" ] || {
    log "error: $tree was not unpacked by this script; not editing it (move it away to build here)"
    exit 1
  }
  log "replacing vendored modern-go/reflect2 with Debian's 1.0.2"
  rm -rf -- "$vendored"
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
# one make for everything missing (all of them on a fresh machine, --force rebuilds all):
# the packages they share compile once
if [ -n "$FORCE" ]; then build=("${K8S_BINS[@]}"); else mapfile -t build < <(missing_k8s_bins); fi
log "building ${build[*]} (first run only, ~15 min)"
GOPATH="$GOPATH_DIR" GO111MODULE=off GOFLAGS="" KUBE_GIT_VERSION="v${K8S_VERSION}" \
  make WHAT="${build[*]/#/cmd/}" >"$CACHE/build.log" 2>&1 || {
  log "build failed; last lines of $CACHE/build.log:"; tail -n 40 "$CACHE/build.log" >&2; exit 1; }
out=$(find "$tree/_output" -type f -name "${build[0]}" -path '*bin*' | head -n1)
for b in "${build[@]}"; do cp "$(dirname "$out")/$b" "$BIN/"; done
build_pause "$tree"
log "cached: $BIN"
"$BIN/kube-apiserver" --version >&2 || true
