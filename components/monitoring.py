"""Monitoring, as OpenShift users expect it: one exporter per in-cluster data tier (a Deployment, its
metrics Service and a `ServiceMonitor` that OpenShift's user-workload monitoring scrapes) and the
stack's alerts as one `PrometheusRule` (`monitoring_rules.py`).

The exporters run under restricted-v2 like every pod here (`workload.pod_template`), with read-only
root filesystems and nothing to write. Credentials reach them only through `secretKeyRef`, and the
Elasticsearch exporter verifies the server certificate against the CA it is given (only that key of
the certificate Secret is mounted); nothing switches verification off.

* MongoDB (percona/mongodb_exporter): `MONGODB_URI` from the connection-string Secret. Its default
  direct connection refuses a URI with several hosts, so `--split-cluster` makes each member a target
  of its own, directly connected, and the ServiceMonitor scrapes `/scrapeall` (every member; `/metrics`
  serves only the first). Collectors: `diagnosticdata` (server status) and `replicasetstatus` (the
  members' states the no-primary alert reads). All from mongodb_exporter v0.53.0 `main.go`,
  `exporter/server.go`.
* Redis (oliver006/redis_exporter): `REDIS_ADDR`, and `REDIS_PASSWORD` from the Secret;
  `--disable-scrape-endpoint` turns off `/scrape?target=`, which would connect anywhere it is told.
* Elasticsearch (prometheus-community/elasticsearch_exporter): `--es.uri` of the first host, `--es.ca`
  the mounted CA, `ES_USERNAME`/`ES_PASSWORD` (or `ES_API_KEY`) from Secrets (v1.11.0 `main.go`).

A data tier given as None (external, or not deployed) gets no exporter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from settings.monitoring import MonitoringSettings

from . import tiers
from . import workload as w
from .clearml_env import ElasticPeer, RedisPeer, SecretRef
from .context import TierContext
from .monitoring_rules import Scraped, alert_names, prometheus_rule_spec

API_VERSION = "monitoring.coreos.com/v1"
# The exporters' component names (their pods' `app.kubernetes.io/component`) and metrics ports (tiers.py).
MONGODB_EXPORTER, MONGODB_EXPORTER_PORT = tiers.MONGODB_EXPORTER, tiers.MONGODB_EXPORTER_PORT
REDIS_EXPORTER, REDIS_EXPORTER_PORT = tiers.REDIS_EXPORTER, tiers.REDIS_EXPORTER_PORT
ELASTICSEARCH_EXPORTER, ELASTICSEARCH_EXPORTER_PORT = tiers.ELASTICSEARCH_EXPORTER, tiers.ELASTICSEARCH_EXPORTER_PORT
METRICS = "metrics"  # the port name of every exporter's container and Service
# Where the Elasticsearch exporter reads the CA of the server certificate (absent in its image).
ELASTICSEARCH_CA_DIR = "/etc/elasticsearch-exporter/ca"
ELASTICSEARCH_CA_FILE = f"{ELASTICSEARCH_CA_DIR}/ca.crt"


@dataclass(frozen=True)
class MonitoringArgs:
    context: TierContext  # namespace, images (pull policy and secrets), features
    settings: MonitoringSettings
    # How to reach each IN-CLUSTER data tier; None: external or not deployed, no exporter.
    mongodb: SecretRef | None = None  # the connection string (MongoDB.connection)
    mongodb_digest: pulumi.Input[str] | None = None  # MongoDB.password_digest: the exporter rolls with it
    redis: RedisPeer | None = None  # host, port and password Secret
    elasticsearch: ElasticPeer | None = None  # hosts, user and password Secrets, the CA


@dataclass(frozen=True)
class _Exporter:
    """One exporter: its pod's container and volumes, and the path its metrics are scraped at."""

    tier: str
    component: str
    port: int
    container: k8s.core.v1.ContainerArgs
    volumes: list[k8s.core.v1.VolumeArgs] = field(default_factory=list)
    path: str = "/metrics"
    credentials: list[pulumi.Input[str]] = field(default_factory=list)  # digests it rolls on (pod_template)


def _container(name: str, settings: MonitoringSettings, image: str, pull_policy: str, port: int, health: str, *,
               args: list[str], env: list[k8s.core.v1.EnvVarArgs],
               mounts: list[k8s.core.v1.VolumeMountArgs] | None = None) -> k8s.core.v1.ContainerArgs:
    return w.container(
        name=name, image=image, pull_policy=pull_policy, resources_spec=settings.resources,
        read_only_root_filesystem=True,  # the exporters write nothing
        args=args, env_vars=env, ports=[w.port(METRICS, port)], mounts=mounts or [],
        # Each exporter's own health page: it answers without a round trip to the data service.
        readiness=w.http_probe(health, METRICS, period=10, failures=3),
        liveness=w.http_probe(health, METRICS, period=20, failures=6),
    )


def mongodb_exporter(connection: SecretRef, digest: pulumi.Input[str] | None, settings: MonitoringSettings,
                     pull_policy: str) -> _Exporter:
    container = _container(
        MONGODB_EXPORTER, settings, settings.mongodb_exporter_image.ref, pull_policy, MONGODB_EXPORTER_PORT, "/",
        args=["--split-cluster", "--collector.diagnosticdata", "--collector.replicasetstatus",
              f"--web.listen-address=:{MONGODB_EXPORTER_PORT}"],
        env=[w.secret_env("MONGODB_URI", connection.name, connection.key)])
    return _Exporter("mongodb", MONGODB_EXPORTER, MONGODB_EXPORTER_PORT, container, path="/scrapeall",
                     credentials=[digest] if digest is not None else [])


def redis_exporter(redis: RedisPeer, settings: MonitoringSettings, pull_policy: str) -> _Exporter:
    if redis.tls:
        raise ValueError("monitoring watches the in-cluster Redis, which serves plain TCP inside the namespace; "
                         "pass redis=None for an external Redis")
    env = w.env({"REDIS_ADDR": f"redis://{redis.host}:{redis.port}"})
    if redis.username:
        env += w.env({"REDIS_USER": redis.username})
    if redis.password:
        env.append(w.secret_env("REDIS_PASSWORD", redis.password.name, redis.password.key))
    container = _container(
        REDIS_EXPORTER, settings, settings.redis_exporter_image.ref, pull_policy, REDIS_EXPORTER_PORT, "/health",
        args=["--disable-scrape-endpoint", f"--web.listen-address=:{REDIS_EXPORTER_PORT}"], env=env)
    return _Exporter("redis", REDIS_EXPORTER, REDIS_EXPORTER_PORT, container,
                     credentials=[redis.password_digest] if redis.password_digest is not None else [])


def elasticsearch_exporter(elastic: ElasticPeer, settings: MonitoringSettings, pull_policy: str) -> _Exporter:
    if not elastic.hosts:
        raise ValueError("elasticsearch: no hosts to monitor")
    host = elastic.hosts[0]
    https = host.get("scheme", "https") == "https"
    if https and elastic.ca is None:
        raise ValueError("elasticsearch: an https endpoint needs the CA of its certificate (ElasticPeer.ca): the "
                         "exporter verifies the server against it")
    if (elastic.username is None) != (elastic.password is None):
        raise ValueError("elasticsearch: give both username and password, or neither")
    args = [f"--es.uri={host.get('scheme', 'https')}://{host['host']}:{host['port']}",
            f"--web.listen-address=:{ELASTICSEARCH_EXPORTER_PORT}",
            # `elasticsearch_clusterinfo_up`, which the unreachable alert reads, is refreshed this often
            # (default 5m).
            "--es.clusterinfo.interval=1m"]
    env: list[k8s.core.v1.EnvVarArgs] = []
    if isinstance(elastic.username, SecretRef):
        env.append(w.secret_env("ES_USERNAME", elastic.username.name, elastic.username.key))
    elif elastic.username is not None:
        env += w.env({"ES_USERNAME": elastic.username})
    if elastic.password is not None:
        env.append(w.secret_env("ES_PASSWORD", elastic.password.name, elastic.password.key))
    if elastic.api_key is not None:
        env.append(w.secret_env("ES_API_KEY", elastic.api_key.name, elastic.api_key.key))
    volumes, mounts = [], []
    if https and elastic.ca is not None:
        args.append(f"--es.ca={ELASTICSEARCH_CA_FILE}")
        # Only the CA's key of the certificate Secret, never its private key.
        volumes.append(k8s.core.v1.VolumeArgs(name="elasticsearch-ca", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=elastic.ca.name, default_mode=0o444,
            items=[k8s.core.v1.KeyToPathArgs(key=elastic.ca.key, path="ca.crt")])))
        mounts.append(w.mount("elasticsearch-ca", ELASTICSEARCH_CA_DIR, read_only=True))
    container = _container(
        ELASTICSEARCH_EXPORTER, settings, settings.elasticsearch_exporter_image.ref, pull_policy,
        ELASTICSEARCH_EXPORTER_PORT, "/healthz", args=args, env=env, mounts=mounts)
    return _Exporter("elasticsearch", ELASTICSEARCH_EXPORTER, ELASTICSEARCH_EXPORTER_PORT, container, volumes,
                     credentials=[elastic.password_digest] if elastic.password_digest is not None else [])


class Monitoring(pulumi.ComponentResource):
    """Outputs: `services` (tier -> the exporter's metrics Service), `rule` (the PrometheusRule's name),
    `alerts` (the alert names it holds)."""

    services: dict[str, str]
    rule: str
    alerts: list[str]

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:monitoring:Monitoring", name, None, opts)
        ctx, spec = args.context, args.settings
        child = pulumi.ResourceOptions(parent=self)
        pull = ctx.images.pull_policy
        exporters = [e for e in (
            mongodb_exporter(args.mongodb, args.mongodb_digest, spec, pull) if args.mongodb else None,
            redis_exporter(args.redis, spec, pull) if args.redis else None,
            elasticsearch_exporter(args.elasticsearch, spec, pull) if args.elasticsearch else None,
        ) if e is not None]

        self.services = {}
        for exporter in exporters:
            base = f"{name}-{exporter.tier}"
            account = w.service_account(base, ctx.namespace, exporter.component, child)
            w.deployment(
                f"{base}-deployment", name=base, namespace=ctx.namespace, component=exporter.component, replicas=1,
                opts=child,
                template=w.pod_template(
                    pull_secrets=ctx.images.pull_secrets,
                    scheduling=spec.scheduling,
                    component=exporter.component,
                    service_account=account.metadata.name,
                    containers=[exporter.container],
                    volumes=exporter.volumes,
                    credentials=exporter.credentials,
                ),
            )
            w.service(f"{base}-service", name=base, namespace=ctx.namespace, component=exporter.component,
                      ports={METRICS: exporter.port}, opts=child)
            self._service_monitor(base, exporter, args, child)
            self.services[exporter.tier] = base

        scraped = Scraped(**{tier: service for tier, service in self.services.items()})
        rule_spec = prometheus_rule_spec(spec, ctx.namespace, scraped)
        k8s.apiextensions.CustomResource(
            f"{name}-prometheusrule",
            api_version=API_VERSION,
            kind="PrometheusRule",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ctx.namespace,
                                                labels={**spec.labels, **w.labels("monitoring")}),
            spec=rule_spec,
            opts=child,
        )
        self.rule = name
        self.alerts = list(dict.fromkeys(alert_names(rule_spec)))
        self.register_outputs({"services": self.services, "rule": self.rule, "alerts": self.alerts})

    @staticmethod
    def _service_monitor(base: str, exporter: _Exporter, args: MonitoringArgs, child: pulumi.ResourceOptions) -> None:
        spec = args.settings
        endpoint: dict[str, Any] = {"port": METRICS, "path": exporter.path, "scheme": "http",
                                    "interval": spec.scrape_interval, "scrapeTimeout": spec.scrape_timeout}
        k8s.apiextensions.CustomResource(
            f"{base}-servicemonitor",
            api_version=API_VERSION,
            kind="ServiceMonitor",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=base, namespace=args.context.namespace,
                                                labels={**spec.labels, **w.labels(exporter.component)}),
            # Its own namespace only: user-workload monitoring ignores namespace selectors anyway.
            spec={"selector": {"matchLabels": w.selector_labels(exporter.component)}, "endpoints": [endpoint]},
            opts=child,
        )
