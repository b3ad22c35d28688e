"""Settings of the backups (`backup`): the schedule, how many sets are kept, and their volumes
(components/backup.py; README, "Backups and restore")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator

from vocabulary.velero import OADP_NAMESPACE

from .base import Model
from .blocks import GoDuration, Resources, Volume, resources
from .quantities import dns1123_label

# Kubernetes CronJob schedules: five fields (robfig/cron's standard parser, as the CronJob controller
# uses it) or one of its descriptors.
_CRON_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
_CRON_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
_CRON_NAMES = {"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
               "sun", "mon", "tue", "wed", "thu", "fri", "sat"}


def _cron_schedule(value: str) -> str:
    text = value.strip()
    if text in _CRON_DESCRIPTORS:
        return text
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{value!r} is not a cron schedule: five fields (minute hour day-of-month month day-of-week), "
                         "e.g. \"17 2 * * *\", or one of " + ", ".join(_CRON_DESCRIPTORS))
    for field, (what, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        for part in field.split(","):
            span, _, step = part.partition("/")
            if step and not (step.isdigit() and int(step) > 0):
                raise ValueError(f"{value!r}: the {what} step {step!r} is not a positive number")
            for bound in ([] if span in ("*", "?") else span.split("-", 1)):
                if bound.lower() in _CRON_NAMES:
                    continue
                if not bound.isdigit() or not low <= int(bound) <= high:
                    raise ValueError(f"{value!r}: the {what} {bound!r} is not a number from {low} to {high}")
    return text


class VeleroSettings(Model):
    namespace: str = Field(default=OADP_NAMESPACE, description="The namespace Velero runs in (OADP's): the "
                           "Schedule and the Backups are created there.")
    storage_location: str | None = Field(default=None, description="The Velero BackupStorageLocation the backups "
                                         "go to (OADP's DataProtectionApplication names them); unset: Velero's default.")
    ttl: GoDuration = Field(default="168h", description="How long Velero keeps each backup (a duration, e.g. 720h).")

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        return dns1123_label(value)

    @field_validator("storage_location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_label(value)


class BackupSettings(Model):
    enabled: bool = Field(default=False, description="Back up MongoDB, Elasticsearch and the file server's volume on "
                          "a schedule, as one backup set (README, \"Backups and restore\"). On in the prod stack.")
    mechanism: Literal["jobs", "velero"] = Field(default="jobs", description=(
        "`jobs`: the program's own backup Jobs and volume (`make backup`, `make restore`). `velero`: OpenShift's "
        "backup operator (OADP) takes them instead, as a Velero Schedule with the databases' hooks (README, "
        "\"Backups with OADP\")."))
    velero: VeleroSettings = Field(default=VeleroSettings(), description="Where Velero runs and keeps the backups "
                                   "(with `mechanism: velero`).")
    schedule: Annotated[str, AfterValidator(_cron_schedule)] = Field(
        default="17 2 * * *", description="When the backup CronJob runs (cron, in `timeZone`).")
    time_zone: str | None = Field(default=None, description="IANA time zone of `schedule` (unset: the "
                                  "kube-controller-manager's, usually UTC), e.g. `Europe/Berlin`.")
    keep: int = Field(default=7, ge=1, le=365, description="Complete backup sets kept; older ones are deleted "
                      "(with their Elasticsearch snapshots) after each successful backup.")
    storage: Volume = Field(default=Volume(size="50Gi"), description=(
        "Volume of the backup sets (MongoDB dumps, the file server's archive); only the backup and restore Jobs "
        "mount it."))
    snapshot_storage: Volume = Field(default=Volume(size="50Gi"), description=(
        "Volume of the Elasticsearch snapshot repository (`path.repo` of every in-cluster node; only Elasticsearch "
        "mounts it). ReadWriteMany when Elasticsearch has more than one node."))
    resources: Resources = Field(default=resources("100m", "256Mi", "1", "1Gi"), description="Of the backup and "
                                 "restore Jobs.")
    deadline_seconds: int = Field(default=7200, ge=60, description="A backup Job still running after this is "
                                  "stopped (and reported failed).")

    @property
    def by_velero(self) -> bool:
        """Backups are on and OADP (Velero) takes them, not the program's Jobs."""
        return self.enabled and self.mechanism == "velero"

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", value):
            raise ValueError(f"{value!r} is not an IANA time zone name, e.g. UTC or Europe/Berlin")
        return value
