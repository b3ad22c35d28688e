"""`TierContext`: what every tier of one deployment shares, built once from the settings by the server
and handed to each tier whole, instead of the namespace, images, features, storage defaults and SCC
grants repeated into every tier's arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from settings import Settings
from settings.models import FeatureSettings, ImageSettings, SccProfile, StorageSettings, Tier, Volume
from vocabulary.velero import VOLUMES_ANNOTATION


@dataclass(frozen=True)
class TierContext:
    namespace: str
    images: ImageSettings
    features: FeatureSettings = field(default_factory=FeatureSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    # The SCC each granted tier runs under beyond restricted-v2, and its identity (SccSettings.profile).
    grants: Mapping[Tier, SccProfile] = field(default_factory=dict)
    # What the workloads a backup set guards roll after (vocabulary.clearml.UPGRADE_GUARDED): the backup Job
    # taken before an upgrade, when there is one (components/upgrade_backup.py).
    rolls_after: tuple[pulumi.Input[pulumi.Resource], ...] = ()
    # Velero copies the data volumes (backup.mechanism velero): the tiers that hold data name them on their pods.
    velero_volumes: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> TierContext:
        grants = {tier: profile for tier in settings.scc.grants if (profile := settings.scc.profile(tier))}
        return cls(namespace=settings.namespace.name, images=settings.images, features=settings.features,
                   storage=settings.storage, grants=grants,
                   velero_volumes=settings.backup.by_velero)

    def scc(self, tier: Tier) -> SccProfile | None:
        """The SCC profile of `tier` (its settings key), or None under restricted-v2."""
        return self.grants.get(tier)

    def storage_class(self, volume: Volume) -> str | None:
        """The StorageClass of a tier's volume (StorageSettings.class_for)."""
        return self.storage.class_for(volume)

    def backup_volumes(self, *volumes: str) -> dict[str, str]:
        """The pod annotation naming `volumes` for Velero's file-system backup; empty unless Velero backs up."""
        return {VOLUMES_ANNOTATION: ",".join(volumes)} if self.velero_volumes and volumes else {}

    def guarded(self, opts: pulumi.ResourceOptions) -> pulumi.ResourceOptions:
        """`opts` of a workload a backup set guards: it changes only after `rolls_after`."""
        if not self.rolls_after:
            return opts
        return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=list(self.rolls_after)))
