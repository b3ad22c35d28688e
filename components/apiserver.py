"""ClearML API server tier: Deployment, Service (8008), ServiceAccount and, when replicated, a PDB."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import ApiServerSettings

from . import clearml_env as ce
from . import clearml_image as ci
from . import seeding, tiers
from . import workload as w
from .context import TierContext

COMPONENT, PORT = tiers.APISERVER, tiers.APISERVER_PORT
# Where the example artifacts go (clearml-server docker-compose.yml: pre_populate.artifacts_path).
FILES_DIR = "/mnt/fileserver"


def url_for(name: str) -> str:
    """The in-cluster URL of the API server component named `name` (its Service has the same name)."""
    return f"http://{name}:{PORT}"


@dataclass(frozen=True)
class ApiServerArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: ApiServerSettings
    peers: ce.Peers
    credentials_secret: pulumi.Input[str]
    server_config: pulumi.Input[str]
    files_url: str
    cookie_domain: str | None
    # The file server's volume claim, mounted for the example artifacts when pre-population is on.
    fileserver_claim: pulumi.Input[str] | None = None
    # Credentials.digests[<this tier>]: the pods roll when a credential they read is rotated.
    credentials_digest: pulumi.Input[str] | None = None


class ApiServer(pulumi.ComponentResource):
    """Outputs: `service_name`, `port`, `url` (in-cluster)."""

    service_name: pulumi.Output[str]
    port: int
    url: str

    def __init__(self, name: str, args: ApiServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:apiserver:ApiServer", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec, image = args.settings, ctx.images.clearml
        creds = args.credentials_secret

        settings_env = {
            "CLEARML__apiserver__auth__fixed_users__enabled": "true",
            "CLEARML__apiserver__pre_populate__enabled": str(ctx.features.prepopulate_examples).lower(),
            "CLEARML__apiserver__pre_populate__zip_files": "/opt/clearml/db-pre-populate",
            **({"CLEARML__apiserver__pre_populate__artifacts_path": FILES_DIR}
               if ctx.features.prepopulate_examples else {}),
            "CLEARML__services__async_urls_delete__enabled": str(ctx.features.async_delete).lower(),
            # The console handler's class (logging.conf) lives here.
            "PYTHONPATH": ci.PYTHON_DIR,
        }
        if args.cookie_domain:
            settings_env["CLEARML__apiserver__auth__cookies__domain"] = f".{args.cookie_domain}"
        if spec.gunicorn_workers:
            settings_env["CLEARML_USE_GUNICORN"] = "1"
            settings_env["CLEARML_GUNICORN_WORKERS"] = str(spec.gunicorn_workers)
        # Users, keys, the token and session secrets and the admin login: files, not environment.
        secure_volumes, secure_mounts, secure_env = ce.secure_config(creds, "apiserver")
        env_vars = (
            w.env(ce.PROCESS_ENV)
            + ce.peer_env(args.peers)
            + secure_env
            + ce.url_prefixes_env(args.files_url)
            + w.env(settings_env)
        )
        ca_volumes, ca_mounts = ce.ca_volumes(args.peers)
        files_volumes, files_mounts = [], []
        if ctx.features.prepopulate_examples:
            if args.fileserver_claim is None:
                raise ValueError("prepopulate_examples needs the file server's claim (fileserver_claim)")
            files_volumes = [k8s.core.v1.VolumeArgs(
                name="fileserver-data", persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
                    claim_name=args.fileserver_claim))]
            files_mounts = [w.mount("fileserver-data", FILES_DIR)]
        main = w.container(
            name="apiserver",
            image=image.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            command=ci.entrypoint("apiserver"),
            env_vars=env_vars,
            ports=[w.port("http", PORT)],
            mounts=[w.mount("logs", ci.LOG_DIR), w.mount("tmp", "/tmp"), *ci.config_mounts(), *secure_mounts, *ca_mounts,
                    *files_mounts, *seeding.seeded_mounts(ci.APISERVER_SEEDED)],
            # /debug.ping needs no authentication (clearml-server schema/services/debug.conf).
            startup=w.http_probe("/debug.ping", "http", period=10, failures=30),
            readiness=w.http_probe("/debug.ping", "http", period=10, failures=3),
            liveness=w.http_probe("/debug.ping", "http", period=20, failures=6, timeout=10),
        )
        init = [
            ci.wait_init_container(image, ctx.images.pull_policy, ce.wait_command(*args.peers.endpoints()),
                                   ce.mongo_env(args.peers)),
            seeding.seed_container(image.ref, ctx.images.pull_policy, ci.APISERVER_SEEDED),
        ]
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("apiserver"))
        self.deployment = w.deployment(
            f"{name}-deployment", name=name, namespace=ctx.namespace, component=COMPONENT,
            replicas=spec.replicas, opts=ctx.guarded(child),
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("apiserver"),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                init_containers=init,
                volumes=[w.empty_dir("logs", "64Mi"), w.empty_dir("tmp", "1Gi"), *ci.config_volumes(args.server_config),
                         *secure_volumes, *ca_volumes, *files_volumes, *seeding.seeded_volumes(ci.APISERVER_SEEDED)],
                replicas=spec.replicas,
                spread=ctx.features.spread,
                termination_grace_seconds=60,
                credentials=ce.reader_digests(args.credentials_digest, args.peers),
            ),
        )
        service = w.service(f"{name}-service", name=name, namespace=ctx.namespace, component=COMPONENT,
                            ports={"http": PORT}, opts=child)
        w.disruption_budget(f"{name}-pdb", name=name, namespace=ctx.namespace, component=COMPONENT,
                            replicas=spec.replicas, opts=child)

        self.service_name = service.metadata.name
        self.port = PORT
        self.url = url_for(name)
        self.register_outputs({"service_name": self.service_name, "url": self.url})
