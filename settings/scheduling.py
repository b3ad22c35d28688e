"""Where pods run: node selectors, tolerations, affinity, priority, extra pod labels and annotations.

One `Scheduling` per tier (`<tier>.scheduling`), for the agent's task pods (`agent.taskScheduling`),
and a stack-wide default (`scheduling`) that every server tier's own is merged over: mappings key by
key, anything else replaced.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from .base import Model
from .quantities import dns1123_subdomain

# k8s.io/apimachinery/pkg/util/validation: qualified names (an optional DNS prefix, a name) and label values.
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# Keys the program sets itself on pods: selectors and the SCC pin must stay its own.
_RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/",)
_RESERVED_ANNOTATION_PREFIXES = ("openshift.io/", "pulumi.com/", "checksum/")


def qualified_name(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix:
        dns1123_subdomain(prefix)
    if not _NAME.match(name) or len(name) > 63:
        raise ValueError(f"{key!r} is not a valid label or annotation key (an optional DNS prefix and '/', then "
                         "up to 63 letters, digits, '-', '_' or '.')")
    return key


def _labels(value: dict[str, str], what: str, reserved: tuple[str, ...], check_values: bool) -> dict[str, str]:
    for key, item in value.items():
        qualified_name(key)
        if key.startswith(reserved):
            raise ValueError(f"{key!r}: {what} under {', '.join(reserved)} are set by this program and cannot be changed")
        if check_values and (len(item) > 63 or not _LABEL_VALUE.match(item)):
            raise ValueError(f"{key}: {item!r} is not a valid label value (up to 63 letters, digits, '-', '_' or '.')")
    return value


class Toleration(Model):
    key: str | None = Field(default=None, description="Taint key; unset with `operator: Exists` tolerates every taint.")
    operator: Literal["Equal", "Exists"] = Field(default="Equal", description="`Equal` (to `value`) or `Exists`.")
    value: str | None = Field(default=None, description="Taint value, with `operator: Equal`.")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None, description="Taint effect; unset matches all.")
    toleration_seconds: int | None = Field(default=None, ge=0, description="With `NoExecute`: how long the pod stays.")

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.key is not None:
            qualified_name(self.key)
        if self.operator == "Exists" and self.value:
            raise ValueError("operator Exists takes no value")
        if self.operator == "Equal" and self.key is None:
            raise ValueError("operator Equal needs a key (or use operator: Exists)")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("tolerationSeconds only applies to effect NoExecute")
        return self

    def manifest(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


_AFFINITY_KINDS = ("nodeAffinity", "podAffinity", "podAntiAffinity")


class Scheduling(Model):
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the pods require.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints the pods tolerate.")
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="A Kubernetes `affinity` object (`nodeAffinity`, `podAffinity`, `podAntiAffinity`), as in a "
        "pod spec; the program's own spread rules are topology spread constraints and stay in place.",
    )
    priority_class_name: str | None = Field(default=None, description="PriorityClass of the pods (preflight checks it exists).")
    pod_labels: dict[str, str] = Field(
        default_factory=dict, description="Extra pod labels (not `app.kubernetes.io/*`, which select the pods).")
    pod_annotations: dict[str, str] = Field(
        default_factory=dict, description="Extra pod annotations (not `openshift.io/*`: the SCC pin is the program's).")

    @field_validator("node_selector")
    @classmethod
    def _node_selector(cls, value: dict[str, str]) -> dict[str, str]:
        return _labels(value, "node labels", (), check_values=True)

    @field_validator("pod_labels")
    @classmethod
    def _pod_labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _labels(value, "labels", _RESERVED_LABEL_PREFIXES, check_values=True)

    @field_validator("pod_annotations")
    @classmethod
    def _pod_annotations(cls, value: dict[str, str]) -> dict[str, str]:
        return _labels(value, "annotations", _RESERVED_ANNOTATION_PREFIXES, check_values=False)

    @field_validator("affinity")
    @classmethod
    def _affinity(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        unknown = sorted(set(value) - set(_AFFINITY_KINDS))
        if unknown:
            raise ValueError(f"unknown affinity kind {', '.join(unknown)} (allowed: {', '.join(_AFFINITY_KINDS)})")
        for kind, rules in value.items():
            if not isinstance(rules, dict) or not rules:
                raise ValueError(f"{kind} must be a non-empty mapping, as in a pod spec")
        return value

    @field_validator("priority_class_name")
    @classmethod
    def _priority(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)


def merged(default: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """A tier's scheduling over the stack-wide one: mappings merged key by key, the rest replaced."""
    out = dict(default)
    for key, value in own.items():
        out[key] = {**out[key], **value} if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
