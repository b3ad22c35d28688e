"""End to end on the local cluster: pods really run, admitted by OpenShift's own SCC plugin.

`make up`'s path (`scripts/pulumi.sh up dev` with no kubeconfig: the dev stack with local/overlay.yaml)
with full await (the `deployed` fixture, tests/engine/e2e_harness.py): every Deployment and
StatefulSet must become ready through
its own probes. Then, one assertion per test: every pod was admitted as restricted-v2 by the real
plugin with a UID from its namespace's range; no container restarted; every Certificate is Ready
(issued by the real cert-manager controller). test_e2e_clearml.py uses ClearML through it, and
test_e2e_day_one.py (last) deletes, re-applies, drifts, destroys and re-creates it.
"""

from __future__ import annotations

import json
from datetime import datetime

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import NAMESPACE, diagnostics


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
    # Measured, not enforced: each tier's pod start time (created -> Ready), for BENCHMARKS.md.
    for pod in pods:
        ready = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
        seconds = (_time(ready["lastTransitionTime"]) - _time(pod["metadata"]["creationTimestamp"])).total_seconds()
        tier = pod["metadata"]["labels"].get("app.kubernetes.io/component", pod["metadata"]["name"])
        engine.timings.setdefault(f"e2e: pod start to Ready (s): {tier}", []).append(seconds)


def _time(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")


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
