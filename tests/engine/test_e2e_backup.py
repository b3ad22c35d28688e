"""Backup and restore on the deployment `make up` makes (the dev stack has backups on): data created
through the API server and the file server, a backup set taken by `scripts/pulumi.sh backup` (the
CronJob's own pod), the data destroyed in all three stores, `scripts/pulumi.sh restore` (writers
stopped, stores restored, writers started), and the data found again through ClearML's API and the
file server, while what was created after the backup is gone. Real pods, the real processes: the
backup program talks to the MongoDB stand-in with pymongo and to the stand-in Elasticsearch's
snapshot API over verified TLS (README, "Backups and restore")."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pymongo
import pytest

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import MONGO_NAMESPACE, NAMESPACE, api_call, clearml_client, elastic, log_lines, pulumi_sh, task_names

KEPT_LOG_LINE = "written before the backup"
FILE_PATH = "backup-e2e/kept.txt"
FILE_CONTENT = b"kept by the backup set\n"


def _file(files: str, token: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    if method == "POST":
        boundary = "clearmlopenshiftbackup"
        data = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{FILE_PATH}\"; filename=\"kept.txt\"\r\n"
                f"Content-Type: text/plain\r\n\r\n").encode() + (data or b"") + f"\r\n--{boundary}--\r\n".encode()
        url, headers = files + "/", {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    else:
        url, headers = f"{files}/{FILE_PATH}", {}
    request = urllib.request.Request(url, data=data, method=method, headers={**headers, "Authorization": f"Bearer {token}"})
    for attempt in range(40):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
        except OSError:
            if attempt == 39:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def _mongo(engine: Engine) -> pymongo.MongoClient:
    """The MongoDB stand-in, through its Service's cluster IP (routed to the host by scripts/cluster.sh)."""
    ip = engine.kubectl("get", "service", "mongodb", "-n", MONGO_NAMESPACE, "-o", "jsonpath={.spec.clusterIP}")
    return pymongo.MongoClient(f"mongodb://{ip}:27017/", serverSelectionTimeoutMS=20000)


@pytest.fixture(scope="module")
def clearml(engine: Engine, deployed):
    return clearml_client(engine)


def test_backup_then_restore_brings_back_all_three_stores(engine: Engine, clearml):
    token = clearml["token"]()
    api = clearml["api"]
    project = api_call(api, "projects.create", token, {"name": "backup-e2e", "description": "backup and restore"})["id"]
    task = api_call(api, "tasks.create", token, {"name": "kept", "project": project, "type": "training"})["id"]
    api_call(api, "events.add", token, {"task": task, "type": "log", "level": "info", "msg": KEPT_LOG_LINE,
                                     "timestamp": int(time.time() * 1000), "worker": "e2e"})
    assert _file(clearml["files"], token, "POST", FILE_CONTENT)[0] == 200
    assert KEPT_LOG_LINE in log_lines(clearml, task)

    # ---- a backup set, as `make backup` takes it ------------------------------------------------------
    started = time.monotonic()
    run = pulumi_sh(engine, "backup", timeout=1200)
    engine.timings.setdefault("e2e: backup set (scripts/pulumi.sh backup dev) (s)", []).append(
        round(time.monotonic() - started, 1))
    summary = json.loads(next(line for line in run.stdout.splitlines() if line.startswith('{"set"')))
    set_id = summary["set"]
    assert re.fullmatch(r"\d{8}T\d{6}Z", set_id)
    stores = summary["stores"]
    assert stores["mongodb"]["backend.task"] >= 1 and stores["mongodb"]["backend.project"] >= 1
    assert stores["files"]["files"] >= 1
    assert any(i.startswith("events-log") for i in stores["elasticsearch"]["indices"]), stores["elasticsearch"]
    listed = pulumi_sh(engine, "backups", timeout=600).stdout
    assert f"{set_id} complete" in listed, listed
    # The snapshot is Elasticsearch's own, in its repository on its own volume.
    snapshot = elastic(engine, "GET", f"/_snapshot/clearml-backups/{set_id.lower()}")["snapshots"][0]
    assert snapshot["state"] == "SUCCESS"

    # ---- after the backup: a new task, then every store loses data ---------------------------------
    api_call(api, "tasks.create", token, {"name": "after the backup", "project": project, "type": "training"})
    assert task_names(clearml, project) == {"kept", "after the backup"}
    mongo = _mongo(engine)
    mongo["backend"].drop_collection("project")
    mongo["backend"].drop_collection("task")
    for index in [i["index"] for i in elastic(engine, "GET", "/_cat/indices?format=json")
                  if i["index"].startswith("events-log")]:
        elastic(engine, "DELETE", f"/{index}")
    assert _file(clearml["files"], token, "DELETE")[0] == 200
    assert _file(clearml["files"], token)[0] == 404

    # ---- restore, as `make restore FROM=<set>` runs it -------------------------------------------------
    started = time.monotonic()
    restored = pulumi_sh(engine, "restore", "--from", set_id, "--yes", timeout=1800)
    engine.timings.setdefault("e2e: restore (scripts/pulumi.sh restore dev) (s)", []).append(
        round(time.monotonic() - started, 1))
    assert f"restored set {set_id}" in restored.stderr, restored.stderr[-3000:]

    # Everything written before the backup is back; what came after is gone.
    assert task_names(clearml, project) == {"kept"}
    assert KEPT_LOG_LINE in log_lines(clearml, task)
    status, content = _file(clearml["files"], clearml["token"]())
    assert (status, content) == (200, FILE_CONTENT)
    # The writers run again with their replicas, and the schedule is on again.
    for name in ("clearml-apiserver", "clearml-fileserver", "clearml-async-delete"):
        deployment = json.loads(engine.kubectl("get", "deployment", name, "-n", NAMESPACE, "-o", "json"))
        assert deployment["status"].get("availableReplicas") == deployment["spec"]["replicas"] == 1, name
    cron = json.loads(engine.kubectl("get", "cronjob", "clearml-backup", "-n", NAMESPACE, "-o", "json"))
    assert not cron["spec"].get("suspend")
    # Every backup and restore pod was admitted as restricted-v2 and ran to completion.
    for pod in json.loads(engine.kubectl("get", "pods", "-n", NAMESPACE, "-l",
                                         "app.kubernetes.io/component=backup", "-o", "json"))["items"]:
        assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2", pod["metadata"]["name"]
        assert pod["status"]["phase"] == "Succeeded", pod["metadata"]["name"]


def test_a_restore_from_a_set_that_does_not_exist_stops_nothing(engine: Engine, deployed):
    run = pulumi_sh(engine, "restore", "--from", "20000101T000000Z", "--yes", check=False, timeout=600)
    assert run.returncode == 1
    assert "no complete backup set '20000101T000000Z'" in run.stderr, run.stderr[-2000:]
    for name in ("clearml-apiserver", "clearml-fileserver"):
        assert engine.kubectl("get", "deployment", name, "-n", NAMESPACE, "-o", "jsonpath={.spec.replicas}") == "1"
