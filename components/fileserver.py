"""ClearML file server tier: Deployment, volume claim at /mnt/fileserver, Service (8081), PDB when replicated."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings.models import FileServerSettings
from vocabulary import clearml as cv

from . import clearml_env as ce
from . import clearml_image as ci
from . import tiers
from . import workload as w
from .context import TierContext

COMPONENT, PORT = tiers.FILESERVER, tiers.FILESERVER_PORT
DATA_DIR = "/mnt/fileserver"


@dataclass(frozen=True)
class FileServerArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: FileServerSettings
    apiserver_url: str
    redis: ce.RedisPeer
    credentials_secret: pulumi.Input[str]
    # Credentials.digests[<this tier>]: the pods roll when a credential they read is rotated.
    credentials_digest: pulumi.Input[str] | None = None


class FileServer(pulumi.ComponentResource):
    """Outputs: `service_name`, `port`, `url` (in-cluster), `claim_name`."""

    service_name: pulumi.Output[str]
    claim_name: pulumi.Output[str]
    port: int
    url: str

    def __init__(self, name: str, args: FileServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:fileserver:FileServer", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec, image = args.settings, ctx.images.clearml

        # The uploaded artifacts outlive `pulumi destroy` and replacements (see README, "Deleting data").
        claim = w.claim(f"{name}-data", name=f"{name}-data", namespace=ctx.namespace, component=COMPONENT,
                        size=spec.storage.size, access_mode=spec.storage.access_mode,
                        storage_class=ctx.storage_class(spec.storage), retain=ctx.storage.retain_on_delete, parent=self)
        env_vars = (
            w.env(ce.PROCESS_ENV)
            + w.env({
                "CLEARML__hosts__api_server": args.apiserver_url,
                "CLEARML__fileserver__delete__allow_batch": "true",
            })
            + ce.redis_env(args.redis, cv.FILESERVER_REDIS_ALIASES)
        )
        ca_volumes, ca_mounts = ce.redis_ca_volumes(args.redis)
        # Its own user's key and secret: a file, not environment.
        secure_volumes, secure_mounts, secure_env = ce.secure_config(args.credentials_secret, "fileserver")
        env_vars += secure_env
        main = w.container(
            name="fileserver",
            image=image.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            command=ci.entrypoint("fileserver"),
            env_vars=env_vars,
            ports=[w.port("http", PORT)],
            mounts=[w.mount("data", DATA_DIR), w.mount("logs", ci.LOG_DIR), w.mount("tmp", "/tmp"), *secure_mounts, *ca_mounts],
            # `GET /` answers "OK" without authentication (clearml-server fileserver/fileserver.py `ping`).
            startup=w.http_probe("/", "http", period=5, failures=60),
            readiness=w.http_probe("/", "http", period=10, failures=3),
            liveness=w.http_probe("/", "http", period=20, failures=6),
        )
        # The file server logs in to the API server when it starts (clearml-server fileserver/auth.py),
        # so it waits for /debug.ping as the official chart's init container does, and for Redis.
        wait = ci.wait_init_container(image, ctx.images.pull_policy, ce.wait_command(
            f"{args.redis.host}:{args.redis.port}", f"{args.apiserver_url}/debug.ping"), [])
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("fileserver"))
        self.deployment = w.deployment(
            f"{name}-deployment", name=name, namespace=ctx.namespace, component=COMPONENT,
            replicas=spec.replicas, opts=ctx.guarded(child),
            # A ReadWriteOnce volume cannot be mounted by the old and the new pod on different nodes.
            single_writer=spec.storage.access_mode != "ReadWriteMany",
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("fileserver"),
                annotations=ctx.backup_volumes("data"),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                init_containers=[wait],
                volumes=[
                    w.claim_volume("data", claim.metadata.name),
                    w.empty_dir("logs", "64Mi"),
                    w.empty_dir("tmp", "2Gi"),
                    *secure_volumes,
                    *ca_volumes,
                ],
                replicas=spec.replicas,
                spread=ctx.features.spread,
                termination_grace_seconds=120,  # let uploads in flight finish
                credentials=ce.credential_digests(args.credentials_digest, args.redis.password_digest),
            ),
        )
        service = w.service(f"{name}-service", name=name, namespace=ctx.namespace, component=COMPONENT,
                            ports={"http": PORT}, opts=child)
        w.disruption_budget(f"{name}-pdb", name=name, namespace=ctx.namespace, component=COMPONENT,
                            replicas=spec.replicas, opts=child)

        self.service_name = service.metadata.name
        self.claim_name = claim.metadata.name
        self.port = PORT
        self.url = f"http://{name}:{PORT}"
        self.register_outputs({"service_name": self.service_name, "claim_name": self.claim_name, "url": self.url})
