"""Elasticsearch 8 tier: StatefulSet (single node, or a 3+ node cluster), volume claims, Services, PDB.

No privileged or root init container and no sysctl: `node.store.allow_mmap: false` makes
Elasticsearch use NIO instead of mmap, so the node's `vm.max_map_count` does not matter and the
bootstrap check for it does not apply. Elastic's image runs as any UID in group 0 (its files are
owned by group 0 and group-writable), which is what restricted-v2 gives it.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import ElasticSettings, FeatureSettings, ImageSettings

from . import seeding
from . import workload as w

COMPONENT = "elasticsearch"
HTTP_PORT, TRANSPORT_PORT = 9200, 9300
HOME = "/usr/share/elasticsearch"
# Shipped directory that must be writable (keystore, generated files): seeded from the image.
CONFIG_DIR = f"{HOME}/config"


@dataclass(frozen=True)
class ElasticsearchArgs:
    namespace: pulumi.Input[str]
    settings: ElasticSettings
    images: ImageSettings
    features: FeatureSettings
    storage_class: str | None
    scc: str | None = None  # an SCC granted to this tier beyond restricted-v2 (SccSettings)


class Elasticsearch(pulumi.ComponentResource):
    """Outputs: `host`, `port`, `scheme` and `hosts` (the list ClearML's `hosts.elastic.*.hosts` takes)."""

    host: str
    port: int
    scheme: str
    hosts: list[dict]

    def __init__(self, name: str, args: ElasticsearchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:elasticsearch:Elasticsearch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec = args.settings
        headless_name = f"{name}-headless"

        es_env = {
            "cluster.name": "clearml",
            "network.host": "0.0.0.0",
            "node.store.allow_mmap": "false",
            "bootstrap.memory_lock": "false",
            "xpack.security.enabled": "false",
            "xpack.ml.enabled": "false",
            "ingest.geoip.downloader.enabled": "false",
            "cluster.routing.allocation.disk.watermark.low": "500mb",
            "cluster.routing.allocation.disk.watermark.high": "500mb",
            "cluster.routing.allocation.disk.watermark.flood_stage": "500mb",
            "cluster.routing.allocation.node_initial_primaries_recoveries": "500",
            "http.compression_level": "7",
            "ES_JAVA_OPTS": f"-Xms{spec.heap} -Xmx{spec.heap}",
        }
        if spec.replicas == 1:
            es_env["discovery.type"] = "single-node"
        else:
            es_env["discovery.seed_hosts"] = headless_name
            es_env["cluster.initial_master_nodes"] = ",".join(f"{name}-{i}" for i in range(spec.replicas))
        env_vars = [
            k8s.core.v1.EnvVarArgs(
                name="node.name",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.name")),
            )
        ] + w.env(es_env)

        seeded = {"config": CONFIG_DIR}
        seed = seeding.seed_container(args.images.elasticsearch.ref, args.images.pull_policy, seeded)
        health = ["curl", "-fsS", "--max-time", "4", f"http://127.0.0.1:{HTTP_PORT}/_cluster/health?local=true"]
        main = w.container(
            name="elasticsearch",
            image=args.images.elasticsearch.ref,
            pull_policy=args.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            env_vars=env_vars,
            ports=[w.port("http", HTTP_PORT), w.port("transport", TRANSPORT_PORT)],
            mounts=[
                w.mount("data", f"{HOME}/data"),
                *seeding.seeded_mounts(seeded),
                w.mount("logs", f"{HOME}/logs"),
                w.mount("tmp", "/tmp"),
            ],
            startup=w.tcp_probe("http", period=5, failures=120),
            readiness=w.exec_probe(health, period=10, failures=3, timeout=5),
            liveness=w.tcp_probe("transport", period=20, failures=6),
        )
        account = w.service_account(name, args.namespace, COMPONENT, child, scc=args.scc)
        headless = w.service(f"{name}-headless", name=headless_name, namespace=args.namespace, component=COMPONENT,
                             ports={"http": HTTP_PORT, "transport": TRANSPORT_PORT}, headless=True, opts=child)
        client = w.service(f"{name}-service", name=name, namespace=args.namespace, component=COMPONENT,
                           ports={"http": HTTP_PORT}, opts=child)
        self.statefulset = w.stateful_set(
            f"{name}-statefulset", name=name, namespace=args.namespace, component=COMPONENT,
            replicas=spec.replicas, service_name=headless.metadata.name,
            data_size=spec.storage.size, data_access_mode=spec.storage.access_mode,
            storage_class=args.storage_class, opts=child,
            # All nodes start together: the first master election needs a quorum of them.
            parallel=True,
            template=w.pod_template(
                required_scc=args.scc,
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                init_containers=[seed],
                volumes=seeding.seeded_volumes(seeded) + [w.empty_dir("logs", "512Mi"), w.empty_dir("tmp", "1Gi")],
                replicas=spec.replicas,
                spread=args.features.topology_spread,
                termination_grace_seconds=120,
            ),
        )
        w.disruption_budget(f"{name}-pdb", name=name, namespace=args.namespace, component=COMPONENT,
                            replicas=spec.replicas, opts=child)

        self.host = name
        self.port = HTTP_PORT
        self.scheme = "http"
        self.hosts = [{"host": self.host, "port": self.port, "scheme": self.scheme}]
        self.register_outputs({"host": client.metadata.name, "port": self.port, "scheme": self.scheme})
