"""Backups by OpenShift's backup operator (OADP, which runs Velero), with `backup.mechanism: velero`:
a Velero `Schedule` in Velero's namespace that backs up the stack's namespace, with the hooks the data
tiers expose (`BackupHook`), and, before an upgrade, one Velero `Backup` of the same spec that the
guarded workloads roll after (components/upgrade_backup.py).

* Volumes by Velero's file-system backup (Kopia), opted in per pod: the tiers that hold data annotate
  their pods with the volumes to copy (`vocabulary.velero.VOLUMES_ANNOTATION`): MongoDB's and the file server's
  `data`, Elasticsearch's `snapshots` (never its data directory, which is not a backup while it runs).
  No CSI snapshot is asked for (`snapshotVolumes: false`): it depends on the storage; OADP can add it.
* Hooks: MongoDB is locked for writes around the copy (`db.fsyncLock()` / `db.fsyncUnlock()`, MongoDB's
  procedure for file-system backups); the first Elasticsearch node takes a snapshot into its snapshot
  volume first (components/runtime/elasticsearch_snapshot.sh). A failing pre-hook fails the backup.
* Retention is Velero's `ttl` (`backup.velero.ttl`); `backup.keep` bounds the Elasticsearch snapshots
  kept on the snapshot volume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from program.transforms import WAIT_FOR
from settings.backup import BackupSettings
from vocabulary.clearml import BACKUP_BEFORE_ANNOTATION, SERVER_NAME
from vocabulary.velero import API_VERSION

from . import tiers
from . import workload as w
from .upgrade_backup import BackupBeforeUpgrade

HOOK_TIMEOUT = "30m"


@dataclass(frozen=True)
class BackupHook:
    """What Velero runs in a tier's pods around copying their volumes (a Velero `BackupResourceHookSpec`):
    `pre` before, `post` after, in `container` of the pods `selector` matches."""

    name: str
    container: str
    selector: Mapping[str, str]
    pre: Sequence[Sequence[str]] = ()
    post: Sequence[Sequence[str]] = ()

    def spec(self, namespace: str) -> dict[str, Any]:
        def exec_hooks(commands: Sequence[Sequence[str]]) -> list[dict[str, Any]]:
            return [{"exec": {"container": self.container, "command": list(c), "onError": "Fail",
                              "timeout": HOOK_TIMEOUT}} for c in commands]

        out: dict[str, Any] = {"name": self.name, "includedNamespaces": [namespace],
                               "labelSelector": {"matchLabels": dict(self.selector)}}
        if self.pre:
            out["pre"] = exec_hooks(self.pre)
        if self.post:
            out["post"] = exec_hooks(self.post)
        return out


def backup_spec(namespace: str, settings: BackupSettings, hooks: Sequence[BackupHook]) -> dict[str, Any]:
    """The Velero `BackupSpec` of the stack's namespace (the Schedule's template and the Backup before an upgrade)."""
    spec: dict[str, Any] = {
        "includedNamespaces": [namespace],
        "ttl": settings.velero.ttl,
        "snapshotVolumes": False,
        "defaultVolumesToFsBackup": False,  # only the volumes the pods name (vocabulary.velero.VOLUMES_ANNOTATION)
        "hooks": {"resources": [hook.spec(namespace) for hook in hooks]},
    }
    if settings.velero.storage_location:
        spec["storageLocation"] = settings.velero.storage_location
    return spec


@dataclass(frozen=True)
class VeleroBackupArgs:
    namespace: str  # the stack's
    settings: BackupSettings
    hooks: Sequence[BackupHook] = field(default_factory=tuple)
    before_upgrade: BackupBeforeUpgrade | None = None


class VeleroBackup(pulumi.ComponentResource):
    """Outputs: `schedule` (its name, in `backup.velero.namespace`), `upgrade_backup` (the Velero Backup
    taken before an upgrade, what the guarded workloads roll after; None without one)."""

    schedule: str
    upgrade_backup: k8s.apiextensions.CustomResource | None

    def __init__(self, name: str, args: VeleroBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:velero:VeleroBackup", name, None, opts)
        spec = args.settings
        child = pulumi.ResourceOptions(parent=self)
        template = backup_spec(args.namespace, spec, args.hooks)
        # One Schedule per stack namespace, in Velero's namespace: named after the stack's.
        self.schedule = f"{SERVER_NAME}-{args.namespace}"
        schedule = f"CRON_TZ={spec.time_zone} {spec.schedule}" if spec.time_zone else spec.schedule
        k8s.apiextensions.CustomResource(
            f"{name}-schedule",
            api_version=API_VERSION,
            kind="Schedule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=self.schedule, namespace=spec.velero.namespace,
                                                labels=w.labels(tiers.BACKUP)),
            spec={"schedule": schedule, "template": template, "useOwnerReferencesInBackup": False},
            opts=child,
        )
        self.upgrade_backup = None
        if before := args.before_upgrade:
            # Awaited until Velero reports it Completed (the provider's waitFor); kept as the record while
            # these images are configured, replaced by the next upgrade's (as the Job of `jobs`).
            self.upgrade_backup = k8s.apiextensions.CustomResource(
                f"{name}-before-upgrade",
                api_version=API_VERSION,
                kind="Backup",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=before.job, namespace=spec.velero.namespace, labels=w.labels(tiers.BACKUP),
                    annotations={WAIT_FOR: "jsonpath={.status.phase}=Completed", BACKUP_BEFORE_ANNOTATION: before.targets}),
                spec=template,
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["spec", "metadata.annotations"]),
            )
        self.register_outputs({"schedule": self.schedule, "upgrade_backup": before.job if before else None})
