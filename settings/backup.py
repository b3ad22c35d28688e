"""Settings of the backups (`backup`): the schedule, how many sets are kept, and their volumes
(components/backup.py; README, "Backups and restore")."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from vocabulary.velero import OADP_NAMESPACE

from .base import KeyedError, Model
from .blocks import GoDuration, Resources, Volume, resources
from .external import Credential, _credential_help
from .quantities import dns1123_label, dns1123_subdomain

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


# S3 bucket names: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit.
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _endpoint(value: str) -> str:
    host, _, port = value.partition(":")
    if "/" in value or (port and not (port.isdigit() and 1 <= int(port) <= 65535)):
        raise ValueError(f"{value!r} is not host[:port]: give the S3 endpoint without a scheme or path "
                         "(the nodes always use https, verified)")
    dns1123_subdomain(host)
    return value


class ElasticsearchS3(Model):
    """An S3-compatible bucket as the Elasticsearch snapshot repository (Elasticsearch's `s3` repository
    type, client `clearml`), instead of the snapshot volume."""

    bucket: str = Field(description="The bucket the snapshots go to (it must exist).")
    endpoint: Annotated[str, AfterValidator(_endpoint)] = Field(default="s3.amazonaws.com", description=(
        "host[:port] of the S3 API, reached over https and verified against the CAs of Elasticsearch's JDK "
        "(e.g. `s3.eu-central-1.amazonaws.com`, or the route of OpenShift Data Foundation's object gateway)."))
    base_path: str | None = Field(default=None, description="Key prefix of the repository in the bucket, e.g. "
                                  "`clearml/prod` (unset: the bucket's root).")
    path_style_access: bool = Field(default=False, description="Path-style requests (`https://host/bucket/key`), "
                                    "which MinIO and Ceph's gateway usually need.")
    access_key: Credential = Field(description=_credential_help("Access key ID", "backup.elasticsearchS3.accessKey"))
    secret_key: Credential = Field(description=_credential_help("Secret access key",
                                                                "backup.elasticsearchS3.secretKey"))

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET.match(value) or ".." in value:
            raise ValueError(f"{value!r} is not an S3 bucket name: 3 to 63 lower-case letters, digits, dots and "
                             "hyphens, starting and ending with a letter or digit")
        return value

    @field_validator("base_path")
    @classmethod
    def _base_path(cls, value: str | None) -> str | None:
        if value is not None and (not value or value.startswith("/") or value.endswith("/") or "//" in value):
            raise ValueError(f"{value!r}: a key prefix such as clearml/prod, without a leading or trailing slash")
        return value


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
    elasticsearch_s3: ElasticsearchS3 | None = Field(default=None, description=(
        "Elasticsearch snapshots in an S3-compatible bucket instead of `snapshotStorage` (the nodes need "
        "Elasticsearch's repository-s3 module, which Elastic's image ships). Not with `mechanism: velero`."))
    resources: Resources = Field(default=resources("100m", "256Mi", "1", "1Gi"), description="Of the backup and "
                                 "restore Jobs.")
    deadline_seconds: int = Field(default=7200, ge=60, description="A backup Job still running after this is "
                                  "stopped (and reported failed).")

    @property
    def snapshot_volume(self) -> Volume | None:
        """The snapshot repository's volume, when backups are on and the snapshots go to no bucket."""
        return self.snapshot_storage if self.enabled and self.elasticsearch_s3 is None else None

    @property
    def by_velero(self) -> bool:
        """Backups are on and OADP (Velero) takes them, not the program's Jobs."""
        return self.enabled and self.mechanism == "velero"

    @model_validator(mode="before")
    @classmethod
    def _one_snapshot_repository(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("elasticsearchS3") is not None:
            if "snapshotStorage" in data:
                raise KeyedError("snapshotStorage", "snapshotStorage and elasticsearchS3 are two places for the "
                                 "Elasticsearch snapshots: keep one (the volume, or the bucket)")
            if data.get("mechanism") == "velero":
                raise KeyedError("elasticsearchS3", "elasticsearchS3 applies to the program's backup Jobs; with "
                                 "mechanism velero, Velero copies the snapshot volume (snapshotStorage): remove it")
        return data

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", value):
            raise ValueError(f"{value!r} is not an IANA time zone name, e.g. UTC or Europe/Berlin")
        return value
