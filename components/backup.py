"""Backups: a CronJob that writes one backup set of MongoDB, Elasticsearch and the file server's volume
(components/runtime/backup.py), the volume the sets live on, and what `scripts/backup.py restore`
turns into a restore Job (the same pod, another command).

* MongoDB: ClearML's databases dumped with pymongo in `mongodump --gzip`'s layout, from the
  connection string the ClearML pods use (in-cluster or external MongoDB alike).
* Elasticsearch (in the cluster only): a snapshot in an `fs` repository on the nodes' own snapshot
  volume (`backup.snapshotStorage`, `path.repo`), requested over verified TLS as the `elastic` user.
  An external cluster's snapshots are its operator's: the program warns and leaves them out.
* The file server's volume: mounted read-only and archived. Its claim may be ReadWriteOnce, so the
  pod runs on the file server pod's node (required pod affinity) unless the claim is ReadWriteMany.

The pod runs in the ClearML server image (it has Python and pymongo), under restricted-v2 like every
other pod, with no ServiceAccount token.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import BackupSettings, FileServerSettings
from settings.scheduling import Scheduling
from vocabulary import clearml as cv

from . import clearml_env as ce
from . import runtime, tiers
from . import workload as w
from .context import TierContext
from .upgrade_backup import BackupBeforeUpgrade

COMPONENT = tiers.BACKUP
SCRIPT = "backup.py"
SCRIPT_DIR = "/opt/clearml-backup"
ROOT_DIR = "/backups"
FILES_DIR = "/mnt/fileserver"


@dataclass(frozen=True)
class BackupArgs:
    context: TierContext
    settings: BackupSettings
    peers: ce.Peers
    fileserver: FileServerSettings  # where the file server runs (its scheduling) and how its claim is shared
    fileserver_claim: pulumi.Input[str]
    # The in-cluster Elasticsearch's snapshot repository (Elasticsearch.snapshot_repository); None: external.
    snapshot_repository: dict | None
    # The backup to take before an upgrade (components/upgrade_backup.py), as a Job of the same pod.
    before_upgrade: BackupBeforeUpgrade | None = None


class Backup(pulumi.ComponentResource):
    """Outputs: `cron_job_name`, `claim_name` (the backup sets' volume), and `upgrade_job` (the Job of the
    backup before an upgrade, what the guarded workloads roll after; None without one)."""

    cron_job_name: pulumi.Output[str]
    claim_name: pulumi.Output[str]
    upgrade_job: k8s.batch.v1.Job | None

    def __init__(self, name: str, args: BackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:backup:Backup", name, None, opts)
        ctx, spec = args.context, args.settings
        child = pulumi.ResourceOptions(parent=self)

        claim = w.claim(f"{name}-data", name=name, namespace=ctx.namespace, component=COMPONENT,
                        size=spec.storage.size, access_mode=spec.storage.access_mode,
                        storage_class=ctx.storage_class(spec.storage), retain=ctx.storage.retain_on_delete, parent=self)
        script = k8s.core.v1.ConfigMap(
            f"{name}-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-script", namespace=ctx.namespace,
                                                labels=w.labels(COMPONENT)),
            data={SCRIPT: runtime.read(SCRIPT)},
            opts=child,
        )
        elastic = args.peers.elastic
        env_vars = ce.mongo_env(args.peers) + w.env({
            "BACKUP_ROOT": ROOT_DIR,
            "BACKUP_FILES_DIR": FILES_DIR,
            "BACKUP_KEEP": str(spec.keep),
            "HOME": "/tmp",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
        })
        if args.snapshot_repository:
            if not (isinstance(elastic.username, ce.SecretRef) and elastic.password and elastic.ca):
                raise ValueError("the in-cluster Elasticsearch gives a user, a password and a CA")
            host = elastic.hosts[0]
            env_vars += w.env({
                "BACKUP_ELASTIC_URL": f"https://{host['host']}:{host['port']}",
                "BACKUP_ELASTIC_CA_FILE": cv.ELASTIC_CA_FILE,
                "BACKUP_ELASTIC_REPOSITORY": cv.SNAPSHOT_REPOSITORY,
                "BACKUP_ELASTIC_REPOSITORY_SETTINGS": json.dumps(args.snapshot_repository, sort_keys=True),
            })
            env_vars += [w.secret_env("BACKUP_ELASTIC_USERNAME", elastic.username.name, elastic.username.key),
                         w.secret_env("BACKUP_ELASTIC_PASSWORD", elastic.password.name, elastic.password.key)]
        else:
            pulumi.log.warn("backup: Elasticsearch is external, so its snapshots are not in the backup sets; "
                            "schedule them where that cluster is run", self)
        ca_volumes, ca_mounts = ce.ca_volumes(args.peers)
        account = w.service_account(name, ctx.namespace, COMPONENT, child)

        def job_spec(reason: str | None = None) -> k8s.batch.v1.JobSpecArgs:
            """A backup Job's spec; `reason` goes into the set's manifest. A failed backup is reported, not
            retried into a second half-written set."""
            main = w.container(
                name="backup",
                image=ctx.images.clearml.ref,
                pull_policy=ctx.images.pull_policy,
                resources_spec=spec.resources,
                read_only_root_filesystem=True,
                command=["python3", f"{SCRIPT_DIR}/{SCRIPT}", "backup"],
                env_vars=env_vars + (w.env({"BACKUP_REASON": reason}) if reason else []),
                mounts=[w.mount("sets", ROOT_DIR), w.mount("files", FILES_DIR, read_only=True),
                        w.mount("script", SCRIPT_DIR, read_only=True), w.mount("tmp", "/tmp"), *ca_mounts],
            )
            template = w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=_beside_the_file_server(args.fileserver),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                volumes=[
                    w.claim_volume("sets", claim.metadata.name),
                    w.claim_volume("files", args.fileserver_claim, read_only=True),
                    k8s.core.v1.VolumeArgs(name="script", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                        name=script.metadata.name, default_mode=0o444)),
                    w.empty_dir("tmp", "256Mi"),
                    *ca_volumes,
                ],
                restart_policy="Never",
                spread=None,
            )
            return k8s.batch.v1.JobSpecArgs(backoff_limit=0, active_deadline_seconds=spec.deadline_seconds,
                                             template=template)

        cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ctx.namespace, labels=w.labels(COMPONENT)),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=spec.schedule,
                time_zone=spec.time_zone,
                # One set at a time; a run missed by more than an hour (controller down) is skipped.
                concurrency_policy="Forbid",
                starting_deadline_seconds=3600,
                successful_jobs_history_limit=3,
                failed_jobs_history_limit=3,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=w.labels(COMPONENT)), spec=job_spec()),
            ),
            opts=child,
        )
        self.upgrade_job = None
        if before := args.before_upgrade:
            # Awaited like every Job (the provider waits for it to succeed); the record of the backup taken
            # before these images: kept as it is while they are configured (a change of the backup settings
            # meanwhile does not take another set), replaced by the next upgrade's.
            self.upgrade_job = k8s.batch.v1.Job(
                f"{name}-before-upgrade",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=before.job, namespace=ctx.namespace, labels=w.labels(COMPONENT),
                    annotations={cv.BACKUP_BEFORE_ANNOTATION: before.targets}),
                spec=job_spec(f"before the upgrade to {before.targets}"),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec", "metadata.annotations"]),
            )
        self.cron_job_name = cron_job.metadata.name
        self.claim_name = claim.metadata.name
        self.register_outputs({"cron_job_name": self.cron_job_name, "claim_name": self.claim_name,
                               "upgrade_job": self.upgrade_job.metadata.name if self.upgrade_job else None})


def _beside_the_file_server(fileserver: FileServerSettings) -> Scheduling:
    """The file server's placement and, unless its claim is ReadWriteMany, its node: a ReadWriteOnce
    volume is mounted by pods of one node only."""
    scheduling = fileserver.scheduling
    if fileserver.storage.access_mode == "ReadWriteMany":
        return scheduling
    affinity = dict(scheduling.affinity or {})
    pod_affinity = dict(affinity.get("podAffinity") or {})
    pod_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = [
        *pod_affinity.get("requiredDuringSchedulingIgnoredDuringExecution", []),
        {"labelSelector": {"matchLabels": w.selector_labels(tiers.FILESERVER)}, "topologyKey": "kubernetes.io/hostname"},
    ]
    affinity["podAffinity"] = pod_affinity
    return scheduling.model_copy(update={"affinity": affinity})
