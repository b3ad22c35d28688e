"""An upgrade on the deployment `make up` makes, the documented way (README, "Upgrades"): Elasticsearch
8.17.0 -> 8.17.4 (the stand-in is Elastic's own distribution at both versions) with
`CLEARML_OPENSHIFT_LOCAL_OVERLAY=local/upgrade.yaml`, `scripts/pulumi.sh preview` and then `up`.

The preview shows the exact change (the image) and the backup Job that comes first; `up` takes a backup
set before the node is replaced (the Job finished before the new pod was created), the node runs the new
version with the data written before, a second preview shows no change at all, and the way back is
refused before anything changes. Runs last among the engine tests (tests/engine/conftest.py, LAST):
Elasticsearch cannot go back to 8.17.0, so the shared deployment stays upgraded.
"""

from __future__ import annotations

import datetime
import json
import time

from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import NAMESPACE, api_call, clearml_client, elastic, elastic_versions, log_lines, pulumi_sh, task_names

UPGRADE = {"CLEARML_OPENSHIFT_LOCAL_OVERLAY": str(ROOT / "local" / "upgrade.yaml")}
OLD, NEW = "8.17.0", "8.17.4"
NEW_IMAGE = f"localhost/standin/elasticsearch:{NEW}"
LOG_LINE = "written before the upgrade"


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _elastic_pod(engine: Engine) -> dict:
    return json.loads(engine.kubectl("get", "pod", "clearml-elastic-0", "-n", NAMESPACE, "-o", "json"))


def test_an_elasticsearch_upgrade_backs_up_first_and_keeps_the_data(engine: Engine, deployed):
    clearml = clearml_client(engine)
    api, token = clearml["api"], clearml["token"]()
    project = api_call(api, "projects.create", token, {"name": "upgrade-e2e", "description": "kept across an upgrade"})["id"]
    task = api_call(api, "tasks.create", token, {"name": "kept", "project": project, "type": "training"})["id"]
    api_call(api, "events.add", token, {"task": task, "type": "log", "level": "info", "msg": LOG_LINE,
                                        "timestamp": int(time.time() * 1000), "worker": "e2e"})
    assert LOG_LINE in log_lines(clearml, task)
    assert elastic_versions(engine) == [OLD]
    old_pod = _elastic_pod(engine)["metadata"]["uid"]

    # ---- the pull request's preview: the image change and the backup first; nothing changes -----------
    run = pulumi_sh(engine, "preview", env=UPGRADE)
    preview = run.stdout + run.stderr
    assert NEW_IMAGE in preview and "clearml-backup-before-upgrade" in preview, preview[-4000:]
    assert f"elasticsearch localhost/standin/elasticsearch:{OLD} -> {NEW_IMAGE}" in preview, (
        [line for line in preview.splitlines() if "upgrade" in line or "preflight" in line][:20])
    assert _elastic_pod(engine)["metadata"]["uid"] == old_pod
    assert not [j for j in engine.objects(NAMESPACE, "jobs") if j["metadata"]["name"].startswith("clearml-backup-before-")]

    # ---- the upgrade ------------------------------------------------------------------------------------
    started = time.monotonic()
    pulumi_sh(engine, "up", env=UPGRADE)
    engine.timings.setdefault(f"upgrade: elasticsearch {OLD} -> {NEW}, up returned (s)", []).append(
        round(time.monotonic() - started, 1))
    # `up` can return before the StatefulSet's rollout is through (README, "Known problems"): wait for it.
    engine.kubectl("rollout", "status", "-n", NAMESPACE, "statefulset/clearml-elastic", "--timeout=300s")
    engine.timings.setdefault(f"upgrade: elasticsearch {OLD} -> {NEW}, up to the node rolled (s)", []).append(
        round(time.monotonic() - started, 1))

    (job,) = [j for j in engine.objects(NAMESPACE, "jobs") if j["metadata"]["name"].startswith("clearml-backup-before-")]
    assert job["status"].get("succeeded") == 1, job["status"]
    pod = _elastic_pod(engine)
    assert pod["metadata"]["uid"] != old_pod
    assert [c["image"] for c in pod["spec"]["containers"] if c["name"] == "elasticsearch"] == [NEW_IMAGE]
    # The backup set was complete before the node was replaced (timestamps have one-second resolution).
    assert _time(job["status"]["completionTime"]) <= _time(pod["metadata"]["creationTimestamp"]), (
        job["status"], pod["metadata"]["creationTimestamp"])
    logs = engine.kubectl("logs", "-n", NAMESPACE, f"job/{job['metadata']['name']}")
    assert "before the upgrade to " in logs and NEW_IMAGE in logs, logs[-2000:]
    summary = json.loads(next(line for line in logs.splitlines() if line.startswith('{"set"')))
    assert any(i.startswith("events-log") for i in summary["stores"]["elasticsearch"]["indices"]), summary
    assert summary["stores"]["mongodb"]["backend.task"] >= 1
    assert f"{summary['set']} complete" in pulumi_sh(engine, "backups", timeout=600).stdout

    # The node runs the new version, with everything written before it.
    assert elastic_versions(engine) == [NEW]
    assert elastic(engine, "GET", "/_cluster/health?wait_for_status=green&timeout=60s")["status"] == "green"
    assert task_names(clearml, project) == {"kept"}
    assert LOG_LINE in log_lines(clearml, task)

    # ---- afterwards: the Job is kept as the record, so nothing is left to change --------------------------
    pulumi_sh(engine, "preview", "--expect-no-changes", env=UPGRADE)
    # ---- and the way back is refused before anything changes -------------------------------------------
    back = pulumi_sh(engine, "preview", check=False)
    assert back.returncode == 1
    output = back.stdout + back.stderr
    assert "clearml-openshift:images.elasticsearch.tag" in output and "downgrade" in output.lower(), output[-3000:]
    assert _elastic_pod(engine)["metadata"]["uid"] == pod["metadata"]["uid"]
