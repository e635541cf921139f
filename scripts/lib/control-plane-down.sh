# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # the variables are set and read by control-plane.sh
# Tearing a control plane down (`down`, and the supervisor that does it when the
# watched process exits), and removing only what `up` made.
#
# Sourced by scripts/control-plane.sh, never run on its own: it only defines functions,
# which use the settings and helpers (DIR, BIN, GRACE, log, die, …) that script sets.

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
