#!/usr/bin/env bash
# Build Prometheus' promtool (package github.com/prometheus/prometheus/cmd/promtool) from the Go module
# proxy into <output-dir>/promtool, for tests/test_monitoring.py (`promtool check rules` and
# `promtool test rules` on the PrometheusRule the program renders).
#
# Usage: scripts/build-promtool.sh [<output-dir>]
#   default <output-dir>: build/promtool of this repository (git-ignored)
#
# The module version is $PROMETHEUS_MODULE_VERSION if set, else v0.316.0: the newest release the proxy
# reachable here serves (Prometheus tags v3.Y.Z are published as Go module versions v0.3YY.Z, so this
# is Prometheus 3.16.0). Skips the build when <output-dir>/promtool exists and a stamp file next to it
# names the same module version and Go version. About 8 minutes on 2 cores with an empty module cache.
# Go's cache locations (GOMODCACHE, GOCACHE) are taken from the environment; progress goes to stderr,
# the binary's path to stdout.
set -euo pipefail
# shellcheck source=lib/stamp.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/stamp.sh"

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out_dir=${1:-$repo/build/promtool}
module=github.com/prometheus/prometheus
version=${PROMETHEUS_MODULE_VERSION:-v0.316.0}
start=$SECONDS

log() { printf '[%s] build-promtool: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: build-promtool: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH (Prometheus $version needs the Go its go.mod names)"
[[ $version =~ ^v0\.3([0-9][0-9])\.([0-9]+)$ ]] || die "$version is not a Prometheus 3.x module version (v0.3YY.Z)"
prometheus_version="3.$((10#${BASH_REMATCH[1]})).${BASH_REMATCH[2]}"

bin="$out_dir/promtool"
stamp="$bin.version"
wanted="$module@$version $(go env GOVERSION)"
if stamp_fresh "$bin" "$stamp" "$wanted"; then
  log "up to date (Prometheus $prometheus_version), skipped in $((SECONDS - start))s"
  echo "$bin"
  exit 0
fi

mkdir -p "$out_dir"
log "building promtool of Prometheus $prometheus_version ($module@$version) with $(go env GOVERSION) ..."
gobin=$(mktemp -d "$out_dir/.gobin.XXXXXX")
trap 'rm -rf "$gobin"' EXIT
# `go install pkg@version` builds in module mode from the proxy, checked against the checksum
# database, with the module's own go.mod and no go.mod of ours; GOFLAGS is set here so that a
# -mod=vendor from the caller's environment cannot get in the way.
(cd "$gobin" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod GOBIN="$gobin" \
  go install -trimpath -ldflags "-s -w -X github.com/prometheus/common/version.Version=$prometheus_version" \
  "$module/cmd/promtool@$version") || die "go install $module/cmd/promtool@$version failed"
stamp_install "$gobin/promtool" "$bin" "$stamp" "$wanted"
log "built $bin in $((SECONDS - start))s"
echo "$bin"
