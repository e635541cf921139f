#!/usr/bin/env bash
# A real, throwaway Kubernetes control plane on 127.0.0.1 for tests and demos:
# etcd (Debian's etcd-server, from PATH), kube-apiserver and kube-controller-manager
# (1.20.2, cached by scripts/install-control-plane.sh). No nodes, no scheduler: objects,
# RBAC, namespace deletion, quota status, garbage collection and Deployments/ReplicaSets
# work; pods are created but never run.
#
#   control-plane.sh up DIR [--watch-pid PID [--remove-on-exit]]
#       Boot into DIR, return once DIR/ready exists. With --watch-pid, a detached
#       supervisor tears the processes down when PID exits (and, with
#       --remove-on-exit, removes what `up` made afterwards, see below; otherwise files
#       are kept).
#   control-plane.sh run DIR    Boot, stay in the foreground until Ctrl-C/SIGTERM, tear down.
#   control-plane.sh down DIR [--remove]
#       Stop everything started for DIR (idempotent); with --remove, also remove what
#       `up` made.
#   control-plane.sh status DIR Exit 0 when every component of DIR is running.
#   control-plane.sh stop-apiserver DIR [--kill]
#       Stop only kube-apiserver of DIR (SIGTERM, SIGKILL after GRACE; at once with
#       --kill, as a crash would), e.g. to test clients through an outage; etcd and the
#       controller manager keep running.
#   control-plane.sh start-apiserver DIR
#       Start it again with the same flags, port, certificates and tokens (the kubeconfigs
#       stay valid); return once /readyz is ok. Restarts the controller manager too if it
#       exited during the outage. A no-op when it is running.
#   control-plane.sh restart-apiserver DIR [--kill] [--down-seconds N]
#       stop-apiserver, wait N seconds (default 0), start-apiserver.
#
# DIR afterwards holds admin.kubeconfig, approver.kubeconfig, vendor.kubeconfig
# (static tokens; users admin ∈ system:masters, approver ∈ govcloud:approvers,
# vendor ∈ govcloud:vendors), `env` (shell-sourceable), logs/*.log and, when ready, `ready`.
#
# Removing (--remove-on-exit, down --remove) never deletes anything `up` did not make:
# DIR itself goes only when the first `up` created it or found it empty (e.g. a fresh
# temporary directory), as DIR/.govcloud-control-plane records; in a DIR that already
# held files, only the files and directories `up` added are removed and DIR stays.
#
# Environment: GOVCLOUD_CACHE (binaries in $GOVCLOUD_CACHE/bin, default
# ~/.cache/govcloud-operator), GOVCLOUD_CP_TIMEOUT (seconds each component may take to
# come up, default 90), GOVCLOUD_CP_GRACE (seconds between SIGTERM and SIGKILL, default 10),
# GOVCLOUD_CP_APISERVER_FLAGS (extra kube-apiserver flags, split on spaces; scripts/node.sh
# sets --enable-aggregator-routing).
# Ports are picked among free loopback ports (never etcd's or Prometheus' usual ones: a
# host's own services do not matter) and noted in a per-user registry,
# ~/.cache/govcloud-operator/control-plane.ports.
set -euo pipefail

SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
CACHE="${GOVCLOUD_CACHE:-$HOME/.cache/govcloud-operator}"
BIN="$CACHE/bin"
TIMEOUT="${GOVCLOUD_CP_TIMEOUT:-90}"
GRACE="${GOVCLOUD_CP_GRACE:-10}"
SERVICE_CIDR="10.96.0.0/12"
# Per user: another user's file could neither be written nor trusted. Not under
# GOVCLOUD_CACHE, which several users may share.
if [ -n "${HOME:-}" ]; then
  PORT_REGISTRY="$HOME/.cache/govcloud-operator/control-plane.ports"
else
  PORT_REGISTRY="${TMPDIR:-/tmp}/govcloud-control-plane-$(id -u)/ports"
fi
# How `up` came to DIR (first line: created, adopted (was empty) or shared), then, when
# shared, which of OWN_NAMES were there before it.
MARKER=.govcloud-control-plane
# Everything `up` makes in DIR (besides MARKER).
OWN_NAMES=(.lock logs pids pki etcd apiserver-certs controller-manager-certs flexvolume ports
  env env.tmp ready admin.kubeconfig approver.kubeconfig vendor.kubeconfig
  controller-manager.kubeconfig admin.kubeconfig.tmp approver.kubeconfig.tmp
  vendor.kubeconfig.tmp controller-manager.kubeconfig.tmp)

log() { printf '[control-plane] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

now() { date +%s; }

# The parts of this script, each in its own file (sourced: functions only, no side effects).
LIB="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib"
# shellcheck source=scripts/lib/control-plane-processes.sh
. "$LIB/control-plane-processes.sh"
# shellcheck source=scripts/lib/control-plane-ports.sh
. "$LIB/control-plane-ports.sh"
# shellcheck source=scripts/lib/control-plane-files.sh
. "$LIB/control-plane-files.sh"
# shellcheck source=scripts/lib/control-plane-down.sh
. "$LIB/control-plane-down.sh"
# shellcheck source=scripts/lib/control-plane-outage.sh
. "$LIB/control-plane-outage.sh"

# ---------------------------------------------------------------- components

# The apiserver's and the controller manager's command lines, shared by `up` and
# `start-apiserver` (same ports, same certificates in DIR/apiserver-certs, same tokens).
launch_apiserver() {
  local extra
  read -r -a extra <<<"${GOVCLOUD_CP_APISERVER_FLAGS:-}"
  launch kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 127.0.0.1 \
    --advertise-address 127.0.0.1 \
    --secure-port "$APISERVER_PORT" \
    --insecure-port 0 \
    --cert-dir "$DIR/apiserver-certs" \
    --endpoint-reconciler-type none \
    --authorization-mode RBAC \
    --token-auth-file "$DIR/pki/tokens.csv" \
    --service-account-key-file "$DIR/pki/sa.pub" \
    --service-account-signing-key-file "$DIR/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --profiling=false ${extra[@]+"${extra[@]}"}
}

launch_kcm() {
  launch kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$DIR/controller-manager.kubeconfig" \
    --leader-elect=false \
    --controllers '*' \
    --service-account-private-key-file "$DIR/pki/sa.key" \
    --root-ca-file "$DIR/pki/ca.crt" \
    --bind-address 127.0.0.1 \
    --secure-port "$KCM_PORT" \
    --port 0 \
    --cert-dir "$DIR/controller-manager-certs" \
    --flex-volume-plugin-dir "$DIR/flexvolume" \
    --profiling=false
}

# ---------------------------------------------------------------- up

cmd_up() {
  check_bins
  # how DIR came to us, noted before anything is written to it (see remove_dir)
  local how=created name preexisting=()
  if [ -e "$DIR" ] || [ -L "$DIR" ]; then
    [ -d "$DIR" ] || die "$DIR is not a directory"
    if [ -z "$(find "$DIR/" -mindepth 1 -maxdepth 1 -print -quit)" ]; then
      how=adopted
    else
      how=shared
      for name in "${OWN_NAMES[@]}"; do
        if [ -e "$DIR/$name" ] || [ -L "$DIR/$name" ]; then preexisting+=("$name"); fi
      done
    fi
  fi
  mkdir -p "$DIR"
  DIR=$(cd "$DIR" && pwd -P)
  exec 9>>"$DIR/.lock"
  flock -n 9 || die "another control-plane.sh is working on $DIR"
  HOLDING_LOCK=1
  # the first `up` of DIR decides; a racing `up` that lost the lock wrote nothing
  if [ ! -e "$DIR/$MARKER" ]; then
    printf '%s\n' "$how" "${preexisting[@]}" >"$DIR/$MARKER"
  fi
  # the components run in sessions of their own: an interrupted boot must stop them itself
  trap 'fail_up "interrupted while booting"' INT TERM HUP

  if [ -f "$DIR/ready" ] && all_running; then
    log "already running in $DIR"
    return 0
  fi
  # leftovers of an earlier boot of DIR (a stale supervisor would tear the new one down)
  stop_supervisor
  stop_all

  mkdir -p "$DIR/logs" "$DIR/pids" "$DIR/pki" "$DIR/etcd" "$DIR/apiserver-certs" "$DIR/controller-manager-certs"
  chmod 700 "$DIR/etcd" "$DIR/pki"
  local t0
  t0=$(date +%s.%N)

  if [ -n "${WATCH_PID:-}" ]; then
    WATCH_START=$(start_time "$WATCH_PID")
    [ -n "$WATCH_START" ] || die "--watch-pid $WATCH_PID: no such process"
    # detached from the caller's session: survives its process group and terminal
    setsid nohup bash "$SELF" __supervise "$DIR" "$WATCH_PID" "$WATCH_START" "$REMOVE_ON_EXIT" \
      </dev/null >>"$DIR/logs/supervisor.log" 2>&1 9>&- &
  fi

  # identities and keys (kept across restarts of the same DIR)
  if [ ! -s "$DIR/pki/tokens.csv" ]; then
    local admin approver vendor
    admin=$(openssl rand -hex 32); approver=$(openssl rand -hex 32); vendor=$(openssl rand -hex 32)
    (
      umask 077
      {
        printf '%s,admin,govcloud-admin,"system:masters"\n' "$admin"
        printf '%s,approver,govcloud-approver,"govcloud:approvers"\n' "$approver"
        printf '%s,vendor,govcloud-vendor,"govcloud:vendors"\n' "$vendor"
      } >"$DIR/pki/tokens.csv"
    )
  fi
  ADMIN_TOKEN=$(awk -F, '$2=="admin"{print $1}' "$DIR/pki/tokens.csv")
  (umask 077 && printf 'Authorization: Bearer %s\n' "$ADMIN_TOKEN" >"$DIR/pki/admin.header")
  if [ ! -s "$DIR/pki/sa.key" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$DIR/pki/sa.key" 2>/dev/null
    openssl pkey -in "$DIR/pki/sa.key" -pubout -out "$DIR/pki/sa.pub" 2>/dev/null
  fi

  local ports
  mapfile -t ports < <(pick_ports 4)
  [ "${#ports[@]}" -eq 4 ] || die "could not pick ports"
  ETCD_CLIENT_PORT=${ports[0]} ETCD_PEER_PORT=${ports[1]} APISERVER_PORT=${ports[2]} KCM_PORT=${ports[3]}
  echo "${ports[*]}" >"$DIR/ports"
  SERVER="https://127.0.0.1:$APISERVER_PORT"

  # -- etcd
  launch etcd etcd \
    --name govcloud \
    --data-dir "$DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "govcloud=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state new \
    --logger zap --log-level warn
  wait_until etcd "healthy /health on 127.0.0.1:$ETCD_CLIENT_PORT" etcd_healthy

  # -- kube-apiserver
  rm -f "$DIR/pki/ca.crt"
  launch_apiserver
  wait_until kube-apiserver "serving certificate in $DIR/apiserver-certs" extract_ca
  local id token
  for id in admin approver vendor; do
    token=$(awk -F, -v u="$id" '$2==u{print $1}' "$DIR/pki/tokens.csv")
    write_kubeconfig "$DIR/$id.kubeconfig" "$id" "$token"
  done
  write_kubeconfig "$DIR/controller-manager.kubeconfig" admin "$ADMIN_TOKEN"
  wait_until kube-apiserver "ok from $SERVER/readyz" http_ok "$SERVER/readyz" admin

  # -- kube-controller-manager (uses the admin identity for every controller)
  launch_kcm
  wait_until kube-controller-manager "ok from https://127.0.0.1:$KCM_PORT/healthz" \
    http_ok "https://127.0.0.1:$KCM_PORT/healthz"
  # controllers are really running once the serviceaccount controller has acted
  wait_until kube-controller-manager "default ServiceAccount in namespace default" \
    http_200 "$SERVER/api/v1/namespaces/default/serviceaccounts/default"

  write_env
  local t1
  t1=$(date +%s.%N)
  printf '%s\n' "$SERVER" >"$DIR/ready"
  trap - INT TERM HUP
  log "ready in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s: $SERVER (source $DIR/env; KUBECONFIG=$DIR/admin.kubeconfig)"
}

cmd_run() {
  WATCH_PID=""
  local stopping=""
  cmd_up
  trap 'stopping=1' INT TERM HUP
  log "running; Ctrl-C to stop"
  local c
  while [ -z "$stopping" ]; do
    for c in etcd kube-apiserver kube-controller-manager; do
      # stop-apiserver leaves a marker: an outage on purpose (the controller manager may
      # exit then too; start-apiserver restarts it)
      if [ "$c" != etcd ] && [ -e "$DIR/pids/kube-apiserver.stopped" ]; then
        continue
      fi
      if ! pidfile_alive "$DIR/pids/$c.pid"; then
        log "$c exited"
        log_tail "$c"
        stop_all
        exit 1
      fi
    done
    sleep 1 &
    wait $! || true
  done
  trap '' INT TERM HUP
  stop_all
  log "stopped control plane in $DIR"
}

# ---------------------------------------------------------------- main

[ $# -ge 2 ] || usage
CMD=$1 DIR=$2
shift 2
WATCH_PID="" WATCH_START="" REMOVE_ON_EXIT="" REMOVE="" HOLDING_LOCK=""

case "$CMD" in
  up)
    while [ $# -gt 0 ]; do
      case "$1" in
        --watch-pid) [ $# -ge 2 ] || usage; WATCH_PID=$2; shift 2 ;;
        --remove-on-exit) REMOVE_ON_EXIT=1; shift ;;
        *) usage ;;
      esac
    done
    [ -z "$REMOVE_ON_EXIT" ] || [ -n "$WATCH_PID" ] || die "--remove-on-exit needs --watch-pid"
    cmd_up
    ;;
  run) [ $# -eq 0 ] || usage; cmd_run ;; # cmd_up makes and resolves DIR
  down)
    case "${1:-}" in --remove) REMOVE=1; shift ;; esac
    [ $# -eq 0 ] || usage
    [ ! -d "$DIR" ] || DIR=$(cd "$DIR" && pwd -P)
    cmd_down
    ;;
  status)
    [ -d "$DIR" ] || exit 1
    DIR=$(cd "$DIR" && pwd -P)
    [ -f "$DIR/ready" ] && all_running
    ;;
  stop-apiserver | start-apiserver)
    SIGNAL=TERM
    if [ "$CMD" = stop-apiserver ] && [ "${1:-}" = --kill ]; then SIGNAL=KILL; shift; fi
    [ $# -eq 0 ] || usage
    [ -d "$DIR" ] || die "$DIR does not exist"
    DIR=$(cd "$DIR" && pwd -P)
    if [ "$CMD" = stop-apiserver ]; then cmd_stop_apiserver; else cmd_start_apiserver; fi
    ;;
  restart-apiserver)
    DOWN=0 KILL=()
    while [ $# -gt 0 ]; do
      case "$1" in
        --kill) KILL=(--kill); shift ;;
        --down-seconds) [ $# -ge 2 ] || usage; DOWN=$2; shift 2 ;;
        *) usage ;;
      esac
    done
    [[ "$DOWN" =~ ^[0-9]+$ ]] || die "--down-seconds needs a whole number of seconds"
    [ -d "$DIR" ] || die "$DIR does not exist"
    DIR=$(cd "$DIR" && pwd -P)
    # each step in its own process: each takes and releases the DIR lock
    bash "$SELF" stop-apiserver "$DIR" "${KILL[@]}"
    sleep "$DOWN"
    bash "$SELF" start-apiserver "$DIR"
    ;;
  __supervise)
    WATCH_PID=$1 WATCH_START=$2 REMOVE_ON_EXIT=${3:-}
    cmd_supervise
    ;;
  *) usage ;;
esac
