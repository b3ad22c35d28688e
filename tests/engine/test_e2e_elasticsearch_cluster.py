"""Elasticsearch as a cluster of nodes, on real pods (Elastic's own distribution), in a second stack
(the dev stack with the local overlay, Elasticsearch with three nodes, in its own namespace), backed up
by OADP (`backup.mechanism: velero`) against Velero's own CRDs installed in the local cluster, with this
test acting as Velero's controller (no Velero runs here):

* three nodes form one green cluster through the headless Service (`cluster.initial_master_nodes`), and
  the API server accepts the Velero Schedule;
* the monitoring exporters (the upstream Redis and Elasticsearch exporters at their pinned versions, built
  here from their Go modules) run under restricted-v2 and report the stores up and the cluster green, and
  the API server accepts their ServiceMonitors and the PrometheusRule (the Prometheus operator's CRDs);
* a scale-up to four with `up`: the new node joins through discovery, no node restarts, data stays;
* an upgrade 8.17.0 -> 8.17.4 with `up` first creates a Velero Backup and waits for it: no node is
  touched until it is Completed. The test runs the Backup's Elasticsearch pre-hook in the first node as
  Velero would (a real snapshot into the snapshot volume), then marks it Completed. The nodes then roll
  one at a time with green between them: an index that keeps the cluster yellow (more replicas than
  nodes can hold) stops the rollout after the first node, whose new pod runs but is not ready, and no
  other node is touched; once the index is fixed the cluster is green, the node becomes ready, the
  others follow one at a time, and `up` completes with every node on 8.17.4 and the data kept.
"""

from __future__ import annotations

import datetime
import json
import threading
import time
import urllib.request

import pytest

from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import SecondStack, elastic, standin_image

STACK = "e2e-escluster"
NAMESPACE = "clearml-e2e-escluster"
ELASTIC = "clearml-openshift:elasticsearch"
DOCS = 50
VELERO_NAMESPACE = "openshift-adp"
VELERO_CRDS = [ROOT / "tests" / "data" / "crds" / f"velero.io_{kind}.yaml" for kind in ("schedules", "backups")]


def _es(engine: Engine, method: str, path: str, body: dict | None = None) -> dict:
    return elastic(engine, method, path, body, namespace=NAMESPACE)


def _pods(engine: Engine) -> dict[str, dict]:
    """Elasticsearch pods by name: uid, image, ready, running."""
    out = {}
    for pod in engine.objects(NAMESPACE, "pods"):
        if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "elasticsearch":
            continue
        statuses = {s["name"]: s for s in pod["status"].get("containerStatuses") or []}
        main = statuses.get("elasticsearch", {})
        out[pod["metadata"]["name"]] = {
            "uid": pod["metadata"]["uid"],
            "image": next(c["image"] for c in pod["spec"]["containers"] if c["name"] == "elasticsearch"),
            "ready": bool(main.get("ready")), "running": "running" in main.get("state", {}),
            "deleting": "deletionTimestamp" in pod["metadata"]}
    return out


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


def _ref(image: dict) -> str:
    return f"{image['repository']}:{image['tag']}"


@pytest.fixture(scope="module")
def escluster(engine: Engine):
    stack = SecondStack(engine, STACK, NAMESPACE)
    stack.prepare()
    # Velero's CRDs and namespace, as OADP installs them (the controller itself does not run here).
    for crd in VELERO_CRDS:
        engine.kubectl("apply", "--server-side", "-f", str(crd))
    engine.kubectl("create", "namespace", VELERO_NAMESPACE, check=False)
    # Small nodes (four of them run beside the dev deployment on two cores); the snapshot volume all of
    # them mount is ReadWriteMany (the local volumes offer it).
    config = stack.config(
        elasticsearch={"replicas": 3, "heap": "384m", "storage": {"size": "2Gi"}, "resources": {
            "requests": {"cpu": "50m", "memory": "768Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}},
        backup={"enabled": True, "mechanism": "velero", "keep": 2, "velero": {"namespace": VELERO_NAMESPACE},
                "snapshotStorage": {"size": "2Gi", "accessMode": "ReadWriteMany"}},
        monitoring={"enabled": True, "redisExporterImage": standin_image("redis-exporter"),
                    "elasticsearchExporterImage": standin_image("elasticsearch-exporter")})
    stack.write(config, new=True)
    stack.pulumi("up", "--yes", "--skip-preview")
    try:
        yield stack, config
    finally:
        stack.destroy()


def test_three_nodes_form_one_green_cluster_with_a_velero_schedule(engine: Engine, escluster):
    health = _es(engine, "GET", "/_cluster/health?wait_for_status=green&timeout=60s")
    assert (health["status"], health["number_of_nodes"]) == ("green", 3), health
    schedule = json.loads(engine.kubectl("get", "schedules.velero.io", f"clearml-{NAMESPACE}", "-n", VELERO_NAMESPACE,
                                         "-o", "json"))
    assert schedule["spec"]["template"]["includedNamespaces"] == [NAMESPACE]
    assert [h["name"] for h in schedule["spec"]["template"]["hooks"]["resources"]] == ["clearml-elastic-snapshot"]
    _es(engine, "PUT", "/kept", {"settings": {"number_of_shards": 3, "number_of_replicas": 0}})
    for i in range(DOCS):
        _es(engine, "PUT", f"/kept/_doc/{i}", {"n": i})
    _es(engine, "POST", "/kept/_refresh")
    assert _es(engine, "GET", "/kept/_count")["count"] == DOCS


def _metrics(engine: Engine, service: str, port: int) -> str:
    ip = engine.kubectl("get", "service", service, "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}")
    with urllib.request.urlopen(f"http://{ip}:{port}/metrics", timeout=30) as response:
        return response.read().decode()


@pytest.mark.parametrize(("component", "port", "metric"), [
    ("redis-exporter", 9121, "redis_up 1"),
    ("elasticsearch-exporter", 9114, 'elasticsearch_cluster_health_status{cluster="clearml",color="green"} 1'),
])
def test_the_exporters_run_restricted_v2_and_report_the_stores(engine: Engine, escluster, component, port, metric):
    (pod,) = [p for p in engine.objects(NAMESPACE, "pods")
              if p["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component]
    assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2"
    assert all(s["ready"] for s in pod["status"]["containerStatuses"]), pod["status"]
    tier = component.removesuffix("-exporter")
    deadline = time.monotonic() + 120
    while True:  # the first scrape may come before the store answered
        text = _metrics(engine, f"clearml-monitoring-{tier}", port)
        if metric in text or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert metric in text, [line for line in text.splitlines() if tier.split("search")[0] in line][:20]
    monitors = {m["metadata"]["name"] for m in engine.objects(NAMESPACE, "servicemonitors.monitoring.coreos.com")}
    assert f"clearml-monitoring-{tier}" in monitors, monitors
    assert len(engine.objects(NAMESPACE, "prometheusrules.monitoring.coreos.com")) == 1


def test_a_scale_up_adds_a_node_that_joins_and_keeps_the_data(engine: Engine, escluster):
    stack, config = escluster
    before = _pods(engine)
    config[ELASTIC] = {**config[ELASTIC], "replicas": 4}
    stack.write(config)
    started = time.monotonic()
    stack.pulumi("up", "--yes", "--skip-preview")
    engine.timings.setdefault("escluster: scale-up 3 -> 4 nodes, up to all ready (s)", []).append(
        round(time.monotonic() - started, 1))
    after = _pods(engine)
    assert set(after) == set(before) | {"clearml-elastic-3"}
    assert all(after[name]["uid"] == pod["uid"] for name, pod in before.items()), "a node restarted"
    health = _es(engine, "GET", "/_cluster/health?wait_for_status=green&timeout=60s")
    assert (health["status"], health["number_of_nodes"]) == ("green", 4), health
    assert _es(engine, "GET", "/kept/_count")["count"] == DOCS


def test_an_upgrade_rolls_one_node_at_a_time_with_the_cluster_green_between(engine: Engine, escluster):
    stack, config = escluster
    old, new = _ref(config["clearml-openshift:images"]["elasticsearch"]), _ref(standin_image("elasticsearch-next"))
    assert _es(engine, "GET", "/")["version"]["number"] == old.rsplit(":", 1)[1]
    # Five copies of one shard on four nodes: one stays unassigned, the cluster stays yellow.
    _es(engine, "PUT", "/blocker", {"settings": {"number_of_shards": 1, "number_of_replicas": 4}})
    assert _es(engine, "GET", "/_cluster/health")["status"] == "yellow"
    original = _pods(engine)

    samples: list[dict[str, dict]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            samples.append(_pods(engine))
            time.sleep(1)

    config["clearml-openshift:images"] = {**config["clearml-openshift:images"], "elasticsearch": standin_image(
        "elasticsearch-next")}
    stack.write(config)
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    up = stack.start("up", "--yes", "--skip-preview")
    try:
        # ---- first the Velero Backup, awaited: no node is touched until it is Completed ---------------
        backup = _velero_backup(engine)
        time.sleep(20)
        assert {name: pod["uid"] for name, pod in _pods(engine).items()} == \
            {name: pod["uid"] for name, pod in original.items()}, "a node rolled before the backup"
        assert up.poll() is None, "up finished before the backup was Completed"
        # What Velero does: the pre-hook in the first node (a real snapshot), then the volumes, then Completed.
        (hook,) = backup["spec"]["hooks"]["resources"]
        command = hook["pre"][0]["exec"]["command"]
        printed = engine.kubectl("exec", "-n", NAMESPACE, "clearml-elastic-0", "-c", "elasticsearch", "--", *command)
        assert "snapshot velero-" in printed, printed
        snapshots = _es(engine, "GET", "/_cat/snapshots/clearml-backups?format=json")
        assert [s["status"] for s in snapshots] == ["SUCCESS"], snapshots
        completed = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        engine.kubectl("patch", "backups.velero.io", backup["metadata"]["name"], "-n", VELERO_NAMESPACE,
                       "--type", "merge", "-p", '{"status": {"phase": "Completed"}}')

        # The highest ordinal goes first; its new pod runs the new version but is not ready while yellow.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            pod = _pods(engine).get("clearml-elastic-3")
            if pod and pod["image"] == new and pod["running"]:
                break
            time.sleep(2)
        else:
            raise AssertionError(f"the first node did not restart on the new image: {_pods(engine)}")
        time.sleep(60)  # long enough for several readiness checks and for a rollout that did not wait
        held = _pods(engine)
        assert held["clearml-elastic-3"]["image"] == new and not held["clearml-elastic-3"]["ready"], held
        for name in ("clearml-elastic-0", "clearml-elastic-1", "clearml-elastic-2"):
            assert held[name]["uid"] == original[name]["uid"] and held[name]["image"] == old, (name, held)
        assert up.poll() is None, "up finished while the rollout was held"

        # Green again: the node becomes ready and the others follow, one at a time.
        _es(engine, "PUT", "/blocker/_settings", {"index": {"number_of_replicas": 0}})
        output, _ = up.communicate(timeout=1800)
        assert up.returncode == 0, output[-6000:]
    finally:
        stop.set()
        watcher.join(timeout=30)
        if up.poll() is None:
            up.kill()
    engine.timings.setdefault("escluster: upgrade of 4 nodes, up to all ready, 60 s held (s)", []).append(
        round(time.monotonic() - started, 1))

    final = _pods(engine)
    assert {p["image"] for p in final.values()} == {new} and all(p["ready"] for p in final.values()), final
    for pod in engine.objects(NAMESPACE, "pods"):
        if pod["metadata"]["name"] in final:  # every node's new pod came after the backup
            created = datetime.datetime.fromisoformat(pod["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
            assert created >= completed, (pod["metadata"]["name"], created, completed)
    nodes = _es(engine, "GET", "/_nodes")["nodes"].values()
    assert sorted(n["version"] for n in nodes) == [new.rsplit(":", 1)[1]] * 4
    health = _es(engine, "GET", "/_cluster/health?wait_for_status=green&timeout=60s")
    assert (health["status"], health["number_of_nodes"]) == ("green", 4), health
    assert _es(engine, "GET", "/kept/_count")["count"] == DOCS
    # One node at a time: never fewer than three ready, nor more than one node away from its old self.
    for sample in samples:
        ready = [name for name, pod in sample.items() if pod["ready"] and not pod["deleting"]]
        assert len(ready) >= 3, sample
    order = []  # the order in which the nodes came back on the new version
    for sample in samples:
        for name, pod in sorted(sample.items()):
            if pod["image"] == new and pod["ready"] and name not in order:
                order.append(name)
    assert order == ["clearml-elastic-3", "clearml-elastic-2", "clearml-elastic-1", "clearml-elastic-0"], order
