#!/usr/bin/env bash
# A local, node-less, OpenShift-flavoured Kubernetes control plane for tests: etcd, kube-apiserver and
# kube-controller-manager on loopback, plus the OpenShift Route and SecurityContextConstraints CRDs,
# the default SCCs with their system:openshift:scc:* ClusterRoles, and the cert-manager CRDs.
#
# Usage:
#   scripts/cluster.sh start <state-dir>             start a fresh cluster; last stdout line = kubeconfig
#   scripts/cluster.sh stop <state-dir>              stop everything `start` started
#   scripts/cluster.sh status <state-dir>            print process and API health; exit 1 if not running
#   scripts/cluster.sh namespace <state-dir> <name>  create a namespace annotated like OpenShift does
#
#   KUBECONFIG=$(scripts/cluster.sh start /tmp/c | tail -1) kubectl get securitycontextconstraints
#
# Needs the binaries of scripts/toolchain.sh (run it first) and openssl, curl, python3, go (only to
# locate the manifest modules in the Go module cache; they are downloaded by toolchain.sh). Manifests
# are applied with the kubectl that toolchain.sh builds from the same Kubernetes release (it shares
# the kube-apiserver build, ~30 s extra) using server-side apply, which also handles the ~330 KB
# cert-manager CRDs that client-side apply's last-applied annotation cannot hold.
# CLEARML_OPENSHIFT_BIN overrides the bin dir (default: `scripts/toolchain.sh --print-bin-dir`).
# Nothing is schedulable (no nodes, no scheduler, no kubelet): pods stay Pending. The controllers that
# do run are kube-controller-manager's defaults, among them garbage collection (foreground deletes
# complete), namespace deletion, service accounts and their tokens, kube-root-ca.crt, deployments,
# replica sets, jobs.
# Every start is a fresh cluster (new etcd data, certificates and ports) in <state-dir>:
#   pids/*.pid, logs/*.log, pki/, etcd/, kubeconfig, cluster.env (ports)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Stop order: dependents first.
DAEMONS=(kube-controller-manager kube-apiserver etcd)

usage() {
  script_help "${BASH_SOURCE[0]}" >&2
  exit 2
}

# --- process bookkeeping -------------------------------------------------------------------------
pid_file() { echo "$STATE/pids/$1.pid"; }

# running NAME: the pid file exists and names a live process running our binary for NAME.
running() {
  local pid
  pid=$(cat "$(pid_file "$1")" 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
    [[ $(readlink -f "/proc/$pid/exe" 2>/dev/null) == */"$1" ]]
}

# launch NAME ARGS...: run a binary from the bin dir in its own session (so it outlives this script
# and the caller's process group), logging to logs/NAME.log, and record its pid. The pid is written
# by the process itself just before it execs the binary, because setsid forks when it happens to be
# a process group leader, and then $! would be the short-lived setsid.
launch() {
  local name=$1 pidf _
  shift
  pidf=$(pid_file "$name")
  rm -f "$pidf"
  # shellcheck disable=SC2016 # $$ and $0 are for the inner shell
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf" "$BIN/$name" "$@" \
    >"$STATE/logs/$name.log" 2>&1 </dev/null &
  # Wait until the pid file is written and the process has exec'd the binary (see `running`).
  for _ in $(seq 100); do
    running "$name" && return
    sleep 0.05
  done
  die "$name did not start (see $STATE/logs/$name.log)"
}

stop_daemon() {
  local name=$1 pid _
  pid=$(cat "$(pid_file "$name")" 2>/dev/null) || return 0
  if running "$name"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do
      running "$name" || break
      sleep 0.1
    done
    if running "$name"; then
      log "$name (pid $pid) ignored SIGTERM for 15s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  running "$name" && die "could not stop $name (pid $pid)"
  rm -f "$(pid_file "$name")"
  STOPPED_PIDS+=("$pid")
}

# wait_for DAEMON SECONDS DESCRIPTION COMMAND...: poll COMMAND every 0.2s until it succeeds; fail at
# once if DAEMON has exited, or after SECONDS, showing the tails of the logs.
wait_for() {
  local daemon=$1 timeout=$2 what=$3 deadline err=""
  shift 3
  deadline=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! running "$daemon"; then
      err="$daemon exited while waiting for $what"
    elif (($(date +%s) >= deadline)); then
      err="timed out after ${timeout}s waiting for $what"
    fi
    if [[ -n $err ]]; then
      local n
      for n in "${DAEMONS[@]}"; do
        [[ -f "$STATE/logs/$n.log" ]] && { echo "--- tail of logs/$n.log" >&2; tail -n 15 "$STATE/logs/$n.log" >&2; }
      done
      die "$err"
    fi
    sleep 0.2
  done
}

# --- helpers -----------------------------------------------------------------------------------
# free_ports N: N distinct free TCP ports on 127.0.0.1. They are drawn below the kernel's ephemeral
# range (net.ipv4.ip_local_port_range), so that no outgoing connection can grab one between this
# check and the daemon's bind; all sockets are held until all ports are chosen.
free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
if low <= 11000:  # unusual range: no room below it, fall back to anything unprivileged
    low = 65535
socks = []
while len(socks) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, low)))
    except OSError:
        s.close()
        continue
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

kubectl() { "$BIN/kubectl" --kubeconfig "$STATE/kubeconfig" "$@"; }

api_get() { # api_get PATH: authenticated GET against the apiserver, verifying its certificate.
  curl -fsS --max-time 5 --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" \
    --key "$STATE/pki/admin.key" "https://127.0.0.1:$APISERVER_PORT$1"
}

# gen_pki: a throwaway CA, the apiserver's serving certificate (signed by it, for 127.0.0.1 and
# localhost, so clients verify TLS), an admin client certificate in group system:masters (client-cert
# auth via --client-ca-file), and the service-account token signing key pair.
gen_pki() {
  local p=$STATE/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=clearml-openshift-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc,IP:10.0.0.1\nextendedKeyUsage=serverAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr \
      -subj "/O=system:masters/CN=admin" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*.key
  )
}

write_kubeconfig() {
  local b64="base64 -w0"
  cat >"$STATE/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$STATE/pki/ca.crt")
users:
- name: admin
  user:
    client-certificate-data: $($b64 <"$STATE/pki/admin.crt")
    client-key-data: $($b64 <"$STATE/pki/admin.key")
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
EOF
  chmod 600 "$STATE/kubeconfig"
}

# manifest_files: the manifests to install, in order (CRDs before the objects that use them).
# Each comes from a Go module downloaded through the proxy (pins in versions.env); only the default
# SCC objects fall back to the vendored copy when the operator module is not pinned.
manifest_files() {
  local api cm kas
  api=$(go_mod_field "github.com/openshift/api@$OPENSHIFT_API_VERSION" Dir)
  cm=$(go_mod_field "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" Dir)
  echo "$api/route/v1/zz_generated.crd-manifests/routes.crd.yaml"
  echo "$api/security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml"
  local r
  for r in certificates certificaterequests issuers clusterissuers; do
    echo "$cm/deploy/crds/cert-manager.io_$r.yaml"
  done
  if [[ -n $OPENSHIFT_KAS_OPERATOR_VERSION ]]; then
    kas=$(go_mod_field "github.com/openshift/cluster-kube-apiserver-operator@$OPENSHIFT_KAS_OPERATOR_VERSION" Dir)
    kas=$kas/bindata/bootkube/scc-manifests
  else
    kas=$SCRIPTS_DIR/lib/openshift-scc
  fi
  # The SCCs (0000_20_..._00_scc-*), their ClusterRoles (cr-scc-*) and bindings (crb-*).
  ls "$kas"/0000_20_kube-apiserver-operator_00_*.yaml
}

install_manifests() {
  local files=() f
  mapfile -t files < <(manifest_files)
  # CRDs first, then wait until they serve, then the objects of those kinds.
  local crds=() rest=()
  for f in "${files[@]}"; do
    if grep -q '^kind: CustomResourceDefinition' "$f"; then crds+=(-f "$f"); else rest+=(-f "$f"); fi
  done
  # Server-side apply: the cert-manager CRDs are too big for client-side apply's last-applied annotation.
  kubectl apply --server-side --field-manager=clearml-openshift-cluster "${crds[@]}" >/dev/null
  kubectl wait --for condition=Established --timeout=60s \
    crd/routes.route.openshift.io crd/securitycontextconstraints.security.openshift.io \
    crd/certificates.cert-manager.io crd/certificaterequests.cert-manager.io \
    crd/issuers.cert-manager.io crd/clusterissuers.cert-manager.io >/dev/null
  kubectl apply --server-side --field-manager=clearml-openshift-cluster "${rest[@]}" >/dev/null
  log "installed $((${#crds[@]} / 2)) CRDs and $((${#rest[@]} / 2)) SCC/RBAC manifests; SCCs:" \
    "$(kubectl get securitycontextconstraints -o name | sed 's#.*/##' | tr '\n' ' ')"
}

# --- commands ----------------------------------------------------------------------------------
cmd_start() {
  local n start etcd_port etcd_peer_port kcm_port
  for n in "${DAEMONS[@]}"; do
    running "$n" && die "a cluster is already running in $STATE ($n pid $(cat "$(pid_file "$n")")); run: $0 stop $STATE"
  done
  start=$(date +%s.%N)
  # If anything below fails, stop what was already started (logs stay for the post-mortem).
  trap 'log "start failed: stopping what was started; logs in $STATE/logs"; cmd_stop' EXIT
  # Fresh cluster every time: drop runtime state of a previous (stopped or crashed) run.
  rm -rf "$STATE/etcd" "$STATE/pki" "$STATE/pids" "$STATE/logs" "$STATE/kcm-certs" \
    "$STATE/kubeconfig" "$STATE/cluster.env"
  mkdir -p "$STATE/pids" "$STATE/logs"
  gen_pki
  read -r etcd_port etcd_peer_port APISERVER_PORT kcm_port < <(free_ports 4)
  printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\nKCM_PORT=%s\n' \
    "$etcd_port" "$etcd_peer_port" "$APISERVER_PORT" "$kcm_port" >"$STATE/cluster.env"

  # etcd: single member on loopback. --unsafe-no-fsync: test data, never worth an fsync.
  launch etcd --name clearml-test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "clearml-test=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level warn
  wait_for etcd 30 "etcd health" curl -fsS "http://127.0.0.1:$etcd_port/health"

  # kube-apiserver: flags after controller-runtime envtest (pkg/internal/testing/controlplane/
  # apiserver.go) with real TLS and client-cert auth. --advertise-address is required on loopback,
  # otherwise it looks for a non-loopback interface. RBAC authorization, as on OpenShift, so the
  # system:openshift:scc:* ClusterRoles mean something; the admin certificate is in system:masters.
  launch kube-apiserver \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --client-ca-file "$STATE/pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode RBAC \
    --allow-privileged=true \
    --profiling=false
  wait_for kube-apiserver 90 "kube-apiserver /readyz" api_get /readyz
  write_kubeconfig

  # kube-controller-manager with the admin identity (superuser: no per-controller service-account
  # credentials needed). The service-account key signs legacy token secrets; the CA is published
  # as kube-root-ca.crt in every namespace.
  launch kube-controller-manager \
    --kubeconfig "$STATE/kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig" --authorization-kubeconfig "$STATE/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --cert-dir "$STATE/kcm-certs" \
    --leader-elect=false \
    --service-account-private-key-file "$STATE/pki/sa.key" \
    --root-ca-file "$STATE/pki/ca.crt" \
    --cluster-signing-cert-file "$STATE/pki/ca.crt" --cluster-signing-key-file "$STATE/pki/ca.key" \
    --use-service-account-credentials=false \
    --profiling=false
  install_manifests
  # The serviceaccount controller creating `default` proves kube-controller-manager is working.
  wait_for kube-controller-manager 60 "kube-controller-manager (default ServiceAccount)" kubectl -n default get serviceaccount default
  for n in "${DAEMONS[@]}"; do
    running "$n" || die "$n exited; see $STATE/logs/$n.log"
  done
  trap - EXIT
  log "cluster ready in $(python3 -c "import sys;print(round(float(sys.argv[2])-float(sys.argv[1]),1))" "$start" "$(date +%s.%N)")s: apiserver https://127.0.0.1:$APISERVER_PORT, logs in $STATE/logs"
  echo "$STATE/kubeconfig"
}

cmd_stop() {
  local n pid
  STOPPED_PIDS=()
  for n in "${DAEMONS[@]}"; do
    stop_daemon "$n"
  done
  # The daemons run in their own sessions, so once `start` has exited their parent is init, which
  # reaps them some time after they exit (up to ~2s here); wait for that, so that `ps` shows nothing
  # left behind, not even a zombie.
  for pid in "${STOPPED_PIDS[@]}"; do
    for _ in $(seq 50); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
  done
  log "stopped (state in $STATE)"
}

cmd_status() {
  local n ok=0
  for n in etcd kube-apiserver kube-controller-manager; do
    if running "$n"; then
      echo "$n: running (pid $(cat "$(pid_file "$n")"))"
    else
      echo "$n: not running"
      ok=1
    fi
  done
  if ((ok == 0)); then
    # shellcheck source=/dev/null
    source "$STATE/cluster.env"
    if api_get /readyz >/dev/null 2>&1; then
      echo "api: ready at https://127.0.0.1:$APISERVER_PORT (kubeconfig $STATE/kubeconfig)"
    else
      echo "api: NOT ready"
      ok=1
    fi
  fi
  return $ok
}

# cmd_namespace NAME: what OpenShift's namespace SCC allocation controller (cluster-policy-controller)
# writes on every new namespace: a block of 10000 UIDs (and supplemental groups) out of
# 1000000000-1999999999, and an SELinux MCS label. The SCC admission of a real cluster derives the
# pods' runAsUser / fsGroup from these; here they are only data for the program under test.
# Blocks are chosen at random among the ones not used by another namespace; the MCS label is the
# block's index mapped to a category pair like OpenShift's allocator does (s0:c1,c0, s0:c2,c0,
# s0:c2,c1, s0:c3,c0, ...).
cmd_namespace() {
  local name=$1 used block start k j
  [[ -n $name ]] || usage
  if [[ $(kubectl get namespace "$name" -o jsonpath='{.metadata.annotations.openshift\.io/sa\.scc\.uid-range}' 2>/dev/null) == */* ]]; then
    log "namespace $name already exists with SCC annotations"
    return
  fi
  used=$(kubectl get namespaces -o jsonpath='{range .items[*]}{.metadata.annotations.openshift\.io/sa\.scc\.uid-range}{"\n"}{end}')
  while :; do
    block=$(($(od -An -N4 -tu4 /dev/urandom) % 100000))
    start=$((1000000000 + block * 10000))
    grep -q "^$start/" <<<"$used" || break
  done
  k=1
  while ((k * (k + 1) / 2 <= block)); do k=$((k + 1)); done
  j=$((block - k * (k - 1) / 2))
  kubectl apply --server-side --field-manager=clearml-openshift-cluster -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $name
  annotations:
    openshift.io/sa.scc.uid-range: $start/10000
    openshift.io/sa.scc.supplemental-groups: $start/10000
    openshift.io/sa.scc.mcs: s0:c$k,c$j
EOF
  log "namespace $name: uid-range $start/10000, mcs s0:c$k,c$j"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  case $2 in /|"$HOME"|"$HOME/") die "refusing to use $2 as a state dir" ;; esac
  [[ $cmd == start ]] && mkdir -p "$2"
  STATE=$(cd "$2" 2>/dev/null && pwd) || STATE=$2   # stop/status of a missing dir: "not running"
  shift 2
  case $cmd in
    start|namespace)
      BIN=${CLEARML_OPENSHIFT_BIN:-$("$SCRIPTS_DIR/toolchain.sh" --print-bin-dir)} ||
        die "toolchain binaries missing: run scripts/toolchain.sh first"
      ;;
  esac
  case $cmd in
    start) (($# == 0)) || usage; cmd_start ;;
    stop) (($# == 0)) || usage; cmd_stop ;;
    status) (($# == 0)) || usage; cmd_status ;;
    namespace)
      (($# == 1)) || usage
      for n in kube-apiserver etcd; do running "$n" || die "no cluster running in $STATE"; done
      cmd_namespace "$1"
      ;;
    *) usage ;;
  esac
}

main "$@"; exit
