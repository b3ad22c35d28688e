#!/usr/bin/env bash
# Runs `pulumi <up|preview> --stack <stack>` with this project's virtualenv.
# Needs the Pulumi CLI on PATH and a logged-in backend (`pulumi login`, or PULUMI_BACKEND_URL).
set -euo pipefail
cd "$(dirname "$0")/.."
command=${1:?usage: scripts/pulumi.sh up|preview <stack>}
stack=${2:?usage: scripts/pulumi.sh up|preview <stack>}

if ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: the Pulumi CLI is not on PATH, so nothing was deployed.
Install it (https://www.pulumi.com/docs/iac/download-install/) and log in to a backend
(`pulumi login`, or `pulumi login file://~/.pulumi-state` for a local one), then run `make up` again.
MSG
  exit 127
fi
pulumi stack select --create "$stack" >/dev/null
case "$command" in
  up) exec pulumi up --stack "$stack" ;;
  preview) exec pulumi preview --stack "$stack" --diff ;;
  *) echo "unknown command: $command" >&2; exit 2 ;;
esac
