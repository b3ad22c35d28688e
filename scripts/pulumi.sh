#!/usr/bin/env bash
# Runs a Pulumi command for a stack of this project, on the right target, with the right tools.
#
#   scripts/pulumi.sh <up|preview|preflight|refresh|drift|destroy|output|stack|recover> <stack> [extra pulumi args]
#   scripts/pulumi.sh <backup|backups|restore> <stack> [--from <ID|latest> --yes]
#   scripts/pulumi.sh rotate <stack> <redis|elasticsearch|mongodb|clearml-keys|session-secret|token-secret|admin-password> [--preview]
#
# `preflight` checks the cluster's prerequisites for the stack and creates nothing (`python -m
# preflight`); `up` and `preview` run the same checks inside the program before any resource.
# `up` and `preview` always run the CrossGuard policy pack in policy/ (mandatory rules); pass
# `--policy-pack-config <file>` to acknowledge an SCC grant (policy/README.md).
#
# Tools: against a real cluster, a Pulumi CLI at the pinned version on PATH is used as is (plugins
# download as usual). Otherwise the CLI, its Python language host and the kubernetes provider come
# from scripts/toolchain.sh (built from the Go module proxy, cached) and pulumi-resource-random from
# tools/random-provider (see its README).
#
# Target:
#   * a kubeconfig given (KUBECONFIG set, or ~/.kube/config present): that cluster, with the backend
#     you are logged in to (`pulumi login`, or PULUMI_BACKEND_URL) and full await;
#   * none: the local single-node cluster of scripts/cluster.sh (pods really run there), started if
#     needed, with a file backend under $CLEARML_OPENSHIFT_LOCAL (default
#     ~/.cache/clearml-openshift/local). The stack runs as the local cluster can run it
#     (local/overlay.yaml: the stand-in images, MongoDB on a stand-in), with full await; `up` then
#     forwards the web app, API and file server to loopback and prints how to log in
#     (scripts/local_stack.py). The repository's stack files are never written.
# `drift` is scripts/drift.py: it compares the cluster with the last deployment.
# `backup` runs a backup set now, `backups` lists the sets, `restore --from <ID|latest> --yes` restores one
# (scripts/backup.py: the writers are stopped, the stores restored, the writers started again).
# `rotate` generates a new value of one credential and rolls what reads it, Redis before its clients
# (`pulumi up --replace` of its generators, scripts/rotate.py; for mongodb the next
# `mongodb.rootPasswordGeneration`, which `up` saves to the stack file); `--preview` shows that change
# only, and never writes the stack file (the preview reads a copy).
# `recover` after a run killed hard (SIGKILL, OOM, a lost CI runner), which leaves its lock and
# pending operations in the state (and, on a file backend, maybe a metadata file cut off mid-write:
# scripts/repair_backend.py sets it aside): it removes the lock and the pending creates and refreshes the state from the
# cluster; then `up` finishes the job (objects the killed run created are adopted).
#
# Exit status (workflows read it): 0 done (for drift: no drift); 3 only from `drift` when the
# comparison ran and found a difference; 1 for every failure, with the reason on stderr (usage, tools
# missing, backend login, stack missing, cluster unreachable, a Pulumi or plugin failure, an
# interrupted run), whatever status the failing tool itself returned.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
command=${1:-} stack=${2:-}

# The exit-status contract above: a failing step's own status (the Pulumi CLI exits 3 when it cannot
# log in, for example) must never read as "drift".
FAILED_STEP="" DRIFT_COMPARED=0
finish() {
  local status=$?
  trap - EXIT
  if [[ $status == 3 && $command == drift && $DRIFT_COMPARED == 1 ]] || [[ $status == 0 ]]; then
    exit "$status"
  fi
  echo "error: scripts/pulumi.sh $command $stack failed (status $status${FAILED_STEP:+ of: $FAILED_STEP})" >&2
  exit 1
}
trap finish EXIT
trap 'FAILED_STEP=$BASH_COMMAND' ERR
trap 'FAILED_STEP="interrupted (SIGINT)"; exit 130' INT
trap 'FAILED_STEP="interrupted (SIGTERM)"; exit 143' TERM

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}" >&2; FAILED_STEP="usage"; exit 2; }
[[ $# -ge 2 ]] || usage
case $command in up|preview|preflight|refresh|drift|destroy|output|stack|recover|backup|backups|restore|rotate) ;; *) usage ;; esac
shift 2

if ! command -v go >/dev/null 2>&1 && ! command -v pulumi >/dev/null 2>&1; then
  cat >&2 <<'MSG'
error: neither the Pulumi CLI nor Go is on PATH, so nothing was deployed.
scripts/toolchain.sh builds the Pulumi CLI from the Go module proxy and needs Go 1.26 or later;
or install the Pulumi CLI 3.259.0 (https://www.pulumi.com/docs/iac/download-install/) and run again.
MSG
  FAILED_STEP="no Pulumi CLI and no Go"
  exit 127
fi

# --- tools ---------------------------------------------------------------------------------------
# A real cluster with the pinned CLI already on PATH (a CI runner, a workstation) needs nothing
# built: Pulumi fetches its plugins as usual. Otherwise (the local target, or no CLI) the toolchain
# is built or reused from the Go module proxy, with the stand-in random plugin and no downloads.
pinned=$(sed -n 's/^PULUMI_VERSION=//p' scripts/versions.env)
if [[ (-n ${KUBECONFIG:-} || -f $HOME/.kube/config) ]] && command -v pulumi >/dev/null 2>&1 &&
  [[ $(pulumi version 2>/dev/null) == "$pinned" ]]; then
  echo "tools: the Pulumi CLI $pinned on PATH" >&2
else
  BIN=$(scripts/toolchain.sh | tail -1)
  RANDOM_BIN=$(dirname "$(scripts/build-random-provider.sh | tail -1)")
  export PATH="$BIN:$RANDOM_BIN:$PATH"
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  # This toolchain's Python language host (sdk/v3 3.68) cannot start a policy pack by itself.
  export PULUMI_PYTHON_CMD="$ROOT/policy/host-python"
fi
export PULUMI_SKIP_UPDATE_CHECK=true

# --- target --------------------------------------------------------------------------------------
if [[ -n ${KUBECONFIG:-} || -f $HOME/.kube/config ]]; then
  echo "target: the cluster of ${KUBECONFIG:-$HOME/.kube/config}" >&2
else
  LOCAL=${CLEARML_OPENSHIFT_LOCAL:-$HOME/.cache/clearml-openshift/local}
  if ! scripts/cluster.sh status "$LOCAL/cluster" >/dev/null 2>&1; then
    # Every start is a fresh cluster (empty etcd); state about an earlier one would be wrong.
    rm -rf "$LOCAL/cluster" "$LOCAL/backend" "$LOCAL/project"
    scripts/cluster.sh start "$LOCAL/cluster" >&2
  fi
  mkdir -p "$LOCAL/backend"
  export KUBECONFIG="$LOCAL/cluster/kubeconfig"
  export PULUMI_BACKEND_URL="file://$LOCAL/backend"
  if [[ -z ${PULUMI_CONFIG_PASSPHRASE:-} && -z ${PULUMI_CONFIG_PASSPHRASE_FILE:-} ]]; then
    [[ -f $LOCAL/passphrase ]] || (umask 077 && head -c 24 /dev/urandom | base64 >"$LOCAL/passphrase")
    export PULUMI_CONFIG_PASSPHRASE_FILE="$LOCAL/passphrase"
  fi
  export CLEARML_OPENSHIFT_CLUSTER="$LOCAL/cluster"
  LOCAL_TARGET=1
  echo "target: the local cluster in $LOCAL/cluster (local/overlay.yaml applies)" >&2
fi

# The program runs in ./venv (Pulumi.yaml); make sure it exists with the pinned packages. The
# Python language host the Go module proxy can serve (scripts/versions.env) ignores
# `runtime.options.virtualenv`, so the virtualenv also goes first on PATH.
make --no-print-directory venv >&2
export VIRTUAL_ENV="$ROOT/venv" PATH="$ROOT/venv/bin:$PATH"
if [[ ${LOCAL_TARGET:-} == 1 ]]; then
  # Run from a copy, so neither the local overlay nor the stack's encryptionsalt lands in the
  # repository's stack file.
  scripts/copy-project.sh "$LOCAL/project"
  python3 scripts/local_stack.py config --stack "$stack" --project "$LOCAL/project"
  # What `up` needs in place first (the namespace, the MongoDB stand-in and its Secret) is also what
  # preview's and preflight's checks look for.
  [[ $command == up || $command == preview || $command == preflight || $command == rotate ]] &&
    python3 scripts/local_stack.py prepare --stack "$stack" --project "$LOCAL/project"
  [[ $command == destroy ]] && scripts/cluster.sh unforward "$LOCAL/cluster"
  cd "$LOCAL/project"
fi

# A run killed hard can leave the file backend's metadata sidecars cut off, and then every command
# fails before reading any state ("failed to load checkpoint: EOF"); `recover` repairs them first.
if [[ $command == recover && ${PULUMI_BACKEND_URL:-} == file://* ]]; then
  python3 "$ROOT/scripts/repair_backend.py" "${PULUMI_BACKEND_URL#file://}" "$stack"
fi
pulumi stack select --create "$stack" --non-interactive >/dev/null
status=0 deployed=0  # deployed: an `up` ran (the local target then prints how to reach it)
case "$command" in
  up)
    deployed=1
    started=$SECONDS
    pulumi up --stack "$stack" --yes --skip-preview --policy-pack "$ROOT/policy" "$@" || status=$?
    echo "pulumi up: exit $status after $((SECONDS - started))s" >&2 ;;
  preview) pulumi preview --stack "$stack" --diff --policy-pack "$ROOT/policy" "$@" || status=$? ;;
  preflight) python3 -m preflight --stack "$stack" "$@" || status=$? ;;
  refresh) pulumi refresh --stack "$stack" --yes "$@" || status=$? ;;
  drift)
    # drift.py exits 3 only after a comparison that found a difference (1 when it could not compare).
    python3 "$ROOT/scripts/drift.py" --stack "$stack" "$@" || status=$?
    [[ $status == 3 ]] && DRIFT_COMPARED=1 ;;
  destroy) pulumi destroy --stack "$stack" --yes "$@" || status=$? ;;
  output) pulumi stack output --stack "$stack" "$@" || status=$? ;;
  stack) pulumi stack --stack "$stack" "$@" || status=$? ;;
  backup) python3 "$ROOT/scripts/backup.py" --stack "$stack" now "$@" || status=$? ;;
  backups) python3 "$ROOT/scripts/backup.py" --stack "$stack" list "$@" || status=$? ;;
  restore) python3 "$ROOT/scripts/backup.py" --stack "$stack" restore "$@" || status=$? ;;
  rotate)
    [[ $# -ge 1 ]] || usage
    credential=$1
    shift
    FAILED_STEP="scripts/rotate.py $credential"
    preview_config=()
    if [[ ${1:-} == --preview ]]; then
      # A preview never writes the stack file: a rotation that sets config (mongodb) sets it in a copy.
      # (Pulumi reads a config file by its extension; a directory of our own keeps mktemp portable.)
      preview_dir=$(mktemp -d)
      preview_config=(--config-file "$preview_dir/Pulumi.$stack.yaml")
      if [[ -f Pulumi.$stack.yaml ]]; then cp "Pulumi.$stack.yaml" "${preview_config[1]}"; else : >"${preview_config[1]}"; fi
    fi
    # --replace=<URN> lines, or none when rotate.py set the config instead; it says why it failed.
    lines=$(python3 "$ROOT/scripts/rotate.py" --stack "$stack" "${preview_config[@]}" "$credential")
    mapfile -t replace < <(grep -v '^$' <<<"$lines" || true)
    FAILED_STEP=""
    if [[ ${1:-} == --preview ]]; then
      shift
      pulumi preview --stack "$stack" --diff --policy-pack "$ROOT/policy" "${preview_config[@]}" \
        "${replace[@]}" "$@" || status=$?
      rm -rf "$preview_dir"
    else
      started=$SECONDS
      pulumi up --stack "$stack" --yes --skip-preview --policy-pack "$ROOT/policy" "${replace[@]}" "$@" || status=$?
      echo "rotate $credential: pulumi up exit $status after $((SECONDS - started))s" >&2
      deployed=1
    fi ;;
  recover)
    { pulumi cancel --stack "$stack" --yes &&
      pulumi refresh --stack "$stack" --yes --skip-preview --clear-pending-creates "$@"; } || status=$? ;;
  *) usage ;;
esac
if [[ ${LOCAL_TARGET:-} == 1 && $deployed == 1 && $status == 0 ]]; then
  python3 "$ROOT/scripts/local_stack.py" access --stack "$stack" --project "$LOCAL/project" || status=$?
fi
exit $status
