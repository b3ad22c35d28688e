"""The GitHub Actions workflows (.github/workflows/): actionlint finds nothing, the structure that
matters holds (which events, which stacks, ordering, permissions, pinning, secrets handling), and the
github-script steps that keep one PR comment and one drift issue per stack behave, run under node
with a fake GitHub API."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, STACKS

WORKFLOWS = ROOT / ".github" / "workflows"
LINT = ROOT / "scripts" / "lint-workflows.sh"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    # PyYAML (YAML 1.1) reads the key `on` as the boolean True.
    on = workflow.get("on", workflow.get(True))
    return {on: None} if isinstance(on, str) else {k: None for k in on} if isinstance(on, list) else on


def all_workflows() -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(WORKFLOWS.glob("*.yml"))}


def steps_of(job: dict) -> list[dict]:
    return job.get("steps") or []


def all_jobs():
    for name, workflow in all_workflows().items():
        for job_id, job in workflow["jobs"].items():
            yield name, job_id, job


def is_pulumi_step(step: dict) -> bool:
    return (step.get("uses", "").startswith("pulumi/actions@")
            or bool(re.search(r"(^|[\s;&|(])(pulumi\s|scripts/pulumi\.sh\s|make\s+(--\S+\s+)*(up|preview|drift|destroy)\b)",
                              step.get("run", ""))))


def installs_python_deps(step: dict) -> bool:
    run = step.get("run", "")
    return "make venv" in run or bool(re.search(r"venv/bin/pip install|pip install -r", run))


def script_step(job: dict) -> dict:
    [step] = [s for s in steps_of(job) if s.get("uses", "").startswith("actions/github-script@")]
    return step


def pulumi_pin() -> str:
    return re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)


# ---- actionlint ----------------------------------------------------------------------------------

def test_actionlint_finds_nothing():
    result = subprocess.run([str(LINT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"actionlint findings:\n{result.stdout}\n{result.stderr}"


def test_lint_script_fails_on_findings(tmp_path):
    # The same script in a throwaway repository whose one workflow has an undefined step output and
    # an unknown action input; the actionlint binary is the cached one.
    (tmp_path / "scripts").mkdir()
    shutil.copy(LINT, tmp_path / "scripts" / LINT.name)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "bad.yml").write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v6\n        with: {no-such-input: 1}\n"
        "      - run: echo ${{ steps.nope.outputs.x }}\n")
    result = subprocess.run([str(tmp_path / "scripts" / LINT.name)], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "CLEARML_OPENSHIFT_CACHE": os.environ.get(
                                "CLEARML_OPENSHIFT_CACHE", str(Path.home() / ".cache" / "clearml-openshift"))})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no-such-input" in result.stdout and "steps.nope" in result.stdout


# ---- what each workflow does ---------------------------------------------------------------------

# The environments the workflows preview, deploy and check for drift: a subset of the repository's
# stacks (the example stacks, gpu and external-services, are not deployed by this repository's CI).
ENVIRONMENTS = load("preview.yml")["jobs"]["preview"]["strategy"]["matrix"]["stack"]


def test_environments_are_repository_stacks():
    assert {"dev", "prod"} <= set(ENVIRONMENTS) <= set(STACKS)


def test_preview_runs_on_pull_requests_for_every_stack_and_comments():
    workflow = load("preview.yml")
    assert "pull_request" in triggers(workflow)
    assert workflow["permissions"] == {"contents": "read", "pull-requests": "write"}
    job = workflow["jobs"]["preview"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["stack"] == ENVIRONMENTS
    group = job["concurrency"]["group"]
    assert "github.event.pull_request.number" in group and "matrix.stack" in group
    [preview] = [s for s in steps_of(job) if s.get("id") == "preview"]
    assert preview["run"].lstrip().startswith("status=0\npulumi preview ")
    assert '--stack "$STACK"' in preview["run"] and "--policy-pack policy" in preview["run"]
    comment = script_step(job)
    assert "<!-- clearml-openshift:preview:${stack} -->" in comment["with"]["script"]
    assert "!cancelled()" in comment["if"]  # a failed preview is commented too
    assert steps_of(job).index(comment) > steps_of(job).index(preview)


def test_deploy_runs_on_push_to_main_dev_then_protected_prod():
    workflow = load("deploy.yml")
    assert triggers(workflow)["push"] == {"branches": ["main"]}
    assert workflow["permissions"] == {"contents": "read"}
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert "needs" not in dev and prod["needs"] in ("dev", ["dev"])
    assert prod["environment"]["name"] == "prod" and "steps.outputs.outputs.app-url" in prod["environment"]["url"]
    assert dev["environment"]["name"] == "dev"
    assert "refs/heads/main" in dev["if"]  # a manual run from another branch deploys nothing
    for stack, job in (("dev", dev), ("prod", prod)):
        assert job["env"]["STACK"] == stack
        assert job["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
        [up] = [s for s in steps_of(job) if "pulumi up" in s.get("run", "")]
        assert '--stack "$STACK"' in up["run"] and "--yes" in up["run"] and "--policy-pack policy" in up["run"]
        assert any(s.get("id") == "outputs" for s in steps_of(job)[steps_of(job).index(up):])


def test_drift_is_scheduled_per_stack_and_opens_issues():
    workflow = load("drift.yml")
    on = triggers(workflow)
    assert on["schedule"][0]["cron"] and "workflow_dispatch" in on
    assert workflow["permissions"] == {"contents": "read", "issues": "write"}
    job = workflow["jobs"]["drift"]
    assert job["strategy"]["fail-fast"] is False
    assert job["strategy"]["matrix"]["stack"] == ENVIRONMENTS
    assert job["concurrency"]["cancel-in-progress"] is False and "matrix.stack" in job["concurrency"]["group"]
    [check] = [s for s in steps_of(job) if "scripts/pulumi.sh drift" in s.get("run", "")]
    assert 'drift "$STACK"' in check["run"]
    assert not any("setup-go" in s.get("uses", "") for s in steps_of(job)), "a pinned CLI needs no toolchain build"
    issue = script_step(job)
    assert "drift" in issue["if"] and "clean" in issue["if"]
    fail = steps_of(job)[-1]
    assert "exit 1" in fail["run"] and "!= 'clean'" in fail["if"]


@pytest.mark.parametrize(("code", "result"), [(0, "clean"), (3, "drift"), (1, "error"), (2, "error"), (127, "error")])
def test_drift_step_classifies_the_exit_status(tmp_path, code, result):
    # The step's script, run against a stand-in scripts/pulumi.sh that exits with `code`.
    [check] = [s for s in steps_of(load("drift.yml")["jobs"]["drift"]) if s.get("id") == "drift"]
    (tmp_path / "scripts").mkdir()
    stub = tmp_path / "scripts" / "pulumi.sh"
    stub.write_text(f"#!/bin/sh\necho report for $2\necho diagnostics >&2\nexit {code}\n")
    stub.chmod(0o755)
    output = tmp_path / "output"
    env = {**os.environ, "STACK": "dev", "RUNNER_TEMP": str(tmp_path), "GITHUB_OUTPUT": str(output)}
    run = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", check["run"]], cwd=tmp_path,
                         env=env, check=True, capture_output=True, text=True, timeout=30)
    assert output.read_text() == f"result={result}\n"
    assert "report for dev" in run.stdout and (tmp_path / "drift.out").read_text() == "report for dev\n"


# ---- what every workflow does --------------------------------------------------------------------

def test_every_action_is_pinned_to_a_version_or_commit():
    for name, job_id, job in all_jobs():
        for step in steps_of(job):
            uses = step.get("uses")
            if uses is None or uses.startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@(v\d+(\.\d+){0,2}|[0-9a-f]{40})", uses), (name, job_id, uses)


def test_pulumi_cli_is_the_pinned_version():
    versions = [s["with"]["pulumi-version"] for _, _, job in all_jobs() for s in steps_of(job)
                if s.get("uses", "").startswith("pulumi/actions@")]
    assert versions and set(versions) == {pulumi_pin()}


def test_python_dependencies_are_installed_before_any_pulumi_step():
    for name, job_id, job in all_jobs():
        steps = steps_of(job)
        pulumi_steps = [i for i, s in enumerate(steps) if is_pulumi_step(s)]
        install = [i for i, s in enumerate(steps) if installs_python_deps(s)]
        assert pulumi_steps, (name, job_id)
        assert install and install[0] < pulumi_steps[0], (name, job_id)
        setup_python = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("actions/setup-python@")]
        assert setup_python and setup_python[0] < install[0], (name, job_id)


def test_policy_pack_that_the_workflows_name_exists():
    assert (ROOT / "policy" / "PulumiPolicy.yaml").is_file()


def test_permissions_are_declared_and_minimal():
    allowed = {"contents": {"read"}, "pull-requests": {"write"}, "issues": {"write"}}
    for name, workflow in all_workflows().items():
        assert isinstance(workflow.get("permissions"), dict), name
        for scope, level in workflow["permissions"].items():
            assert level in allowed.get(scope, set()), (name, scope, level)
        for job_id, job in workflow["jobs"].items():
            assert "permissions" not in job, (name, job_id)


def test_secrets_reach_scripts_only_through_env():
    # No `${{ secrets.* }}` (or vars) spliced into a script, where it could be echoed or injected.
    for name, job_id, job in all_jobs():
        for step in steps_of(job):
            for text in (step.get("run", ""), (step.get("with") or {}).get("script", "")):
                assert not re.search(r"\$\{\{\s*(secrets|vars)\b", text), (name, job_id, step.get("name"))
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert not re.search(r"echo[^\n]*\$\{\{\s*secrets", text), path.name
        assert "set -x" not in text and "ACTIONS_STEP_DEBUG" not in text, path.name


def test_every_job_configures_backend_and_cluster_the_same_way():
    # The same credential names everywhere, the kubeconfig private and outside the checkout.
    reference = None
    for name, job_id, job in all_jobs():
        [setup] = [s for s in steps_of(job) if s.get("name") == "Configure the backend and the cluster"]
        assert "umask 077" in setup["run"] and '"$RUNNER_TEMP/kubeconfig"' in setup["run"]
        assert 'KUBECONFIG=$kubeconfig" >>"$GITHUB_ENV"' in setup["run"]
        # Generic form of the names: KUBECONFIG_<STACK>, whether looked up by matrix or by name.
        env = {k: re.sub(r"_(DEV|PROD)\b|_\{0\}', matrix.stack\)\]", "_<STACK>",
                         re.sub(r"\[format\('", ".", v)).replace(" ", "") for k, v in setup["env"].items()}
        body = re.sub(r"#.*", "", setup["run"])
        reference = reference or (env, body)
        assert (env, body) == reference, (name, job_id)
        later = steps_of(job)[steps_of(job).index(setup) + 1:]
        assert any(is_pulumi_step(s) for s in later), (name, job_id)


def run_setup(tmp_path, **env) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """The "Configure the backend and the cluster" step of preview.yml, run with these values."""
    [setup] = [s for s in steps_of(load("preview.yml")["jobs"]["preview"])
               if s.get("name") == "Configure the backend and the cluster"]
    names = {k: "" for k in setup["env"]}  # GitHub passes unset secrets and variables as ""
    github_env = tmp_path / "github_env"
    github_env.write_text("")
    base = {k: v for k, v in os.environ.items() if k not in names}
    result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", setup["run"]],
                            env={**base, **names, **env, "STACK": "prod", "RUNNER_TEMP": str(tmp_path),
                                 "GITHUB_ENV": str(github_env)}, capture_output=True, text=True, timeout=30)
    exported, lines = {}, iter(github_env.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value = []
            for item in lines:
                if item == delimiter:
                    break
                value.append(item)
            exported[name] = "\n".join(value)
        else:
            name, value = line.split("=", 1)
            exported[name] = value
    return result, exported, tmp_path / "kubeconfig"


def test_setup_writes_a_private_kubeconfig_and_exports_only_what_is_set(tmp_path):
    content = "apiVersion: v1\nkind: Config"
    result, exported, kubeconfig = run_setup(tmp_path, KUBECONFIG_CONTENT=content, PULUMI_ACCESS_TOKEN="pul-x")
    assert result.returncode == 0, result.stderr
    assert kubeconfig.read_text() == content + "\n" and (kubeconfig.stat().st_mode & 0o777) == 0o600
    assert exported == {"KUBECONFIG": str(kubeconfig), "PULUMI_ACCESS_TOKEN": "pul-x"}
    assert "pul-x" not in result.stdout + result.stderr and "Config" not in result.stdout + result.stderr


def test_setup_builds_a_kubeconfig_from_a_token(tmp_path):
    ca = "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
    result, exported, kubeconfig = run_setup(
        tmp_path, OPENSHIFT_TOKEN="sha256~tok", OPENSHIFT_SERVER="https://api.example.com:6443", OPENSHIFT_CA=ca,
        PULUMI_BACKEND_URL="s3://bucket/state", PULUMI_CONFIG_PASSPHRASE="pass phrase", AWS_REGION="eu-west-1")
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(kubeconfig.read_text())
    assert (kubeconfig.stat().st_mode & 0o777) == 0o600
    assert config["current-context"] == "ci" and config["users"][0]["user"] == {"token": "sha256~tok"}
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://api.example.com:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == ca
    assert exported == {"KUBECONFIG": str(kubeconfig), "PULUMI_BACKEND_URL": "s3://bucket/state",
                        "PULUMI_CONFIG_PASSPHRASE": "pass phrase", "AWS_REGION": "eu-west-1"}
    assert "sha256~tok" not in result.stdout + result.stderr


@pytest.mark.parametrize(("env", "message"), [
    ({"PULUMI_ACCESS_TOKEN": "x"}, "set the secret KUBECONFIG_PROD, or the secret OPENSHIFT_TOKEN_PROD"),
    ({"KUBECONFIG_CONTENT": "x"}, "set the secret PULUMI_ACCESS_TOKEN (Pulumi Cloud) or the variable PULUMI_BACKEND_URL"),
])
def test_setup_names_what_is_missing(tmp_path, env, message):
    result, _, _ = run_setup(tmp_path, **env)
    assert result.returncode == 1 and message in result.stdout


def test_readme_documents_every_secret_and_variable():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Delivery with GitHub Actions"):text.index("## Configuration reference")]
    names = set()
    for path in WORKFLOWS.glob("*.yml"):
        for _kind, name in re.findall(r"\b(secrets|vars)\.([A-Z_]+)", path.read_text()):
            names.add(name)
        for name in re.findall(r"(?:secrets|vars)\[format\('([A-Z_]+)_\{0\}'", path.read_text()):
            names.update(f"{name}_{stack.upper()}" for stack in ENVIRONMENTS)
    assert names >= {"PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "KUBECONFIG_PROD"}
    for name in names:
        assert f"`{name}`" in section or f"`{name.rsplit('_', 1)[0]}_<STACK>`" in section, name


# ---- the github-script steps, run by node against a fake GitHub API ----------------------------

HARNESS = r"""
const fs = require('fs');
const input = JSON.parse(fs.readFileSync(0, 'utf8'));
const calls = [];
const state = input.state;
const record = (name, result = {}) => async (params) => { calls.push([name, params]); return { data: result }; };
const github = {
  paginate: async (fn, params) => (await fn(params)).data,
  rest: { issues: {
    listComments: record('listComments', state.comments || []),
    updateComment: record('updateComment'),
    createComment: record('createComment'),
    listForRepo: record('listForRepo', state.issues || []),
    update: record('update'),
    create: record('create'),
    createLabel: record('createLabel'),
    getLabel: async (params) => {
      calls.push(['getLabel', params]);
      if (!(state.labels || []).includes(params.name)) { const e = new Error('Not Found'); e.status = 404; throw e; }
      return { data: { name: params.name } };
    },
  } },
};
const context = { serverUrl: 'https://github.com', repo: { owner: 'o', repo: 'r' }, runId: 42, payload: input.payload || {} };
Object.assign(process.env, input.env);
const AsyncFunction = Object.getPrototypeOf(async function () {}).constructor;
new AsyncFunction('github', 'context', 'core', 'require', input.script)(github, context, {}, require)
  .then(() => process.stdout.write(JSON.stringify(calls)))
  .catch((e) => { console.error(e); process.exit(1); });
"""


def run_script(workflow: str, job: str, env: dict, state: dict, payload: dict | None = None) -> list:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    step = script_step(load(workflow)["jobs"][job])
    data = {"script": step["with"]["script"], "env": env, "state": state, "payload": payload or {}}
    result = subprocess.run([node, "-e", HARNESS], input=json.dumps(data), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PR = {"pull_request": {"number": 7, "head": {"sha": "0123456789abcdef"}}}


def preview(tmp_path, stack="dev", code="0", output="Resources:\n    87 unchanged\n", comments=()):
    out = tmp_path / "preview.txt"
    if output is not None:
        out.write_text(output)
    return run_script("preview.yml", "preview", {"STACK": stack, "EXIT_CODE": code, "OUTPUT_FILE": str(out)},
                      {"comments": list(comments)}, PR)


def test_preview_comment_is_created_once_per_stack(tmp_path):
    calls = preview(tmp_path)
    assert [c[0] for c in calls] == ["listComments", "createComment"]
    params = calls[1][1]
    assert params["issue_number"] == 7
    assert params["body"].startswith("<!-- clearml-openshift:preview:dev -->\n")
    assert "`dev` succeeded" in params["body"] and "87 unchanged" in params["body"] and "0123456" in params["body"]


def test_preview_comment_of_the_same_stack_is_edited(tmp_path):
    bot = {"type": "Bot"}
    comments = [
        {"id": 1, "user": {"type": "User"}, "body": "<!-- clearml-openshift:preview:dev --> quoted by a person"},
        {"id": 2, "user": bot, "body": "<!-- clearml-openshift:preview:prod -->\nold"},
        {"id": 3, "user": bot, "body": "<!-- clearml-openshift:preview:dev -->\nold"},
    ]
    calls = preview(tmp_path, comments=comments)
    assert [c[0] for c in calls] == ["listComments", "updateComment"]
    assert calls[1][1]["comment_id"] == 3


def test_preview_comment_reports_a_failure_and_keeps_the_end_of_long_output(tmp_path):
    output = "line\n" * 30000 + "```` fenced\nerror: policy violation\n"
    calls = preview(tmp_path, code="255", output=output)
    body = calls[1][1]["body"]
    assert "failed (exit code 255)" in body and "<details open>" in body
    assert len(body) < 65536 and body.rstrip().endswith("</details>")
    assert "error: policy violation" in body and "beginning of the output was cut" in body
    assert "\n`````text\n" in body  # a fence longer than any run of backticks in the output


def test_preview_comment_when_the_preview_never_ran(tmp_path):
    body = preview(tmp_path, code="", output=None)[1][1]["body"]
    assert "did not run" in body


DRIFT_REPORT = ("DRIFT in stack prod: 1 resource(s) differ from the last deployment\n"
                "- kubernetes:apps/v1:Deployment clearml-webserver-deployment (clearml/clearml-webserver): "
                "changed outside Pulumi\n    spec.replicas\n"
                "Undo it with `pulumi up --refresh --stack prod` (the program's values win), or adopt the change "
                "in the stack config or the program.\n")


def drift(tmp_path, result, issues=(), labels=("drift",), report=DRIFT_REPORT, stack="prod"):
    out = tmp_path / "drift.out"
    out.write_text(report)
    return run_script("drift.yml", "drift", {"STACK": stack, "RESULT": result, "OUTPUT_FILE": str(out)},
                      {"issues": list(issues), "labels": list(labels)})


def test_drift_opens_one_issue_and_creates_the_label(tmp_path):
    calls = drift(tmp_path, "drift", labels=())
    assert [c[0] for c in calls] == ["listForRepo", "getLabel", "createLabel", "create"]
    assert calls[0][1]["labels"] == "drift" and calls[0][1]["state"] == "open"
    issue = calls[-1][1]
    assert issue["title"] == "Drift in stack prod" and issue["labels"] == ["drift"]
    assert issue["body"].startswith("<!-- clearml-openshift:drift:prod -->")
    assert "spec.replicas" in issue["body"] and "pulumi up --refresh --stack prod" in issue["body"]
    assert "closes this issue" in issue["body"]


def test_drift_updates_the_open_issue_only_when_the_report_changes(tmp_path):
    body = drift(tmp_path, "drift")[-1][1]["body"]
    other_stack = {"number": 1, "body": "<!-- clearml-openshift:drift:dev -->\n"}
    same = {"number": 2, "body": body}
    assert [c[0] for c in drift(tmp_path, "drift", issues=[other_stack, same])] == ["listForRepo"]
    changed = drift(tmp_path, "drift", issues=[other_stack, same], report=DRIFT_REPORT.replace(
        "spec.replicas\n", "spec.replicas\n    spec.template\n"))
    assert [c[0] for c in changed] == ["listForRepo", "update", "createComment"]
    assert changed[1][1]["issue_number"] == 2 and "spec.template" in changed[1][1]["body"]


def test_clean_stack_closes_its_issue(tmp_path):
    issue = {"number": 5, "body": "<!-- clearml-openshift:drift:prod -->\nold report"}
    calls = drift(tmp_path, "clean", issues=[issue])
    assert [c[0] for c in calls] == ["listForRepo", "createComment", "update"]
    assert calls[2][1] == {"owner": "o", "repo": "r", "issue_number": 5, "state": "closed", "state_reason": "completed"}
    assert [c[0] for c in drift(tmp_path, "clean")] == ["listForRepo"]


def test_drift_issue_body_stays_within_the_limit(tmp_path):
    report = "".join(f"- resource {i}\n    spec.field\n" for i in range(8000)) + "Undo it with ...\n"
    body = drift(tmp_path, "drift", report=report)[-1][1]["body"]
    assert len(body) < 65536 and "Undo it with ..." in body and "beginning of the report was cut" in body
