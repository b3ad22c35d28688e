"""ClearML async-delete worker (`jobs.async_urls_delete`): deletes task artifacts from the file server."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from settings.models import AsyncDeleteSettings

from . import clearml_env as ce
from . import clearml_image as ci
from . import seeding, tiers
from . import workload as w
from .context import TierContext

COMPONENT = tiers.ASYNC_DELETE


@dataclass(frozen=True)
class AsyncDeleteArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: AsyncDeleteSettings
    peers: ce.Peers
    credentials_secret: pulumi.Input[str]
    server_config: pulumi.Input[str]
    fileserver_url: str
    files_url: str
    # Credentials.digests[<this tier>]: the pods roll when a credential they read is rotated.
    credentials_digest: pulumi.Input[str] | None = None


class AsyncDelete(pulumi.ComponentResource):
    """One worker pod (it polls MongoDB for delete requests; two would race), no Service."""

    def __init__(self, name: str, args: AsyncDeleteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:asyncdelete:AsyncDelete", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        image = ctx.images.clearml
        # The token secret: a file, not environment.
        secure_volumes, secure_mounts, secure_env = ce.secure_config(args.credentials_secret, "async-delete")
        env_vars = (
            w.env(ce.PROCESS_ENV)
            + w.env({"PYTHONPATH": f"{ci.APISERVER_DIR}:{ci.PYTHON_DIR}"})
            + ce.peer_env(args.peers)
            + secure_env
            + ce.url_prefixes_env(args.files_url)
        )
        # No port to probe: readiness and liveness check that the worker can reach its peers.
        peers_reachable = ce.wait_command(*args.peers.endpoints())
        probe_cmd = ["timeout", "20", *peers_reachable]
        ca_volumes, ca_mounts = ce.ca_volumes(args.peers)
        main = w.container(
            name="async-delete",
            image=image.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=args.settings.resources,
            read_only_root_filesystem=True,
            # Same command, working directory and PYTHONPATH as upstream's compose file (the entrypoint
            # is not involved). From /opt/clearml/apiserver, `from apiserver.bll ...` would not import.
            command=["python3", "-m", "jobs.async_urls_delete", "--fileserver-host", args.fileserver_url],
            working_dir=ci.WORKDIR,
            env_vars=env_vars,
            mounts=[w.mount("tmp", "/tmp"), *ci.config_mounts()] + secure_mounts + ca_mounts + seeding.seeded_mounts(ci.APISERVER_SEEDED),
            readiness=w.exec_probe(probe_cmd, period=30, timeout=25, failures=3),
            liveness=w.exec_probe(probe_cmd, period=60, timeout=25, failures=5, initial_delay=30),
        )
        init = [
            ci.wait_init_container(image, ctx.images.pull_policy, peers_reachable, ce.mongo_env(args.peers)),
            seeding.seed_container(image.ref, ctx.images.pull_policy, ci.APISERVER_SEEDED),
        ]
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("asyncDelete"))
        self.deployment = w.deployment(
            f"{name}-deployment", name=name, namespace=ctx.namespace, component=COMPONENT, replicas=1,
            single_writer=True, opts=child,
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("asyncDelete"),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[main],
                init_containers=init,
                volumes=[w.empty_dir("tmp", "1Gi"), *ci.config_volumes(args.server_config), *secure_volumes, *ca_volumes,
                         *seeding.seeded_volumes(ci.APISERVER_SEEDED)],
                termination_grace_seconds=60,
                credentials=ce.reader_digests(args.credentials_digest, args.peers),
            ),
        )
        self.register_outputs({})
