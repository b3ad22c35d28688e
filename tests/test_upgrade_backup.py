"""The backup before an upgrade (components/upgrade_backup.py): when backups are on and a workload a
backup set guards is about to run another image, one backup set is taken first by a Job of the backup
pod, and the guarded workloads roll only after it. What runs now comes from preflight's reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

import preflight
from components.upgrade_backup import Deployed, plan
from preflight.cluster import api_path
from settings import settings_from_config
from tests.conftest import PROJECT, assert_restricted_v2, deploy_config, env_of, pod_templates, stack_config
from tests.fake_cluster import FakeCluster, workload
from vocabulary.clearml import UPGRADE_GUARDED, upgrade_backup_job

P = PROJECT
NS = "clearml-dev"
JOB = "clearml-backup-before-upgrade"  # the Job's Pulumi name (its object name is upgrade_backup_job's)


def _settings(stack: str = "dev", **sections: Any):
    config = stack_config(stack)
    config.update({f"{P}:{key}": json.dumps(value) for key, value in sections.items()})
    return settings_from_config(config)


def _running(cluster: FakeCluster, images: dict[str, str], namespace: str = NS, replicas: int = 1) -> None:
    """The cluster runs the guarded workloads with these images (tier -> image), at `replicas`."""
    for tier, image in images.items():
        resource, name, container = UPGRADE_GUARDED[tier]
        cluster.objects[api_path("apps", "v1", resource, name, namespace)] = workload(container, image, replicas)


# ---- the decision, on the settings and what runs (no mocks) ------------------------------------------

def test_a_first_deployment_takes_no_backup():
    assert plan(_settings(), Deployed()) is None


def test_the_offline_render_takes_no_backup():
    assert plan(_settings(), None) is None


def test_without_backups_an_upgrade_takes_none():
    settings = _settings(backup={"enabled": False})
    assert settings.upgrade_guarded_images == {}
    assert plan(settings, Deployed(running_images={"apiserver": "old:1"})) is None


def test_an_image_change_takes_a_backup_named_after_the_images_it_precedes():
    settings = _settings()
    wanted = settings.upgrade_guarded_images
    assert set(wanted) == {"apiserver", "fileserver", "mongodb", "elasticsearch"}
    running = {**wanted, "elasticsearch": "docker.elastic.co/elasticsearch/elasticsearch:8.17.0"}
    before = plan(settings, Deployed(running_images=running))
    assert before is not None
    assert before.job == upgrade_backup_job(wanted)
    assert before.changes == {"elasticsearch": (running["elasticsearch"], wanted["elasticsearch"])}
    assert "elasticsearch docker.elastic.co/elasticsearch/elasticsearch:8.17.0 ->" in before.describe()


def test_the_job_is_kept_while_its_images_are_configured_and_replaced_by_the_next_upgrade():
    settings = _settings()
    wanted = settings.upgrade_guarded_images
    kept = plan(settings, Deployed(running_images=wanted, upgrade_job_exists=True))
    assert kept is not None and kept.changes == {} and kept.job == upgrade_backup_job(wanted)
    assert plan(settings, Deployed(running_images=wanted, upgrade_job_exists=False)) is None
    newer = _settings(images={"clearml": {"tag": "9.9.9"}})
    assert upgrade_backup_job(newer.upgrade_guarded_images) != kept.job


def test_an_external_data_tier_is_not_guarded():
    settings = _settings("external-services")
    guarded = settings.upgrade_guarded_images
    for tier in ("mongodb", "elasticsearch", "redis"):
        if getattr(settings, tier).external is not None:
            assert tier not in guarded


def test_preflight_reads_what_the_guarded_workloads_run_and_whether_the_job_is_there():
    settings = _settings()
    wanted = preflight.needs(settings)
    assert wanted.upgrade_job == upgrade_backup_job(settings.upgrade_guarded_images)
    cluster = FakeCluster()
    _running(cluster, {"apiserver": "registry/clearml:2.2.0", "elasticsearch": "registry/es:8.17.0"})
    report = preflight.check(cluster, wanted)
    assert report.problems == []
    assert report.running_images == {"apiserver": "registry/clearml:2.2.0", "elasticsearch": "registry/es:8.17.0"}
    assert report.upgrade_job_exists is False
    cluster.objects[api_path("batch", "v1", "jobs", wanted.upgrade_job, NS)] = {"metadata": {"name": wanted.upgrade_job}}
    assert preflight.check(cluster, wanted).upgrade_job_exists is True


def test_a_workload_preflight_may_not_read_is_a_note_and_no_backup():
    wanted = preflight.needs(_settings())
    cluster = FakeCluster()
    resource, name, _ = UPGRADE_GUARDED["apiserver"]
    cluster.forbidden_reads.add(api_path("apps", "v1", resource, name, NS))
    report = preflight.check(cluster, wanted)
    assert "apiserver" not in report.running_images
    assert any(name in note and "forbidden" in note for note in report.notes)


# ---- what the program registers (mocks; preflight reads the fake cluster) ----------------------------

def _upgrade(mocks, tier: str = "elasticsearch", old: str = "docker.elastic.co/elasticsearch/elasticsearch:8.17.0"):
    settings = _settings()
    _running(mocks.cluster, {**settings.upgrade_guarded_images, tier: old})
    deploy_config(mocks, stack_config("dev"))
    return settings


def test_an_upgrade_registers_the_backup_job_first_and_the_guarded_workloads_after_it(mocks):
    settings = _upgrade(mocks)
    (job,) = [r for r in mocks.of_kind("Job") if r.name == JOB]
    manifest = mocks.manifest("Job", upgrade_backup_job(settings.upgrade_guarded_images))
    assert job.parent.endswith("clearml:backup:Backup::clearml-backup")
    assert set(job.ignore_changes) == {"spec", "metadata.annotations"}
    pod = manifest["spec"]["template"]["spec"]
    assert manifest["spec"]["backoffLimit"] == 0
    (main,) = pod["containers"]
    env = env_of(main)
    assert env["BACKUP_REASON"].startswith("before the upgrade to apiserver ")
    assert settings.images.elasticsearch.ref in env["BACKUP_REASON"]
    # The same pod as the CronJob's, reading the Elasticsearch password from its Secret as created.
    assert env["BACKUP_ELASTIC_PASSWORD"] == ("secret", "clearml-elastic", "password")
    cron_pod = mocks.manifest("CronJob", "clearml-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {k: v for k, v in env.items() if k != "BACKUP_REASON"} == env_of(cron_pod["containers"][0])
    assert pod["volumes"] == cron_pod["volumes"]

    after = {r.kind + "/" + r.name for r in mocks.resources
             if r.typ.startswith("kubernetes:") and any(d.endswith("::" + JOB) for d in r.dependencies)}
    assert after == {"Deployment/clearml-apiserver-deployment", "Deployment/clearml-fileserver-deployment",
                     "StatefulSet/clearml-mongodb-statefulset", "StatefulSet/clearml-elastic-statefulset"}


def test_the_backup_job_passes_restricted_v2(mocks):
    _upgrade(mocks, "apiserver", "allegroai/clearml:2.2.0")
    pods = [(name, spec) for name, spec in pod_templates(mocks.resources) if name.startswith("Job/clearml-backup-")]
    assert len(pods) == 1
    assert_restricted_v2(pods, "restricted-v2", 1000700000)


def test_a_first_deployment_registers_no_backup_job_and_nothing_waits(mocks):
    deploy_config(mocks, stack_config("dev"))
    assert not [r for r in mocks.of_kind("Job") if r.name == JOB]
    assert not [r for r in mocks.resources if any(d.endswith("::" + JOB) for d in r.dependencies)]


@pytest.mark.parametrize("stack", ["prod"])
def test_prod_guards_its_in_cluster_tiers_too(mocks, stack):
    settings = _settings(stack)
    ns = settings.namespace.name
    assert settings.mongodb.replicas == settings.elasticsearch.replicas == 3
    _running(mocks.cluster, {**settings.upgrade_guarded_images, "mongodb": "docker.io/library/mongo:7.0.14"}, ns, 3)
    deploy_config(mocks, stack_config(stack))
    assert [r for r in mocks.of_kind("Job") if r.name == JOB]
    waiting = {r.name for r in mocks.resources if any(d.endswith("::" + JOB) for d in r.dependencies)}
    assert {"clearml-mongodb-statefulset", "clearml-elastic-statefulset", "clearml-apiserver-deployment"} <= waiting
