#!/usr/bin/env bash
# Build the local test toolchain (Pulumi engine + providers, kube control plane, etcd) from the Go
# module proxy only, into a cache outside the repository, and assemble a bin dir of symlinks.
#
# Usage:
#   scripts/toolchain.sh                  build what is missing, verify, print the bin dir (last line)
#   scripts/toolchain.sh --print-bin-dir  print the bin dir if every binary is present, else exit 1
#   scripts/toolchain.sh --only NAME...   build only these components (etcd kubernetes
#                                         pulumi-language-python pulumi pulumi-resource-kubernetes
#                                         pulumi-resource-random); no bin dir, no verification
#   scripts/toolchain.sh --prune          after building, delete the Go build and module caches and
#                                         work dirs (~14 GB; they only speed up a rebuild after a
#                                         pin change), keeping the binaries and manifest modules
#   BIN=$(scripts/toolchain.sh | tail -1); export PATH="$BIN:$PATH"
#
# Environment: CLEARML_OPENSHIFT_CACHE (default ~/.cache/clearml-openshift); Go's own GOPROXY etc.
# Pins: scripts/versions.env. Progress goes to stderr, the bin dir path to stdout. A component whose
# pins are empty in versions.env (pulumi-resource-random today) is skipped and not required.
#
# Why a "consumer" module per project: `go install pkg@version` refuses modules whose go.mod has
# replace directives (golang/go#44840), and every upstream here has some. When the upstream module
# is a *dependency* of a throwaway module, its replaces are ignored and `go build <pkg>` works.
# shellcheck disable=SC2317 # the build_* functions are called indirectly (build_component)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

WORK_ROOT="$TOOLCHAIN_DIR/work"
# Order matters only for speed: the language host and the CLI share most of the Go build cache.
ALL_COMPONENTS=(etcd kubernetes pulumi-language-python pulumi pulumi-resource-kubernetes pulumi-resource-random
  scc-admission coredns cert-manager)
# Set by detect_external_pulumi when a `pulumi` on PATH already is the pinned version.
PULUMI_EXTERNAL=""
# Set when this run built anything (then the cache size is worth a `du`).
built_any=0

# --- component table ---------------------------------------------------------------------------
# component_dir NAME: where the binaries of that component at its pinned version are cached.
component_dir() {
  case $1 in
    pulumi)
      if [[ -n $PULUMI_EXTERNAL ]]; then dirname "$PULUMI_EXTERNAL"; else echo "$TOOLCHAIN_DIR/pulumi-$PULUMI_VERSION"; fi ;;
    etcd) echo "$TOOLCHAIN_DIR/etcd-$ETCD_VERSION" ;;
    kubernetes) echo "$TOOLCHAIN_DIR/kubernetes-$KUBERNETES_VERSION" ;;
    pulumi-language-python)
      echo "$TOOLCHAIN_DIR/pulumi-language-python-$PULUMI_LANGUAGE_PYTHON_VERSION-exec-$PULUMI_VERSION" ;;
    pulumi-resource-kubernetes) echo "$TOOLCHAIN_DIR/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_VERSION" ;;
    pulumi-resource-random) echo "$TOOLCHAIN_DIR/pulumi-resource-random-$PULUMI_RANDOM_VERSION" ;;
    # The webhook's own source (tools/scc-admission) is part of its cache key.
    scc-admission) echo "$TOOLCHAIN_DIR/scc-admission-${APISERVER_LIBRARY_GO_COMMIT:0:12}-$(scc_admission_source_hash)" ;;
    coredns) echo "$TOOLCHAIN_DIR/coredns-$COREDNS_VERSION" ;;
    cert-manager) echo "$TOOLCHAIN_DIR/cert-manager-$CERT_MANAGER_CONTROLLER_VERSION" ;;
    *) die "unknown component $1" ;;
  esac
}

# component_bins NAME: the files a complete build of that component contains.
component_bins() {
  case $1 in
    etcd) echo etcd ;;
    kubernetes) echo "${KUBERNETES_COMMANDS[@]}" ;;
    pulumi) echo pulumi ;;
    pulumi-language-python) echo pulumi-language-python pulumi-language-python-exec pulumi-resource-pulumi-python ;;
    pulumi-resource-kubernetes) echo pulumi-resource-kubernetes ;;
    pulumi-resource-random) echo pulumi-resource-random ;;
    scc-admission) echo clearml-scc-admission ;;
    coredns) echo coredns ;;
    cert-manager) echo cert-manager-controller ;;
    *) die "unknown component $1" ;;
  esac
}

# component_enabled NAME: false for a component whose pins say it cannot be built (see versions.env).
component_enabled() {
  case $1 in
    pulumi-resource-random) [[ -n $PULUMI_RANDOM_PROVIDER_MODULE_VERSION ]] ;;
    *) true ;;
  esac
}

component_complete() {
  local dir b
  dir=$(component_dir "$1")
  for b in $(component_bins "$1"); do
    [[ -x "$dir/$b" ]] || return 1
  done
}

# new_consumer DIR: an empty module to build upstream main packages as dependencies.
new_consumer() {
  rm -rf "$1"
  mkdir -p "$1"
  (cd "$1" && go mod init example.invalid/toolchain-consumer >/dev/null 2>&1)
}

# --- etcd --------------------------------------------------------------------------------------
# server/main.go of go.etcd.io/etcd/server/v3 is `package main`. Its go.mod replaces api/client/pkg
# with ../ paths, but requires them at the same tag, so as a dependency it resolves to the released
# code. The version string is hard-coded in api/version/version.go; upstream's build only adds
# GitSHA via ldflags (scripts/build_lib.sh), which the proxy does not tell us, so it is left unset.
build_etcd() {
  local out=$1 work=$2
  new_consumer "$work"
  cd "$work"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

# --- Kubernetes: the control plane, the node (kubelet, kube-proxy) and kubectl --------------------
KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl)
# k8s.io/kubernetes requires every staging module (k8s.io/api, client-go, ...) at the non-existent
# version v0.0.0 and replaces it with ./staging/src/k8s.io/<name> (kubernetes#79384, golang/go#32776).
# A consumer must replace each of those with the published staging tag v0.<minor>.<patch>; the list
# is generated from the downloaded go.mod so it follows the pinned release. The `godebug` line of a
# dependency is ignored, so it is copied into the consumer.
# Version ldflags as in hack/lib/version.sh: without them /version reports v0.0.0-master and
# pulumi-kubernetes refuses the cluster ("minimum supported cluster version is v1.13. found v0.0").
build_kubernetes() {
  local out=$1 work=$2 gomod minor build_date ldf pkg
  new_consumer "$work"
  cd "$work"
  gomod=$(go_mod_field "k8s.io/kubernetes@$KUBERNETES_VERSION" GoMod)
  minor=${KUBERNETES_VERSION#v1.}   # e.g. 36.3
  go mod edit -json "$gomod" | python3 -c '
import json, sys
m = json.load(sys.stdin)
for r in m.get("Require") or []:
    if r["Version"] == "v0.0.0":
        print("-replace=%s=%s@v0.%s" % (r["Path"], r["Path"], sys.argv[1]))
for g in m.get("Godebug") or []:
    print("-godebug=%s=%s" % (g["Key"], g["Value"]))
' "$minor" | xargs go mod edit
  local pkgs=()
  for pkg in "${KUBERNETES_COMMANDS[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$pkg@$KUBERNETES_VERSION"); done
  go get "${pkgs[@]}"
  # Build date = release time published by the proxy, so rebuilds are byte-identical.
  build_date=$(go list -m -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["Time"])')
  ldf="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldf+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${minor%%.*}"
    ldf+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
  for pkg in "${KUBERNETES_COMMANDS[@]}"; do
    log "  go build $pkg"
    go build -trimpath -ldflags "$ldf" -o "$out/$pkg" "k8s.io/kubernetes/cmd/$pkg"
  done
}

# --- Pulumi CLI --------------------------------------------------------------------------------
# Main package github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (goreleaser: dir pkg, main ./cmd/pulumi).
# pkg/go.mod replaces sdk/v3 => ../sdk and atotto/clipboard with a Windows-only fork; as a dependency
# neither matters (pkg/vX requires sdk/vX, and the clipboard fork only changes Windows code).
# Tags, flags and the version variable are the ones in upstream .goreleaser.yml; without the version
# ldflag `pulumi version` prints an empty line and the Python Automation API refuses the CLI.
PULUMI_VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
build_pulumi() {
  local out=$1 work=$2
  new_consumer "$work"
  cd "$work"
  go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w -X $PULUMI_VERSION_VAR=$PULUMI_VERSION" \
    -o "$out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
}

# --- pulumi-language-python (+ its exec shim and the dynamic-provider script) --------------------
# The language host does not run Python programs itself: it runs `python pulumi-language-python-exec
# ...`, and looks for that script next to its own (symlink-resolved) executable (main.go,
# pythonDefaultExec), exiting with "missing executor" otherwise. The script lives in
# sdk/python/cmd/, which has no go.mod, so it ships in the github.com/pulumi/pulumi/sdk/v3 module zip
# (python/cmd/pulumi-language-python-exec); pulumi-resource-pulumi-python (the plugin behind
# pulumi.dynamic providers) ships there too (python/dist/). Both are taken from sdk/v3 at the CLI
# version, as upstream's release bundles them (sdk/python/Makefile, target dist).
# Where the host's Go code lives depends on the version (see versions.env): up to v3.80 it is the
# package python/cmd/pulumi-language-python inside sdk/v3; since pulumi#13819 (Aug 2023) it is its own
# module .../sdk/python/cmd/pulumi-language-python/v3 with no tags (pseudo-versions only), whose go.mod
# requires a stale pkg/v3, so pkg and sdk are then pinned to the CLI version explicitly.
build_pulumi_language_python() {
  local out=$1 work=$2 sdk_dir reported=$PULUMI_VERSION
  new_consumer "$work"
  cd "$work"
  go get "$PULUMI_LANGUAGE_PYTHON_PACKAGE@$PULUMI_LANGUAGE_PYTHON_VERSION"
  case $PULUMI_LANGUAGE_PYTHON_PACKAGE in
    github.com/pulumi/pulumi/sdk/v3/*) reported=$PULUMI_LANGUAGE_PYTHON_VERSION ;;
    *) go get "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" ;;
  esac
  go build -trimpath -tags osusergo,grpcnotrace -ldflags "-s -w -X $PULUMI_VERSION_VAR=$reported" \
    -o "$out/pulumi-language-python" "$PULUMI_LANGUAGE_PYTHON_PACKAGE"
  sdk_dir=$(go_mod_field "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" Dir)
  install -m 0755 "$sdk_dir/python/cmd/pulumi-language-python-exec" "$out/"
  install -m 0755 "$sdk_dir/python/dist/pulumi-resource-pulumi-python" "$out/"
}

# verified_module_dir MODULE VERSION SUM: download a module that the checksum database (as served by
# the proxy here) does not know, check its hash against the pin in versions.env, print its dir.
# GONOSUMDB is narrowed to this one module path, so everything else is still verified as usual.
verified_module_dir() {
  local sum
  sum=$(GONOSUMDB=$1 go_mod_field "$1@$2" Sum)
  [[ $sum == "$3" ]] || die "$1@$2: module hash $sum does not match the pin $3 in versions.env"
  GONOSUMDB=$1 go_mod_field "$1@$2" Dir
}

# --- pulumi-resource-kubernetes ----------------------------------------------------------------
# Module github.com/pulumi/pulumi-kubernetes/provider/v4 has no provider/v4.x.y tags (only vX and
# sdk/vX), so it is pinned as the pseudo-version of the commit tagged v<PULUMI_KUBERNETES_VERSION>.
# main.go embeds schema-embed.json and terraform-mapping-embed.json, which .gitignore excludes and
# module zips therefore lack ("pattern schema-embed.json: no matching files found"); upstream's
# Makefile makes them with `VERSION=<version> go generate cmd/pulumi-resource-kubernetes/main.go`
# (generate.go stamps the version into schema.json and compacts terraform-mapping.json). The module
# cache is read-only, so the module is copied out and built as the main module, with its go.sum
# (upstream's pins). Its go.mod replaces sdk/v4 => ../sdk, which is not in the zip: the replace is
# dropped and sdk/v4 required at the matching tag instead. Version ldflag without "v", as upstream.
build_pulumi_resource_kubernetes() {
  local out=$1 work=$2 mod=github.com/pulumi/pulumi-kubernetes/provider/v4 src
  src=$(verified_module_dir "$mod" "$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION" "$PULUMI_KUBERNETES_PROVIDER_SUM")
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$src" "$work/provider"
  chmod -R u+w "$work/provider"
  cd "$work/provider"
  go mod edit -dropreplace=github.com/pulumi/pulumi-kubernetes/sdk/v4 \
    -require="github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION"
  (cd cmd/pulumi-resource-kubernetes && VERSION=$PULUMI_KUBERNETES_VERSION go run ./generate.go)
  go build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    -o "$out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
}

# --- pulumi-resource-random --------------------------------------------------------------------
# Terraform-bridged (pulumi-terraform-bridge pf) wrapper of hashicorp/terraform-provider-random.
# Module github.com/pulumi/pulumi-random/provider/v4, again no provider/ tags (pseudo-version of the
# v<version> tag commit). Pitfalls, from provider/go.mod, .gitignore and the ci-mgmt Makefile:
#  * go.mod: `replace github.com/terraform-providers/terraform-provider-random/shim => ./shim`, and
#    provider/shim has its own go.mod, so it is NOT in the provider/v4 module zip. Upstream's shim.go
#    only re-exports the Terraform provider's constructor from its internal/provider package (legal
#    because the shim's import path is inside the Terraform provider's module path). The shim is
#    re-created here with the same two declarations; its dependencies are all listed in the provider's
#    go.mod already, so the shim's go.mod needs no requirements.
#  * main.go embeds schema-embed.json (gitignored, made by generate.go with VERSION) and
#    bridge-metadata.json (committed; resources.go embeds it as well).
#  * Version ldflag without "v" (Makefile LDFLAGS_PROJ_VERSION).
build_pulumi_resource_random() {
  local out=$1 work=$2 mod=github.com/pulumi/pulumi-random/provider/v4 src
  src=$(verified_module_dir "$mod" "$PULUMI_RANDOM_PROVIDER_MODULE_VERSION" "$PULUMI_RANDOM_PROVIDER_SUM")
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$src" "$work/provider"
  chmod -R u+w "$work/provider"
  cd "$work/provider"
  mkdir -p shim
  printf 'module github.com/terraform-providers/terraform-provider-random/shim\n\ngo 1.24\n' >shim/go.mod
  cat >shim/shim.go <<'GO'
package shim

import (
	tfpf "github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/terraform-providers/terraform-provider-random/internal/provider"
)

func NewProvider() tfpf.Provider {
	return provider.New()
}
GO
  (cd cmd/pulumi-resource-random && VERSION=$PULUMI_RANDOM_VERSION go run ./generate.go)
  go build -trimpath -ldflags "-s -w -X $mod/pkg/version.Version=$PULUMI_RANDOM_VERSION" \
    -o "$out/pulumi-resource-random" ./cmd/pulumi-resource-random
}

# --- OpenShift's SCC admission as a webhook (tools/scc-admission) -----------------------------------
# The module's dependency github.com/openshift/library-go is refused by the proxy here, so the program
# is built inside the upstream source tree with its complete vendor/ (GOFLAGS=-mod=vendor), taken from
# a source tarball (APISERVER_LIBRARY_GO_SOURCE: URL or path of a `git archive` of the pinned commit).
APISERVER_LIBRARY_GO_SOURCE=${APISERVER_LIBRARY_GO_SOURCE:-https://github.com/openshift/apiserver-library-go/archive/$APISERVER_LIBRARY_GO_COMMIT.tar.gz}
scc_admission_source_hash() {
  cat "$SCRIPTS_DIR/../tools/scc-admission/"*.go | sha256sum | cut -c1-12
}
build_scc_admission() {
  local out=$1 work=$2 tarball
  rm -rf "$work"
  mkdir -p "$work/src"
  tarball=$(source_tarball "$APISERVER_LIBRARY_GO_SOURCE" "$work" APISERVER_LIBRARY_GO_SOURCE)
  tar -xzf "$tarball" -C "$work/src" --strip-components=1
  grep -q '^module github.com/openshift/apiserver-library-go$' "$work/src/go.mod" &&
    [[ -f $work/src/vendor/modules.txt && -d $work/src/pkg/securitycontextconstraints/sccadmission ]] ||
    die "scc-admission: $tarball is not an apiserver-library-go source tree with vendor/"
  mkdir -p "$work/src/cmd/clearml-scc-admission"
  cp "$SCRIPTS_DIR/../tools/scc-admission/"*.go "$work/src/cmd/clearml-scc-admission/"
  cd "$work/src"
  GOFLAGS=-mod=vendor go build -trimpath -ldflags "-s -w" -o "$out/clearml-scc-admission" ./cmd/clearml-scc-admission
}

# --- CoreDNS (cluster DNS of the local node) ------------------------------------------------------
build_coredns() {
  local out=$1 work=$2
  new_consumer "$work"
  cd "$work"
  go get "github.com/coredns/coredns@$COREDNS_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$out/coredns" github.com/coredns/coredns
}

# --- cert-manager controller -------------------------------------------------------------------
build_cert_manager() {
  local out=$1 work=$2
  new_consumer "$work"
  cd "$work"
  go get "github.com/cert-manager/cert-manager/cmd/controller@$CERT_MANAGER_CONTROLLER_VERSION"
  go build -trimpath -ldflags "-s -w -X github.com/cert-manager/cert-manager/pkg/util.AppVersion=$CERT_MANAGER_CONTROLLER_VERSION" \
    -o "$out/cert-manager-controller" github.com/cert-manager/cert-manager/cmd/controller
}

# --- driver ------------------------------------------------------------------------------------
# detect_external_pulumi: a `pulumi` on PATH that already reports the pinned version is used as is
# (e.g. an upstream install; it normally has its own pulumi-language-python next to it, which the CLI
# prefers for a bundled language). Our own build reached through a bin dir on PATH does not count.
# Our language host is still built and put in the bin dir: the CLI finds plugins on PATH first
# (sdk/go/common/workspace/plugins.go, "ambient" plugins), so with the bin dir first on PATH both
# layouts work, and an external CLI without a language host next to it works too.
detect_external_pulumi() {
  local p v
  p=$(command -v pulumi) || return 0
  p=$(readlink -f "$p")
  [[ $p == "$TOOLCHAIN_DIR"/* ]] && return 0
  v=$(PULUMI_SKIP_UPDATE_CHECK=true "$p" version 2>/dev/null) || return 0
  if [[ $v == "$PULUMI_VERSION" ]]; then
    PULUMI_EXTERNAL=$p
  else
    log "pulumi on PATH ($p) reports '$v', not $PULUMI_VERSION: building the pinned CLI"
  fi
}

# expected_minutes NAME: cold build time measured on a 2-core machine (README, "Build times").
expected_minutes() {
  case $1 in
    etcd) echo 2 ;; kubernetes) echo 7 ;; pulumi-language-python) echo 1 ;; pulumi) echo 5 ;;
    pulumi-resource-kubernetes) echo 13 ;; pulumi-resource-random) echo 6 ;; scc-admission) echo 2 ;;
    coredns) echo 4 ;; cert-manager) echo 4 ;; *) echo "?" ;;
  esac
}

# build_component NAME: reuse the cached binaries or build them into a temporary dir and move that
# into place only when complete, so an interrupted build never looks cached.
build_component() {
  local name=$1 dir start
  if ! component_enabled "$name"; then
    log "$name: SKIPPED, no buildable version pinned (see scripts/versions.env)"
    return
  fi
  dir=$(component_dir "$name")
  if [[ $name == pulumi && -n $PULUMI_EXTERNAL ]]; then
    log "pulumi: using $PULUMI_EXTERNAL from PATH (reports $PULUMI_VERSION), not building"
    return
  fi
  if component_complete "$name"; then
    log "$name: cached ($dir)"
    return
  fi
  local logf=$TOOLCHAIN_DIR/logs/$name.log pid
  mkdir -p "$TOOLCHAIN_DIR/logs"
  log "$name: building (cold: about $(expected_minutes "$name") min on 2 cores), log: $logf"
  start=$(date +%s)
  rm -rf "$dir.partial"
  mkdir -p "$dir.partial" "$WORK_ROOT"
  # The build runs in a subshell (it cd's and exports). Not `( ... ) || die`: bash ignores `set -e`
  # inside a command that is part of an || list, so a failing step would not stop the build.
  ("build_${name//-/_}" "$dir.partial" "$WORK_ROOT/$(basename "$dir")") >"$logf" 2>&1 &
  pid=$!
  # A heartbeat, so that a long build never looks like a hang.
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if (( ($(date +%s) - start) % 60 < 5 )) && kill -0 "$pid" 2>/dev/null; then
      log "$name: still building ($(($(date +%s) - start))s): $(tail -n 1 "$logf" | cut -c1-100)"
    fi
  done
  if ! wait "$pid"; then
    tail -n 30 "$logf" >&2
    die "$name: build failed (log $logf, work dir $WORK_ROOT/$(basename "$dir"))"
  fi
  rm -rf "$dir"
  mv "$dir.partial" "$dir"
  rm -rf "${WORK_ROOT:?}/$(basename "$dir")"
  log "$name: built in $(($(date +%s) - start))s"
  built_any=1
}

# assemble_bin_dir: symlink every binary of every enabled component into bin-<hash of versions.env>.
# With our own CLI, the language host files are first hard-linked next to the pulumi binary: the CLI
# looks for a bundled language host next to its symlink-resolved executable (the only place it looks
# when PULUMI_IGNORE_AMBIENT_PLUGINS=true), and when the host found on PATH resolves to that same
# file it does not warn "using pulumi-language-python from $PATH" (workspace/plugins.go). The host
# in turn finds its exec shim next to its own resolved path, so all three files move together.
assemble_bin_dir() {
  local bin c b dir lang_dir
  bin=$(bin_dir)
  mkdir -p "$bin"
  lang_dir=$(component_dir pulumi-language-python)
  if [[ -z $PULUMI_EXTERNAL ]]; then
    for b in $(component_bins pulumi-language-python); do
      ln -f "$lang_dir/$b" "$(component_dir pulumi)/$b" 2>/dev/null ||
        cp -f "$lang_dir/$b" "$(component_dir pulumi)/$b"
    done
    lang_dir=$(component_dir pulumi)
  fi
  for c in "${ALL_COMPONENTS[@]}"; do
    dir=$(component_dir "$c")
    [[ $c == pulumi-language-python ]] && dir=$lang_dir
    for b in $(component_bins "$c"); do
      if component_enabled "$c"; then
        ln -sfn "$dir/$b" "$bin/$b"
      else
        rm -f "$bin/$b"
      fi
    done
  done
}

all_present() {
  local bin c b
  bin=$(bin_dir)
  for c in "${ALL_COMPONENTS[@]}"; do
    component_enabled "$c" || continue
    for b in $(component_bins "$c"); do
      [[ -x "$bin/$b" ]] || return 1
    done
  done
}

# provider_port BIN: a Pulumi provider started without arguments serves gRPC on a free port and
# prints the port on stdout; that proves the binary starts (embedded schema loads, etc.).
provider_port() {
  local out pid port="" _
  out=$(mktemp)
  "$1" >"$out" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do
    port=$(head -n 1 "$out")
    [[ -n $port ]] && break
    sleep 0.1
  done
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -f "$out"
  [[ $port =~ ^[0-9]+$ ]] || die "verify: $(basename "$1") did not print a port"
  echo "$port"
}

verify() {
  local bin=$1 v b
  v=$("$bin/pulumi" version)
  [[ $v == "$PULUMI_VERSION" ]] || die "verify: pulumi version printed '$v', expected $PULUMI_VERSION"
  log "verify: pulumi version: $v"
  [[ -x "$bin/pulumi-language-python" && -x "$bin/pulumi-language-python-exec" ]] ||
    die "verify: language host or its exec shim missing"
  log "verify: pulumi-language-python: $PULUMI_LANGUAGE_PYTHON_VERSION (+ exec shim from sdk/v3 $PULUMI_VERSION)"
  v=$("$bin/kube-apiserver" --version)
  [[ $v == "Kubernetes $KUBERNETES_VERSION" ]] || die "verify: kube-apiserver --version printed '$v'"
  log "verify: kube-apiserver --version: $v"
  for b in kube-controller-manager kube-scheduler kubelet kube-proxy; do
    v=$("$bin/$b" --version 2>/dev/null)
    [[ $v == "Kubernetes $KUBERNETES_VERSION" ]] || die "verify: $b --version printed '$v'"
  done
  log "verify: kube-controller-manager, kube-scheduler, kubelet, kube-proxy: Kubernetes $KUBERNETES_VERSION"
  v=$("$bin/coredns" -version)
  v=${v%%$'\n'*}
  [[ $v == "CoreDNS-${COREDNS_VERSION#v}" ]] || die "verify: coredns -version printed '$v'"
  log "verify: coredns: $v"
  # Output captured first: `| grep -q` may close the pipe early, and SIGPIPE fails the pipeline.
  v=$("$bin/clearml-scc-admission" -h 2>&1 || true)
  [[ $v == *-tls-cert-file* ]] || die "verify: clearml-scc-admission does not start"
  v=$("$bin/cert-manager-controller" --help 2>&1 || true)
  [[ $v == *--cluster-resource-namespace* ]] || die "verify: cert-manager-controller does not start"
  log "verify: clearml-scc-admission (apiserver-library-go ${APISERVER_LIBRARY_GO_COMMIT:0:12}), cert-manager-controller $CERT_MANAGER_CONTROLLER_VERSION"
  log "verify: kubectl: $("$bin/kubectl" version --client 2>/dev/null | sed -n 1p)"
  v=$("$bin/etcd" --version | sed -n 1p)
  [[ $v == "etcd Version: ${ETCD_VERSION#v}" ]] || die "verify: etcd --version printed '$v'"
  log "verify: etcd --version: $v"
  log "verify: pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION serves on port $(provider_port "$bin/pulumi-resource-kubernetes")"
  if component_enabled pulumi-resource-random; then
    log "verify: pulumi-resource-random $PULUMI_RANDOM_VERSION serves on port $(provider_port "$bin/pulumi-resource-random")"
  else
    log "verify: WARNING pulumi-resource-random is not built (not available from the Go module proxy)"
  fi
}

# fetch_manifests: download the Go modules that scripts/cluster.sh takes manifests from, so that a
# ready toolchain also means a cluster can start without network access.
fetch_manifests() {
  local m
  for m in "github.com/openshift/api@$OPENSHIFT_API_VERSION" \
    "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION" \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" \
    ${OPENSHIFT_KAS_OPERATOR_VERSION:+"github.com/openshift/cluster-kube-apiserver-operator@$OPENSHIFT_KAS_OPERATOR_VERSION"}; do
    go_mod_field "$m" Dir >/dev/null
    log "manifests: $m present"
  done
}

main() {
  local only=() prune=0
  while (($#)); do
    case $1 in
      --prune) prune=1 ;;
      --print-bin-dir)
        all_present || exit 1
        bin_dir
        exit 0
        ;;
      --only) shift; only+=("$@"); break ;;
      -h|--help) script_help "${BASH_SOURCE[0]}"; exit 0 ;;
      *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
  done
  command -v go >/dev/null || die "go is not on PATH (need Go >= $GO_MIN_VERSION)"
  command -v python3 >/dev/null || die "python3 is not on PATH"
  mkdir -p "$TOOLCHAIN_DIR"
  # One build at a time per cache (two would fight over the .partial dirs).
  exec 9>"$TOOLCHAIN_DIR/.lock"
  flock 9
  detect_external_pulumi
  local total_start c comps=("${ALL_COMPONENTS[@]}")
  ((${#only[@]})) && comps=("${only[@]}")
  total_start=$(date +%s)
  log "cache: $CACHE_DIR ($(go version))"
  for c in "${comps[@]}"; do
    build_component "$c"
  done
  if ((${#only[@]})); then
    log "done (--only): $(($(date +%s) - total_start))s"
    exit 0
  fi
  fetch_manifests
  assemble_bin_dir
  verify "$(bin_dir)"
  if ((prune)); then
    # Keep only the binaries and the manifest modules scripts/cluster.sh needs.
    go clean -cache -modcache
    rm -rf "$WORK_ROOT" "$GOTMPDIR"
    fetch_manifests
    log "pruned the Go build and module caches and the work dirs"
  fi
  ((built_any || prune)) && log "cache size: $(du -sh "$CACHE_DIR" | cut -f1) ($CACHE_DIR)"
  log "total: $(($(date +%s) - total_start))s"
  bin_dir
}

main "$@"; exit
