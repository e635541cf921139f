#!/usr/bin/env bash
# A throwaway single-node Kubernetes 1.20 cluster that runs real pods, inside a network
# namespace of its own (for tests/node.rs; built and cached by
# scripts/install-control-plane.sh). Needs root.
#
#   node.sh start DIR   Boot into DIR (a new or empty directory); return once the node is
#                       Ready. DIR/kubeconfig is the admin's (valid inside the namespace).
#   node.sh exec DIR CMD...
#                       Run CMD inside the node's network namespace with KUBECONFIG set
#                       and the cached kubectl on PATH (the API server is reachable only
#                       there).
#   node.sh import DIR ARCHIVE
#                       Load an OCI image archive into the node's containerd (namespace
#                       k8s.io, where the kubelet finds images); prints the image's name.
#   node.sh tag DIR IMAGE NEW-NAME
#                       Give an imported image a second name (a new tag, as a release
#                       would push one).
#   node.sh stop DIR    Kill everything the node started (pods included), unmount what it
#                       mounted, delete its cgroups and its network namespace. Idempotent.
#
# Why a namespace: Kubernetes refuses loopback where a node needs an address (kubelet's
# --node-ip), and nothing here may send traffic outside what the run itself creates. The
# namespace (unique name per run, in DIR/netns) holds:
#  - lo, and `node0` with the node's address 10.244.0.1/32: an address of the namespace's
#    own that is not loopback; node0 is one end of a veth pair whose other end is in the
#    same namespace, with no address and no route out;
#  - the control plane of scripts/control-plane.sh (etcd, kube-apiserver,
#    kube-controller-manager on the namespace's 127.0.0.1), kube-scheduler, containerd and
#    the kubelet;
#  - for pods: the CNI bridge `cni0` (10.85.0.0/16) that containerd's bridge plugin creates
#    on the first pod, with a veth pair to each pod's own network namespace. Nothing is
#    bridged or routed to the host's network: the namespace has no default route.
# The API server's Service address (10.96.0.1:443) is DNATed by an iptables rule inside the
# namespace to the API server on 127.0.0.1 (route_localnet, as kube-proxy does for
# localhost node ports): pods reach it with their in-cluster configuration, without
# kube-proxy. The other way, the API server reaches admission webhooks through their
# Service's Endpoints (--enable-aggregator-routing): no cluster IP but the API server's
# own is ever routed, so the node needs no kube-proxy. Pod-to-Service traffic has no
# route (nothing here needs it).
#
# Mounts (overlay snapshots, pod volumes, pod network namespaces) are made in the host's
# mount namespace, under DIR and /run/netns; `stop` unmounts exactly those. Pod processes
# live under the cgroup /govcloud-node-<id> (kubelet --cgroup-root), where `stop` finds
# and kills them by id.
#
# Environment: GOVCLOUD_CACHE (default ~/.cache/govcloud-operator), GOVCLOUD_NODE_TIMEOUT
# (seconds the node may take to become Ready, default 180).
set -euo pipefail

SELF_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${GOVCLOUD_CACHE:-$HOME/.cache/govcloud-operator}"
BIN="$CACHE/bin"
PAUSE_IMAGE="$CACHE/images/pause.oci.tar"
PAUSE_NAME="localhost/pause:3.4"
NODE_IP=10.244.0.1
POD_CIDR=10.85.0.0/16
SERVICE_IP=10.96.0.1
NODE_NAME=govcloud-node
TIMEOUT="${GOVCLOUD_NODE_TIMEOUT:-180}"

log() { printf '[node] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "a node needs root (network namespace, containerd, cgroups)"

# in_ns CMD...: CMD in the node's network namespace, but in the host's mount namespace
# (nsenter, not `ip netns exec`, which makes a mount namespace per command: the kubelet's
# volume mounts must be seen by containerd and runc).
in_ns() { nsenter --net="/run/netns/$NS" -- "$@"; }

# launch NAME CMD...: start a component in the namespace, in its own session, logging to
# DIR/logs/NAME.log, pid in DIR/pids/NAME.pid.
launch() {
  local name=$1; shift
  local pidfile="$DIR/pids/$name.pid"
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid nsenter --net="/run/netns/$NS" -- bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" \
    </dev/null >"$DIR/logs/$name.log" 2>&1 &
  local _
  for _ in $(seq 1 100); do
    [ -s "$pidfile" ] && return 0
    sleep 0.05
  done
  die "$name did not start (see $DIR/logs/$name.log)"
}

alive() { # NAME: is the recorded process alive and ours?
  local pid
  pid=$(cat "$DIR/pids/$1.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR"
}

wait_for() { # NAME WHAT CHECK...
  local name=$1 what=$2; shift 2
  local deadline=$(($(date +%s) + TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      tail -n 30 "$DIR/logs/$name.log" >&2 || true
      die "$name exited before $what"
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 30 "$DIR/logs/$name.log" >&2 || true
      die "$name: no $what within ${TIMEOUT}s"
    fi
    sleep 0.5
  done
}

kubectl_ns() { in_ns "$BIN/kubectl" --kubeconfig "$DIR/kubeconfig" "$@"; }

node_ready() {
  [ "$(kubectl_ns get node "$NODE_NAME" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

write_containerd_config() {
  mkdir -p "$DIR/containerd" "$DIR/cni/net.d"
  cat >"$DIR/containerd/config.toml" <<EOF
version = 2
root = "$DIR/containerd/root"
state = "$DIR/containerd/state"
plugin_dir = ""
[grpc]
  address = "$DIR/containerd/containerd.sock"
[ttrpc]
  address = "$DIR/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_NAME"
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # lowering an oom_score_adj below our own is refused on this machine kind (no
  # CAP_SYS_RESOURCE in effect): the sandbox asks for -998, so clamp to ours
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$DIR/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$DIR/cni/net.d"
EOF
  # the pods' network: a bridge inside the node's namespace, addresses from host-local
  # IPAM (state under DIR), the bridge as the pods' gateway; no masquerading (nothing
  # leaves the namespace)
  cat >"$DIR/cni/net.d/10-govcloud.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "govcloud-pods",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$DIR/cni/ipam",
        "ranges": [[{"subnet": "$POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "loopback"}
  ]
}
EOF
}

cmd_start() {
  if [ ! -x "$BIN/kubelet" ] || [ ! -x "$BIN/kube-scheduler" ] || [ ! -s "$PAUSE_IMAGE" ]; then
    die "node binaries missing in $BIN: run scripts/install-control-plane.sh"
  fi
  mkdir -p "$DIR"
  [ -z "$(find "$DIR" -mindepth 1 -maxdepth 1 -print -quit)" ] || die "$DIR is not empty"
  DIR=$(cd "$DIR" && pwd -P)
  mkdir -p "$DIR/logs" "$DIR/pids"
  local t0 id
  t0=$(date +%s)
  id=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
  NS="govcloud-node-$id"
  echo "$NS" >"$DIR/netns"
  # a failed start leaves nothing behind
  trap 'if [ -z "$STARTED" ]; then log "start failed: stopping"; cmd_stop || true; fi' EXIT

  ip netns add "$NS"
  in_ns ip link set lo up
  # (a veth pair with both ends in the namespace: the kernel here has no dummy links)
  in_ns ip link add node0 type veth peer name node0-peer
  in_ns ip addr add "$NODE_IP/32" dev node0
  in_ns ip link set node0-peer up
  in_ns ip link set node0 up
  # pods reach the API server through its Service address (see the header)
  in_ns sysctl -qw net.ipv4.conf.all.route_localnet=1
  in_ns sysctl -qw net.ipv4.ip_forward=1

  # the control plane, inside the namespace (its 127.0.0.1 is the namespace's own)
  # --enable-aggregator-routing: the API server calls a webhook's Service at one of its
  # ready Endpoints (pod IP and target port) instead of its cluster IP, which only a
  # kube-proxy would route; the Service's selector, ports and the pods' readiness are what
  # decide, as in any cluster (see the header).
  # --kubelet-preferred-address-types: logs and exec reach the kubelet at the node's
  # address, never by its name (a DNS lookup would leave the namespace).
  GOVCLOUD_CP_APISERVER_FLAGS="--enable-aggregator-routing=true --kubelet-preferred-address-types=InternalIP" \
    in_ns bash "$SELF_DIR/control-plane.sh" up "$DIR/cp" >"$DIR/logs/control-plane.log" 2>&1 \
    || { tail -n 30 "$DIR/logs/control-plane.log" >&2; die "control plane did not start"; }
  local server port
  server=$(cat "$DIR/cp/ready")
  port=${server##*:}
  cp "$DIR/cp/admin.kubeconfig" "$DIR/kubeconfig"
  in_ns iptables -t nat -A PREROUTING -d "$SERVICE_IP/32" -p tcp --dport 443 \
    -j DNAT --to-destination "127.0.0.1:$port"

  launch kube-scheduler "$BIN/kube-scheduler" \
    --kubeconfig "$DIR/kubeconfig" --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 10259 --port 0 \
    --cert-dir "$DIR/scheduler-certs" --profiling=false

  write_containerd_config
  launch containerd containerd --config "$DIR/containerd/config.toml"
  wait_for containerd "its socket" ctr --address "$DIR/containerd/containerd.sock" version
  ctr --address "$DIR/containerd/containerd.sock" -n k8s.io images import \
    --all-platforms "$PAUSE_IMAGE" >/dev/null

  # pods' cgroups under a root of this node's own, in every v1 hierarchy (the kubelet
  # requires the root to exist)
  CGROUP_ROOT="/$NS"
  local h
  for h in /sys/fs/cgroup/*/; do
    if [ ! -d "$h" ] || [ "${h%/}" = /sys/fs/cgroup/unified ]; then continue; fi
    mkdir -p "$h$NS"
  done
  # a new cpuset cgroup starts with no CPUs and no memory nodes: nothing could run in it
  cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$NS/cpuset.cpus"
  cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$NS/cpuset.mems"
  printf 'nameserver 127.0.0.1\n' >"$DIR/resolv.conf" # pods resolve nothing outside
  mkdir -p "$DIR/kubelet"
  launch kubelet "$BIN/kubelet" \
    --kubeconfig "$DIR/kubeconfig" \
    --root-dir "$DIR/kubelet" --cert-dir "$DIR/kubelet/pki" \
    --container-runtime remote \
    --container-runtime-endpoint "unix://$DIR/containerd/containerd.sock" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" --address "$NODE_IP" \
    --healthz-bind-address 127.0.0.1 --read-only-port 0 \
    --fail-swap-on=false --cgroup-driver cgroupfs --cgroup-root "$CGROUP_ROOT" \
    --resolv-conf "$DIR/resolv.conf" \
    --volume-plugin-dir "$DIR/kubelet/volume-plugins" \
    --eviction-hard 'memory.available<1Mi,nodefs.available<1%,imagefs.available<1%' \
    --image-gc-high-threshold 100 --image-gc-low-threshold 99 \
    --runtime-request-timeout 5m \
    --v 1
  wait_for kubelet "a Ready node" node_ready
  STARTED=1
  log "node ready in $(($(date +%s) - t0))s (namespace $NS; KUBECONFIG=$DIR/kubeconfig inside it)"
}

# ---------------------------------------------------------------- stop

kill_pids() { # PID...: TERM, then KILL what is left after 10 s
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  local _ p left
  for _ in $(seq 1 100); do
    left=""
    for p in "$@"; do [ ! -e "/proc/$p" ] || left=1; done
    [ -n "$left" ] || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
  sleep 0.3
}

cgroup_pids() { # every process in this node's pod cgroups
  local h
  for h in /sys/fs/cgroup/*/"$NS"; do
    [ -d "$h" ] || continue
    find "$h" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

cmd_stop() {
  [ -d "$DIR" ] || return 0
  DIR=$(cd "$DIR" && pwd -P)
  NS=$(cat "$DIR/netns" 2>/dev/null || true)
  local pid pids=()
  # the kubelet first, so it restarts nothing; then the pods' processes
  for name in kubelet kube-scheduler; do
    ! alive "$name" || pids+=("$(cat "$DIR/pids/$name.pid")")
  done
  kill_pids "${pids[@]}"
  if [ -n "$NS" ]; then
    mapfile -t pids < <(cgroup_pids)
    kill_pids "${pids[@]}"
  fi
  # containerd and its shims (every process left in the namespace: all started here)
  if [ -n "$NS" ] && [ -e "/run/netns/$NS" ]; then
    mapfile -t pids < <(ip netns pids "$NS" 2>/dev/null)
    kill_pids "${pids[@]}"
  fi
  [ ! -d "$DIR/cp" ] || bash "$SELF_DIR/control-plane.sh" down "$DIR/cp" >/dev/null 2>&1 || true
  if [ -n "$NS" ] && [ -e "/run/netns/$NS" ]; then
    mapfile -t pids < <(ip netns pids "$NS" 2>/dev/null)
    kill_pids "${pids[@]}"
  fi
  # every mount under DIR (overlay rootfs, volumes, pod network namespaces), deepest first
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
  # the containers' logs, which the kubelet 1.20 always puts under /var/log/pods
  # (<namespace>_<pod>_<uid>) with links in /var/log/containers: only this node's pods
  local uid f
  for uid in "$DIR"/kubelet/pods/*/; do
    uid=$(basename "$uid")
    [ "$uid" != "*" ] || continue
    for f in /var/log/containers/*.log; do
      if [ -L "$f" ]; then
        case "$(readlink "$f")" in /var/log/pods/*_"$uid"/*) rm -f -- "$f" ;; esac
      fi
    done
    for f in /var/log/pods/*_"$uid"; do
      [ ! -d "$f" ] || rm -rf -- "$f"
    done
  done
  if [ -n "$NS" ]; then
    local h
    for h in /sys/fs/cgroup/*/"$NS"; do
      [ -d "$h" ] || continue
      find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
    [ ! -e "/run/netns/$NS" ] || ip netns delete "$NS"
  fi
  log "stopped node in $DIR"
}

[ $# -ge 2 ] || usage
CMD=$1 DIR=$2
shift 2
NS="" STARTED=""
case "$CMD" in
  start) [ $# -eq 0 ] || usage; cmd_start ;;
  stop) [ $# -eq 0 ] || usage; cmd_stop ;;
  exec)
    [ $# -ge 1 ] || usage
    DIR=$(cd "$DIR" && pwd -P)
    NS=$(cat "$DIR/netns")
    KUBECONFIG="$DIR/kubeconfig" PATH="$BIN:$PATH" in_ns "$@"
    ;;
  import)
    [ $# -eq 1 ] || usage
    DIR=$(cd "$DIR" && pwd -P)
    ctr --address "$DIR/containerd/containerd.sock" -n k8s.io images import "$1" >&2
    # the name it was given: the archive's ref name, as containerd normalized it
    tar -xOf "$1" index.json | sed -n 's/.*"org.opencontainers.image.ref.name":"\([^"]*\)".*/\1/p'
    ;;
  tag)
    [ $# -eq 2 ] || usage
    DIR=$(cd "$DIR" && pwd -P)
    ctr --address "$DIR/containerd/containerd.sock" -n k8s.io images tag --force "$1" "$2" >&2
    ;;
  *) usage ;;
esac
