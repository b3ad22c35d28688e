"""The building blocks of the settings models: an image reference, requests and limits, a volume claim.
Every section (settings/models.py, settings/backup.py, settings/monitoring.py) builds on these."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from vocabulary import images

from .base import Model
from .quantities import Cpu, Memory, StorageSize, dns1123_subdomain, parse_quantity

_GO_DURATION = re.compile(r"^(?:([0-9]+(?:\.[0-9]+)?)(h|m|s|ms))+$")
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")


def go_duration_seconds(value: str) -> float:
    """Seconds in a Go duration such as `2160h` or `1h30m` (cert-manager's duration format)."""
    if not _GO_DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration like 2160h, 90m or 1h30m")
    factor = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * factor[u] for n, u in _GO_PART.findall(value))


GoDuration = Annotated[str, AfterValidator(lambda v: (go_duration_seconds(v), v)[1])]


class Image(Model):
    repository: str = Field(description="Image repository including the registry, without tag.")
    tag: str = Field(description="Pinned image tag (never `latest`).")
    digest: str | None = Field(
        default=None, description="Optional `sha256:` digest; when set the image is pulled by digest."
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not images.REPOSITORY.match(value):
            raise ValueError(f"{value!r} is not an image repository (example: docker.io/library/mongo)")
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not images.TAG.match(value):
            raise ValueError(f"{value!r} is not a valid image tag")
        if value == images.UNPINNED_TAG:
            raise ValueError(f"images must be pinned; {images.UNPINNED_TAG!r} is not a pinned tag")
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not images.SHA256_DIGEST.match(value):
            raise ValueError(f"{value!r} is not a sha256 digest (sha256:<64 hex characters>)")
        return value

    @property
    def ref(self) -> str:
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"


class ResourceAmounts(Model):
    cpu: Cpu = Field(description="CPU in cores or millicores, e.g. `250m` or `2` (a YAML number is read as cores).")
    memory: Memory = Field(description="Memory with a unit, e.g. `512Mi` (a bare number is refused).")


class Resources(Model):
    requests: ResourceAmounts = Field(description="What the scheduler reserves.")
    limits: ResourceAmounts = Field(description="The most the container may use (at least the requests).")
    extended: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Extended resources, e.g. `{nvidia.com/gpu: 1}`: requested and limited alike (Kubernetes needs both equal).")

    @field_validator("extended")
    @classmethod
    def _extended_names(cls, value: dict[str, int]) -> dict[str, int]:
        for name in value:
            prefix, _, rest = name.partition("/")
            if not rest or "." not in prefix or prefix.endswith("kubernetes.io") or name.startswith("requests."):
                raise ValueError(f"{name!r} is not an extended resource name (a domain and a name, e.g. nvidia.com/gpu; "
                                 "not kubernetes.io)")
        return value

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                raise ValueError(f"limits.{kind} ({limit}) is lower than requests.{kind} ({request})")
        return self


def resources(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> Resources:
    return Resources(
        requests=ResourceAmounts(cpu=req_cpu, memory=req_mem),
        limits=ResourceAmounts(cpu=lim_cpu, memory=lim_mem),
    )


class Volume(Model):
    size: StorageSize = Field(description="Requested size of the volume claim, e.g. `50Gi`.")
    class_name: str | None = Field(
        default=None,
        description="StorageClass of the claim; unset uses `storage.className`, then the cluster default.",
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = Field(
        default="ReadWriteOnce", description="Access mode of the claim."
    )

    @field_validator("class_name")
    @classmethod
    def _class_name(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)
