"""Day one on the real node, on the end-to-end deployment (runs last: it destroys and re-creates it).

A deleted pod comes back; a second `up` changes nothing; the drift check is clean, then reports a
scaled Deployment, and `up --refresh` repairs it; `destroy` keeps every volume claim bound to its
volume, and a new `up` reattaches the data (a file written before is read back).
"""

from __future__ import annotations

import subprocess
import sys
import time

from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import NAMESPACE, STACK, full_await_env, pulumi


def test_a_deleted_pod_comes_back(engine: Engine, deployed):
    engine.kubectl("delete", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=webserver", "--wait=true")
    engine.kubectl("rollout", "status", "-n", NAMESPACE, "deployment/clearml-webserver", "--timeout=180s")
    engine.kubectl("wait", "-n", NAMESPACE, "pod", "-l", "app.kubernetes.io/component=webserver",
                   "--for=condition=Ready", "--timeout=180s")


def test_a_second_up_changes_nothing(engine: Engine, deployed):
    pulumi(engine, "up", "--yes", "--skip-preview", "--expect-no-changes")


def test_drift_is_clean_then_sees_a_scaled_deployment(engine: Engine, deployed):
    def drift():
        r = subprocess.run([sys.executable, str(ROOT / "scripts" / "drift.py"), "--stack", STACK],
                           cwd=engine.workdir, env=full_await_env(engine), capture_output=True, text=True, timeout=600)
        return r.returncode, r.stdout + r.stderr

    code, report = drift()
    assert code == 0 and "no drift" in report, report
    engine.kubectl("scale", "deployment/clearml-webserver", "-n", NAMESPACE, "--replicas=2")
    code, report = drift()
    assert code == 3 and f"({NAMESPACE}/clearml-webserver): changed outside Pulumi" in report, report
    pulumi(engine, "up", "--yes", "--skip-preview", "--refresh")
    assert drift()[0] == 0


def test_destroy_keeps_the_claims_and_a_new_up_reattaches_the_data(engine: Engine, deployed):
    marker = f"e2e-{time.time_ns()}"
    pod = engine.kubectl("get", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=fileserver",
                         "-o", "jsonpath={.items[0].metadata.name}")
    engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", "fileserver", "--", "sh", "-c",
                   f"echo {marker} > /mnt/fileserver/e2e-marker")
    claims = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in engine.objects(NAMESPACE, "persistentvolumeclaims")}
    pulumi(engine, "destroy", "--yes", "--skip-preview")
    for kind in ("deployments", "statefulsets"):
        assert engine.objects(NAMESPACE, kind) == [], f"{kind} left after destroy"
    after = {c["metadata"]["name"]: c["spec"]["volumeName"] for c in engine.objects(NAMESPACE, "persistentvolumeclaims")}
    assert after == claims, "destroy must keep every volume claim bound to its volume"
    pulumi(engine, "up", "--yes", "--skip-preview")
    pod = engine.kubectl("get", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=fileserver",
                         "-o", "jsonpath={.items[0].metadata.name}")
    out = engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", "fileserver", "--", "cat", "/mnt/fileserver/e2e-marker")
    assert out.strip() == marker
