"""scripts/pulumi.sh, the runner behind `make up/preview/drift/destroy` and the workflows: it fails
plainly when it can neither find nor build the Pulumi CLI, and its exit status never lies: 3 only when
the drift comparison ran and found a difference, 1 for every failure, whatever status the failing tool
returned (README, "Read a drift report"). Run against a stand-in `pulumi` on PATH (the real-cluster
path: a kubeconfig and the pinned CLI), so every failure path is reachable in a unit test."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT


def test_make_up_without_pulumi_cli_or_go_says_so(tmp_path):
    # A PATH with the shell tools the script needs but no `pulumi` and no `go`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "dirname"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    result = subprocess.run(
        [str(ROOT / "scripts" / "pulumi.sh"), "up", "dev"],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "neither the Pulumi CLI nor Go is on PATH, so nothing was deployed" in result.stderr


PINNED = next(line.split("=", 1)[1] for line in (ROOT / "scripts" / "versions.env").read_text().splitlines()
              if line.startswith("PULUMI_VERSION="))
# A stand-in Pulumi CLI: its behaviour per subcommand comes from STUB_* variables.
STUB = f"""#!/usr/bin/env bash
echo "$*" >>"$STUB_LOG"
case "$1 $2" in
  "version "*) echo {PINNED} ;;
  "cancel "*) [[ $STUB_CANCEL == fail ]] && {{ echo "error: could not remove the lock" >&2; exit 255; }} ;;
  "stack select")
    if [[ $STUB_SELECT == no-login ]]; then
      echo "error: PULUMI_ACCESS_TOKEN must be set for login during non-interactive CLI sessions" >&2; exit 3
    elif [[ $STUB_SELECT == no-stack ]]; then
      echo "error: no stack named 'dev' found" >&2; exit 255
    fi ;;
  "refresh "*)
    case $STUB_REFRESH in
      clean) echo '{{"steps": [], "changeSummary": {{"same": 3}}}}' ;;
      drift) echo '{{"steps": [{{"op": "update", "urn": "urn:pulumi:dev::p::kubernetes:core/v1:ConfigMap::cm",
                               "detailedDiff": {{"data": {{}}}}}}]}}' ;;
      unreachable) echo '{{"diagnostics": [{{"severity": "error", "message": "unreachable cluster"}}]}}'; exit 255 ;;
      exit3) echo "not json"; exit 3 ;;
      hang) touch "$STUB_STARTED"; sleep 60 ;;
    esac ;;
  "config --stack") printf '%s' "$STUB_CONFIG" ;;
  "up "*) [[ $STUB_UP == plugin ]] && {{ echo "error: the kubernetes plugin exited unexpectedly" >&2; exit 255; }} ;;
esac
exit 0
"""


def _run(tmp_path, command: str, popen: bool = False, **stub: str):
    bin_dir = tmp_path / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "pulumi").write_text(STUB)
    (bin_dir / "pulumi").chmod(0o755)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
           "KUBECONFIG": str(kubeconfig), "STUB_STARTED": str(tmp_path / "started"), "STUB_LOG": str(tmp_path / "log"),
           **{f"STUB_{k.upper()}": v for k, v in stub.items() if k != "backend_url"}}
    if "backend_url" in stub:
        env["PULUMI_BACKEND_URL"] = stub["backend_url"]
    args = [str(ROOT / "scripts" / "pulumi.sh"), *command.split()]
    if popen:
        return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("refresh", "code", "says"), [
    ("clean", 0, "no drift"),
    ("drift", 3, "DRIFT in stack dev"),
    ("unreachable", 1, "unreachable cluster"),
    ("exit3", 1, "drift check of dev failed (pulumi exited 3)"),
])
def test_drift_exits_3_only_when_the_comparison_found_a_difference(tmp_path, refresh, code, says):
    result = _run(tmp_path, "drift dev", refresh=refresh)
    assert result.returncode == code, result.stderr
    assert says in result.stdout + result.stderr


@pytest.mark.parametrize(("select", "message"), [
    ("no-login", "PULUMI_ACCESS_TOKEN must be set"),  # the CLI's own status is 3
    ("no-stack", "no stack named 'dev' found"),
])
def test_a_backend_or_stack_failure_is_1_with_the_reason_never_drift(tmp_path, select, message):
    result = _run(tmp_path, "drift dev", select=select, refresh="drift")
    assert result.returncode == 1
    assert message in result.stderr
    assert "error: scripts/pulumi.sh drift dev failed (status " in result.stderr
    assert "pulumi stack select" in result.stderr  # the failing step is named


def test_a_plugin_failure_of_up_is_1(tmp_path):
    result = _run(tmp_path, "up dev", up="plugin")
    assert result.returncode == 1
    assert "the kubernetes plugin exited unexpectedly" in result.stderr
    assert "failed (status 255)" in result.stderr


def test_usage_errors_are_1(tmp_path):
    for command in ("frobnicate dev", "drift"):
        result = _run(tmp_path, command)
        assert result.returncode == 1, command
        assert "Exit status" in result.stderr  # the usage text


def test_an_interrupted_drift_check_is_1(tmp_path):
    process = _run(tmp_path, "drift dev", popen=True, refresh="hang")
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "drift check interrupted: nothing compared" in stderr and "Traceback" not in stderr
    assert "failed (status 130 of: interrupted (SIGINT))" in stderr


def test_recover_removes_the_lock_then_the_pending_creates(tmp_path):
    result = _run(tmp_path, "recover dev")
    assert result.returncode == 0, result.stderr
    calls = [c for c in (tmp_path / "log").read_text().splitlines() if c.split()[0] in ("cancel", "refresh")]
    assert calls == ["cancel --stack dev --yes", "refresh --stack dev --yes --skip-preview --clear-pending-creates"]
    failed = _run(tmp_path, "recover dev", cancel="fail")
    assert failed.returncode == 1 and "could not remove the lock" in failed.stderr


def test_recover_repairs_what_the_kill_cut_off(tmp_path):
    # What CI met: SIGKILL while fileblob rewrote a sidecar in place left `dev.json.attrs` empty, and
    # `pulumi stack select` failed with "failed to load checkpoint: EOF".
    stacks = tmp_path / "backend" / ".pulumi" / "stacks" / "clearml-openshift"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text('{"version": 3, "checkp')  # cut off mid-write
    (stacks / "dev.json.bak").write_text('{"version": 3, "checkpoint": {}}')
    (stacks / "dev.json.attrs").write_text("")
    (stacks / "dev.json.bak.attrs").write_text('{"user.content_type": "application/octet-stream"}')
    result = _run(tmp_path, "recover dev", backend_url=f"file://{tmp_path / 'backend'}")
    assert result.returncode == 0, result.stderr
    assert (stacks / "dev.json").read_text() == '{"version": 3, "checkpoint": {}}'
    assert (stacks / "dev.json.damaged").read_text() == '{"version": 3, "checkp'
    assert not (stacks / "dev.json.attrs").exists() and (stacks / "dev.json.attrs.damaged").read_text() == ""
    assert (stacks / "dev.json.bak.attrs").exists()  # readable: left alone
    assert "dev.json: did not parse, Pulumi's backup put back" in result.stderr
    assert "dev.json.attrs: metadata cut off by the kill" in result.stderr
    calls = [c.split()[0] for c in (tmp_path / "log").read_text().splitlines()]
    assert "cancel" in calls and "refresh" in calls  # then the lock and the pending creates

    again = _run(tmp_path, "recover dev", backend_url=f"file://{tmp_path / 'backend'}")
    assert again.returncode == 0 and "recover: " not in again.stderr  # nothing left to repair


def test_recover_refuses_a_damaged_checkpoint_without_a_backup(tmp_path):
    stacks = tmp_path / "backend" / ".pulumi" / "stacks" / "clearml-openshift"
    stacks.mkdir(parents=True)
    (stacks / "dev.json").write_text("")
    result = _run(tmp_path, "recover dev", backend_url=f"file://{tmp_path / 'backend'}")
    assert result.returncode == 1
    assert "does not parse and has no readable backup (dev.json.bak)" in result.stderr
    log = tmp_path / "log"
    assert not log.exists() or "cancel" not in log.read_text()  # nothing run on a state it cannot read


def test_preflight_reports_each_problem_and_exits_1(tmp_path):
    # `make preflight`: the stack's config through `pulumi config --json`, then the checks; here the
    # kubeconfig names no cluster, so the one problem is that, on stderr.
    config = '{"clearml-openshift:hosts": {"value": "{\\"baseDomain\\": \\"apps.example.com\\"}", "secret": false}}'
    result = _run(tmp_path, "preflight dev", config=config)
    assert result.returncode == 1, result.stderr
    assert "error: preflight found 1 problem(s) on the cluster; nothing was created:" in result.stderr
    assert "cluster: no usable kubeconfig" in result.stderr
    assert "scripts/pulumi.sh preflight dev failed" in result.stderr
    bad = _run(tmp_path, "preflight dev", config='{"clearml-openshift:nope": {"value": "1", "secret": false}}')
    assert bad.returncode == 1 and "clearml-openshift:nope: unknown key" in bad.stderr


def test_the_project_copy_holds_everything_the_program_imports(tmp_path):
    # The local target and the engine tests run the program from scripts/copy-project.sh's copy: every
    # first-party module __main__.py imports (and what those import) must be in it.
    import ast
    copy = tmp_path / "project"
    subprocess.run([str(ROOT / "scripts" / "copy-project.sh"), str(copy)], check=True, capture_output=True, timeout=60)
    tree = ast.parse((ROOT / "__main__.py").read_text())
    names = sorted({alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
                   | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module})
    first_party = [n for n in names if (ROOT / n.split(".")[0]).is_dir() or (ROOT / f"{n.split('.')[0]}.py").is_file()]
    assert {"components.server", "preflight", "settings"} <= set(first_party)
    code = "import importlib, sys\nfor name in sys.argv[1:]: importlib.import_module(name)"
    result = subprocess.run([os.sys.executable, "-c", code, *first_party], cwd=copy, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": ""}, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
