"""Elasticsearch snapshots in a bucket (`backup.elasticsearchS3`) on the real node, as far as the stand-in
allows: the `s3-keystore` init container runs under restricted-v2 with the namespace's random UID and
puts both keys into the keystore from the projected Secret volume (exit 0), and the node then stops at
the first thing this project's Elasticsearch lacks, the `repository-s3` module, with Elasticsearch's own
error naming the `clearml` client's settings. With Elastic's image (which ships the module) the node
starts; that part cannot run here (README, "Stand-ins").

A second stack beside the dev deployment (its own namespace and MongoDB stand-in), deployed without
await: the node never becomes ready here."""

from __future__ import annotations

import json
import time

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import SecondStack

STACK, NAMESPACE = "e2e-s3", "clearml-e2e-s3"
POD = "clearml-elastic-0"


def _pod(engine: Engine) -> dict | None:
    found = engine.kubectl("get", "pod", POD, "-n", NAMESPACE, "-o", "json", check=False)
    return json.loads(found) if found.strip().startswith("{") else None


def test_the_keys_reach_the_keystore_and_the_stand_in_names_the_missing_module(engine: Engine):
    second = SecondStack(engine, STACK, NAMESPACE)
    second.prepare()
    engine.kubectl("create", "secret", "generic", "s3-keys", "-n", NAMESPACE,
                   "--from-literal=id=AKIAEXAMPLEKEY", "--from-literal=secret=example-secret-key")
    second.write(second.config(backup={"enabled": True, "elasticsearchS3": {
        "bucket": "clearml-snapshots", "endpoint": "minio.example.com:9000", "pathStyleAccess": True,
        "accessKey": {"name": "s3-keys", "key": "id"}, "secretKey": {"name": "s3-keys", "key": "secret"}}}), new=True)
    try:
        engine.pulumi("up", "--yes", "--skip-preview", stack=STACK)  # the engine tests' env: no await
        deadline, pod, log = time.monotonic() + 300, None, ""
        while time.monotonic() < deadline:
            pod = _pod(engine)
            statuses = (pod or {}).get("status", {}).get("containerStatuses") or []
            main = next((s for s in statuses if s["name"] == "elasticsearch"), {})
            if main.get("restartCount", 0) >= 1 or "terminated" in main.get("state", {}):
                log = engine.kubectl("logs", POD, "-n", NAMESPACE, "-c", "elasticsearch", "--previous", check=False)
                if "s3.client.clearml" in log:
                    break
            time.sleep(5)
        assert pod is not None, "no Elasticsearch pod"
        assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
        inits = {s["name"]: s for s in pod["status"].get("initContainerStatuses") or []}
        assert inits["s3-keystore"]["state"]["terminated"]["exitCode"] == 0, inits["s3-keystore"]
        # Elasticsearch's refusal of the client's settings: the module that would define them is not here.
        assert "please check that any required plugins are installed" in log, log[-3000:]
        assert "s3.client.clearml" in log, log[-3000:]
        # Nothing of the keys in the environment or on a command line.
        spec = json.dumps(pod["spec"])
        assert "AKIAEXAMPLEKEY" not in spec and "example-secret-key" not in spec
    finally:
        second.destroy()
