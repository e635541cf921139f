# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # the variables are set and read by control-plane.sh
# Picking free loopback ports, noted in the user's port registry.
#
# Sourced by scripts/control-plane.sh, never run on its own: it only defines functions,
# which use the settings and helpers (DIR, BIN, GRACE, log, die, …) that script sets.

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
