#!/usr/bin/env bash
# A local, single-node, OpenShift-flavoured Kubernetes cluster for tests and `make up`: pods really run.
#
# Control plane: etcd, kube-apiserver (RBAC + Node authorization), kube-controller-manager (with
# per-controller service-account credentials, as on OpenShift), kube-scheduler.
# OpenShift: the Route and SecurityContextConstraints CRDs, the default SCCs with their
# system:openshift:scc:* ClusterRoles, and OpenShift's own SCC admission plugin
# (github.com/openshift/apiserver-library-go sccadmission) served as a mutating + validating webhook
# for pods (tools/scc-admission), which also gives every new namespace an
# openshift.io/sa.scc.{uid-range,supplemental-groups,mcs} block as cluster-policy-controller does.
# Node: containerd with runc (Debian packages), a kubelet, kube-proxy (iptables), CoreDNS, a CNI bridge
# and a pool of local PersistentVolumes (default StorageClass `local`), the stand-in images of
# scripts/images.sh imported into containerd.
# cert-manager: the CRDs and the controller (scripts/toolchain.sh builds it), so Certificates are issued.
# Prometheus operator: the ServiceMonitor and PrometheusRule CRDs only (no Prometheus runs here), so the
# API server validates the monitoring objects as an OpenShift cluster with monitoring would.
#
# Usage:
#   scripts/cluster.sh start <state-dir>             start a fresh cluster; last stdout line = kubeconfig
#   scripts/cluster.sh stop <state-dir>              stop everything `start` started and undo its changes
#   scripts/cluster.sh status <state-dir>            print process and API health; exit 1 if not running
#   scripts/cluster.sh namespace <state-dir> <name>  create a namespace (the SCC webhook annotates it)
#   scripts/cluster.sh forward <state-dir> <name> <namespace> <service> <port> <service-port>
#                                                    keep `kubectl port-forward` of a Service to
#                                                    127.0.0.1:<port> running (restarted when its pod
#                                                    goes) until `unforward` or `stop`
#   scripts/cluster.sh unforward <state-dir>         end every port-forward
#
#   KUBECONFIG=$(scripts/cluster.sh start /tmp/c | tail -1) kubectl get pods -A
#
# Needs root (a kubelet, network and mounts), the binaries of scripts/toolchain.sh, and Debian's
# containerd, runc, containernetworking-plugins, iptables, iproute2, openssl, curl (see
# scripts/host-packages.sh). CLEARML_OPENSHIFT_BIN overrides the bin dir.
#
# The pod network stays on this machine: a bridge (cmlbr0, 10.89.0.0/16) with no masquerade; pods
# get routes only to the bridge subnet and the Service range, and iptables drops anything from the
# bridge that is not for a pod, the node address or a Service. Everything runs on the node address
# 10.89.0.1 (API server, kubelet, DNS) or on loopback.
# Every start is a fresh cluster in <state-dir>: pids/, logs/, pki/, etcd/, containerd/, kubelet/,
# cni/, volumes/, kubeconfig, cluster.env. `stop` kills every process, removes every container,
# mount, network namespace, cgroup, iptables rule and the bridge it created, and restores the sysctls
# it changed. Only one cluster runs per machine at a time (one bridge, one address).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Stop order: dependents first.
DAEMONS=(cert-manager-controller coredns kube-proxy kubelet kube-scheduler clearml-scc-admission
  kube-controller-manager kube-apiserver containerd etcd)

# The node's network (see the header). One cluster per machine: these names are fixed.
BRIDGE=cmlbr0
POD_CIDR=10.89.0.0/16
NODE_IP=10.89.0.1
SERVICE_CIDR=10.0.0.0/24
NODE_NAME=local-node
FW_CHAIN=CLEARML-LOCAL
# Sysctls the node needs; `start` records their values and `stop` puts them back.
SYSCTLS=(net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1)

usage() {
  script_help "${BASH_SOURCE[0]}" >&2
  exit 2
}

# --- process bookkeeping -------------------------------------------------------------------------
# daemon_path NAME: our build in the bin dir, else the host's (containerd comes from Debian).
daemon_path() {
  if [[ -x $BIN/$1 ]]; then echo "$BIN/$1"; else command -v "$1" || die "$1 not found"; fi
}

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
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0" && exec "$@"' "$pidf" "$(daemon_path "$name")" "$@" \
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
    --key "$STATE/pki/admin.key" "https://$NODE_IP:$APISERVER_PORT$1"
}

# gen_pki: a throwaway CA and everything signed by it: the apiserver's serving certificate (for
# 127.0.0.1, the node address and the `kubernetes` Service), client certificates for the admin
# (system:masters), the kubelet (system:node:<node>, so the Node authorizer applies) and kube-proxy
# (system:kube-proxy), serving certificates for the kubelet and the SCC webhook, and the
# service-account token signing key pair. Clients verify every TLS connection against the CA.
gen_pki() {
  local p=$STATE/pki
  mkdir -p "$p"
  (
    cd "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=clearml-openshift-test-ca" 2>/dev/null
    sign apiserver "/CN=kube-apiserver" \
      "subjectAltName=IP:127.0.0.1,IP:$NODE_IP,DNS:localhost,DNS:kubernetes.default.svc,IP:10.0.0.1" serverAuth
    sign admin "/O=system:masters/CN=admin" "" clientAuth
    sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "" clientAuth
    sign kube-proxy "/CN=system:kube-proxy" "" clientAuth
    sign kubelet "/CN=$NODE_NAME" "subjectAltName=IP:$NODE_IP,DNS:$NODE_NAME" serverAuth
    sign webhook "/CN=clearml-scc-admission" "subjectAltName=IP:127.0.0.1" serverAuth
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ca.srl
    chmod 600 ./*.key
  )
}

# sign NAME SUBJECT SAN_LINE USAGE: NAME.key and NAME.crt signed by the CA (run inside pki/).
sign() {
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  { [[ -n $3 ]] && echo "$3"; echo "extendedKeyUsage=$4"; } >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

# write_kubeconfig FILE CERT: a kubeconfig for the client certificate pki/CERT.{crt,key}.
write_kubeconfig() {
  local b64="base64 -w0"
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://$NODE_IP:$APISERVER_PORT
    certificate-authority-data: $($b64 <"$STATE/pki/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $($b64 <"$STATE/pki/$2.crt")
    client-key-data: $($b64 <"$STATE/pki/$2.key")
contexts:
- name: local
  context:
    cluster: local
    user: $2
    namespace: default
current-context: local
EOF
  chmod 600 "$1"
}

# manifest_files: the manifests to install, in order (CRDs before the objects that use them).
# Each comes from a Go module downloaded through the proxy (pins in versions.env); only the default
# SCC objects fall back to the vendored copy when the operator module is not pinned.
manifest_files() {
  local api cm kas po
  api=$(go_mod_field "github.com/openshift/api@$OPENSHIFT_API_VERSION" Dir)
  cm=$(go_mod_field "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" Dir)
  po=$(go_mod_field "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" Dir)
  echo "$api/route/v1/zz_generated.crd-manifests/routes.crd.yaml"
  echo "$api/security/v1/zz_generated.crd-manifests/0000_03_config-operator_01_securitycontextconstraints.crd.yaml"
  local r
  for r in certificates certificaterequests issuers clusterissuers; do
    echo "$cm/deploy/crds/cert-manager.io_$r.yaml"
  done
  for r in servicemonitors prometheusrules; do
    echo "$po/example/prometheus-operator-crd/monitoring.coreos.com_$r.yaml"
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

# --- the node ------------------------------------------------------------------------------------
# Machine-wide marker of the one running cluster (its state dir), so a second start elsewhere refuses.
MARKER=/run/clearml-openshift-cluster

setup_network() {
  local kv key
  : >"$STATE/sysctl.saved"
  for kv in "${SYSCTLS[@]}"; do
    key=${kv%%=*}
    echo "$key=$(sysctl -n "$key")" >>"$STATE/sysctl.saved"
    sysctl -qw "$kv"
  done
  # Network namespaces that exist before this cluster are not ours to delete at stop.
  ls /var/run/netns 2>/dev/null >"$STATE/netns.before" || true
  ip link add "$BRIDGE" type bridge 2>/dev/null || true
  ip addr replace "$NODE_IP/16" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The node reaches Service IPs through the bridge (from the node address, which pods may answer).
  ip route replace "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
  # Pods may talk to pods, to the node address, and (via kube-proxy's DNAT) to Services; nothing else.
  iptables -w -N "$FW_CHAIN-FWD" 2>/dev/null || iptables -w -F "$FW_CHAIN-FWD"
  iptables -w -A "$FW_CHAIN-FWD" -s "$POD_CIDR" -d "$POD_CIDR" -j ACCEPT
  iptables -w -A "$FW_CHAIN-FWD" -s "$POD_CIDR" -j DROP
  iptables -w -A "$FW_CHAIN-FWD" -d "$POD_CIDR" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
  iptables -w -A "$FW_CHAIN-FWD" -d "$POD_CIDR" -j DROP
  iptables -w -I FORWARD 1 -j "$FW_CHAIN-FWD" -m comment --comment clearml-openshift-local-cluster
  iptables -w -N "$FW_CHAIN-IN" 2>/dev/null || iptables -w -F "$FW_CHAIN-IN"
  iptables -w -A "$FW_CHAIN-IN" -i "$BRIDGE" -d "$NODE_IP" -j ACCEPT
  iptables -w -A "$FW_CHAIN-IN" -i "$BRIDGE" -j DROP
  iptables -w -I INPUT 1 -j "$FW_CHAIN-IN" -m comment --comment clearml-openshift-local-cluster
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
  cat >"$STATE/cni/net.d/10-clearml-local.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "clearml-local",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$NODE_IP"}]],
        "routes": [{"dst": "$SERVICE_CIDR", "gw": "$NODE_IP"}],
        "dataDir": "$STATE/cni/ipam"
      }
    }
  ]
}
EOF
}

teardown_network() {
  local ns kv
  # CRI network namespaces of this cluster's pods (the kubelet did not get to remove them).
  for ns in /var/run/netns/cni-*; do
    [[ -e $ns ]] || continue
    ns=${ns##*/}
    grep -qx "$ns" "$STATE/netns.before" 2>/dev/null && continue
    ip netns delete "$ns" 2>/dev/null || true
  done
  ip link delete "$BRIDGE" 2>/dev/null || true
  while iptables -w -D FORWARD -j "$FW_CHAIN-FWD" -m comment --comment clearml-openshift-local-cluster 2>/dev/null; do :; done
  while iptables -w -D INPUT -j "$FW_CHAIN-IN" -m comment --comment clearml-openshift-local-cluster 2>/dev/null; do :; done
  iptables -w -F "$FW_CHAIN-FWD" 2>/dev/null && iptables -w -X "$FW_CHAIN-FWD" 2>/dev/null || true
  iptables -w -F "$FW_CHAIN-IN" 2>/dev/null && iptables -w -X "$FW_CHAIN-IN" 2>/dev/null || true
  # kube-proxy's KUBE-* chains, then what is left of the kubelet's (KUBE-FIREWALL, canaries).
  [[ -x ${BIN:-}/kube-proxy ]] && "$BIN/kube-proxy" --cleanup >/dev/null 2>&1 || true
  remove_kube_chains
  if [[ -f $STATE/sysctl.saved ]]; then
    while read -r kv; do sysctl -qw "$kv" 2>/dev/null || true; done <"$STATE/sysctl.saved"
    rm -f "$STATE/sysctl.saved"
  fi
}

# remove_kube_chains: every KUBE-* chain and every jump to one, in each table, for IPv4 and IPv6.
remove_kube_chains() {
  local cmd table rule chain
  for cmd in iptables ip6tables; do
    command -v "$cmd" >/dev/null || continue
    for table in filter nat mangle; do
      { "$cmd" -w -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | grep -vE '^-A KUBE-' || true; } |
        while read -r rule; do
          # eval: the rule as iptables -S prints it, quoted comments included.
          eval "$cmd -w -t $table ${rule/#-A/-D}" 2>/dev/null || true
        done
      for chain in $("$cmd" -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$cmd" -w -t "$table" -F "$chain" 2>/dev/null || true
      done
      for chain in $("$cmd" -w -t "$table" -S 2>/dev/null | sed -n 's/^-N \(KUBE-[^ ]*\)$/\1/p'); do
        "$cmd" -w -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}

start_containerd() {
  local d=$STATE/containerd
  mkdir -p "$d"
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = "$d/debug.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(image_ref pause)"
  # root here lacks CAP_SYS_RESOURCE: without this the first sandbox fails (real-cluster notes).
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$STATE/cni/net.d"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
EOF
  launch containerd --config "$d/config.toml"
  wait_for containerd 30 "containerd" ctr --address "$d/containerd.sock" version
  "$SCRIPTS_DIR/images.sh" import "$d/containerd.sock" >&2
}

image_ref() { "$SCRIPTS_DIR/images.sh" names | sed -n "s|^$1=||p"; }

start_kubelet() {
  local d=$STATE/kubelet port healthz
  read -r port healthz < <(free_ports 2)
  mkdir -p "$d/root" "$d/pod-logs"
  write_kubeconfig "$d/kubeconfig" kubelet-client
  # Pods resolve cluster names only: no host search domains or upstream servers leak in.
  : >"$d/resolv.conf"
  cat >"$d/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $healthz
tlsCertFile: $STATE/pki/kubelet.crt
tlsPrivateKeyFile: $STATE/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $STATE/pki/ca.crt}
authorization: {mode: Webhook}
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
enforceNodeAllocatable: []
localStorageCapacityIsolation: false
evictionHard: {}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
containerRuntimeEndpoint: unix://$STATE/containerd/containerd.sock
clusterDNS: [$NODE_IP]
clusterDomain: cluster.local
resolvConf: $d/resolv.conf
podLogsDir: $d/pod-logs
serializeImagePulls: false
maxPods: 110
EOF
  echo "KUBELET_PORT=$port" >>"$STATE/cluster.env"
  launch kubelet --config "$d/config.yaml" --kubeconfig "$d/kubeconfig" --root-dir "$d/root" \
    --node-ip "$NODE_IP" --hostname-override "$NODE_NAME" --v 1
  wait_for kubelet 120 "node $NODE_NAME Ready" node_ready
}

node_ready() {
  [[ $(kubectl get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}') == True ]]
}

start_kube_proxy() {
  local d=$STATE/kube-proxy healthz metrics
  read -r healthz metrics < <(free_ports 2)
  mkdir -p "$d"
  write_kubeconfig "$d/kubeconfig" kube-proxy
  cat >"$d/config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $d/kubeconfig}
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:$healthz
metricsBindAddress: 127.0.0.1:$metrics
nodePortAddresses: ["$NODE_IP/32"]
conntrack: {maxPerCore: 0}
EOF
  launch kube-proxy --config "$d/config.yaml"
  wait_for kube-proxy 60 "kube-proxy healthz" curl -fsS "http://127.0.0.1:$healthz/healthz"
}

start_coredns() {
  mkdir -p "$STATE/coredns"
  cat >"$STATE/coredns/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:$1
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $STATE/kubeconfig local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
}
EOF
  launch coredns -conf "$STATE/coredns/Corefile"
  wait_for coredns 30 "CoreDNS health" curl -fsS "http://127.0.0.1:$1/health"
}

start_scc_admission() {
  local port=$1 ca
  launch clearml-scc-admission --listen "127.0.0.1:$port" \
    --tls-cert-file "$STATE/pki/webhook.crt" --tls-key-file "$STATE/pki/webhook.key" \
    --server "https://$NODE_IP:$APISERVER_PORT" --certificate-authority "$STATE/pki/ca.crt" \
    --client-certificate "$STATE/pki/admin.crt" --client-key "$STATE/pki/admin.key"
  wait_for clearml-scc-admission 60 "SCC admission webhook" \
    curl -fsS --cacert "$STATE/pki/ca.crt" "https://127.0.0.1:$port/healthz"
  ca=$(base64 -w0 <"$STATE/pki/ca.crt")
  # As on OpenShift, SCC admission covers every namespace; kube-system runs no pods here.
  kubectl apply --server-side --field-manager=clearml-openshift-cluster -f - >/dev/null <<EOF
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: openshift-scc-admission}
webhooks:
- name: pods.scc.security.openshift.io
  clientConfig: {url: "https://127.0.0.1:$port/pods/mutate", caBundle: "$ca"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods, pods/ephemeralcontainers]}]
  namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]}
  failurePolicy: Fail
  sideEffects: None
  reinvocationPolicy: IfNeeded
  timeoutSeconds: 15
  admissionReviewVersions: [v1]
- name: namespaces.scc.security.openshift.io
  clientConfig: {url: "https://127.0.0.1:$port/namespaces/mutate", caBundle: "$ca"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [namespaces]}]
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 10
  admissionReviewVersions: [v1]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: openshift-scc-admission}
webhooks:
- name: pods.scc.security.openshift.io
  clientConfig: {url: "https://127.0.0.1:$port/pods/validate", caBundle: "$ca"}
  rules: [{apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [pods, pods/ephemeralcontainers]}]
  namespaceSelector: {matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [kube-system]}]}
  failurePolicy: Fail
  sideEffects: None
  timeoutSeconds: 15
  admissionReviewVersions: [v1]
EOF
}

start_cert_manager() {
  local metrics=$1
  launch cert-manager-controller --kubeconfig "$STATE/kubeconfig" --leader-elect=false \
    --cluster-resource-namespace kube-system --metrics-listen-address "127.0.0.1:$metrics"
  # v1.11 has no health endpoint of its own: its metrics answer once the controller runs.
  wait_for cert-manager-controller 60 "cert-manager controller" curl -fsS "http://127.0.0.1:$metrics/metrics"
}

# install_storage: the default StorageClass `local` and a pool of PersistentVolumes backed by
# directories in the state dir (no provisioner: claims bind to a free volume when their pod is
# scheduled). Mode 0777 because host directories get no fsGroup ownership change.
install_storage() {
  local i
  {
    cat <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Retain
EOF
    for i in $(seq -w 1 "$VOLUME_POOL"); do
      install -d -m 0777 "$STATE/volumes/pv-$i"
      cat <<EOF
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv-$i, labels: {clearml-openshift.io/local-pool: "true"}}
spec:
  capacity: {storage: 200Gi}
  accessModes: [ReadWriteOnce, ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  hostPath: {path: $STATE/volumes/pv-$i, type: Directory}
EOF
    done
  } | kubectl apply --server-side --field-manager=clearml-openshift-cluster -f - >/dev/null
}
# One engine-test session keeps every claim it made (destroy retains them, as it must): with backups on,
# each full stack binds up to 7 (file server, backup sets, Elasticsearch data and snapshots, MongoDB,
# Redis) and a session deploys about ten; 24 ran out (pods Pending: "didn't find available persistent
# volumes to bind"). A volume is an empty directory until a pod writes to it.
VOLUME_POOL=96

# --- commands ----------------------------------------------------------------------------------
cmd_start() {
  local n start etcd_port etcd_peer_port kcm_port sched_port webhook_port dns_health cm_metrics
  if [[ -f $MARKER && $(cat "$MARKER") != "$STATE" ]]; then
    if (STATE=$(cat "$MARKER") && cmd_status >/dev/null 2>&1); then
      die "a local cluster already runs from $(cat "$MARKER"); stop it first: $0 stop $(cat "$MARKER")"
    fi
    log "the cluster of $(cat "$MARKER") is not running: cleaning up after it"
    (STATE=$(cat "$MARKER") && cmd_stop) >/dev/null 2>&1 || true
  fi
  if cmd_status >/dev/null 2>&1; then
    log "the cluster in $STATE is already running"
    echo "$STATE/kubeconfig"
    return
  fi
  [[ $(id -u) == 0 ]] || die "the local cluster needs root (kubelet, network, mounts)"
  for n in containerd runc ctr iptables ip openssl curl mmdebstrap; do
    command -v "$n" >/dev/null || die "$n not found: run scripts/host-packages.sh"
  done
  [[ -x /usr/lib/cni/bridge ]] || die "CNI plugins not found in /usr/lib/cni: run scripts/host-packages.sh"
  (cmd_stop) >/dev/null 2>&1 || true   # leftovers of a crashed run in this state dir
  start=$(date +%s.%N)
  # If anything below fails, stop what was already started (logs stay for the post-mortem).
  trap 'log "start failed: stopping what was started; logs in $STATE/logs"; cmd_stop' EXIT
  rm -rf "$STATE/etcd" "$STATE/pki" "$STATE/pids" "$STATE/logs" "$STATE/kcm-certs" \
    "$STATE/kubeconfig" "$STATE/cluster.env" "$STATE/containerd" "$STATE/kubelet" "$STATE/cni" \
    "$STATE/volumes" "$STATE/coredns" "$STATE/kube-proxy"
  mkdir -p "$STATE/pids" "$STATE/logs"
  echo "$STATE" >"$MARKER"
  gen_pki
  setup_network
  read -r etcd_port etcd_peer_port APISERVER_PORT kcm_port sched_port webhook_port dns_health cm_metrics \
    < <(free_ports 8)
  printf 'ETCD_PORT=%s\nAPISERVER_PORT=%s\nWEBHOOK_PORT=%s\n' "$etcd_port" "$APISERVER_PORT" "$webhook_port" \
    >"$STATE/cluster.env"

  # etcd: single member on loopback. --unsafe-no-fsync: test data, never worth an fsync.
  launch etcd --name clearml-test --data-dir "$STATE/etcd" \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster "clearml-test=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync --log-level warn
  wait_for etcd 30 "etcd health" curl -fsS "http://127.0.0.1:$etcd_port/health"
  # containerd starts now: importing the images overlaps with the control plane coming up.
  start_containerd &
  local containerd_job=$!

  # kube-apiserver on the node address (pods reach it through the `kubernetes` Service), real TLS,
  # client-certificate auth, Node + RBAC authorization as on OpenShift (the system:openshift:scc:*
  # ClusterRoles then mean something), verified TLS to the kubelet.
  launch kube-apiserver \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address "$NODE_IP" --advertise-address "$NODE_IP" --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$STATE/pki/apiserver.crt" --tls-private-key-file "$STATE/pki/apiserver.key" \
    --client-ca-file "$STATE/pki/ca.crt" \
    --kubelet-client-certificate "$STATE/pki/admin.crt" --kubelet-client-key "$STATE/pki/admin.key" \
    --kubelet-certificate-authority "$STATE/pki/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$STATE/pki/sa.pub" \
    --service-account-signing-key-file "$STATE/pki/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC \
    --enable-admission-plugins NodeRestriction \
    --allow-privileged=true \
    --profiling=false
  wait_for kube-apiserver 90 "kube-apiserver /readyz" api_get /readyz
  write_kubeconfig "$STATE/kubeconfig" admin

  # kube-controller-manager: each controller acts as its own service account
  # (--use-service-account-credentials), so the pods it creates pass SCC admission as that account
  # and not as a superuser (which may use every SCC and would get anyuid).
  launch kube-controller-manager \
    --kubeconfig "$STATE/kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig" --authorization-kubeconfig "$STATE/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$kcm_port" --cert-dir "$STATE/kcm-certs" \
    --leader-elect=false \
    --service-account-private-key-file "$STATE/pki/sa.key" \
    --root-ca-file "$STATE/pki/ca.crt" \
    --cluster-signing-cert-file "$STATE/pki/ca.crt" --cluster-signing-key-file "$STATE/pki/ca.key" \
    --use-service-account-credentials=true \
    --profiling=false
  launch kube-scheduler --kubeconfig "$STATE/kubeconfig" \
    --authentication-kubeconfig "$STATE/kubeconfig" --authorization-kubeconfig "$STATE/kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false
  install_manifests
  install_storage
  start_scc_admission "$webhook_port"
  start_coredns "$dns_health"
  start_cert_manager "$cm_metrics"
  wait "$containerd_job" || die "containerd or the image import failed (see $STATE/logs/containerd.log)"
  start_kubelet
  start_kube_proxy
  # The serviceaccount controller creating `default` proves kube-controller-manager is working.
  wait_for kube-controller-manager 60 "kube-controller-manager (default ServiceAccount)" kubectl -n default get serviceaccount default
  for n in "${DAEMONS[@]}"; do
    running "$n" || die "$n exited; see $STATE/logs/$n.log"
  done
  trap - EXIT
  log "cluster ready in $(python3 -c "import sys;print(round(float(sys.argv[2])-float(sys.argv[1]),1))" "$start" "$(date +%s.%N)")s: apiserver https://$NODE_IP:$APISERVER_PORT, node $NODE_NAME, logs in $STATE/logs"
  echo "$STATE/kubeconfig"
}

# stop_containers: kill every container of this cluster's containerd and remove it, so no shim, no
# process and no rootfs mount outlives the cluster.
stop_containers() {
  local sock=$STATE/containerd/containerd.sock id
  if running containerd && [[ -S $sock ]]; then
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks kill -a -s SIGKILL "$id" >/dev/null 2>&1 || true
    done
    sleep 1
    for id in $(ctr --address "$sock" -n k8s.io tasks ls -q 2>/dev/null); do
      ctr --address "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1 || true
    done
  fi
  # Shims of this containerd (they outlive it by design).
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $sock" 2>/dev/null || true
}

# unmount_all: every mount below the state dir (container rootfs, volumes, secrets, netns pins), deepest first.
unmount_all() {
  local m
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v s="$STATE/" 'index($2, s) == 1 { print $2 }' /proc/self/mounts | sort -r)
    ((${#mounts[@]})) || return 0
    for m in "${mounts[@]}"; do umount -l "$m" 2>/dev/null || true; done
  done
}

# remove_cgroups: the kubelet's pod cgroups (kubepods*) in every hierarchy, deepest first.
remove_cgroups() {
  local d
  while IFS= read -r d; do
    rmdir "$d" 2>/dev/null || true
  done < <(find /sys/fs/cgroup -depth -type d \( -name 'kubepods*' -o -path '*/kubepods*' \) 2>/dev/null)
}

cmd_stop() {
  local n pid
  STOPPED_PIDS=()
  unforward
  for n in "${DAEMONS[@]}"; do
    [[ $n == containerd ]] && stop_containers
    stop_daemon "$n"
  done
  pkill -KILL -f "containerd-shim-runc-v2 .*-address $STATE/containerd/containerd.sock" 2>/dev/null || true
  # The daemons run in their own sessions, so once `start` has exited their parent is init, which
  # reaps them some time after they exit (up to ~2s here); wait for that, so that `ps` shows nothing
  # left behind, not even a zombie.
  for pid in "${STOPPED_PIDS[@]}"; do
    for _ in $(seq 50); do
      [[ -e /proc/$pid ]] || break
      sleep 0.1
    done
  done
  unmount_all
  BIN=${BIN:-${CLEARML_OPENSHIFT_BIN:-$("$SCRIPTS_DIR/toolchain.sh" --print-bin-dir 2>/dev/null || true)}}
  teardown_network
  remove_cgroups
  [[ -f $MARKER && $(cat "$MARKER") == "$STATE" ]] && rm -f "$MARKER"
  log "stopped (state in $STATE)"
}

cmd_status() {
  local n ok=0
  for n in "${DAEMONS[@]}"; do
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
      echo "api: ready at https://$NODE_IP:$APISERVER_PORT (kubeconfig $STATE/kubeconfig)"
    else
      echo "api: NOT ready"
      ok=1
    fi
  fi
  return $ok
}

# cmd_namespace NAME: create a namespace; the SCC webhook gives it its UID block and MCS label, as
# OpenShift's cluster-policy-controller does.
cmd_namespace() {
  local name=$1
  [[ -n $name ]] || usage
  kubectl get namespace "$name" >/dev/null 2>&1 || kubectl create namespace "$name" >/dev/null
  log "namespace $name: uid-range $(kubectl get namespace "$name" -o jsonpath='{.metadata.annotations.openshift\.io/sa\.scc\.uid-range}')," \
    "mcs $(kubectl get namespace "$name" -o jsonpath='{.metadata.annotations.openshift\.io/sa\.scc\.mcs}')"
}

# --- port-forwards (scripts/local_stack.py access) ------------------------------------------------
# Each is a loop in its own session around `kubectl port-forward` (which exits when its pod goes
# away), recorded in pids/forward-NAME.pid and logging to logs/forward-NAME.log.
# stop_forward PIDFILE: end that forward's loop (its whole session) and forget it.
stop_forward() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || true
  [[ -n $pid ]] && kill -- "-$pid" 2>/dev/null || true
  rm -f "$1" "${1%.pid}.port"
}

unforward() {
  local f
  for f in "$STATE"/pids/forward-*.pid; do
    [[ -f $f ]] && stop_forward "$f"
  done
  return 0
}

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd_forward() {
  local name=forward-$1 namespace=$2 service=$3 port=$4 remote=$5 pidf f _
  pidf=$(pid_file "$name")
  # Replace an earlier forward of the same name, or of the same port.
  for f in "$STATE"/pids/forward-*.pid; do
    [[ -f $f ]] || continue
    if [[ $f == "$pidf" || $(cat "${f%.pid}.port" 2>/dev/null) == "$port" ]]; then
      stop_forward "$f"
    fi
  done
  for _ in $(seq 50); do port_in_use "$port" || break; sleep 0.1; done
  port_in_use "$port" && die "127.0.0.1:$port is in use by another program: free it or choose another port"
  rm -f "$pidf"
  # shellcheck disable=SC2016 # expanded by the inner shell
  setsid bash -c 'echo $$ >"$0.tmp" && mv "$0.tmp" "$0"
    while :; do "$1" --kubeconfig "$2" port-forward -n "$3" --address 127.0.0.1 "service/$4" "$5:$6"; sleep 1; done' \
    "$pidf" "$BIN/kubectl" "$STATE/kubeconfig" "$namespace" "$service" "$port" "$remote" \
    >"$STATE/logs/$name.log" 2>&1 </dev/null &
  for _ in $(seq 100); do [[ -s $pidf ]] && break; sleep 0.05; done
  [[ -s $pidf ]] || die "the port-forward $name did not start (see $STATE/logs/$name.log)"
  echo "$port" >"${pidf%.pid}.port"
  log "forwarding 127.0.0.1:$port to service $namespace/$service:$remote (log: $STATE/logs/$name.log)"
}

main() {
  (($# >= 2)) || usage
  local cmd=$1
  case $2 in /|"$HOME"|"$HOME/") die "refusing to use $2 as a state dir" ;; esac
  [[ $cmd == start ]] && mkdir -p "$2"
  STATE=$(cd "$2" 2>/dev/null && pwd) || STATE=$2   # stop/status of a missing dir: "not running"
  shift 2
  case $cmd in
    start|namespace|forward)
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
    forward)
      (($# == 5)) || usage
      running kube-apiserver || die "no cluster running in $STATE"
      cmd_forward "$@"
      ;;
    unforward) (($# == 0)) || usage; unforward ;;
    *) usage ;;
  esac
}

main "$@"; exit
