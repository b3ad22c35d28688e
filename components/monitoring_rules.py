"""The stack's alerts: the `spec` of one PrometheusRule (monitoring.coreos.com/v1), as plain data.

OpenShift evaluates a PrometheusRule of a user project with Thanos Ruler, which queries through Thanos
Querier with the rule's namespace enforced: the rules see the platform's kubelet and kube-state-metrics
series of this namespace (volumes, restarts) beside what the exporters report. Every expression also
names the namespace itself, so the rules mean the same under a plain Prometheus operator.

Each alert has a `severity` label (OpenShift's `warning` or `critical`), `summary` and `description`
annotations, and a `runbook_url` pointing at its heading in the README (`MonitoringSettings.runbook`).
Metric names, from the exporters' sources at the pinned tags:

* `kubelet_volume_stats_{available,capacity}_bytes` (kubelet), `kube_pod_container_status_restarts_total`
  (kube-state-metrics), `up` (Prometheus, per scrape target).
* `elasticsearch_cluster_health_status{color}` (elasticsearch_exporter v1.11.0
  `collector/cluster_health.go`: 1 for the cluster's color, 0 for the other two) and
  `elasticsearch_clusterinfo_up` (`pkg/clusterinfo/clusterinfo.go`: 0 when `GET /` fails).
* `mongodb_members_state` (mongodb_exporter v0.53.0 with `--collector.replicasetstatus`:
  `exporter/replset_status_collector.go` turns `replSetGetStatus` into metrics with an empty prefix,
  `exporter/metrics.go` `processSlice` gives each `members[]` entry the labels `member_idx` (host) and
  `member_state` (stateStr), and `prometheusize("members.state")` names it; the value is the member's
  state, 1 = PRIMARY, https://www.mongodb.com/docs/manual/reference/replica-states/). `rs_nm` comes from
  the exporter's topology labels (`exporter/topology_info.go`). A standalone member has no replica
  set, so none of these series: the alert cannot fire there. `mongodb_up` (`general_collector.go`).
* `redis_up` (redis_exporter v1.88.0, `exporter/exporter.go`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from settings.monitoring import MonitoringSettings

GROUP = "clearml"
# Alert names, each also a heading of the README's runbook section (its anchor: the name in lower case).
VOLUME_NEARLY_FULL = "ClearMLVolumeNearlyFull"
ELASTICSEARCH_NOT_GREEN = "ClearMLElasticsearchNotGreen"
MONGODB_NO_PRIMARY = "ClearMLMongoDBReplicaSetWithoutPrimary"
EXPORTER_DOWN = "ClearMLExporterDown"
DATA_SERVICE_UNREACHABLE = "ClearMLDataServiceUnreachable"
PODS_RESTARTING = "ClearMLPodRestarting"
# MongoDB's replica-set member state of a primary (MongoDB manual, "Replica Set Member States").
MONGODB_PRIMARY_STATE = 1


@dataclass(frozen=True)
class Scraped:
    """What the rules need to know of the exporters deployed: the Service of each (the `service` label
    of its targets), and which data tiers they watch."""

    mongodb: str | None = None
    redis: str | None = None
    elasticsearch: str | None = None

    @property
    def services(self) -> list[str]:
        return [s for s in (self.mongodb, self.redis, self.elasticsearch) if s]


def _rule(settings: MonitoringSettings, alert: str, severity: str, expr: str, summary: str, description: str,
          for_: str | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"alert": alert, "expr": expr}
    if for_:
        rule["for"] = for_
    rule["labels"] = {**settings.alert_labels, "severity": severity}
    rule["annotations"] = {"summary": summary, "description": description, "runbook_url": settings.runbook(alert)}
    return rule


def _volumes(settings: MonitoringSettings, ns: str) -> list[dict[str, Any]]:
    selector = f'{{namespace="{ns}"}}'
    used = (f"max by (namespace, persistentvolumeclaim) (100 * (1 - kubelet_volume_stats_available_bytes{selector}"
            f" / kubelet_volume_stats_capacity_bytes{selector}))")
    return [
        _rule(settings, VOLUME_NEARLY_FULL, severity, f"{used} > {percent}",
              "Volume claim {{ $labels.persistentvolumeclaim }} is {{ $value | humanize }}% full",
              "The volume claim {{ $labels.persistentvolumeclaim }} in namespace {{ $labels.namespace }} is more than "
              f"{percent}% full. A data service whose volume fills up stops writing (Elasticsearch turns read-only, "
              "MongoDB and Redis fail writes, the file server refuses uploads).", "5m")
        for severity, percent in (("warning", settings.volume_warning_percent),
                                  ("critical", settings.volume_critical_percent))
    ]


def _elasticsearch(settings: MonitoringSettings, ns: str) -> list[dict[str, Any]]:
    health = f'elasticsearch_cluster_health_status{{namespace="{ns}",color="%s"}}'
    return [
        _rule(settings, ELASTICSEARCH_NOT_GREEN, "warning",
              f"max by (namespace, cluster) ({health % 'green'}) == 0",
              "Elasticsearch cluster {{ $labels.cluster }} is not green",
              "Elasticsearch cluster {{ $labels.cluster }} in namespace {{ $labels.namespace }} has not been green for "
              f"{settings.elasticsearch_not_green_for}: some shards are not allocated. ClearML's event indices have no "
              "replicas, so a yellow cluster is usually a node that left.", settings.elasticsearch_not_green_for),
        _rule(settings, ELASTICSEARCH_NOT_GREEN, "critical",
              f"max by (namespace, cluster) ({health % 'red'}) == 1",
              "Elasticsearch cluster {{ $labels.cluster }} is red",
              "Elasticsearch cluster {{ $labels.cluster }} in namespace {{ $labels.namespace }} is red: a primary shard "
              "is not allocated, and ClearML's task events (scalars, logs, plots) in it can be neither read nor "
              "written.", "5m"),
    ]


def _mongodb(settings: MonitoringSettings, ns: str) -> dict[str, Any]:
    members = f'mongodb_members_state{{namespace="{ns}"}}'
    # Every member's view of the set (one exporter target per member): the alert fires when the set
    # reports members and none of them, as seen from any member, is PRIMARY.
    expr = (f"count by (namespace, rs_nm) ({members}) unless count by (namespace, rs_nm) "
            f"({members} == {MONGODB_PRIMARY_STATE})")
    return _rule(settings, MONGODB_NO_PRIMARY, "critical", expr,
                 "MongoDB replica set {{ $labels.rs_nm }} has no primary",
                 "No member of MongoDB replica set {{ $labels.rs_nm }} in namespace {{ $labels.namespace }} is PRIMARY: "
                 "the set accepts no writes, and the ClearML API server fails its requests.", "2m")


def _exporters(settings: MonitoringSettings, ns: str, scraped: Scraped) -> list[dict[str, Any]]:
    services = "|".join(scraped.services)
    down = _rule(settings, EXPORTER_DOWN, "warning", f'up{{namespace="{ns}",service=~"{services}"}} == 0',
                 "Exporter {{ $labels.service }} cannot be scraped",
                 "Prometheus cannot scrape {{ $labels.service }} in namespace {{ $labels.namespace }} ({{ $labels.pod }}): "
                 "the data service it watches is not monitored, and its alerts cannot fire.", "5m")
    checks = []
    if scraped.mongodb:
        checks.append(f'max by (namespace, service) (mongodb_up{{namespace="{ns}"}}) == 0')
    if scraped.redis:
        checks.append(f'max by (namespace, service) (redis_up{{namespace="{ns}"}}) == 0')
    if scraped.elasticsearch:
        checks.append(f'max by (namespace, service) (elasticsearch_clusterinfo_up{{namespace="{ns}"}}) == 0')
    unreachable = _rule(settings, DATA_SERVICE_UNREACHABLE, "critical", " or ".join(checks),
                        "{{ $labels.service }} cannot reach its data service",
                        "The exporter {{ $labels.service }} in namespace {{ $labels.namespace }} runs but cannot reach "
                        "the data service it watches (no MongoDB member, Redis or Elasticsearch answers it): ClearML "
                        "cannot either.", "5m")
    return [down, unreachable]


def _restarts(settings: MonitoringSettings, ns: str) -> dict[str, Any]:
    expr = (f'round(increase(kube_pod_container_status_restarts_total{{namespace="{ns}"}}'
            f"[{settings.restarts_window}])) >= {settings.restarts}")
    return _rule(settings, PODS_RESTARTING, "warning", expr,
                 "Container {{ $labels.container }} of pod {{ $labels.pod }} keeps restarting",
                 "Container {{ $labels.container }} of pod {{ $labels.pod }} in namespace {{ $labels.namespace }} "
                 f"restarted {{{{ $value }}}} times in {settings.restarts_window} (threshold {settings.restarts}).")


def prometheus_rule_spec(settings: MonitoringSettings, namespace: str, scraped: Scraped) -> dict[str, Any]:
    """The PrometheusRule's `spec`: the volume and restart alerts always (the namespace's own claims and
    pods), the others for the data tiers an exporter watches."""
    rules: list[dict[str, Any]] = [*_volumes(settings, namespace), _restarts(settings, namespace)]
    if scraped.elasticsearch:
        rules += _elasticsearch(settings, namespace)
    if scraped.mongodb:
        rules.append(_mongodb(settings, namespace))
    if scraped.services:
        rules += _exporters(settings, namespace, scraped)
    return {"groups": [{"name": GROUP, "rules": rules}]}


def alert_names(spec: dict[str, Any]) -> Sequence[str]:
    return [rule["alert"] for group in spec["groups"] for rule in group["rules"]]
