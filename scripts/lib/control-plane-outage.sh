# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # the variables are set and read by control-plane.sh
# Stopping and restarting only the kube-apiserver of DIR (`stop-apiserver`,
# `start-apiserver`), for tests of clients through an outage.
#
# Sourced by scripts/control-plane.sh, never run on its own: it only defines functions,
# which use the settings and helpers (DIR, BIN, GRACE, log, die, …) that script sets.

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
