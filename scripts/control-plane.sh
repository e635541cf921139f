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
# come up, default 90), GOVCLOUD_CP_GRACE (seconds between SIGTERM and SIGKILL, default 10).
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

# ---------------------------------------------------------------- processes

# Start time of a process (field 22 of /proc/PID/stat), empty if it does not exist.
start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) } # drop "pid (comm) ": comm may contain spaces
  local fields
  read -r -a fields <<<"$stat" # fields from the 3rd on
  echo "${fields[19]}"
}

# Is the process recorded in pidfile $1 alive and still ours (its command line names DIR)?
pidfile_alive() {
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR" || return 1
  # a zombie is not running
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]
}

# launch NAME CMD...: start a component in its own session (so a Ctrl-C aimed at the
# caller's process group does not reach it), logs to DIR/logs/NAME.log, pid in DIR/pids.
launch() {
  local name=$1; shift
  local pidfile="$DIR/pids/$name.pid"
  rm -f "$pidfile"
  # The inner shell records its own pid and then becomes the component (exec), so the
  # pid is right whether or not setsid had to fork. fd 9 (the DIR lock) is not inherited.
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >"$DIR/logs/$name.log" 2>&1 9>&- &
  local i
  for i in $(seq 1 100); do
    [ -s "$pidfile" ] && return 0
    sleep 0.05
  done
  die "$name did not start (see $DIR/logs/$name.log)"
}

log_tail() {
  local name=$1
  log "last lines of $DIR/logs/$name.log:"
  tail -n 30 "$DIR/logs/$name.log" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# wait_until NAME DESCRIPTION CHECK...: poll CHECK until it succeeds; fail with the
# component's log tail if it dies, the watched process exits, or TIMEOUT passes.
# CHECK must be quiet itself: redirecting it here would also swallow the messages of an
# interrupt trap that fires while it runs.
wait_until() {
  local name=$1 what=$2; shift 2
  local deadline=$(($(now) + TIMEOUT))
  while ! "$@"; do
    if ! pidfile_alive "$DIR/pids/$name.pid"; then
      log_tail "$name"
      fail_up "$name exited before $what"
    fi
    if [ -n "${WATCH_PID:-}" ] && ! watched_alive; then
      fail_up "watched process $WATCH_PID exited while booting"
    fi
    if [ "$(now)" -ge "$deadline" ]; then
      log_tail "$name"
      fail_up "$name: no $what within ${TIMEOUT}s"
    fi
    sleep 0.2
  done
}

fail_up() {
  log "error: $*"
  if [ -n "${PARTIAL:-}" ]; then
    # stop-/start-apiserver: leave the rest of the control plane as it is
    exit 1
  fi
  log "tearing down what was started in $DIR"
  stop_all
  exit 1
}

# ---------------------------------------------------------------- ports

port_in_use() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# pick_ports N: print N free loopback ports, one per line. Ports come from below the
# kernel's ephemeral range (so outgoing connections never hold them) and at or above
# 20000 (so never a well-known service's such as etcd's 2379 or Prometheus' 9090), and are
# recorded for ten minutes in the user's registry under flock, so two of the user's
# control planes booting at the same time never pick the same port before either has
# bound it.
pick_ports() {
  local n=$1 registry_dir=${PORT_REGISTRY%/*}
  mkdir -p "${registry_dir%/*}"
  mkdir -m 700 "$registry_dir" 2>/dev/null || true
  if [ -L "$registry_dir" ] || [ ! -d "$registry_dir" ] || [ ! -O "$registry_dir" ]; then
    die "$registry_dir (for $PORT_REGISTRY) is not a directory of this user's"
  fi
  local low high ephemeral_low ephemeral_high
  read -r ephemeral_low ephemeral_high </proc/sys/net/ipv4/ip_local_port_range
  if [ "$ephemeral_low" -gt 21024 ]; then
    low=20000 high=$((ephemeral_low - 1))
  elif [ "$ephemeral_high" -lt 64000 ]; then
    low=$((ephemeral_high + 1)) high=65535
  else # the whole range is ephemeral: take our chances
    low=20000 high=30000
  fi
  [ "$low" -ge 20000 ] || low=20000
  (
    flock -w 30 8 || die "cannot lock $PORT_REGISTRY"
    local t cutoff
    t=$(now); cutoff=$((t - 600))
    local kept
    kept=$(awk -v c="$cutoff" '$2 >= c' "$PORT_REGISTRY" 2>/dev/null || true)
    local chosen=() p tries
    for ((i = 0; i < n; i++)); do
      p=""
      tries=0
      while :; do
        if [ -n "$p" ] && ! port_in_use "$p" \
          && ! grep -qE "^$p " <<<"$kept" \
          && ! printf '%s\n' "${chosen[@]:-}" | grep -qx "$p"; then
          break
        fi
        tries=$((tries + 1))
        [ "$tries" -lt 500 ] || die "no free port found in $low-$high"
        p=$((low + (RANDOM * 32768 + RANDOM) % (high - low + 1)))
      done
      chosen+=("$p")
    done
    {
      [ -z "$kept" ] || printf '%s\n' "$kept"
      for p in "${chosen[@]}"; do printf '%s %s\n' "$p" "$t"; done
    } >"$PORT_REGISTRY.tmp.$$"
    mv "$PORT_REGISTRY.tmp.$$" "$PORT_REGISTRY"
    printf '%s\n' "${chosen[@]}"
  ) 8>>"$PORT_REGISTRY.lock"
}

# ---------------------------------------------------------------- files

write_kubeconfig() {
  local file=$1 user=$2 token=$3
  local ca_data
  ca_data=$(base64 -w0 <"$DIR/pki/ca.crt")
  cat >"$file.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: govcloud-local
  cluster:
    server: $SERVER
    certificate-authority-data: $ca_data
users:
- name: $user
  user:
    token: $token
contexts:
- name: $user@govcloud-local
  context:
    cluster: govcloud-local
    user: $user
    namespace: default
current-context: $user@govcloud-local
preferences: {}
EOF
  chmod 600 "$file.tmp"
  mv "$file.tmp" "$file"
}

# The apiserver writes a self-signed pair into --cert-dir: apiserver.crt holds the serving
# certificate (SANs: 127.0.0.1 from --bind-address, the advertise address, the first
# service IP and kubernetes.default.svc…) followed by the CA that signed it. Clients trust
# that CA, so TLS is verified (kube-rs/rustls and kubectl both accept the IP SAN).
extract_ca() {
  local crt="$DIR/apiserver-certs/apiserver.crt"
  [ -s "$crt" ] || return 1
  [ -s "$DIR/apiserver-certs/apiserver.key" ] || return 1
  rm -f "$DIR"/pki/block-*.pem
  awk -v d="$DIR/pki" '/-----BEGIN CERTIFICATE-----/{n++} n>0{print > (d "/block-" n ".pem")} /-----END CERTIFICATE-----/{close(d "/block-" n ".pem")}' "$crt"
  local b ca="" leaf=""
  for b in "$DIR"/pki/block-*.pem; do
    [ -s "$b" ] || continue
    if openssl x509 -in "$b" -noout -text 2>/dev/null | grep -q 'CA:TRUE'; then
      ca=$b
    else
      leaf=$b
    fi
  done
  # the CA comes last: once it parses, the file is complete
  [ -n "$ca" ] && [ -n "$leaf" ] || return 1
  if ! openssl x509 -in "$leaf" -noout -text 2>/dev/null | grep -q 'IP Address:127.0.0.1'; then
    fail_up "the apiserver's serving certificate has no IP SAN 127.0.0.1 ($crt)"
  fi
  cp "$ca" "$DIR/pki/ca.crt"
  rm -f "$DIR"/pki/block-*.pem
}

write_env() {
  local f="$DIR/env"
  {
    echo "# control plane in $DIR — source this file"
    printf 'export GOVCLOUD_CP_DIR=%q\n' "$DIR"
    printf 'export GOVCLOUD_CP_SERVER=%q\n' "$SERVER"
    printf 'export GOVCLOUD_CP_ADMIN_KUBECONFIG=%q\n' "$DIR/admin.kubeconfig"
    printf 'export GOVCLOUD_CP_APPROVER_KUBECONFIG=%q\n' "$DIR/approver.kubeconfig"
    printf 'export GOVCLOUD_CP_VENDOR_KUBECONFIG=%q\n' "$DIR/vendor.kubeconfig"
    printf 'export GOVCLOUD_CP_KUBECTL=%q\n' "$BIN/kubectl"
    printf 'export GOVCLOUD_CP_ETCD_URL=%q\n' "http://127.0.0.1:$ETCD_CLIENT_PORT"
    printf 'export GOVCLOUD_CP_ETCD_PID=%q\n' "$(cat "$DIR/pids/etcd.pid")"
    printf 'export GOVCLOUD_CP_APISERVER_PID=%q\n' "$(cat "$DIR/pids/kube-apiserver.pid")"
    printf 'export GOVCLOUD_CP_CONTROLLER_MANAGER_PID=%q\n' "$(cat "$DIR/pids/kube-controller-manager.pid")"
    printf 'export GOVCLOUD_CP_SUPERVISOR_PID=%q\n' "$(cat "$DIR/pids/supervisor.pid" 2>/dev/null || true)"
    printf 'export KUBECONFIG=%q\n' "$DIR/admin.kubeconfig"
  } >"$f.tmp"
  mv "$f.tmp" "$f"
}

# ---------------------------------------------------------------- checks

check_bins() {
  local missing=()
  command -v etcd >/dev/null 2>&1 || missing+=("etcd (on PATH)")
  local b
  for b in kube-apiserver kube-controller-manager kubectl; do
    [ -x "$BIN/$b" ] || missing+=("$BIN/$b")
  done
  for b in openssl curl setsid flock base64; do
    command -v "$b" >/dev/null 2>&1 || missing+=("$b (on PATH)")
  done
  [ "${#missing[@]}" -eq 0 ] || die "missing: ${missing[*]}
  run scripts/install-control-plane.sh first (it caches the binaries in $BIN)"
}

# The admin token goes to curl in a header file, never on a command line (ps shows those).
http_ok() { # URL [auth]: body must be exactly "ok"
  local body auth=()
  [ -z "${2:-}" ] || auth=(-H "@$DIR/pki/admin.header")
  body=$(curl -sk --max-time 3 "${auth[@]}" "$1") || return 1
  [ "$body" = "ok" ]
}

http_200() { # URL (as admin)
  local code
  code=$(curl -sk --max-time 3 -o /dev/null -w '%{http_code}' -H "@$DIR/pki/admin.header" "$1") || return 1
  [ "$code" = "200" ]
}

etcd_healthy() {
  local body
  body=$(curl -s --max-time 3 "http://127.0.0.1:$ETCD_CLIENT_PORT/health") || return 1
  grep -q '"health":"true"' <<<"$body"
}

all_running() {
  local c
  for c in etcd kube-apiserver kube-controller-manager; do
    pidfile_alive "$DIR/pids/$c.pid" || return 1
  done
}

watched_alive() {
  [ -n "${WATCH_START:-}" ] || return 0
  [ "$(start_time "$WATCH_PID")" = "$WATCH_START" ]
}

# ---------------------------------------------------------------- down

# Stop a supervisor left by an earlier `up --watch-pid` of DIR (not ourselves).
stop_supervisor() {
  local f="$DIR/pids/supervisor.pid" pid
  pidfile_alive "$f" || return 0
  pid=$(cat "$f")
  [ "$pid" != "$$" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  rm -f "$f"
}

# Stop every component of DIR: SIGTERM, then SIGKILL after GRACE seconds. Idempotent.
stop_all() {
  rm -f "$DIR/ready"
  local c pids=() pid f
  for c in kube-controller-manager kube-apiserver etcd; do
    f="$DIR/pids/$c.pid"
    pidfile_alive "$f" || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid:$c")
  done
  local deadline=$(($(now) + GRACE)) entry left
  while :; do
    left=()
    for entry in "${pids[@]:-}"; do
      [ -n "$entry" ] || continue
      pidfile_alive "$DIR/pids/${entry#*:}.pid" && left+=("$entry")
    done
    [ "${#left[@]}" -gt 0 ] || break
    if [ "$(now)" -ge "$deadline" ]; then
      for entry in "${left[@]}"; do
        log "${entry#*:} (pid ${entry%%:*}) ignored SIGTERM for ${GRACE}s: SIGKILL"
        kill -KILL "${entry%%:*}" 2>/dev/null || true
      done
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  # reap them when they are our children (`run`, a failed `up`); otherwise a no-op
  for entry in "${pids[@]:-}"; do
    [ -z "$entry" ] || wait "${entry%%:*}" 2>/dev/null || true
  done
  # an orphan stays a zombie until init reaps it; give that a moment so nothing is listed
  local t_end=$(($(now) + 3))
  for entry in "${pids[@]:-}"; do
    while [ -n "$entry" ] && [ -e "/proc/${entry%%:*}" ] && [ "$(now)" -lt "$t_end" ]; do
      sleep 0.1
    done
  done
  for c in kube-controller-manager kube-apiserver etcd; do
    rm -f "$DIR/pids/$c.pid"
  done
  rm -f "$DIR/pids/kube-apiserver.stopped"
}

# remove_dir: remove what `up` made: DIR itself when `up` created it or found it empty,
# otherwise only the names of OWN_NAMES it added (DIR and what was there before stay).
remove_dir() {
  local marker="$DIR/$MARKER" how name
  [ -d "$DIR" ] || return 0
  if [ ! -f "$marker" ]; then
    log "not removing anything in $DIR: no $MARKER there, so 'up' did not make it"
    return 0
  fi
  how=$(head -n1 "$marker")
  case "$how" in
    created | adopted)
      rm -rf -- "$DIR"
      log "removed $DIR"
      ;;
    *)
      local keep=() k kept
      mapfile -t keep < <(tail -n +2 "$marker")
      for name in "${OWN_NAMES[@]}"; do
        kept=""
        for k in "${keep[@]}"; do [ "$k" != "$name" ] || kept=1; done
        [ -n "$kept" ] || rm -rf -- "${DIR:?}/$name"
      done
      rm -f -- "$marker"
      log "removed what 'up' made in $DIR (it held files before: the directory stays)"
      ;;
  esac
}

cmd_down() {
  [ -d "$DIR" ] || { log "$DIR does not exist: nothing to stop"; return 0; }
  if [ ! -e "$DIR/$MARKER" ] && [ ! -e "$DIR/.lock" ] && [ ! -e "$DIR/pids" ]; then
    log "no control plane was started in $DIR: nothing to stop"
    return 0
  fi
  if [ -z "${HOLDING_LOCK:-}" ]; then
    exec 9>>"$DIR/.lock"
    # an `up` still booting holds the lock; it gives up within TIMEOUT per component
    flock -w $((TIMEOUT * 3 + 30)) 9 || log "warning: $DIR is locked by a running 'up'; stopping anyway"
    HOLDING_LOCK=1
  fi
  stop_supervisor
  stop_all
  log "stopped control plane in $DIR"
  [ -z "$REMOVE" ] || remove_dir
}

# ---------------------------------------------------------------- supervisor

cmd_supervise() {
  echo $$ >"$DIR/pids/supervisor.pid"
  local stop=""
  trap 'stop=1' TERM INT HUP
  while [ -z "$stop" ] && watched_alive; do
    sleep 1 &
    wait $! || true
  done
  if [ -n "$stop" ]; then
    # `down` stopped us; it handles the rest
    exit 0
  fi
  log "watched process $WATCH_PID exited: tearing down"
  exec 9>>"$DIR/.lock"
  flock -w $((TIMEOUT * 3 + 30)) 9 || log "warning: lock on $DIR not released; stopping anyway"
  HOLDING_LOCK=1
  stop_all
  rm -f "$DIR/pids/supervisor.pid"
  if [ -n "$REMOVE_ON_EXIT" ]; then
    remove_dir
  fi
}

# ---------------------------------------------------------------- components

# The apiserver's and the controller manager's command lines, shared by `up` and
# `start-apiserver` (same ports, same certificates in DIR/apiserver-certs, same tokens).
launch_apiserver() {
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
    --profiling=false
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

# ---------------------------------------------------------------- apiserver outage

# The ports `up` chose (DIR/ports: etcd client, etcd peer, apiserver, controller manager).
load_ports() {
  [ -s "$DIR/ports" ] || die "$DIR/ports missing: was DIR booted with 'up'?"
  read -r ETCD_CLIENT_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT <"$DIR/ports"
  SERVER="https://127.0.0.1:$APISERVER_PORT"
}

lock_dir() {
  exec 9>>"$DIR/.lock"
  flock -w $((TIMEOUT * 3 + 30)) 9 || die "$DIR is locked by another control-plane.sh"
  HOLDING_LOCK=1
}

# stop_component NAME [KILL]: SIGTERM, SIGKILL after GRACE (at once with KILL); removes
# its pidfile.
stop_component() {
  local name=$1 f="$DIR/pids/$1.pid" pid
  pidfile_alive "$f" || { rm -f "$f"; return 0; }
  pid=$(cat "$f")
  kill "-${2:-TERM}" "$pid" 2>/dev/null || true
  local deadline=$(($(now) + GRACE))
  while pidfile_alive "$f"; do
    if [ "$(now)" -ge "$deadline" ]; then
      log "$name (pid $pid) ignored SIGTERM for ${GRACE}s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$f"
}

cmd_stop_apiserver() {
  [ -f "$DIR/ready" ] || die "no control plane booted in $DIR"
  lock_dir
  # `run` tolerates the apiserver's absence while this marker exists
  : >"$DIR/pids/kube-apiserver.stopped"
  stop_component kube-apiserver "${SIGNAL:-TERM}"
  log "kube-apiserver of $DIR stopped"
}

cmd_start_apiserver() {
  [ -f "$DIR/ready" ] || die "no control plane booted in $DIR"
  check_bins
  lock_dir
  load_ports
  PARTIAL=1
  pidfile_alive "$DIR/pids/etcd.pid" || die "etcd of $DIR is not running"
  if pidfile_alive "$DIR/pids/kube-apiserver.pid"; then
    log "kube-apiserver of $DIR already running"
  else
    # the old process's log is kept beside the new one
    [ ! -f "$DIR/logs/kube-apiserver.log" ] \
      || cat "$DIR/logs/kube-apiserver.log" >>"$DIR/logs/kube-apiserver.previous.log"
    launch_apiserver
    wait_until kube-apiserver "ok from $SERVER/readyz" http_ok "$SERVER/readyz" admin
  fi
  rm -f "$DIR/pids/kube-apiserver.stopped"
  if ! pidfile_alive "$DIR/pids/kube-controller-manager.pid"; then
    log "kube-controller-manager exited during the outage: starting it again"
    [ ! -f "$DIR/logs/kube-controller-manager.log" ] \
      || cat "$DIR/logs/kube-controller-manager.log" >>"$DIR/logs/kube-controller-manager.previous.log"
    launch_kcm
    wait_until kube-controller-manager "ok from https://127.0.0.1:$KCM_PORT/healthz" \
      http_ok "https://127.0.0.1:$KCM_PORT/healthz"
  fi
  write_env
  log "kube-apiserver of $DIR serving again at $SERVER"
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
