"""Elasticsearch 8 tier: StatefulSet (single node, or a 3+ node cluster), volume claims, Services,
PDB, and security on: TLS from cert-manager and a generated password for the `elastic` user.

* HTTP is TLS-only with a cert-manager certificate whose names include the client Service
  (`clearml-elastic`); ClearML verifies it against the issuing CA (`verify_certs: true`).
* With more than one node, transport TLS uses the same certificate (it carries `client auth`) and
  `verification_mode: certificate`: the chain is verified; node-to-node hostname checks are off
  because nodes connect by pod IP, which a certificate issued before scheduling cannot name.
* Snapshots go to an `fs` repository on a volume of every node (`path.repo`), or with
  `backup.elasticsearchS3` to an `s3` repository of the nodes' client `clearml`, its keys put into the
  keystore by an init container from the Secrets (never in the environment).
* No privileged or root init container and no sysctl: `node.store.allow_mmap: false` makes
  Elasticsearch use NIO instead of mmap, so the node's `vm.max_map_count` does not matter and the
  bootstrap check for it does not apply. Elastic's image runs as any UID in group 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from settings.backup import ElasticsearchS3
from settings.blocks import ResourceAmounts, Resources
from settings.models import ElasticSettings, TlsSettings, Volume
from vocabulary.clearml import SNAPSHOT_REPOSITORY

from . import runtime, seeding, tiers
from . import workload as w
from .certificate import Certificate, CertificateArgs, service_dns_names
from .clearml_env import SecretRef
from .context import TierContext
from .velero import BackupHook

COMPONENT = tiers.ELASTICSEARCH
HTTP_PORT, TRANSPORT_PORT = tiers.ELASTICSEARCH_HTTP_PORT, tiers.ELASTICSEARCH_TRANSPORT_PORT
HOME = "/usr/share/elasticsearch"
# Shipped directory that must be writable (keystore): seeded from the image.
CONFIG_DIR = f"{HOME}/config"
# Elasticsearch reads TLS files only from inside its config directory.
CERTS_DIR = f"{CONFIG_DIR}/certs"
USER = "elastic"
# The elastic user's password, a file only the pod's user may read (ELASTIC_PASSWORD_FILE).
PASSWORD_DIR = "/etc/elasticsearch-password"
PASSWORD_FILE = f"{PASSWORD_DIR}/password"
# The master-eligible nodes that form a new cluster (`cluster.initial_master_nodes`): the first three.
BOOTSTRAP_NODES = 3
# The label the StatefulSet controller gives each pod: its name (the hook runs in the first node only).
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
# What a restarted node of a cluster waits for before it is first ready (elasticsearch.rollingHealth): the
# `_cluster/health` query (Elastic, "Rolling upgrades": wait for green, or for yellow with no initializing
# or relocating shards when replicas cannot yet be allocated to nodes of the old version).
ROLLING_HEALTH = {
    "green": "wait_for_status=green&timeout=1s",
    "yellow": "wait_for_status=yellow&wait_for_no_initializing_shards=true&wait_for_no_relocating_shards=true&timeout=1s",
}
# Written by the readiness probe once the node was first ready (on the pod's /tmp volume).
READY_MARKER = "/tmp/.clearml-ready-once"
# The snapshot repository's volume (`path.repo`), when backups are on: only Elasticsearch mounts it.
SNAPSHOT_DIR = f"{HOME}/snapshots"
# The S3 client of an `s3` snapshot repository (backup.elasticsearchS3): its keys in the keystore, from
# the files an init container reads.
S3_CLIENT = "clearml"
S3_KEYS_DIR = "/etc/elasticsearch-s3"
S3_SECURE_SETTINGS = {"access_key": f"s3.client.{S3_CLIENT}.access_key",
                      "secret_key": f"s3.client.{S3_CLIENT}.secret_key"}
# The keystore command-line tool is a JVM of its own (CLI_JAVA_OPTS keeps its heap small).
KEYSTORE_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="50m", memory="192Mi"), limits=ResourceAmounts(cpu="1", memory="384Mi")
)


@dataclass(frozen=True)
class S3Client:
    """The nodes' S3 client for an `s3` snapshot repository (backup.elasticsearchS3), with the Secret
    references of its keys."""

    settings: ElasticsearchS3
    access_key: SecretRef
    secret_key: SecretRef


@dataclass(frozen=True)
class ElasticsearchArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: ElasticSettings
    issuer: dict[str, str]  # issuer of the in-cluster certificate
    tls: TlsSettings
    snapshots: Volume | None = None  # the snapshot repository's volume (backup.snapshotStorage), when backups are on
    snapshots_kept: int = 7  # backup.keep: the snapshots Velero's hook keeps on it
    s3: S3Client | None = None  # or an S3 bucket (backup.elasticsearchS3), when backups are on


class Elasticsearch(pulumi.ComponentResource):
    """Outputs: `hosts` (ClearML's `hosts.elastic.*.hosts`, scheme https), `username`, `password`
    and `ca` (Secret references: the CA ClearML verifies the server certificate against; the first two
    resolve after the StatefulSet, so that with a rotated password the clients roll after the nodes;
    `credentials_now` are the two without that wait, for the backup before an upgrade),
    `password_digest` (`workload.credential_digest` of the password), `snapshot_repository` (the
    repository the backup registers, `PUT _snapshot/<name>`'s body: `fs` at the volume's path, or `s3`;
    None without either), and `backup_hook` (Velero's: a snapshot into that volume before it is copied;
    None without `snapshots`)."""

    host: str
    port: int
    hosts: list[dict]
    username: SecretRef
    password: SecretRef
    password_digest: pulumi.Output[str]
    ca: SecretRef
    credentials_now: tuple[SecretRef, SecretRef]
    snapshot_repository: dict | None
    backup_hook: BackupHook | None

    def __init__(self, name: str, args: ElasticsearchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:elasticsearch:Elasticsearch", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec = args.settings
        headless_name = f"{name}-headless"
        replicated = spec.replicas > 1

        password: pulumi.Output[str] = pulumi.Output.secret(
            random.RandomPassword(f"{name}-password", length=40, special=False, opts=child).result)
        self.password_digest = w.credential_digest(password)
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ctx.namespace, labels=w.labels(COMPONENT)),
            type="Opaque",
            string_data={"username": pulumi.Output.secret(USER), "password": password},
            opts=child,
        )
        # Names the HTTP clients use (the client Service) and the nodes' stable DNS names.
        dns_names = service_dns_names(name, ctx.namespace) + [
            f"*.{headless_name}.{ctx.namespace}.svc", f"*.{headless_name}.{ctx.namespace}.svc.cluster.local"]
        certificate = Certificate(f"{name}-tls", CertificateArgs(
            namespace=ctx.namespace, secret_name=f"{name}-tls", issuer=args.issuer, tls=args.tls,
            dns_names=dns_names, component=COMPONENT,
            usages=("server auth", "client auth", "digital signature", "key encipherment")), opts=child)

        es_env = {
            "cluster.name": "clearml",
            "network.host": "0.0.0.0",
            "node.store.allow_mmap": "false",
            "bootstrap.memory_lock": "false",
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "true",
            "xpack.security.http.ssl.key": "certs/tls.key",
            "xpack.security.http.ssl.certificate": "certs/tls.crt",
            "xpack.security.http.ssl.certificate_authorities": "certs/ca.crt",
            "xpack.ml.enabled": "false",
            "ingest.geoip.downloader.enabled": "false",
            "cluster.routing.allocation.disk.watermark.low": "500mb",
            "cluster.routing.allocation.disk.watermark.high": "500mb",
            "cluster.routing.allocation.disk.watermark.flood_stage": "500mb",
            "cluster.routing.allocation.node_initial_primaries_recoveries": "500",
            "http.compression_level": "7",
            "ES_JAVA_OPTS": f"-Xms{spec.heap} -Xmx{spec.heap}",
        }
        snapshot_volumes, snapshot_mounts = [], []
        if args.snapshots:
            es_env["path.repo"] = SNAPSHOT_DIR
            snapshots = w.claim(f"{name}-snapshots", name=f"{name}-snapshots", namespace=ctx.namespace,
                                component=COMPONENT, size=args.snapshots.size, access_mode=args.snapshots.access_mode,
                                storage_class=ctx.storage_class(args.snapshots), retain=ctx.storage.retain_on_delete,
                                parent=self)
            snapshot_volumes.append(w.claim_volume("snapshots", snapshots.metadata.name))
            snapshot_mounts.append(w.mount("snapshots", SNAPSHOT_DIR))
        keystore_init = []
        if args.s3:
            bucket = args.s3.settings
            es_env.update({f"s3.client.{S3_CLIENT}.endpoint": bucket.endpoint,
                           f"s3.client.{S3_CLIENT}.protocol": "https",
                           f"s3.client.{S3_CLIENT}.path_style_access": str(bucket.path_style_access).lower()})
            snapshot_volumes.append(k8s.core.v1.VolumeArgs(name="s3-keys", projected=k8s.core.v1.ProjectedVolumeSourceArgs(
                default_mode=0o440, sources=[k8s.core.v1.VolumeProjectionArgs(secret=k8s.core.v1.SecretProjectionArgs(
                    name=ref.name, items=[k8s.core.v1.KeyToPathArgs(key=ref.key, path=file)]))
                    for file, ref in (("access_key", args.s3.access_key), ("secret_key", args.s3.secret_key))])))
        snapshot_repository = None
        if args.snapshots:
            snapshot_repository = {"type": "fs", "settings": {"location": SNAPSHOT_DIR, "compress": True}}
        elif args.s3:
            snapshot_repository = {"type": "s3", "settings": {
                "bucket": args.s3.settings.bucket, "client": S3_CLIENT, "compress": True,
                **({"base_path": args.s3.settings.base_path} if args.s3.settings.base_path else {})}}
        if replicated:
            es_env["discovery.seed_hosts"] = headless_name
            # Read only when the cluster first forms (bootstrap), then ignored; so it names the first
            # three nodes whatever `replicas` is, and changing `replicas` later changes no node's
            # environment (a scale-up adds nodes that join through discovery, with no rolling restart).
            es_env["cluster.initial_master_nodes"] = ",".join(f"{name}-{i}" for i in range(BOOTSTRAP_NODES))
            es_env.update({
                "xpack.security.transport.ssl.enabled": "true",
                "xpack.security.transport.ssl.verification_mode": "certificate",
                "xpack.security.transport.ssl.key": "certs/tls.key",
                "xpack.security.transport.ssl.certificate": "certs/tls.crt",
                "xpack.security.transport.ssl.certificate_authorities": "certs/ca.crt",
            })
        else:
            es_env["discovery.type"] = "single-node"
        env_vars = [
            k8s.core.v1.EnvVarArgs(
                name="node.name",
                value_from=k8s.core.v1.EnvVarSourceArgs(
                    field_ref=k8s.core.v1.ObjectFieldSelectorArgs(field_path="metadata.name")),
            ),
        ] + w.env({**es_env,
                   # The image's entrypoint reads it from the file (elasticsearch-env-from-file) and stores
                   # it as `bootstrap.password`, the elastic user's password: never in the environment.
                   "ELASTIC_PASSWORD_FILE": PASSWORD_FILE})

        # Elastic's entrypoint refuses a password file with any mode but 0400 or 0600.
        password_file = w.private_file("password", secret=secret.metadata.name, key="password", directory=PASSWORD_DIR,
                                       image=ctx.images.elasticsearch.ref, pull_policy=ctx.images.pull_policy,
                                       resources_spec=seeding.SEED_RESOURCES)
        seeded = {"config": CONFIG_DIR}
        seed = seeding.seed_container(ctx.images.elasticsearch.ref, ctx.images.pull_policy, seeded)
        if args.s3:
            # Into the seeded config directory's keystore, which the entrypoint then adds bootstrap.password to.
            adds = " && ".join(f"bin/elasticsearch-keystore add-file --force {setting} {S3_KEYS_DIR}/{file}"
                               for file, setting in S3_SECURE_SETTINGS.items())
            keystore_init.append(w.container(
                name="s3-keystore",
                image=ctx.images.elasticsearch.ref,
                pull_policy=ctx.images.pull_policy,
                resources_spec=KEYSTORE_RESOURCES,
                read_only_root_filesystem=True,
                command=["sh", "-c", "set -eu; cd " + HOME + "; [ -f config/elasticsearch.keystore ] || "
                         "bin/elasticsearch-keystore create; " + adds],
                env_vars=w.env({"CLI_JAVA_OPTS": "-Xms32m -Xmx128m", "HOME": "/tmp"}),
                mounts=[*seeding.seeded_mounts(seeded), w.mount("tmp", "/tmp"),
                        w.mount("s3-keys", S3_KEYS_DIR, read_only=True)],
            ))
        # Verified TLS, as ClearML does it: the name the certificate carries, resolved to this pod, the
        # issuing CA, and credentials passed on stdin so they never appear in a process list.
        # In a cluster, a node's first readiness waits for the cluster to be green (as Elastic's Helm chart
        # does, with a marker file): a rolling update replaces one node at a time and the next only when this
        # one is ready, so the nodes roll with the cluster green between them. After that, readiness is only
        # that the node answers (another node's restart must not make every node unready).
        first_ready = ROLLING_HEALTH[spec.rolling_health] if replicated else "local=true"
        health = [
            "sh", "-c",
            f'q="local=true"; [ -e {READY_MARKER} ] || q="{first_ready}"; '
            f'printf \'user = "%s:%s"\\n\' elastic "$(cat {PASSWORD_FILE})" | curl --config - -fsS --max-time 4 '
            f"--cacert {CERTS_DIR}/ca.crt --resolve {name}:{HTTP_PORT}:127.0.0.1 "
            f'"https://{name}:{HTTP_PORT}/_cluster/health?$q" >/dev/null && touch {READY_MARKER}',
        ]
        main = w.container(
            name="elasticsearch",
            image=ctx.images.elasticsearch.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            env_vars=env_vars,
            ports=[w.port("https", HTTP_PORT), w.port("transport", TRANSPORT_PORT)],
            mounts=[
                w.mount("data", f"{HOME}/data"),
                *seeding.seeded_mounts(seeded),
                w.mount("certs", CERTS_DIR, read_only=True),
                password_file.mount,
                w.mount("logs", f"{HOME}/logs"),
                w.mount("tmp", "/tmp"),
                *snapshot_mounts,
            ],
            startup=w.tcp_probe("https", period=5, failures=120),
            readiness=w.exec_probe(health, period=10, failures=3, timeout=5),
            liveness=w.tcp_probe("transport", period=20, failures=6),
        )
        certs_volume = k8s.core.v1.VolumeArgs(name="certs", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=certificate.secret_name, default_mode=0o440))
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("elasticsearch"))
        headless = w.service(f"{name}-headless", name=headless_name, namespace=ctx.namespace, component=COMPONENT,
                             ports={"https": HTTP_PORT, "transport": TRANSPORT_PORT}, headless=True, opts=child)
        client = w.service(f"{name}-service", name=name, namespace=ctx.namespace, component=COMPONENT,
                           ports={"https": HTTP_PORT}, opts=child)
        self.statefulset = w.stateful_set(
            f"{name}-statefulset", name=name, namespace=ctx.namespace, component=COMPONENT,
            replicas=spec.replicas, service_name=headless.metadata.name,
            data_size=spec.storage.size, data_access_mode=spec.storage.access_mode,
            storage_class=ctx.storage_class(args.settings.storage),
            opts=ctx.guarded(pulumi.ResourceOptions(parent=self, depends_on=[certificate])),
            # All nodes start together: the first master election needs a quorum of them.
            parallel=True,
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("elasticsearch"),
                annotations=ctx.backup_volumes(*(["snapshots"] if args.snapshots else [])),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                init_containers=[seed, password_file.init, *keystore_init],
                volumes=seeding.seeded_volumes(seeded) + [
                    certs_volume, *password_file.volumes, w.empty_dir("logs", "512Mi"), w.empty_dir("tmp", "1Gi"),
                    *snapshot_volumes],
                replicas=spec.replicas,
                spread=ctx.features.spread,
                termination_grace_seconds=120,
                # A new password is taken at start (bootstrap.password; no password is ever stored in the
                # security index), so the nodes roll with it.
                credentials=[self.password_digest],
            ),
        )
        w.disruption_budget(f"{name}-pdb", name=name, namespace=ctx.namespace, component=COMPONENT,
                            replicas=spec.replicas, opts=child)

        self.host, self.port = name, HTTP_PORT
        self.hosts = [{"host": name, "port": HTTP_PORT, "scheme": "https"}]
        # The clients' reference resolves after the StatefulSet: with a rotated password, they roll after the nodes.
        secret_name = w.after(secret.metadata.name, self.statefulset)
        self.username = SecretRef(name=secret_name, key="username")
        self.password = SecretRef(name=secret_name, key="password")
        self.ca = SecretRef(name=certificate.secret_name, key="ca.crt")
        # The same Secret without waiting for the nodes: for the backup Job, which runs before they roll.
        self.credentials_now = (SecretRef(name=secret.metadata.name, key="username"),
                                SecretRef(name=secret.metadata.name, key="password"))
        self.snapshot_repository = snapshot_repository
        # Velero's pre-backup hook, in the first node: a snapshot into the snapshot volume, which Velero copies.
        self.backup_hook = BackupHook(
            name=f"{name}-snapshot", container="elasticsearch", selector={POD_NAME_LABEL: f"{name}-0"},
            pre=[["sh", "-c", runtime.read("elasticsearch_snapshot.sh"), "snapshot", name, str(HTTP_PORT),
                  f"{CERTS_DIR}/ca.crt", PASSWORD_FILE, SNAPSHOT_REPOSITORY, SNAPSHOT_DIR, str(args.snapshots_kept)]],
        ) if args.snapshots else None
        self.register_outputs({"host": client.metadata.name, "port": self.port, "scheme": "https"})
