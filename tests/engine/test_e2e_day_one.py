"""Day one on the real node, on the deployment `make up` makes (runs last: it destroys and re-creates it).

Every Pulumi command goes through scripts/pulumi.sh, as `make up`, `make drift` and `make destroy`
run it. A deleted pod comes back (and the loopback forward with it); a second `up` changes nothing;
the drift check is clean, then reports a scaled Deployment, and `up --refresh` repairs it; `destroy`
keeps every volume claim bound to its volume and ends the forwards, and a new `up` reattaches the
data (a file written before is read back through the file server's loopback URL); an `up` killed
hard is recovered by `scripts/pulumi.sh recover`.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
import urllib.request

from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import NAMESPACE, access, local_dir, local_env, outputs, pulumi_sh


def _get(url: str, attempts: int = 30, token: str | None = None) -> bytes:
    """GET through a loopback forward, which needs a moment to reconnect after its pod went."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.read()
        except OSError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)
    raise AssertionError("unreachable")


def test_a_deleted_pod_comes_back(engine: Engine, deployed):
    engine.kubectl("delete", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=webserver", "--wait=true")
    engine.kubectl("rollout", "status", "-n", NAMESPACE, "deployment/clearml-webserver", "--timeout=180s")
    engine.kubectl("wait", "-n", NAMESPACE, "pod", "-l", "app.kubernetes.io/component=webserver",
                   "--for=condition=Ready", "--timeout=180s")
    # kubectl port-forward ends with its pod; scripts/cluster.sh restarts it on the new one.
    assert b"apiBaseUrl" in _get(access(engine)["urls"]["webserver"] + "/configuration.json")


def test_a_second_up_changes_nothing(engine: Engine, deployed):
    pulumi_sh(engine, "up", "--expect-no-changes")


def test_drift_is_clean_then_sees_a_scaled_deployment(engine: Engine, deployed):
    def drift():
        r = pulumi_sh(engine, "drift", check=False, timeout=600)
        return r.returncode, r.stdout + r.stderr

    code, report = drift()
    assert code == 0 and "no drift" in report, report
    engine.kubectl("scale", "deployment/clearml-webserver", "-n", NAMESPACE, "--replicas=2")
    code, report = drift()
    assert code == 3 and f"({NAMESPACE}/clearml-webserver): changed outside Pulumi" in report, report
    pulumi_sh(engine, "up", "--refresh")
    assert drift()[0] == 0


def test_destroy_keeps_the_claims_and_a_new_up_reattaches_the_data(engine: Engine, deployed):
    marker = f"e2e-{time.time_ns()}"
    pod = engine.kubectl("get", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=fileserver",
                         "-o", "jsonpath={.items[0].metadata.name}")
    engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", "fileserver", "--", "sh", "-c",
                   f"echo {marker} > /mnt/fileserver/e2e-marker")
    claims = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in engine.objects(NAMESPACE, "persistentvolumeclaims")}
    pulumi_sh(engine, "destroy", "--skip-preview")
    for kind in ("deployments", "statefulsets"):
        assert engine.objects(NAMESPACE, kind) == [], f"{kind} left after destroy"
    after = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in engine.objects(NAMESPACE, "persistentvolumeclaims")}
    assert after == claims, "destroy must keep every volume claim bound to its volume"
    assert not list((engine.cluster / "pids").glob("forward-*.pid")), "destroy must end the port-forwards"
    pulumi_sh(engine, "up")
    pod = engine.kubectl("get", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=fileserver",
                         "-o", "jsonpath={.items[0].metadata.name}")
    out = engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", "fileserver", "--", "cat", "/mnt/fileserver/e2e-marker")
    assert out.strip() == marker
    # And the file server serves it again on loopback, to a client logged in with the SDK keys.
    urls, keys = access(engine)["urls"], outputs(engine)
    basic = base64.b64encode(f"{keys['testsAccessKey']}:{keys['testsSecretKey']}".encode()).decode()
    login = urllib.request.Request(urls["apiserver"] + "/auth.login", data=b"{}", headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/json"})
    token = json.loads(_get_request(login))["data"]["token"]
    assert _get(urls["fileserver"] + "/e2e-marker", token=token).strip() == marker.encode()


def _get_request(request: urllib.request.Request) -> bytes:
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read()


def _pending_operations(state_file) -> list:
    if not state_file.exists():
        return []
    try:
        latest = json.loads(state_file.read_text()).get("checkpoint", {}).get("latest") or {}
    except json.JSONDecodeError:  # caught mid-write
        return []
    return latest.get("pending_operations") or []


def test_an_up_killed_hard_is_recovered_by_one_command(engine: Engine, deployed):
    """SIGKILL in the middle of `up` (Pulumi leaves pending operations and its lock in the state);
    `scripts/pulumi.sh recover` is the one documented command, then `up` finishes the job."""
    pulumi_sh(engine, "destroy", "--skip-preview")
    [state] = [p for p in (local_dir(engine) / "backend").rglob("dev.json") if "stacks" in p.parts]
    process = subprocess.Popen([str(ROOT / "scripts" / "pulumi.sh"), "up", "dev"], cwd=ROOT, env=local_env(engine),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while not _pending_operations(state):
        assert process.poll() is None, f"up ended (status {process.returncode}) before an operation was pending"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert _pending_operations(state), "the killed run should have left pending operations in the state"
    pulumi_sh(engine, "recover")
    assert not _pending_operations(state)
    pulumi_sh(engine, "up")
    pulumi_sh(engine, "up", "--expect-no-changes")
    assert pulumi_sh(engine, "drift", check=False).returncode == 0
