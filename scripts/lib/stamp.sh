# shellcheck shell=bash
# Build stamps for the scripts that build one binary and skip the build when nothing it depends on
# changed (scripts/build-promtool.sh, scripts/build-random-provider.sh). Source it; do not execute it.
# A stamp is a text file beside the binary holding what it was built from (a module version, a hash
# of its sources, the Go version); it is written only after the binary is in place.

# stamp_fresh BIN STAMP WANTED: true when BIN is an executable and STAMP holds exactly WANTED.
stamp_fresh() {
  [[ -x $1 && -f $2 && $(cat "$2") == "$3" ]]
}

# stamp_install BUILT BIN STAMP WANTED: move the freshly built BUILT onto BIN (one rename, so a
# reader never sees half a binary), then record WANTED in STAMP.
stamp_install() {
  chmod 755 "$1"
  mv -f "$1" "$2"
  echo "$4" >"$3"
}
