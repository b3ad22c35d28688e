"""Backups: the settings (model only), the manifests the program makes for them (under the mocks), and
the backup program itself (components/runtime/backup.py) run here on fakes of pymongo's objects and on
real files. The engine test (tests/engine/test_e2e_backup.py) runs backup and restore on the cluster."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path
from typing import Any

import bson
import pytest
from pydantic import ValidationError

from components.runtime import backup as program
from settings import ConfigError, settings_from_config
from settings.models import BackupSettings
from tests.conftest import PROJECT, containers, deploy_config, env_of, pod_templates, stack_config

P = PROJECT


def _config(stack: str = "dev", **sections: Any) -> dict[str, str]:
    config = stack_config(stack)
    config.update({f"{P}:{key}": json.dumps(value) for key, value in sections.items()})
    return config


# ---- settings -------------------------------------------------------------------------------------

def test_defaults_are_off_with_a_nightly_schedule_and_a_week_kept():
    spec = BackupSettings()
    assert (spec.enabled, spec.schedule, spec.keep, spec.storage.access_mode) == (False, "17 2 * * *", 7, "ReadWriteOnce")


@pytest.mark.parametrize("schedule, message", [
    ("* * *", "five fields"),
    ("61 2 * * *", "minute '61'"),
    ("0 24 * * *", "hour '24'"),
    ("*/0 * * * *", "step '0'"),
    ("0 2 * * funday", "day of week 'funday'"),
])
def test_a_bad_schedule_names_the_key(schedule, message):
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(backup={"enabled": True, "schedule": schedule}))
    assert "backup.schedule" in str(err.value) and message in str(err.value)


@pytest.mark.parametrize("schedule", ["17 2 * * *", "@daily", "0 */6 * * mon-fri", "30 1 1,15 * *"])
def test_good_schedules(schedule):
    assert BackupSettings(schedule=schedule).schedule == schedule


def test_keep_must_be_positive():
    with pytest.raises(ValidationError):
        BackupSettings(keep=0)


def test_a_file_server_volume_only_one_pod_may_mount_is_refused():
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(backup={"enabled": True}, fileserver={"storage": {"accessMode": "ReadWriteOncePod"}}))
    assert "backup.enabled" in str(err.value) and "ReadWriteOncePod" in str(err.value)


def test_a_snapshot_volume_several_nodes_cannot_share_is_refused():
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config("prod", backup={"enabled": True, "snapshotStorage": {"size": "10Gi"}}))
    assert "backup.snapshotStorage.accessMode" in str(err.value) and "ReadWriteMany" in str(err.value)


# ---- manifests --------------------------------------------------------------------------------------

def _backup_pod(mocks) -> tuple[dict[str, Any], dict[str, Any]]:
    cron = mocks.manifest("CronJob", "clearml-backup")
    return cron, cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_the_dev_stack_backs_up_nightly_one_set_at_a_time(mocks):
    deploy_config(mocks, stack_config("dev"))
    cron, pod = _backup_pod(mocks)
    assert cron["spec"]["schedule"] == "17 2 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["jobTemplate"]["spec"]["backoffLimit"] == 0
    assert cron["spec"]["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 7200
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    (main,) = pod["containers"]
    assert main["command"] == ["python3", "/opt/clearml-backup/backup.py", "backup"]
    env = env_of(main)
    assert env["BACKUP_KEEP"] == "3"
    # Credentials only from Secrets; Elasticsearch over verified TLS with the CA mounted.
    for name in ("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", "BACKUP_ELASTIC_USERNAME", "BACKUP_ELASTIC_PASSWORD"):
        assert env[name][0] == "secret", name
    assert env["BACKUP_ELASTIC_PASSWORD"] == ("secret", "clearml-elastic", "password")
    assert env["BACKUP_ELASTIC_URL"] == "https://clearml-elastic:9200"
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    assert env["BACKUP_ELASTIC_CA_FILE"].rsplit("/", 1)[0] in mounts
    assert mounts["/mnt/fileserver"]["readOnly"] is True
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["files"]["persistentVolumeClaim"] == {"claimName": "clearml-fileserver-data", "readOnly": True}
    assert volumes["sets"]["persistentVolumeClaim"]["claimName"] == "clearml-backup"
    script = mocks.manifest("ConfigMap", "clearml-backup-script")["data"]["backup.py"]
    assert script == (Path(program.__file__)).read_text()


def test_the_backup_pod_runs_beside_a_read_write_once_file_server_volume(mocks):
    deploy_config(mocks, stack_config("dev"))
    _, pod = _backup_pod(mocks)
    (term,) = pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    fileserver = mocks.manifest("Deployment", "clearml-fileserver")
    assert term["labelSelector"]["matchLabels"].items() <= fileserver["spec"]["template"]["metadata"]["labels"].items()


def test_a_shared_file_server_volume_needs_no_affinity(mocks):
    deploy_config(mocks, stack_config("prod"))
    _, pod = _backup_pod(mocks)
    assert "podAffinity" not in (pod.get("affinity") or {})


def test_elasticsearch_keeps_its_snapshots_on_its_own_volume(mocks):
    deploy_config(mocks, stack_config("prod"))
    es = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]
    (main,) = es["containers"]
    assert env_of(main)["path.repo"] == "/usr/share/elasticsearch/snapshots"
    assert {"name": "snapshots", "mountPath": "/usr/share/elasticsearch/snapshots", "readOnly": False} in main["volumeMounts"]
    claim = mocks.manifest("PersistentVolumeClaim", "clearml-elastic-snapshots")["spec"]
    assert claim["accessModes"] == ["ReadWriteMany"] and claim["storageClassName"] == "efs-sc"
    assert claim["resources"]["requests"]["storage"] == "300Gi"
    # The backup pod never mounts it: Elasticsearch writes its snapshots itself.
    _, pod = _backup_pod(mocks)
    assert not any(v["name"] == "snapshots" for v in pod["volumes"])
    assert json.loads(env_of(pod["containers"][0])["BACKUP_ELASTIC_REPOSITORY_SETTINGS"]) == {
        "type": "fs", "settings": {"location": "/usr/share/elasticsearch/snapshots", "compress": True}}


def test_both_backup_volumes_are_kept_on_destroy(mocks):
    deploy_config(mocks, stack_config("prod"))
    for name in ("clearml-backup", "clearml-elastic-snapshots"):
        assert mocks.one("PersistentVolumeClaim", name).retain_on_delete, name


def test_an_external_elasticsearch_is_left_out_with_a_warning(mocks):
    deploy_config(mocks, stack_config("external-services") | {f"{P}:backup": json.dumps({"enabled": True})})
    _, pod = _backup_pod(mocks)
    env = env_of(pod["containers"][0])
    assert "BACKUP_ELASTIC_URL" not in env and "CLEARML_MONGODB_SERVICE_CONNECTION_STRING" in env


def test_without_backups_nothing_is_made(mocks):
    deploy_config(mocks, _config(backup={"enabled": False}))
    assert not mocks.of_kind("CronJob")
    es = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]
    assert "path.repo" not in env_of(es["containers"][0])
    assert all(name != "CronJob/clearml-backup" for name, _ in pod_templates(mocks.resources))


def test_the_backup_pod_is_read_only_and_bounded(mocks):
    deploy_config(mocks, stack_config("dev"))
    _, pod = _backup_pod(mocks)
    for c in containers(pod):
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert set(c["resources"]["limits"]) == {"cpu", "memory"}


# ---- the backup program -----------------------------------------------------------------------------

@pytest.mark.parametrize("found, keep, kept, removed", [
    ([("3", True), ("2", True), ("1", True)], 2, ["3", "2"], ["1"]),
    # A failed run (incomplete, older than a complete one) goes; the newest, maybe running, stays.
    ([("4", False), ("3", True), ("2", False), ("1", True)], 5, ["3", "1"], ["2"]),
    ([("2", False), ("1", False)], 3, [], []),
    ([("3", True), ("2", True), ("1", False)], 1, ["3"], ["2", "1"]),
])
def test_retention(found, keep, kept, removed):
    assert program.retention(found, keep) == (kept, removed)


def test_sets_are_listed_newest_first_and_complete_only_with_a_manifest(tmp_path):
    for set_id, done in (("20261201T021700Z", True), ("20261202T021700Z", False), ("20261130T021700Z", True)):
        (tmp_path / "sets" / set_id).mkdir(parents=True)
        if done:
            (tmp_path / "sets" / set_id / "manifest.json").write_text("{}")
    assert program.sets(tmp_path) == [("20261202T021700Z", False), ("20261201T021700Z", True), ("20261130T021700Z", True)]
    assert program.resolve(tmp_path, "latest") == "20261201T021700Z"
    with pytest.raises(SystemExit, match="complete sets: 20261201T021700Z, 20261130T021700Z"):
        program.resolve(tmp_path, "20261202T021700Z")


class FakeCollection:
    def __init__(self, docs: list[dict[str, Any]] | None = None, indexes: list[dict[str, Any]] | None = None):
        self.docs = list(docs or [])
        self.indexes = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}, *(indexes or [])]

    def find_raw_batches(self):
        for start in range(0, len(self.docs), 2):  # batches of two, as a cursor returns several
            yield b"".join(bson.encode(d) for d in self.docs[start:start + 2])

    def list_indexes(self):
        return iter(self.indexes)

    def insert_many(self, docs, ordered=True):
        self.docs += docs

    def create_index(self, keys, **options):
        self.indexes.append({"v": 2, "key": dict(keys), **options})


class FakeDatabase(dict):
    def __missing__(self, name):
        self[name] = FakeCollection()
        return self[name]

    def list_collection_names(self):
        return list(self)

    def drop_collection(self, name):
        del self[name]


class FakeClient(dict):
    def __missing__(self, name):
        self[name] = FakeDatabase()
        return self[name]


def test_mongodb_dump_and_restore_round_trip_in_mongodumps_layout(tmp_path):
    source = FakeClient()
    tasks = [{"_id": f"t{i}", "name": f"task {i}", "company": "c", "created": i} for i in range(5)]
    source["backend"]["task"] = FakeCollection(tasks, [{"v": 2, "key": {"company": 1, "name": 1}, "name": "company_1_name_1",
                                                       "unique": True}])
    source["auth"]["user"] = FakeCollection([{"_id": "u1", "name": "admin"}])
    source["backend"]["system.views"] = FakeCollection([{"_id": "x"}])
    counts = program.mongo_dump(source, "mongodb://u:p@mongo:27017/?authSource=admin", tmp_path)
    assert counts == {"backend.task": 5, "auth.user": 1}
    # mongodump --gzip's files: concatenated BSON documents and the collection's metadata.
    with gzip.open(tmp_path / "backend" / "task.bson.gz", "rb") as f:
        assert list(bson.decode_file_iter(f)) == tasks
    with gzip.open(tmp_path / "backend" / "task.metadata.json.gz", "rt") as f:
        metadata = json.loads(f.read())
    assert metadata["collectionName"] == "task" and metadata["indexes"][1]["unique"] is True

    target = FakeClient()
    target["backend"]["stale"] = FakeCollection([{"_id": "gone"}])  # what the set does not have goes
    assert program.mongo_restore(target, tmp_path) == {"backend.task": 5, "auth.user": 1}
    assert set(target["backend"]) == {"task"} and target["backend"]["task"].docs == tasks
    assert {"key": {"company": 1, "name": 1}, "name": "company_1_name_1", "unique": True, "v": 2} in target["backend"]["task"].indexes


def test_the_connection_strings_own_database_is_dumped_too():
    assert program._databases("mongodb://h:27017/clearml?tls=true") == ["auth", "backend", "clearml"]
    assert program._databases("mongodb://h1,h2/") == ["auth", "backend"]


def test_the_file_server_volume_round_trip(tmp_path):
    files = tmp_path / "files"
    (files / "project" / "task.1").mkdir(parents=True)
    (files / "project" / "task.1" / "model.bin").write_bytes(b"\x00weights")
    (files / "top.txt").write_text("hello")
    (files / "lost+found").mkdir()
    archive = tmp_path / "files.tar.gz"
    assert program.archive_files(files, archive) == 2
    (files / "top.txt").write_text("changed")
    (files / "new-after-backup.txt").write_text("goes")
    assert program.restore_files(archive, files) == 2
    assert sorted(p.relative_to(files).as_posix() for p in files.rglob("*") if p.is_file()) == [
        "project/task.1/model.bin", "top.txt"]
    assert (files / "top.txt").read_text() == "hello" and (files / "lost+found").is_dir()


def test_the_restore_works_without_tarfiles_data_filter(tmp_path, monkeypatch):
    """Python before 3.11.4 (Debian bookworm's 3.11.2, the stand-in image's) has no extraction filters."""
    files = tmp_path / "files"
    (files / "d").mkdir(parents=True)
    (files / "d" / "f.txt").write_text("x")
    program.archive_files(files, tmp_path / "a.tar.gz")
    monkeypatch.delattr(tarfile, "data_filter")
    original = tarfile.TarFile.extractall

    def old_extractall(self, path=".", members=None, *, numeric_owner=False, **unexpected):
        assert not unexpected, f"Python 3.11.2's extractall takes no {sorted(unexpected)}"
        return original(self, path, members, numeric_owner=numeric_owner)

    monkeypatch.setattr(tarfile.TarFile, "extractall", old_extractall)
    assert program.restore_files(tmp_path / "a.tar.gz", files) == 1


@pytest.mark.parametrize("kind", ["symlink", "parent"])
def test_an_archive_reaching_outside_the_volume_is_refused(tmp_path, kind):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"x"
        member = tarfile.TarInfo("../escape.txt" if kind == "parent" else "escape.txt")
        if kind == "symlink":
            member.type, member.linkname = tarfile.SYMTYPE, "/etc/passwd"
        member.size = len(data) if kind == "parent" else 0
        tar.addfile(member, io.BytesIO(data) if kind == "parent" else None)
    (tmp_path / "files").mkdir()
    with pytest.raises(SystemExit, match="refusing"):
        program.restore_files(archive, tmp_path / "files")
    assert not (tmp_path / "escape.txt").exists()
