"""Redis tier: a single-member StatefulSet with a password, a volume claim and a ClusterIP Service."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from settings.models import RedisSettings

from . import tiers
from . import workload as w
from .context import TierContext

COMPONENT, PORT = tiers.REDIS, tiers.REDIS_PORT
# The generated Secret (redis.conf with `requirepass`, and the password alone for the probes).
CONFIG_DIR = "/etc/redis-secret"


@dataclass(frozen=True)
class RedisArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: RedisSettings


class Redis(pulumi.ComponentResource):
    """In-cluster Redis. Outputs: `host`, `port`, `password_secret` (Secret name; key `password`; it
    resolves once the StatefulSet is updated, so that the clients roll after Redis when the password is
    rotated), `password_digest` (`workload.credential_digest` of the password)."""

    host: str
    port: int
    password_secret: pulumi.Output[str]
    password_digest: pulumi.Output[str]
    password_key: str = "password"

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:redis:Redis", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec = args.settings

        password: pulumi.Output[str] = pulumi.Output.secret(
            random.RandomPassword(f"{name}-password", length=40, special=False, opts=child).result)
        self.password_digest = w.credential_digest(password)
        config_text = password.apply(
            lambda pw: "\n".join([
                "bind 0.0.0.0",
                f"port {PORT}",
                "dir /data",
                "appendonly yes",
                "protected-mode no",
                f"requirepass {pw}",
                "",
            ])
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ctx.namespace, labels=w.labels(COMPONENT)),
            type="Opaque",
            string_data={self.password_key: password, "redis.conf": config_text},
            opts=child,
        )
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("redis"))
        headless = w.service(f"{name}-headless", name=f"{name}-headless", namespace=ctx.namespace,
                             component=COMPONENT, ports={"redis": PORT}, headless=True, opts=child)
        client = w.service(f"{name}-service", name=name, namespace=ctx.namespace, component=COMPONENT,
                           ports={"redis": PORT}, opts=child)

        # redis-cli takes the password from REDISCLI_AUTH, set here from the mounted file for the probe
        # alone: the container's environment holds none.
        ping = ["sh", "-c", f'REDISCLI_AUTH="$(cat {CONFIG_DIR}/{self.password_key})" '
                            f"redis-cli -h 127.0.0.1 -p {PORT} ping | grep -q PONG"]
        server = w.container(
            name="redis",
            image=ctx.images.redis.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            # Bypasses the image entrypoint (its chown/gosu branch is for root only).
            command=["redis-server", f"{CONFIG_DIR}/redis.conf"],
            ports=[w.port("redis", PORT)],
            mounts=[
                w.mount("data", "/data"),
                w.mount("config", CONFIG_DIR, read_only=True),
                w.mount("tmp", "/tmp"),
            ],
            readiness=w.exec_probe(ping, period=10, failures=3),
            liveness=w.exec_probe(ping, period=20, failures=6),
            startup=w.exec_probe(ping, period=5, failures=60),
        )
        self.statefulset = w.stateful_set(
            f"{name}-statefulset", name=name, namespace=ctx.namespace, component=COMPONENT,
            replicas=spec.replicas, service_name=headless.metadata.name,
            data_size=spec.storage.size, data_access_mode=spec.storage.access_mode,
            storage_class=ctx.storage_class(args.settings.storage), opts=child,
            parallel=False,
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("redis"),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[server],
                volumes=[
                    k8s.core.v1.VolumeArgs(
                        name="config",
                        secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=secret.metadata.name, default_mode=0o440),
                    ),
                    w.empty_dir("tmp", "64Mi"),
                ],
                termination_grace_seconds=60,
                credentials=[self.password_digest],  # requirepass is read at start only
            ),
        )

        self.host = name  # the client Service's name
        self.port = PORT
        self.password_secret = w.after(secret.metadata.name, self.statefulset)
        self.register_outputs({"host": client.metadata.name, "port": self.port, "password_secret": self.password_secret})
