# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # the variables are set and read by control-plane.sh
# Starting a component in its own session, telling whether a recorded one is still
# ours and alive, waiting for one to come up; and the health checks used to tell.
#
# Sourced by scripts/control-plane.sh, never run on its own: it only defines functions,
# which use the settings and helpers (DIR, BIN, GRACE, log, die, …) that script sets.

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
