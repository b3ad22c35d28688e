"""`scripts/rotate.py mongodb` with the real Pulumi CLI (no cluster needed): it reads the generation
from the stack's state (`pulumi stack export`), refuses while the last setup Job has not succeeded, and
sets the next generation with `pulumi config set --path`, which keeps every other MongoDB setting of
the stack file and writes a number; with `--config-file` (the preview's copy) the stack file itself is
not written. Also pins why it does not use `pulumi up --config-path --config ...`: that replaces the
whole top-level key in the file.

The state is a deployment imported with `pulumi stack import`: the MongoDB component and its setup
Job as the program registers them (URNs, parent, the Job's inputs and its status as the provider's
await leaves them)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from settings import PROJECT
from tests.engine.conftest import ROOT
from vocabulary.clearml import MONGODB_SETUP_JOB, ROOT_PASSWORD_GENERATION_ENV

STACK = "rotate-cli"
KEY = f"{PROJECT}:mongodb"


def _deployment(generation: int, succeeded: bool) -> dict:
    stack_urn = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"
    server = f"urn:pulumi:{STACK}::{PROJECT}::clearml:server:ClearmlServer::clearml"
    mongodb = f"urn:pulumi:{STACK}::{PROJECT}::clearml:server:ClearmlServer$clearml:mongodb:MongoDB::clearml-mongodb"
    job = (f"urn:pulumi:{STACK}::{PROJECT}::clearml:server:ClearmlServer$clearml:mongodb:MongoDB$"
           f"kubernetes:batch/v1:Job::{MONGODB_SETUP_JOB}")
    env = [{"name": "RS_MEMBERS", "value": "clearml-mongodb-0.clearml-mongodb-headless.clearml.svc:27017"},
           {"name": ROOT_PASSWORD_GENERATION_ENV, "value": str(generation)}]
    spec = {"template": {"spec": {"containers": [{"name": "setup", "image": "mongo", "env": env}]}}}
    status = {"succeeded": 1} if succeeded else {"failed": 11}
    return {"version": 3, "deployment": {"manifest": {"time": "2026-12-03T00:00:00Z", "magic": "", "version": ""},
                                         "resources": [
        {"urn": stack_urn, "custom": False, "type": "pulumi:pulumi:Stack"},
        {"urn": server, "custom": False, "type": "clearml:server:ClearmlServer", "parent": stack_urn},
        {"urn": mongodb, "custom": False, "type": "clearml:mongodb:MongoDB", "parent": server},
        {"urn": job, "custom": True, "id": f"clearml/{MONGODB_SETUP_JOB}", "type": "kubernetes:batch/v1:Job",
         "parent": mongodb, "inputs": {"spec": spec}, "outputs": {"spec": spec, "status": status}},
    ]}}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from engine_env import prepare

    workdir, env = prepare(tmp_path_factory.mktemp("rotate"), passphrase="rotate-tests")
    # The prod stack file's MongoDB settings (a replica set, its resources and storage), as a user has them.
    document = yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())
    (workdir / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump({"config": {KEY: document["config"][KEY]}}))
    subprocess.run(["pulumi", "stack", "init", STACK, "--non-interactive"], cwd=workdir, env=env, check=True,
                   capture_output=True, text=True, timeout=120)
    return workdir, env


def _import(project, generation: int, succeeded: bool) -> None:
    workdir, env = project
    state = workdir / "state.json"
    state.write_text(json.dumps(_deployment(generation, succeeded)))
    subprocess.run(["pulumi", "stack", "import", "--stack", STACK, "--file", str(state), "--non-interactive"],
                   cwd=workdir, env=env, check=True, capture_output=True, text=True, timeout=120)


def _rotate(project, *extra: str) -> subprocess.CompletedProcess:
    workdir, env = project
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "rotate.py"), "--stack", STACK, *extra, "mongodb"],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=120)


def _mongodb(path) -> dict:
    return yaml.safe_load(path.read_text())["config"][KEY]


def test_rotate_sets_the_next_generation_and_keeps_the_other_settings(project):
    workdir, _ = project
    stack_file = workdir / f"Pulumi.{STACK}.yaml"
    before = _mongodb(stack_file)
    assert "rootPasswordGeneration" not in before and before["replicas"] == 3

    _import(project, generation=0, succeeded=True)
    copy = workdir / "preview-copy.yaml"
    copy.write_text(stack_file.read_text())
    preview = _rotate(project, "--config-file", str(copy))
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout == ""  # nothing to replace: the config carries the rotation
    assert _mongodb(copy) == {**before, "rootPasswordGeneration": 1}  # a number, beside every other setting
    assert _mongodb(stack_file) == before  # the preview's copy only

    done = _rotate(project)
    assert done.returncode == 0, done.stderr
    assert "mongodb.rootPasswordGeneration: 0 -> 1" in done.stderr
    assert _mongodb(stack_file) == {**before, "rootPasswordGeneration": 1}


def test_rotate_refuses_while_the_last_setup_job_has_not_succeeded(project):
    workdir, _ = project
    stack_file = workdir / f"Pulumi.{STACK}.yaml"
    _import(project, generation=1, succeeded=False)
    text = stack_file.read_text()
    refused = _rotate(project)
    assert refused.returncode == 1 and refused.stdout == ""
    assert "the MongoDB setup Job of root-password generation 1 has not succeeded" in refused.stderr
    assert stack_file.read_text() == text


def test_the_cli_config_flag_of_up_would_replace_the_whole_mongodb_key(project):
    """Why rotate.py sets the value with `pulumi config set --path`: the CLI's `--config-path --config`
    saves the parsed map over the stack's top-level keys (pkg/cmd/pulumi/project/newcmd/config.go,
    SaveConfig: maps.Copy), here dropping replicas, resources and storage. `pulumi preview` saves its
    `--config` too; run on a copy of the stack file, and it fails to run the program (no cluster)
    after saving, which is what this reads."""
    workdir, env = project
    copy = workdir / "cli-flag-copy.yaml"
    copy.write_text((workdir / f"Pulumi.{STACK}.yaml").read_text())
    subprocess.run(["pulumi", "preview", "--stack", STACK, "--non-interactive", "--config-file", str(copy),
                    "--config-path", f"--config={KEY}.rootPasswordGeneration=7"],
                   cwd=workdir, env={**env, "KUBECONFIG": str(workdir / "no-such-kubeconfig")},
                   capture_output=True, text=True, timeout=300)
    assert _mongodb(copy) in ({"rootPasswordGeneration": 7}, {"rootPasswordGeneration": "7"})
