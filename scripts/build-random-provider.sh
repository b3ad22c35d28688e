#!/usr/bin/env bash
# Build the pulumi-resource-random stand-in (tools/random-provider/, see its README) into
# <output-dir>/pulumi-resource-random.
#
# Usage: scripts/build-random-provider.sh [<output-dir>]
#   default <output-dir>: ${CLEARML_OPENSHIFT_CACHE:-~/.cache/clearml-openshift}/toolchain/random-provider
#
# Skips the build when <output-dir>/pulumi-resource-random exists and was built from the same
# sources: a stamp file next to it holds a hash of go.mod, go.sum, the non-test .go files, the
# Go version and the plugin version. Progress and timing go to stderr; the binary's path to stdout.
#
# The plugin version (GetPluginInfo) is $PULUMI_RANDOM_VERSION if set, else PULUMI_RANDOM_VERSION
# from scripts/versions.env, else 4.21.4; it should equal the pulumi-random pin in requirements.txt.
# Dependencies come from the Go module proxy, checked against tools/random-provider/go.sum
# (-mod=readonly: the build never edits go.mod or go.sum). Go's cache locations (GOMODCACHE,
# GOCACHE) are taken from the environment.
set -euo pipefail
# shellcheck source=lib/stamp.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/stamp.sh"

out_dir=${1:-${CLEARML_OPENSHIFT_CACHE:-$HOME/.cache/clearml-openshift}/toolchain/random-provider}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src="$repo/tools/random-provider"
start=$SECONDS

log() { printf '[%s] build-random-provider: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: build-random-provider: %s\n' "$*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "go is not on PATH (Go 1.26 or newer is needed)"
[[ -f "$src/go.mod" ]] || die "no sources at $src"

version=${PULUMI_RANDOM_VERSION:-}
if [[ -z $version && -f "$repo/scripts/versions.env" ]]; then
  version=$(sed -n 's/^PULUMI_RANDOM_VERSION=\([0-9][0-9.]*\)$/\1/p' "$repo/scripts/versions.env" | tail -1)
fi
version=${version:-4.21.4}

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly

# Hash of everything the binary depends on.
sources_hash=$(
  cd "$src"
  {
    go version
    echo "version=$version"
    find . -maxdepth 1 -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) ! -name '*_test.go' -print |
      LC_ALL=C sort | xargs sha256sum
  } | sha256sum | cut -c1-16
)

bin="$out_dir/pulumi-resource-random"
stamp="$bin.sources"
if stamp_fresh "$bin" "$stamp" "$sources_hash"; then
  log "up to date ($version, sources $sources_hash), skipped in $((SECONDS - start))s"
  echo "$bin"
  exit 0
fi

mkdir -p "$out_dir"
log "building $version (sources $sources_hash) with $(go env GOVERSION) ..."
tmp=$(mktemp "$out_dir/.pulumi-resource-random.XXXXXX")
trap 'rm -f "$tmp"' EXIT
(cd "$src" && go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$version" -o "$tmp" .) ||
  die "go build failed"
stamp_install "$tmp" "$bin" "$stamp" "$sources_hash"
log "built $bin in $((SECONDS - start))s"
echo "$bin"
