#!/usr/bin/env bash
# Lint the GitHub Actions workflows (.github/workflows/*.yml) with actionlint.
#
# Usage: scripts/lint-workflows.sh [--print-bin] [actionlint args...]
#   --print-bin   build (or reuse) actionlint and print its path, lint nothing
#
# actionlint is built from the Go module proxy (module github.com/rhysd/actionlint, package
# cmd/actionlint, version ACTIONLINT_VERSION below) into
# ${CLEARML_OPENSHIFT_CACHE:-~/.cache/clearml-openshift}/actionlint/<version>/, the cache root of
# scripts/toolchain.sh, and reused while that binary exists. Needs Go 1.25 or later for a build.
# actionlint also runs shellcheck on every `run:` block when `shellcheck` is on PATH; this script
# says on stderr whether it did. Exit status: actionlint's (0 clean, 1 findings, >1 failure).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# v1.7.12: the newest version the Go module proxy serves (go list -m -versions github.com/rhysd/actionlint).
ACTIONLINT_VERSION=v1.7.12
CACHE_DIR=${CLEARML_OPENSHIFT_CACHE:-$HOME/.cache/clearml-openshift}
BIN_DIR="$CACHE_DIR/actionlint/$ACTIONLINT_VERSION"
BIN="$BIN_DIR/actionlint"

log() { printf 'lint-workflows: %s\n' "$*" >&2; }
die() { printf 'error: lint-workflows: %s\n' "$*" >&2; exit 2; }

build() {
  command -v go >/dev/null 2>&1 || die "actionlint $ACTIONLINT_VERSION is not built and go is not on PATH"
  local tmp start=$SECONDS
  log "building actionlint $ACTIONLINT_VERSION into $BIN_DIR ($(go env GOVERSION))"
  mkdir -p "$BIN_DIR"
  tmp=$(mktemp -d "$BIN_DIR/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the trap must remove this very directory
  trap "rm -rf '$tmp'" EXIT
  # Same Go caches as scripts/toolchain.sh, so the cache root holds the whole footprint.
  GOMODCACHE="$CACHE_DIR/go/mod" GOCACHE="$CACHE_DIR/go/build" GOPATH="$CACHE_DIR/go/path" \
    GOBIN="$tmp" CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod \
    go install -trimpath -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION"
  # Move into place only when complete, so an interrupted build never looks cached.
  mv -f "$tmp/actionlint" "$BIN"
  rm -rf "$tmp"
  trap - EXIT
  log "built in $((SECONDS - start))s"
}

[[ -x $BIN ]] || build

if [[ ${1:-} == --print-bin ]]; then
  echo "$BIN"
  exit 0
fi

cd "$ROOT"
shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
((${#workflows[@]})) || die "no workflow files in .github/workflows"

if command -v shellcheck >/dev/null 2>&1; then
  log "actionlint $ACTIONLINT_VERSION with $(shellcheck --version | sed -n 's/^version: /shellcheck /p') on run: blocks"
else
  log "actionlint $ACTIONLINT_VERSION; shellcheck is not on PATH, so run: blocks are not checked"
fi
exec "$BIN" -no-color "$@" "${workflows[@]}"
