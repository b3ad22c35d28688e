"""Elasticsearch snapshots in an S3-compatible bucket (`backup.elasticsearchS3`): the settings' rules
(model only), and the manifests of a stack that uses it: the nodes' `clearml` S3 client, its keys put
into the keystore by an init container from the Secrets (never in the environment), no snapshot volume,
and the backup program registering an `s3` repository. Admission of the init container under
restricted-v2 is tests/test_pod_security.py's `single-replica-prod-like` variant (the same program run)."""

from __future__ import annotations

import json

import pytest

from policy.policies import violations
from settings import ConfigError, settings_from_config
from settings.load import PROJECT
from tests.conftest import env_of
from tests.mocking import deploy_config, stack_config, unwrap
from tests.test_pod_security import VARIANTS

P = PROJECT
KEYS = {"accessKey": {"name": "noobaa-clearml", "key": "AWS_ACCESS_KEY_ID"},
        "secretKey": {"name": "noobaa-clearml", "key": "AWS_SECRET_ACCESS_KEY"}}


def _config(**s3) -> dict[str, str]:
    """The prod stack with its snapshots in a bucket instead of the volume."""
    config = stack_config("prod")
    backup = {k: v for k, v in json.loads(config[f"{P}:backup"]).items() if k != "snapshotStorage"}
    config[f"{P}:backup"] = json.dumps({**backup, "elasticsearchS3": {"bucket": "clearml-snapshots", **KEYS, **s3}})
    return config


def _refusal(config: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        settings_from_config(config)
    return str(raised.value)


@pytest.mark.parametrize(("given", "key", "words"), [
    ({"bucket": "Clearml_Snapshots"}, "backup.elasticsearchS3.bucket", "is not an S3 bucket name"),
    ({"bucket": "a..b"}, "backup.elasticsearchS3.bucket", "is not an S3 bucket name"),
    ({"endpoint": "https://minio.example.com"}, "backup.elasticsearchS3.endpoint", "is not host[:port]"),
    ({"endpoint": "minio.example.com:99999"}, "backup.elasticsearchS3.endpoint", "is not host[:port]"),
    ({"basePath": "/clearml"}, "backup.elasticsearchS3.basePath", "without a leading or trailing slash"),
])
def test_bad_bucket_settings_name_the_key(given, key, words):
    assert f"{P}:{key}: " in _refusal(_config(**given)) and words in _refusal(_config(**given))


def test_a_bucket_and_a_snapshot_volume_are_refused_together():
    config = _config()
    backup = json.loads(config[f"{P}:backup"])
    config[f"{P}:backup"] = json.dumps({**backup, "snapshotStorage": {"size": "10Gi"}})
    assert f"{P}:backup.snapshotStorage: snapshotStorage and elasticsearchS3 are two places" in _refusal(config)


def test_velero_keeps_the_snapshot_volume():
    config = _config()
    config[f"{P}:backup"] = json.dumps({**json.loads(config[f"{P}:backup"]), "mechanism": "velero"})
    assert f"{P}:backup.elasticsearchS3: elasticsearchS3 applies to the program's backup Jobs" in _refusal(config)


def test_several_nodes_need_no_shared_volume_with_a_bucket():
    settings = settings_from_config(_config())
    assert settings.elasticsearch.replicas == 3 and settings.backup.snapshot_volume is None


def test_the_nodes_take_the_keys_into_their_keystore_and_the_backup_registers_an_s3_repository(mocks):
    deploy_config(mocks, VARIANTS["single-replica-prod-like"]())
    es = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]
    (main,) = es["containers"]
    env = env_of(main)
    assert "path.repo" not in env
    assert {k: v for k, v in env.items() if k.startswith("s3.")} == {
        "s3.client.clearml.endpoint": "s3.openshift-storage.svc:443", "s3.client.clearml.protocol": "https",
        "s3.client.clearml.path_style_access": "true"}
    assert not [r for r in mocks.of_kind("PersistentVolumeClaim") if "snapshots" in r.name]
    assert not any(v["name"] == "snapshots" for v in es["volumes"])
    # The keys: a projected volume of the team's Secret, read only by the keystore init container, after the
    # config directory is seeded (the entrypoint then adds bootstrap.password to that keystore).
    [keys] = [v for v in es["volumes"] if v["name"] == "s3-keys"]
    assert keys["projected"]["sources"] == [
        {"secret": {"name": "noobaa-clearml", "items": [{"key": "AWS_ACCESS_KEY_ID", "path": "access_key"}]}},
        {"secret": {"name": "noobaa-clearml", "items": [{"key": "AWS_SECRET_ACCESS_KEY", "path": "secret_key"}]}}]
    names = [c["name"] for c in es["initContainers"]]
    assert names.index("s3-keystore") > names.index("seed-writable-dirs")
    [init] = [c for c in es["initContainers"] if c["name"] == "s3-keystore"]
    script = init["command"][-1]
    assert "bin/elasticsearch-keystore add-file --force s3.client.clearml.access_key /etc/elasticsearch-s3/access_key" in script
    assert "bin/elasticsearch-keystore add-file --force s3.client.clearml.secret_key /etc/elasticsearch-s3/secret_key" in script
    assert {m["mountPath"] for m in init["volumeMounts"]} >= {"/usr/share/elasticsearch/config", "/etc/elasticsearch-s3"}
    assert not [m for m in main["volumeMounts"] if m["name"] == "s3-keys"]
    assert init["securityContext"]["readOnlyRootFilesystem"] is True
    # The backup program registers the bucket as the repository.
    [cron] = mocks.of_kind("CronJob")
    pod = unwrap(cron.inputs)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert json.loads(env_of(pod["containers"][0])["BACKUP_ELASTIC_REPOSITORY_SETTINGS"]) == {
        "type": "s3", "settings": {"bucket": "clearml-snapshots", "client": "clearml", "compress": True,
                                   "base_path": "clearml/prod"}}
    # Every rule of the policy pack holds for these manifests too.
    found = {r.name: violations(r.typ, unwrap(r.inputs)) for r in mocks.resources if not r.read}
    assert {k: v for k, v in found.items() if v} == {}
