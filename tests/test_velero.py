"""Backups by OADP (Velero) with `backup.mechanism: velero` (components/velero.py): the settings, the
Schedule and the Backup before an upgrade as the program registers them (validated against Velero's own
CRDs), the volumes the pods opt in, the hooks the data tiers expose, and the Elasticsearch snapshot hook
run as Velero runs it (`sh -c`), with `curl` replaced by a stub that answers as Elasticsearch would."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

import preflight
from components.runtime import read
from preflight.cluster import api_path
from settings import ConfigError, settings_from_config
from tests import crds
from tests.conftest import PROJECT, deploy_config, stack_config
from tests.fake_cluster import FakeCluster
from tests.test_upgrade_backup import _running
from vocabulary.clearml import upgrade_backup_job
from vocabulary.velero import VOLUMES_ANNOTATION

P = PROJECT
VELERO = {"enabled": True, "mechanism": "velero", "keep": 4,
          "velero": {"namespace": "openshift-adp", "storageLocation": "default-s3", "ttl": "720h"}}


def _config(stack: str = "prod", **sections: Any) -> dict[str, str]:
    config = stack_config(stack)
    backup = {**json.loads(config.get(f"{P}:backup", "{}")), **VELERO}
    config[f"{P}:backup"] = json.dumps(backup)
    config.update({f"{P}:{key}": json.dumps(value) for key, value in sections.items()})
    return config


def _pod_annotations(mocks, kind: str, name: str) -> dict[str, str]:
    return mocks.manifest(kind, name)["spec"]["template"]["metadata"].get("annotations") or {}


# ---- settings ----------------------------------------------------------------------------------------

def test_jobs_are_the_default_mechanism():
    assert settings_from_config(stack_config("prod")).backup.mechanism == "jobs"


@pytest.mark.parametrize(("section", "key", "message"), [
    ({"mechanism": "restic"}, "backup.mechanism", "'jobs' or 'velero'"),
    ({"velero": {"ttl": "7d"}}, "backup.velero.ttl", "is not a duration"),
    ({"velero": {"namespace": "OpenShift_ADP"}}, "backup.velero.namespace", "OpenShift_ADP"),
])
def test_a_bad_velero_setting_names_its_key(section, key, message):
    config = stack_config("prod")
    config[f"{P}:backup"] = json.dumps({"enabled": True, **section})
    with pytest.raises(ConfigError) as err:
        settings_from_config(config)
    assert f"{P}:{key}" in str(err.value) and message in str(err.value)


def test_velero_copies_a_file_server_volume_only_one_pod_may_mount():
    settings = settings_from_config(_config(fileserver={"storage": {"accessMode": "ReadWriteOncePod"}}))
    assert settings.backup.mechanism == "velero"


# ---- what the program registers ------------------------------------------------------------------------

def test_a_schedule_in_velero_namespace_backs_up_the_stack_namespace_with_the_hooks(mocks):
    deploy_config(mocks, _config())
    (schedule,) = mocks.of_kind("Schedule")
    manifest = mocks.manifest("Schedule", "clearml-clearml")
    assert crds.validate(manifest) == []
    assert manifest["metadata"]["namespace"] == "openshift-adp"
    assert schedule.parent.endswith("clearml:velero:VeleroBackup::clearml-backup")
    spec = manifest["spec"]
    assert spec["schedule"] == "17 2 * * *" and spec["useOwnerReferencesInBackup"] is False
    template = spec["template"]
    assert template["includedNamespaces"] == ["clearml"]
    assert (template["ttl"], template["storageLocation"]) == ("720h", "default-s3")
    assert template["snapshotVolumes"] is False and template["defaultVolumesToFsBackup"] is False
    hooks = {h["name"]: h for h in template["hooks"]["resources"]}
    assert set(hooks) == {"clearml-mongodb-fsync-lock", "clearml-elastic-snapshot"}
    mongo = hooks["clearml-mongodb-fsync-lock"]
    assert mongo["labelSelector"]["matchLabels"] == {"app.kubernetes.io/name": "clearml-mongodb",
                                                     "app.kubernetes.io/part-of": "clearml"}
    (pre,), (post,) = mongo["pre"], mongo["post"]
    assert pre["exec"]["container"] == "mongodb" and pre["exec"]["onError"] == "Fail"
    assert pre["exec"]["command"][-1].endswith("printjson(admin.fsyncLock())")
    assert post["exec"]["command"][-1].endswith("printjson(admin.fsyncUnlock())")
    assert "/etc/mongodb-root/password" in pre["exec"]["command"][-1]  # read in the pod, not written here
    elastic = hooks["clearml-elastic-snapshot"]
    assert elastic["labelSelector"]["matchLabels"] == {"statefulset.kubernetes.io/pod-name": "clearml-elastic-0"}
    command = elastic["pre"][0]["exec"]["command"]
    assert command[:2] == ["sh", "-c"] and command[2] == read("elasticsearch_snapshot.sh")
    assert command[3:] == ["snapshot", "clearml-elastic", "9200", "/usr/share/elasticsearch/config/certs/ca.crt",
                           "/etc/elasticsearch-password/password", "clearml-backups",
                           "/usr/share/elasticsearch/snapshots", "4"]
    assert "post" not in elastic
    # Velero replaces the program's own Jobs and their volume; Elasticsearch keeps its snapshot volume.
    assert not mocks.of_kind("CronJob") and not [c for c in mocks.of_kind("PersistentVolumeClaim")
                                                   if c.name == "clearml-backup-data"]
    assert [c for c in mocks.of_kind("PersistentVolumeClaim") if c.name == "clearml-elastic-snapshots"]


def test_the_pods_name_the_volumes_velero_copies_and_never_elasticsearch_data(mocks):
    deploy_config(mocks, _config())
    assert _pod_annotations(mocks, "StatefulSet", "clearml-mongodb")[VOLUMES_ANNOTATION] == "data"
    assert _pod_annotations(mocks, "Deployment", "clearml-fileserver")[VOLUMES_ANNOTATION] == "data"
    assert _pod_annotations(mocks, "StatefulSet", "clearml-elastic")[VOLUMES_ANNOTATION] == "snapshots"
    for kind, name in (("Deployment", "clearml-apiserver"), ("StatefulSet", "clearml-redis")):
        assert VOLUMES_ANNOTATION not in _pod_annotations(mocks, kind, name), name


def test_with_the_program_s_jobs_no_pod_names_volumes_for_velero(mocks):
    deploy_config(mocks, stack_config("prod"))
    assert not mocks.of_kind("Schedule")
    for kind, name in (("StatefulSet", "clearml-mongodb"), ("Deployment", "clearml-fileserver"),
                       ("StatefulSet", "clearml-elastic")):
        assert VOLUMES_ANNOTATION not in _pod_annotations(mocks, kind, name), name


def test_a_time_zone_goes_into_the_schedule(mocks):
    config = _config()
    config[f"{P}:backup"] = json.dumps({**json.loads(config[f"{P}:backup"]), "timeZone": "Europe/Berlin"})
    deploy_config(mocks, config)
    assert mocks.manifest("Schedule", "clearml-clearml")["spec"]["schedule"] == "CRON_TZ=Europe/Berlin 17 2 * * *"


def test_before_an_upgrade_a_velero_backup_that_the_guarded_workloads_roll_after(mocks):
    settings = settings_from_config(_config())
    _running(mocks.cluster, {**settings.upgrade_guarded_images, "elasticsearch": "registry/es:8.17.0"}, "clearml", 3)
    deploy_config(mocks, _config())
    name = upgrade_backup_job(settings.upgrade_guarded_images)
    manifest = mocks.manifest("Backup", name)
    assert crds.validate(manifest) == []
    assert manifest["metadata"]["namespace"] == "openshift-adp"
    assert manifest["metadata"]["annotations"]["pulumi.com/waitFor"] == "jsonpath={.status.phase}=Completed"
    assert manifest["spec"] == mocks.manifest("Schedule", "clearml-clearml")["spec"]["template"]
    after = {r.name for r in mocks.resources if any(d.endswith("::clearml-backup-before-upgrade") for d in r.dependencies)}
    assert {"clearml-mongodb-statefulset", "clearml-elastic-statefulset", "clearml-apiserver-deployment",
            "clearml-fileserver-deployment"} <= after
    assert not mocks.of_kind("Job") or all(j.name != "clearml-backup-before-upgrade" for j in mocks.of_kind("Job"))


# ---- preflight -------------------------------------------------------------------------------------------

def test_preflight_needs_velero_served_and_access_in_its_namespace():
    settings = settings_from_config(_config())
    wanted = preflight.needs(settings)
    assert {("velero.io", "schedules"), ("velero.io", "backups")} <= {(a.group, a.resource) for a in wanted.apis}
    velero_access = [a for a in wanted.access if a.group == "velero.io"]
    assert velero_access and all(a.namespace == "openshift-adp" for a in velero_access)
    assert ("batch", "cronjobs") not in {(a.group, a.resource) for a in wanted.access}
    cluster = FakeCluster()
    del cluster.served["velero.io/v1"]
    problems = preflight.check(cluster, wanted).problems
    assert any("velero.io/v1" in p and "OADP Operator" in p and f"{P}:backup.mechanism" in p for p in problems), problems


def test_preflight_reads_the_velero_backup_before_an_upgrade():
    settings = settings_from_config(_config())
    wanted = preflight.needs(settings)
    cluster = FakeCluster()
    assert preflight.check(cluster, wanted).upgrade_job_exists is False
    cluster.objects[api_path("velero.io", "v1", "backups", wanted.upgrade_job, "openshift-adp")] = {"metadata": {}}
    assert preflight.check(cluster, wanted).upgrade_job_exists is True


# ---- the Elasticsearch snapshot hook, run -------------------------------------------------------------------

STUB = """#!/bin/sh
# curl stand-in: records the method, URL and body, and answers the snapshot list from $SNAPSHOTS.
cat >/dev/null
method=GET data=""
while [ $# -gt 0 ]; do
  case $1 in
    -X) method=$2; shift ;;
    -d) data=$2; shift ;;
    https://*) url=$1 ;;
  esac
  shift
done
printf '%s %s %s\\n' "$method" "$url" "$data" >>"$CALLS"
case $url in
  */_cat/snapshots/*) cat "$SNAPSHOTS" ;;
esac
case $url in
  *wait_for_completion*) [ -z "${FAIL_ON_SNAPSHOT:-}" ] || exit 22 ;;
esac
exit 0
"""


def _hook(tmp_path: Path, snapshots: list[str], fail: bool = False) -> tuple[int, list[str], str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(STUB)
    (bin_dir / "curl").chmod(0o755)
    (tmp_path / "snapshots").write_text("".join(f"{s}\n" for s in snapshots))
    (tmp_path / "password").write_text("never-in-argv")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(tmp_path / "calls"),
           "SNAPSHOTS": str(tmp_path / "snapshots")}
    if fail:
        env["FAIL_ON_SNAPSHOT"] = "1"
    command = ["sh", "-c", read("elasticsearch_snapshot.sh"), "snapshot", "clearml-elastic", "9200", "/ca.crt",
               str(tmp_path / "password"), "clearml-backups", "/usr/share/elasticsearch/snapshots", "2"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return result.returncode, calls, result.stdout


def test_the_snapshot_hook_takes_a_snapshot_and_keeps_the_newest(tmp_path):
    status, calls, printed = _hook(tmp_path, ["velero-1", "velero-2", "velero-3", "velero-4"])
    assert status == 0, printed
    base = "https://clearml-elastic:9200"
    assert calls[0] == (f'PUT {base}/_snapshot/clearml-backups {{"type": "fs", "settings": '
                        '{"location": "/usr/share/elasticsearch/snapshots"}}')
    method, url, body = calls[1].split(" ", 2)
    assert method == "PUT" and url.startswith(f"{base}/_snapshot/clearml-backups/velero-")
    assert url.endswith("?wait_for_completion=true") and json.loads(body) == {"indices": "*,-.*",
                                                                              "include_global_state": False}
    assert calls[2] == f"GET {base}/_cat/snapshots/clearml-backups?h=id&s=start_epoch "
    # The list is oldest first: all but the newest two go.
    assert calls[3:] == [f"DELETE {base}/_snapshot/clearml-backups/velero-1 ",
                         f"DELETE {base}/_snapshot/clearml-backups/velero-2 "]
    assert "never-in-argv" not in " ".join(calls)


def test_a_failed_snapshot_fails_the_hook_and_deletes_nothing(tmp_path):
    status, calls, _ = _hook(tmp_path, ["velero-1", "velero-2", "velero-3"], fail=True)
    assert status != 0
    assert not [c for c in calls if c.startswith("DELETE")]
