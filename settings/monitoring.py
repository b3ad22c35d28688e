"""Settings of the optional monitoring (`monitoring`): metrics exporters for the in-cluster data tiers,
scraped by OpenShift's user-workload monitoring through `ServiceMonitor`s, and the stack's alerts as a
`PrometheusRule`. Off by default: it needs monitoring for user-defined projects enabled on the cluster
(`enableUserWorkload: true` in `openshift-monitoring/cluster-monitoring-config`) and the
monitoring.coreos.com CRDs, which OpenShift ships.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from .base import KeyedError, Model
from .blocks import Image, Resources, resources
from .scheduling import Scheduling, qualified_name

# A Prometheus duration as the Prometheus operator's CRDs accept it (their `Duration` pattern), e.g.
# `30s`, `5m`, `1h30m`.
_DURATION = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")
_SECONDS = (365 * 86400, 7 * 86400, 86400, 3600, 60, 1, 0.001)
# k8s.io/apimachinery label values; Prometheus label names (model.LabelNameRE, legacy validation).
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_PROMETHEUS_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Set by the program on every alert, or by Prometheus and the user-workload stack: not the user's.
_RESERVED_ALERT_LABELS = ("severity", "namespace", "alertname")
# On a PrometheusRule, `leaf-prometheus` makes the user-workload Prometheus evaluate the rules alone; it
# has no kubelet or kube-state-metrics series, so the volume and restart alerts could never fire.
_EVALUATION_SCOPE = "openshift.io/prometheus-rule-evaluation-scope"


def duration_seconds(value: str) -> float:
    """Seconds in a Prometheus duration (`90s`, `5m`, `1h30m`); ValueError if it is not one or is zero."""
    match = _DURATION.match(value) if isinstance(value, str) else None
    if not value or match is None:
        raise ValueError(f"{value!r} is not a Prometheus duration like 30s, 5m or 1h30m")
    seconds = sum(int(n) * unit for n, unit in zip(match.groups(), _SECONDS, strict=True) if n)
    if seconds <= 0:
        raise ValueError(f"{value!r} is zero; give a positive duration like 30s")
    return seconds


def _duration(value: str) -> str:
    duration_seconds(value)
    return value


class MonitoringSettings(Model):
    enabled: bool = Field(
        default=False,
        description="Deploy the exporters, their ServiceMonitors and the PrometheusRule. Needs monitoring for "
        "user-defined projects enabled on the cluster (`enableUserWorkload: true`).")
    # Image tags: the newest release of each exporter when this was written, from the exporter's own
    # repository (its release tag, and the image name and tag format its release workflow pushes).
    # percona/mongodb_exporter tag v0.53.0 (2026-08-20); .goreleaser.yml pushes `{{.Version}}`, no `v`.
    mongodb_exporter_image: Image = Field(
        default=Image(repository="docker.io/percona/mongodb_exporter", tag="0.53.0"),
        description="Percona's MongoDB exporter.")
    # oliver006/redis_exporter tag v1.88.0 (2026-07-23); release.yml pushes the git tag (`v1.88.0`).
    redis_exporter_image: Image = Field(
        default=Image(repository="docker.io/oliver006/redis_exporter", tag="v1.88.0"),
        description="The Redis exporter (oliver006/redis_exporter).")
    # prometheus-community/elasticsearch_exporter tag v1.11.0 (2026-07-10); promci's publish_release
    # pushes the git tag to quay.io/prometheuscommunity.
    elasticsearch_exporter_image: Image = Field(
        default=Image(repository="quay.io/prometheuscommunity/elasticsearch-exporter", tag="v1.11.0"),
        description="The Prometheus community's Elasticsearch exporter.")
    resources: Resources = Field(
        default=resources("10m", "64Mi", "250m", "128Mi"), description="Requests and limits of each exporter.")
    scheduling: Scheduling = Field(
        default=Scheduling(), description="Where the exporter pods run (not merged with the stack-wide `scheduling`).")
    scrape_interval: str = Field(default="30s", description="How often Prometheus scrapes each exporter.")
    scrape_timeout: str = Field(
        default="10s", description="How long one scrape may take (at most `scrapeInterval`).")
    volume_warning_percent: int = Field(
        default=80, ge=1, le=99, description="Alert (warning) when a volume claim of the namespace is this full, in percent.")
    volume_critical_percent: int = Field(
        default=90, ge=1, le=99,
        description="Alert (critical) when a volume claim of the namespace is this full, in percent (above the warning).")
    restarts: int = Field(
        default=3, ge=1, le=100,
        description="Alert (warning) when a container of the namespace restarts this often within `restartsWindow`.")
    restarts_window: str = Field(default="15m", description="The window `restarts` counts in (at least 5m).")
    elasticsearch_not_green_for: str = Field(
        default="10m",
        description="How long Elasticsearch may be yellow (a rolling restart makes it so) before the warning fires.")
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels of the ServiceMonitors and the PrometheusRule (not `app.kubernetes.io/*`). "
        "User-workload monitoring selects none; they are for your own tooling.")
    alert_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels of every alert, for Alertmanager routing, e.g. `{team: ml}` (not `severity`, "
        "`namespace` or `alertname`).")
    runbook_url: str = Field(
        default="README.md",
        description="Where the runbooks are published: the URL (or repository path) of this project's README. "
        "Each alert's `runbook_url` is this plus the alert's anchor, e.g. `README.md#clearmlvolumenearlyfull`.")

    @field_validator("scrape_interval", "scrape_timeout", "restarts_window", "elasticsearch_not_green_for")
    @classmethod
    def _durations(cls, value: str) -> str:
        return _duration(value)

    @field_validator("labels")
    @classmethod
    def _object_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            qualified_name(key)
            if key.startswith("app.kubernetes.io/"):
                raise ValueError(f"{key!r}: labels under app.kubernetes.io/ are set by this program and cannot be changed")
            if len(item) > 63 or not _LABEL_VALUE.match(item):
                raise ValueError(f"{key}: {item!r} is not a valid label value (up to 63 letters, digits, '-', '_' or '.')")
            if key == _EVALUATION_SCOPE:
                raise ValueError(
                    f"{key} would take the rules away from Thanos Ruler, and the user-workload Prometheus alone has no "
                    "kubelet or kube-state-metrics series: the volume and restart alerts could never fire; remove it")
        return value

    @field_validator("alert_labels")
    @classmethod
    def _alert_labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, item in value.items():
            if not _PROMETHEUS_LABEL.match(key) or key.startswith("__"):
                raise ValueError(f"{key!r} is not a Prometheus label name (letters, digits and '_', not starting "
                                 "with a digit or '__')")
            if key in _RESERVED_ALERT_LABELS:
                raise ValueError(f"{key!r} is set on every alert by this program or by Prometheus; use another name")
            if not item:
                raise ValueError(f"{key}: an empty value removes the label in Prometheus; give a value or leave it out")
        return value

    @field_validator("runbook_url")
    @classmethod
    def _runbook_url(cls, value: str) -> str:
        if "#" in value or any(c.isspace() for c in value):
            raise ValueError(f"{value!r}: give the page without an anchor (each alert adds its own) and without spaces")
        if not (value.startswith(("https://", "http://")) or value.endswith(".md")):
            raise ValueError(f"{value!r} is neither an http(s) URL nor a Markdown path like README.md")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MonitoringSettings:
        if self.volume_warning_percent >= self.volume_critical_percent:
            raise KeyedError("volumeWarningPercent",
                             f"volumeWarningPercent ({self.volume_warning_percent}) must be lower than "
                             f"volumeCriticalPercent ({self.volume_critical_percent}): lower the warning or raise the "
                             "critical threshold")
        if duration_seconds(self.scrape_timeout) > duration_seconds(self.scrape_interval):
            raise KeyedError("scrapeTimeout",
                             f"scrapeTimeout {self.scrape_timeout} is longer than scrapeInterval {self.scrape_interval}, "
                             "which Prometheus refuses: shorten the timeout or lengthen the interval")
        if duration_seconds(self.restarts_window) < 300:
            raise KeyedError("restartsWindow",
                             f"restartsWindow {self.restarts_window} is shorter than 5m: increase() needs several "
                             "samples of kube-state-metrics' restart counter; use 5m or more")
        return self

    def runbook(self, alert: str) -> str:
        """The runbook_url of `alert`: the README's anchor of the alert's heading (GitHub's: lower case)."""
        return f"{self.runbook_url}#{alert.lower()}"
