# shellcheck shell=bash
# Shared helpers for scripts/toolchain.sh and scripts/cluster.sh. Source it; do not execute it.
# Bash only; callers run with `set -euo pipefail`.

SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VERSIONS_FILE="$SCRIPTS_DIR/versions.env"
# shellcheck source=scripts/versions.env
source "$VERSIONS_FILE"

# Everything built or downloaded lives outside the repository, in a per-user cache.
CACHE_DIR=${CLEARML_OPENSHIFT_CACHE:-$HOME/.cache/clearml-openshift}
TOOLCHAIN_DIR="$CACHE_DIR/toolchain"

# The Go module cache and build cache also live in our cache dir, so that `du` of it is the whole
# footprint and deleting it is a full reset. Builds are static (no cgo) and reproducible (-trimpath).
export GOMODCACHE="$CACHE_DIR/go/mod"
export GOCACHE="$CACHE_DIR/go/build"
export GOPATH="$CACHE_DIR/go/path"
# The compiler's scratch files too (default: /tmp).
export GOTMPDIR="$CACHE_DIR/go/tmp"
mkdir -p "$GOTMPDIR"
export CGO_ENABLED=0
# Never let the go command download another toolchain: only the installed Go is used.
export GOTOOLCHAIN=local
# Our consumer modules have no go.sum in the repo; let `go get`/`go build` record sums as needed.
export GOFLAGS=-mod=mod
# GOPROXY/GOSUMDB are left to the caller's Go configuration (default: proxy.golang.org, sum.golang.org).

# Short hash of the pins (the KEY=value lines of versions.env, comments ignored): names the assembled
# bin dir, so a pin change never reuses a stale bin dir.
versions_hash() {
  grep -E '^[A-Z_]+=' "$VERSIONS_FILE" | sha256sum | cut -c1-12
}

bin_dir() {
  echo "$TOOLCHAIN_DIR/bin-$(versions_hash)"
}

# Progress lines go to stderr so that stdout stays machine-readable (the bin dir path).
log() {
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# go_mod_field MODULE@VERSION FIELD: download a module through the proxy (a no-op when it is
# already in GOMODCACHE) and print one field of `go mod download -json` (Dir, GoMod, Zip, ...).
go_mod_field() {
  local json
  mkdir -p "$TOOLCHAIN_DIR"
  json=$(cd "$TOOLCHAIN_DIR" && go mod download -json "$1") || die "go mod download $1 failed: $json"
  printf '%s' "$json" | python3 -c 'import json,sys
d=json.load(sys.stdin)
if d.get("Error"): sys.exit("go mod download: " + d["Error"])
print(d.get(sys.argv[1], ""))' "$2"
}

# source_tarball SOURCE WORKDIR VAR: the local path of a source tarball that SOURCE gives as a URL
# (downloaded into WORKDIR) or as a path; dies naming VAR, the variable that sets it, when it cannot
# be had (README, "The engine, built here": sources no registry serves).
source_tarball() {
  local source=$1 work=$2 var=$3 tarball
  case $source in
    http://*|https://*)
      tarball=$work/source.tar.gz
      curl -fsSL --retry 3 -o "$tarball" "$source" ||
        die "cannot download $source; set $var to a local copy of that tarball" ;;
    *) tarball=$source ;;
  esac
  [[ -f $tarball ]] || die "source tarball $tarball not found (set $var)"
  echo "$tarball"
}

# script_help FILE: the leading comment block of a script (after the shebang), as its --help text.
script_help() {
  awk 'NR == 1 { next } /^# shellcheck/ || !/^#/ { exit } { sub(/^# ?/, ""); print }' "$1"
}
