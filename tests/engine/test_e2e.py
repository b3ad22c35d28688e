"""End to end on the local cluster: pods really run, admitted by OpenShift's own SCC plugin.

`pulumi up` of the end-to-end stack (tests/engine/e2e/stack.yaml) with full await (no skipAwait):
every Deployment and StatefulSet must become ready through its own probes. Then, one assertion per
test: every pod was admitted as restricted-v2 by the real plugin with a UID from its namespace's
range; no container restarted; every Certificate is Ready (issued by the real cert-manager
controller). The day-one tests follow in order (they share the deployment): a deleted pod comes
back, a second `up` changes nothing, the drift check is clean and then sees a scaled Deployment,
`destroy` keeps every volume claim, and a new `up` reattaches the data.

On failure the fixture prints the events and the last log lines of every pod that is not ready.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.engine.conftest import ROOT, Engine

HERE = Path(__file__).resolve().parent
STACK = "e2e"
CONFIG = yaml.safe_load((HERE / "e2e" / "stack.yaml").read_text())["config"]
NAMESPACE = CONFIG["clearml-openshift:namespace"]["name"]
MONGO_NAMESPACE = "standin-mongodb"
UP_TIMEOUT = 1800


def full_await_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment without the local-target switch: Pulumi awaits readiness."""
    return {k: v for k, v in engine.env.items() if k != "CLEARML_OPENSHIFT_LOCAL_TARGET"}


def pulumi(engine: Engine, *args: str, check: bool = True, timeout: int = UP_TIMEOUT):
    start = time.monotonic()
    result = subprocess.run(["pulumi", *args, "--stack", STACK, "--non-interactive", "--color", "never"],
                            cwd=engine.workdir, env=full_await_env(engine), capture_output=True, text=True,
                            timeout=timeout)
    seconds = time.monotonic() - start
    engine.timings.setdefault(f"{STACK}: pulumi {args[0]} (full await)", []).append(round(seconds, 2))
    if check and result.returncode != 0:
        raise AssertionError(f"pulumi {' '.join(args)} failed ({result.returncode}) after {seconds:.0f}s:\n"
                             f"{(result.stdout + result.stderr)[-6000:]}\n{diagnostics(engine)}")
    return result


def diagnostics(engine: Engine) -> str:
    """Events and the last log lines of every pod that is not ready, in the stack's namespaces."""
    out = []
    for ns in (NAMESPACE, MONGO_NAMESPACE):
        out.append(f"--- events in {ns}")
        out.append(engine.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False)[-6000:])
        for pod in engine.objects(ns, "pods") if engine.kubectl("get", "ns", ns, check=False) else []:
            statuses = pod["status"].get("containerStatuses") or []
            if statuses and all(s.get("ready") for s in statuses):
                continue
            name = pod["metadata"]["name"]
            out.append(f"--- pod {ns}/{name}: phase {pod['status'].get('phase')}, "
                       f"conditions {json.dumps(pod['status'].get('conditions'))}")
            for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]:
                out.append(f"--- logs {name}/{c['name']}")
                out.append(engine.kubectl("logs", "-n", ns, name, "-c", c["name"], "--tail=40", check=False))
    return "\n".join(out)


MONGO_STANDIN = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: mongodb, namespace: standin-mongodb, labels: {app: mongodb}}
spec:
  replicas: 1
  selector: {matchLabels: {app: mongodb}}
  template:
    metadata: {labels: {app: mongodb}}
    spec:
      securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      containers:
      - name: mongodb
        image: localhost/standin/mongo-java-server:1.47.0
        imagePullPolicy: IfNotPresent
        ports: [{name: mongodb, containerPort: 27017}]
        readinessProbe: {tcpSocket: {port: mongodb}, periodSeconds: 3}
        securityContext:
          allowPrivilegeEscalation: false
          capabilities: {drop: [ALL]}
          readOnlyRootFilesystem: true
          runAsNonRoot: true
        volumeMounts: [{name: data, mountPath: /data/db}, {name: tmp, mountPath: /tmp}]
        resources: {requests: {cpu: 50m, memory: 256Mi}, limits: {cpu: "1", memory: 768Mi}}
      volumes: [{name: data, emptyDir: {}}, {name: tmp, emptyDir: {}}]
---
apiVersion: v1
kind: Service
metadata: {name: mongodb, namespace: standin-mongodb}
spec:
  selector: {app: mongodb}
  ports: [{name: mongodb, port: 27017, targetPort: mongodb}]
"""


def _apply(engine: Engine, text: str) -> None:
    subprocess.run([str(engine.kubectl_bin), "apply", "--server-side", "-f", "-"], input=text, env=engine.env,
                   check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def deployed(engine: Engine):
    """The stack's prerequisites, then `pulumi up` with full await. Yields the time it took."""
    for ns in (NAMESPACE, MONGO_NAMESPACE):
        engine.kubectl("create", "namespace", ns)
    _apply(engine, MONGO_STANDIN)
    engine.kubectl("rollout", "status", "-n", MONGO_NAMESPACE, "deployment/mongodb", "--timeout=180s")
    engine.kubectl("create", "secret", "generic", "standin-mongodb", "-n", NAMESPACE,
                   f"--from-literal=connectionString=mongodb://mongodb.{MONGO_NAMESPACE}.svc:27017/")
    engine.new_stack(STACK, (HERE / "e2e" / "stack.yaml").read_text())
    start = time.monotonic()
    pulumi(engine, "up", "--yes", "--skip-preview")
    yield time.monotonic() - start


def _pods(engine: Engine) -> list[dict]:
    return [p for p in engine.objects(NAMESPACE, "pods") if p["status"].get("phase") != "Succeeded"]


def test_every_workload_is_ready(engine: Engine, deployed):
    for kind in ("deployments", "statefulsets"):
        for obj in engine.objects(NAMESPACE, kind):
            status = obj["status"]
            assert status.get("readyReplicas", 0) == obj["spec"]["replicas"], (
                f"{kind}/{obj['metadata']['name']} is not ready: {status}\n{diagnostics(engine)}")
    pods = _pods(engine)
    assert len(pods) >= 6, [p["metadata"]["name"] for p in pods]


def test_every_pod_is_restricted_v2_with_a_uid_from_the_namespace_range(engine: Engine, deployed):
    ns = json.loads(engine.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
    start, size = (int(x) for x in ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"].split("/"))
    for pod in _pods(engine):
        name = pod["metadata"]["name"]
        assert pod["metadata"]["annotations"].get("openshift.io/scc") == "restricted-v2", name
        for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]:
            uid = (c.get("securityContext") or {}).get("runAsUser")
            assert uid is not None and start <= uid < start + size, f"{name}/{c['name']}: runAsUser {uid}"
        assert pod["spec"]["securityContext"].get("fsGroup") == start, name


def test_no_container_restarted(engine: Engine, deployed):
    for pod in _pods(engine):
        for s in (pod["status"].get("initContainerStatuses") or []) + pod["status"]["containerStatuses"]:
            assert s["restartCount"] == 0, f"{pod['metadata']['name']}/{s['name']} restarted:\n{diagnostics(engine)}"


def test_every_certificate_is_ready(engine: Engine, deployed):
    certificates = engine.objects(NAMESPACE, "certificates.cert-manager.io")
    assert certificates
    for cert in certificates:
        ready = [c for c in cert["status"].get("conditions", []) if c["type"] == "Ready"]
        assert ready and ready[0]["status"] == "True", cert["metadata"]["name"]


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
