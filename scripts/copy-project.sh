#!/usr/bin/env bash
# Copies the Pulumi project (program, settings, stack files) to <dest>, for runs that must not write
# into the repository: `pulumi stack init` records an `encryptionsalt` in Pulumi.<stack>.yaml.
# A salt already recorded in <dest>'s stack files is kept (the stack's secrets depend on it).
# <dest>/venv links to the repository's virtualenv (or to $2, if given).
#
#   scripts/copy-project.sh <dest> [<virtualenv>]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:?usage: scripts/copy-project.sh <dest> [<virtualenv>]}
venv=${2:-$ROOT/venv}
mkdir -p "$dest"

declare -A salts=()
for stack_file in "$dest"/Pulumi.*.yaml; do
  [[ -f $stack_file ]] || continue
  salt=$(grep '^encryptionsalt:' "$stack_file" || true)
  [[ -n $salt ]] && salts[$(basename "$stack_file")]=$salt
done

for file in Pulumi.yaml __main__.py requirements.txt "$ROOT"/Pulumi.*.yaml; do
  cp "$ROOT/$(basename "$file")" "$dest/"
done
for dir in components settings preflight vocabulary program; do
  rm -rf "${dest:?}/$dir"
  cp -r "$ROOT/$dir" "$dest/$dir"
  find "$dest/$dir" -name __pycache__ -prune -exec rm -rf {} +
done
for name in "${!salts[@]}"; do
  [[ -f $dest/$name ]] && printf '%s\n' "${salts[$name]}" >>"$dest/$name"
done
ln -sfn "$venv" "$dest/venv"
