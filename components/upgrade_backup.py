"""The backup before an upgrade: when backups are on and a workload whose data a backup set holds, or
that migrates it (vocabulary.clearml.UPGRADE_GUARDED: the API server, the file server, the in-cluster
MongoDB and Elasticsearch), is about to run another image, the program takes one backup first, as a
Job of the backup CronJob's pod (components/backup.py) or, with OADP, a Velero Backup (components/velero.py),
and those workloads roll only after it succeeded (TierContext.rolls_after). A failed backup fails `up`
before anything guarded changed.

Whether an image changes is known before any resource is registered: preflight reads the images the
workloads run (`Deployed`, from preflight's report). The backup is named after the set of images it
protects the move to (`vocabulary.clearml.upgrade_backup_job`), and stays while those are the
configured images, so later `up`s and drift checks see no change; the next upgrade replaces it.
A first deployment has nothing to back up, so it has none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi

from settings import Settings
from vocabulary.clearml import upgrade_backup_job


@dataclass(frozen=True)
class Deployed:
    """What runs now (preflight's report): the image of each guarded workload that exists, and whether the
    Job that backs up before the configured images is already there."""

    running_images: Mapping[str, str] = field(default_factory=dict)
    upgrade_job_exists: bool = False


@dataclass(frozen=True)
class BackupBeforeUpgrade:
    job: str  # the name of the Job (or Velero Backup)
    images: Mapping[str, str]  # tier -> the image it moves to (all guarded workloads)
    changes: Mapping[str, tuple[str, str]]  # tier -> (image it runs, image it is to run); empty once done

    @property
    def targets(self) -> str:
        """The images the guarded workloads move to, as the backup's annotation and reason give them."""
        return ", ".join(f"{tier} {image}" for tier, image in sorted(self.images.items()))

    def describe(self) -> str:
        moves = "; ".join(f"{tier} {old} -> {new}" for tier, (old, new) in sorted(self.changes.items()))
        return (f"upgrade: {moves}: a backup is taken first ({self.job}), and they roll after it succeeded"
                if moves else f"upgrade: the backup before these images was taken ({self.job})")


def plan(settings: Settings, deployed: Deployed | None) -> BackupBeforeUpgrade | None:
    """The backup to take before this `up`, or to keep the record of; None when backups are off, on a
    first deployment, or when preflight did not run (the offline render)."""
    wanted = settings.upgrade_guarded_images
    if not wanted or deployed is None:
        return None
    running = deployed.running_images
    changes = {tier: (running[tier], image) for tier, image in wanted.items()
               if tier in running and running[tier] != image}
    if not changes and not deployed.upgrade_job_exists:
        return None
    return BackupBeforeUpgrade(job=upgrade_backup_job(wanted), images=dict(wanted), changes=changes)


class BackupGate:
    """What the guarded workloads roll after: the backup before an upgrade, known only once the backup
    component that takes it is made (after the tiers), so a deferred Output until `taken` resolves it."""

    def __init__(self, before: BackupBeforeUpgrade | None):
        self.plan = before
        self.rolls_after: tuple[pulumi.Input[pulumi.Resource], ...] = ()
        self._resolve: Callable[[pulumi.Output[pulumi.Resource]], None] | None = None
        if before:
            # On the stack, not the component: `preview --diff` shows no diagnostics of an unchanged component.
            pulumi.log.info(before.describe())
            taken: pulumi.Output[pulumi.Resource]
            taken, self._resolve = pulumi.deferred_output()
            self.rolls_after = (taken,)

    def taken(self, backup: pulumi.Resource | None) -> None:
        """The resource that takes the backup (a Job, a Velero Backup); None when there is no plan."""
        if self._resolve is None:
            return
        if backup is None:  # cannot be: the backup components make one whenever they are given a plan
            raise AssertionError("the backup before the upgrade was not made")
        self._resolve(pulumi.Output.from_input(backup))
