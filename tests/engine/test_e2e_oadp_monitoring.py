"""OADP backups and monitoring on real pods, in a second stack (the dev stack with the local overlay, in
its own namespace) with `backup.mechanism: velero` and `monitoring.enabled`, Velero's own CRDs installed
in the local cluster and this test acting as Velero's controller (no Velero runs here):

* the API server accepts the Velero Schedule, the ServiceMonitors and the PrometheusRule (Velero's and
  the Prometheus operator's CRDs);
* the Redis and Elasticsearch exporters (the upstream exporters at their pinned versions, built here
  from their Go modules) run under restricted-v2 and report the stores up and the cluster green;
* an Elasticsearch upgrade 8.17.0 -> 8.17.4 with `up` first creates a Velero Backup and touches nothing
  until Velero reports it Completed (`pulumi.com/waitFor`): the test runs the Backup's Elasticsearch
  pre-hook in the node as Velero would (a real snapshot into the snapshot volume), then marks it
  Completed; the node's new pod is created only after that, runs 8.17.4 and keeps the data.

Elasticsearch runs as one node here: a cluster of nodes cannot start on this machine (its bootstrap
check wants 65535 open files per process, and the node's hard limit is 20000; README, "Known problems").
"""

from __future__ import annotations

import datetime
import json
import re
import time
import urllib.request

import pytest

from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import SecondStack, elastic, elastic_versions, standin_image

STACK = "e2e-oadp"
NAMESPACE = "clearml-e2e-oadp"
VELERO_NAMESPACE = "openshift-adp"
VELERO_CRDS = [ROOT / "tests" / "data" / "crds" / f"velero.io_{kind}.yaml" for kind in ("schedules", "backups")]
DOCS = 50


def _es(engine: Engine, method: str, path: str, body: dict | None = None) -> dict:
    return elastic(engine, method, path, body, namespace=NAMESPACE)


def _elastic_pod(engine: Engine) -> dict:
    return json.loads(engine.kubectl("get", "pod", "clearml-elastic-0", "-n", NAMESPACE, "-o", "json"))


def _time(stamp: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def oadp(engine: Engine):
    stack = SecondStack(engine, STACK, NAMESPACE)
    stack.prepare()
    # Velero's CRDs and namespace, as OADP installs them (the controller itself does not run here).
    for crd in VELERO_CRDS:
        engine.kubectl("apply", "--server-side", "-f", str(crd))
    engine.kubectl("create", "namespace", VELERO_NAMESPACE, check=False)
    config = stack.config(
        elasticsearch={"heap": "384m", "storage": {"size": "2Gi"}, "resources": {
            "requests": {"cpu": "50m", "memory": "768Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
        backup={"enabled": True, "mechanism": "velero", "keep": 2, "velero": {"namespace": VELERO_NAMESPACE},
                "snapshotStorage": {"size": "2Gi"}},
        monitoring={"enabled": True, "redisExporterImage": standin_image("redis-exporter"),
                    "elasticsearchExporterImage": standin_image("elasticsearch-exporter")})
    stack.write(config, new=True)
    try:
        stack.pulumi("up", "--yes", "--skip-preview")
        yield stack, config
    finally:
        stack.destroy()


def test_the_velero_schedule_is_accepted_with_the_hooks(engine: Engine, oadp):
    schedule = json.loads(engine.kubectl("get", "schedules.velero.io", f"clearml-{NAMESPACE}", "-n", VELERO_NAMESPACE,
                                         "-o", "json"))
    template = schedule["spec"]["template"]
    assert template["includedNamespaces"] == [NAMESPACE] and template["defaultVolumesToFsBackup"] is False
    assert [h["name"] for h in template["hooks"]["resources"]] == ["clearml-elastic-snapshot"]
    # The pods name the volumes Velero copies (Elasticsearch: its snapshots, never its data directory).
    pod = _elastic_pod(engine)
    assert pod["metadata"]["annotations"]["backup.velero.io/backup-volumes"] == "snapshots"


def _metrics(engine: Engine, service: str, port: int) -> str:
    ip = engine.kubectl("get", "service", service, "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}")
    with urllib.request.urlopen(f"http://{ip}:{port}/metrics", timeout=30) as response:
        return response.read().decode()


# What each exporter must serve: the series the alerts read (components/monitoring_rules.py), with the
# values of a healthy store where the stand-ins allow.
SERIES = {
    "redis-exporter": (9121, [r"^redis_up 1$"]),
    # elasticsearch_clusterinfo_up comes from `GET /`, which the stand-in distribution lacks (no rest-root
    # module: 405), so here it is served as 0; on Elastic's image it is 1.
    "elasticsearch-exporter": (9114, [r'^elasticsearch_cluster_health_status\{cluster="clearml",color="green"\} 1$',
                                      r'^elasticsearch_clusterinfo_up\{url="[^"]*clearml-elastic[^"]*"\} [01]$']),
}


@pytest.mark.parametrize("component", sorted(SERIES))
def test_the_exporters_run_restricted_v2_and_serve_what_the_alerts_read(engine: Engine, oadp, component):
    port, wanted = SERIES[component]
    (pod,) = [p for p in engine.objects(NAMESPACE, "pods")
              if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component]
    assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
    assert all(s["ready"] for s in pod["status"]["containerStatuses"]), pod["status"]
    tier = component.removesuffix("-exporter")
    deadline = time.monotonic() + 120
    while True:  # the first scrape may come before the store answered
        text = _metrics(engine, f"clearml-monitoring-{tier}", port)
        missing = [series for series in wanted if not re.search(series, text, re.MULTILINE)]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert not missing, (missing, [line for line in text.splitlines() if line.startswith(("redis_up", "elasticsearch_cl"))])
    monitors = {m["metadata"]["name"] for m in engine.objects(NAMESPACE, "servicemonitors.monitoring.coreos.com")}
    assert f"clearml-monitoring-{tier}" in monitors, monitors
    assert len(engine.objects(NAMESPACE, "prometheusrules.monitoring.coreos.com")) == 1


def _velero_backup(engine: Engine, timeout: float = 300) -> dict:
    """The Velero Backup `up` creates before an upgrade, once it is there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [b for b in engine.objects(VELERO_NAMESPACE, "backups.velero.io")
                 if b["metadata"]["name"].startswith("clearml-backup-before-")]
        if found:
            return found[0]
        time.sleep(2)
    raise AssertionError("no Velero Backup before the upgrade")


def test_an_upgrade_waits_for_the_velero_backup_and_its_snapshot_hook(engine: Engine, oadp):
    stack, config = oadp
    old = config["clearml-openshift:images"]["elasticsearch"]["tag"]
    new_image = standin_image("elasticsearch-next")
    assert elastic_versions(engine, NAMESPACE) == [old]
    _es(engine, "PUT", "/kept", {"settings": {"number_of_shards": 1, "number_of_replicas": 0}})
    for i in range(DOCS):
        _es(engine, "PUT", f"/kept/_doc/{i}", {"n": i})
    _es(engine, "POST", "/kept/_refresh")
    before = _elastic_pod(engine)["metadata"]["uid"]

    config["clearml-openshift:images"] = {**config["clearml-openshift:images"], "elasticsearch": new_image}
    stack.write(config)
    started = time.monotonic()
    up = stack.start("up", "--yes", "--skip-preview")
    try:
        backup = _velero_backup(engine)
        assert backup["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Completed"
        time.sleep(20)  # up waits: the node is untouched until the backup is Completed
        assert _elastic_pod(engine)["metadata"]["uid"] == before, "the node rolled before the backup"
        assert up.poll() is None, "up finished before the backup was Completed"
        # What Velero does: the pre-hook in the node (a real snapshot), the volumes, then Completed.
        (hook,) = backup["spec"]["hooks"]["resources"]
        command = hook["pre"][0]["exec"]["command"]
        printed = engine.kubectl("exec", "-n", NAMESPACE, "clearml-elastic-0", "-c", "elasticsearch", "--", *command)
        assert "snapshot velero-" in printed, printed
        snapshots = _es(engine, "GET", "/_cat/snapshots/clearml-backups?format=json")
        assert [s["status"] for s in snapshots] == ["SUCCESS"], snapshots
        completed = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        engine.kubectl("patch", "backups.velero.io", backup["metadata"]["name"], "-n", VELERO_NAMESPACE,
                       "--type", "merge", "-p", '{"status": {"phase": "Completed"}}')
        output, _ = up.communicate(timeout=1800)
        assert up.returncode == 0, output[-6000:]
    finally:
        if up.poll() is None:
            up.kill()
    engine.timings.setdefault("oadp: upgrade of elasticsearch, up returned (s)", []).append(
        round(time.monotonic() - started, 1))
    # `up` can return before the StatefulSet's rollout is through (the provider's await saw it done while the
    # controller had not yet replaced the pod): wait for the rollout itself.
    engine.kubectl("rollout", "status", "-n", NAMESPACE, "statefulset/clearml-elastic", "--timeout=300s")
    engine.timings.setdefault("oadp: upgrade of elasticsearch, up to the node rolled (s)", []).append(
        round(time.monotonic() - started, 1))

    pod = _elastic_pod(engine)
    assert pod["metadata"]["uid"] != before and _time(pod["metadata"]["creationTimestamp"]) >= completed
    assert [c["image"] for c in pod["spec"]["containers"] if c["name"] == "elasticsearch"] == \
        [f"{new_image['repository']}:{new_image['tag']}"]
    assert elastic_versions(engine, NAMESPACE) == [new_image["tag"]]
    health = _es(engine, "GET", "/_cluster/health?wait_for_status=green&timeout=60s")
    assert health["status"] == "green", health
    assert _es(engine, "GET", "/kept/_count")["count"] == DOCS
