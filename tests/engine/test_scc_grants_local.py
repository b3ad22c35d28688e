"""SCC grants that run, on the real node with OpenShift's own SCC plugin: a stack granting `nonroot-v2`
to Redis (with the UID 1001, which is not the image's) and `anyuid` to the web server (whose image
runs as root) gets those pods admitted under exactly those SCCs, running as those users, and Ready;
every other tier stays restricted-v2.

The stack is `make up`'s dev stack (stand-in images, MongoDB external) in a namespace of its own,
deployed without await (the engine tests' env); the two granted tiers are waited for until Ready, an
ungranted one until admitted.
"""

from __future__ import annotations

import json
import time

import yaml

from settings import PROJECT
from tests.engine.conftest import Engine, install_stack_prerequisites
from tests.engine.e2e_harness import CONFIG

STACK = "e2e-scc-grants"
NAMESPACE = "clearml-e2e-scc"
P = PROJECT


def _ready_pod(engine: Engine, prefix: str, deadline: float, ready: bool = True) -> dict:
    """The first pod named `prefix...`: once Ready, or (ready=False) once admitted."""
    pod: dict = {}
    while time.monotonic() < deadline:
        pods = [p for p in engine.objects(NAMESPACE, "pods") if p["metadata"]["name"].startswith(prefix)]
        pod = pods[0] if pods else {}
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True" or (pod and not ready):
            return pod
        time.sleep(3)
    events = engine.kubectl("get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp", check=False)[-3000:]
    raise AssertionError(f"{prefix}: no Ready pod:\n{engine.scheduling_report()}\n"
                         f"{json.dumps(pod.get('status', {}))[-2000:]}\n{events}")


def _exec(engine: Engine, pod: str, container: str, *command: str) -> str:
    return engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", container, "--", *command).strip()


def test_granted_tiers_run_under_their_scc_as_their_users(engine: Engine):
    config = dict(CONFIG)
    config[f"{P}:namespace"] = {"name": NAMESPACE, "create": False}
    config[f"{P}:features"] = {"asyncDelete": False}
    config[f"{P}:scc"] = {"grants": {"redis": "nonroot-v2", "webserver": "anyuid"}, "acknowledge": ["anyuid"],
                          "identities": {"redis": {"runAsUser": 1001}}}
    install_stack_prerequisites(engine.env, config)  # the namespace and the (placeholder) MongoDB Secret
    engine.new_stack(STACK, yaml.safe_dump({"config": config}))
    engine.pulumi("up", "--yes", "--skip-preview", stack=STACK)
    try:
        deadline = time.monotonic() + 300
        redis = _ready_pod(engine, "clearml-redis-", deadline)
        assert redis["metadata"]["annotations"]["openshift.io/scc"] == "nonroot-v2"
        assert redis["spec"]["securityContext"]["runAsUser"] == 1001
        assert redis["spec"]["securityContext"]["fsGroup"] == 1001
        assert _exec(engine, redis["metadata"]["name"], "redis", "id", "-u") == "1001"
        # The data volume is writable by that UID (the fsGroup owns it), whatever the storage.
        _exec(engine, redis["metadata"]["name"], "redis", "touch", "/data/written-by-1001")

        web = _ready_pod(engine, "clearml-webserver-", deadline)
        assert web["metadata"]["annotations"]["openshift.io/scc"] == "anyuid"
        assert "runAsUser" not in web["spec"]["securityContext"]
        assert _exec(engine, web["metadata"]["name"], "webserver", "id", "-u") == "0"  # the image's own user

        # An ungranted tier: admitted as restricted-v2 with a UID of the namespace's range. (It waits for
        # the API server, which has no database here, so it is not waited for to be Ready.)
        files = _ready_pod(engine, "clearml-fileserver-", deadline, ready=False)
        assert files["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
        ns = json.loads(engine.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
        start, size = (int(x) for x in ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"].split("/"))
        for c in files["spec"]["initContainers"] + files["spec"]["containers"]:
            assert start <= c["securityContext"]["runAsUser"] < start + size, c["name"]
    finally:
        engine.pulumi("destroy", "--yes", "--skip-preview", stack=STACK, check=False)
        engine.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
