# shellcheck shell=bash
# shellcheck disable=SC2034,SC2153 # the variables are set and read by control-plane.sh
# The files `up` writes into DIR: kubeconfigs, the extracted CA, `env`.
#
# Sourced by scripts/control-plane.sh, never run on its own: it only defines functions,
# which use the settings and helpers (DIR, BIN, GRACE, log, die, …) that script sets.

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
