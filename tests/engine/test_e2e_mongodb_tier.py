"""The in-cluster MongoDB tier on the real node: admitted and scheduled, though mongod cannot run here.

No registry reachable from this project's build machines ships `mongod`, so the local target uses
the external-MongoDB option (local/overlay.yaml; README, "Stand-ins"). This second run deploys the
same stack with
the in-cluster MongoDB tier instead (its official image, without await) and checks what can be
checked without the image: the StatefulSet's pod is admitted by OpenShift's own SCC plugin as
restricted-v2 with a UID from the namespace's range, is scheduled onto the node with its volume
claim bound, and its container waits only for its image.
"""

from __future__ import annotations

import json
import time

import yaml

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import CONFIG

STACK = "e2e-mongodb"
NAMESPACE = "clearml-e2e-mongodb"


def test_in_cluster_mongodb_is_admitted_and_scheduled(engine: Engine):
    config = {"config": dict(CONFIG)}
    config["config"]["clearml-openshift:namespace"] = {"name": NAMESPACE, "create": True}
    config["config"]["clearml-openshift:mongodb"] = {
        "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        "storage": {"size": "1Gi"}}
    engine.new_stack(STACK, yaml.safe_dump(config))
    engine.pulumi("up", "--yes", "--skip-preview", stack=STACK)  # the engine tests' env: no await
    try:
        ns = json.loads(engine.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
        start, size = (int(x) for x in ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"].split("/"))
        # Poll until the kubelet has tried the image: "ContainerCreating" comes first and is not yet
        # the answer, so wait for a pull failure (or the deadline) on any of the pod's containers.
        pull_failed = {"ErrImagePull", "ImagePullBackOff"}
        deadline, pod, reasons = time.monotonic() + 180, None, set()
        while time.monotonic() < deadline:
            pods = engine.objects(NAMESPACE, "pods")
            pod = next((p for p in pods if p["metadata"]["name"] == "clearml-mongodb-0"), None)
            status = (pod or {}).get("status", {})
            reasons = {s.get("state", {}).get("waiting", {}).get("reason")
                       for s in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])}
            if pod and pod["spec"].get("nodeName") and reasons & pull_failed:
                break
            time.sleep(3)
        assert pod is not None, "the MongoDB StatefulSet created no pod (refused by admission?)"
        assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
        for c in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            assert start <= c["securityContext"]["runAsUser"] < start + size, c["name"]
        assert pod["spec"]["nodeName"] == "local-node"
        claim = json.loads(engine.kubectl("get", "pvc", "data-clearml-mongodb-0", "-n", NAMESPACE, "-o", "json"))
        assert claim["status"]["phase"] == "Bound"
        # The one thing missing here is the image (docker.io is unreachable): say so, exactly.
        assert reasons & pull_failed, pod["status"]
    finally:
        engine.pulumi("destroy", "--yes", "--skip-preview", stack=STACK, check=False)
