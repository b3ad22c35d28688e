"""MongoDB tier: StatefulSet with authentication, volume claims, headless + client Services.

One member in dev; an N-member replica set (N odd) in prod. A setup Job, run again whenever the
members or the image change, waits for the members, initiates the set once or changes its membership,
and after a major upgrade raises the feature compatibility version (components/runtime/mongodb_setup.js).

The official image creates the root user from MONGO_INITDB_ROOT_USERNAME/PASSWORD_FILE when the data
directory is empty, and never again: rotating that password (`root_password_generation` raised by one)
is the setup Job's, which authenticates with the previous generation's password (mounted into the Job
only) and changes it inside the database before the clients roll. Members of a set authenticate to each other with a shared keyfile, which
mongod refuses unless only its owner can read it; a Secret volume is owned by root, so an init
container copies the key into an emptyDir with mode 0400 under the pod's own UID.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from settings.blocks import ResourceAmounts, Resources
from settings.models import MongoSettings
from vocabulary.clearml import ROOT_PASSWORD_GENERATION_ENV

from . import runtime, tiers
from . import workload as w
from .clearml_env import SecretRef
from .context import TierContext
from .velero import BackupHook

COMPONENT, PORT = tiers.MONGODB, tiers.MONGODB_PORT
REPLICA_SET = "rs0"
ROOT_USER = "clearml-root"
KEYFILE_DIR = "/var/run/mongodb-keyfile"
# The root user's name and password, as files (MONGO_INITDB_ROOT_*_FILE).
ROOT_CREDENTIALS_DIR = "/etc/mongodb-root"
# The previous generation's root password, in the setup Job only (a rotation in progress).
PREVIOUS_ROOT_DIR = "/etc/mongodb-root-previous"
JOB_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="10m", memory="64Mi"), limits=ResourceAmounts(cpu="200m", memory="256Mi")
)

# mongosh script of the setup Job: the members from the environment, the root user's name and
# password from the mounted files (mongosh runs on Node.js, whose `fs` it exposes through require).
SETUP_SCRIPT = runtime.read("mongodb_setup.js")


def _as_root(script: str) -> list[str]:
    """mongosh in the MongoDB container running `script` with `admin`, the admin database as the root user
    (read from the mounted files, never on the command line)."""
    login = (f'const fs = require("fs"); const admin = db.getSiblingDB("admin"); '
             f'admin.auth(fs.readFileSync("{ROOT_CREDENTIALS_DIR}/username", "utf8"), '
             f'fs.readFileSync("{ROOT_CREDENTIALS_DIR}/password", "utf8")); ')
    return ["mongosh", "--quiet", "--norc", "--eval", login + script]


@dataclass(frozen=True)
class MongoDBArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: MongoSettings


def _root_password(name: str, generation: int, opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """The generated root password of one generation. Generation 0 keeps the generator's first name;
    each later one is a generator of its own, so raising the generation makes a new value while the
    one before it stays (the setup Job logs in with it) until the generation after."""
    suffix = f"-{generation}" if generation else ""
    return pulumi.Output.secret(
        random.RandomPassword(f"{name}-root-password{suffix}", length=40, special=False, opts=opts).result)


class MongoDB(pulumi.ComponentResource):
    """Outputs: `connection` (Secret name and key of the ClearML connection string, resolved once the
    setup Job has run: the root password in the Secret is then the database's), `connection_now` (the
    same without that wait, for the backup before an upgrade, which runs before the members roll),
    `password_digest` (its clients roll with the root password), `members`, and `backup_hook` (what
    Velero runs around copying the members' data: writes locked, then unlocked)."""

    connection: SecretRef
    connection_now: SecretRef
    password_digest: pulumi.Output[str]
    members: list[str]
    backup_hook: BackupHook

    def __init__(self, name: str, args: MongoDBArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:mongodb:MongoDB", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec = args.settings
        headless_name = f"{name}-headless"
        replicated = spec.replicas > 1
        self.members = [f"{name}-{i}.{headless_name}.{ctx.namespace}.svc:{PORT}" for i in range(spec.replicas)]

        generation = spec.root_password_generation
        password = _root_password(name, generation, child)
        self.password_digest = w.credential_digest(password)
        data = {"username": pulumi.Output.from_input(ROOT_USER), "password": password}
        if replicated:
            # 6 to 1024 base64 characters (MongoDB keyfile format).
            data["keyfile"] = pulumi.Output.secret(
                random.RandomPassword(f"{name}-keyfile", length=756, special=False, opts=child).result)
            hosts, query = ",".join(self.members), f"?replicaSet={REPLICA_SET}&authSource=admin"
        else:
            hosts, query = f"{name}:{PORT}", "?authSource=admin"
        data["connection-string"] = password.apply(
            lambda pw: f"mongodb://{ROOT_USER}:{pw}@{hosts}/{query}"
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ctx.namespace, labels=w.labels(COMPONENT)),
            type="Opaque",
            string_data=data,
            opts=child,
        )
        # The root user's name and password as files the image's entrypoint reads (`file_env`), and
        # the setup Job too: never in the environment.
        root_volume = k8s.core.v1.VolumeArgs(name="root-credentials", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=secret.metadata.name, default_mode=0o440,
            items=[k8s.core.v1.KeyToPathArgs(key=k, path=k) for k in ("username", "password")]))
        root_mount = w.mount("root-credentials", ROOT_CREDENTIALS_DIR, read_only=True)
        credential_env = w.env({"MONGO_INITDB_ROOT_USERNAME_FILE": f"{ROOT_CREDENTIALS_DIR}/username",
                                "MONGO_INITDB_ROOT_PASSWORD_FILE": f"{ROOT_CREDENTIALS_DIR}/password"})

        mongod = ["mongod", "--bind_ip_all", "--port", str(PORT)]
        init_containers = []
        # mongod writes only its dbPath and /tmp (unix socket; the entrypoint's pid file during init).
        volumes = [w.empty_dir("tmp", "256Mi"), root_volume]
        mounts = [w.mount("data", "/data/db"), w.mount("tmp", "/tmp"), root_mount]
        if replicated:
            # mongod refuses a keyfile its group or others may read.
            keyfile = w.private_file("keyfile", secret=secret.metadata.name, key="keyfile", directory=KEYFILE_DIR,
                                     image=ctx.images.mongodb.ref, pull_policy=ctx.images.pull_policy,
                                     resources_spec=JOB_RESOURCES, mode=0o400)
            mongod += ["--replSet", REPLICA_SET, "--keyFile", keyfile.file]
            volumes += keyfile.volumes
            mounts.append(keyfile.mount)
            init_containers.append(keyfile.init)

        ping = ["mongosh", "--quiet", "--norc", "--eval", "db.adminCommand('ping').ok"]
        server = w.container(
            name="mongodb",
            image=ctx.images.mongodb.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            args=mongod,  # the image's docker-entrypoint.sh (mode 755) creates the root user on first start
            env_vars=credential_env + w.env({"HOME": "/tmp"}),
            ports=[w.port("mongodb", PORT)],
            mounts=mounts,
            startup=w.tcp_probe("mongodb", period=5, failures=120),
            readiness=w.exec_probe(ping, period=10, timeout=10, failures=3),
            liveness=w.exec_probe(ping, period=30, timeout=10, failures=6),
        )
        account = w.service_account(name, ctx.namespace, COMPONENT, child, scc=ctx.scc("mongodb"))
        headless = w.service(f"{name}-headless", name=headless_name, namespace=ctx.namespace, component=COMPONENT,
                             ports={"mongodb": PORT}, headless=True, opts=child)
        w.service(f"{name}-service", name=name, namespace=ctx.namespace, component=COMPONENT,
                  ports={"mongodb": PORT}, opts=child)
        self.statefulset = w.stateful_set(
            f"{name}-statefulset", name=name, namespace=ctx.namespace, component=COMPONENT,
            replicas=spec.replicas, service_name=headless.metadata.name,
            data_size=spec.storage.size, data_access_mode=spec.storage.access_mode,
            storage_class=ctx.storage_class(args.settings.storage), opts=ctx.guarded(child),
            # Members start together; the setup Job waits for all of them.
            parallel=True,
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("mongodb"),
                annotations=ctx.backup_volumes("data"),
                component=COMPONENT,
                service_account=account.metadata.name,
                containers=[server],
                init_containers=init_containers,
                volumes=volumes,
                replicas=spec.replicas,
                spread=ctx.features.spread,
                termination_grace_seconds=120,  # mongod flushes and steps down on SIGTERM
            ),
        )
        w.disruption_budget(f"{name}-pdb", name=name, namespace=ctx.namespace, component=COMPONENT,
                            replicas=spec.replicas, opts=child)
        previous = None
        if generation:
            previous = k8s.core.v1.Secret(
                f"{name}-previous-secret",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-previous", namespace=ctx.namespace,
                                                    labels=w.labels(COMPONENT)),
                type="Opaque",
                string_data={"password": _root_password(name, generation - 1, child)},
                opts=child,
            )
        job = self._setup_job(name, args, root_volume, root_mount, account, replicated, previous)

        # MongoDB's procedure for a file-system copy of a running member: fsyncLock, copy, fsyncUnlock.
        self.backup_hook = BackupHook(name=f"{name}-fsync-lock", container="mongodb",
                                      selector=w.selector_labels(COMPONENT),
                                      pre=[_as_root("printjson(admin.fsyncLock())")],
                                      post=[_as_root("printjson(admin.fsyncUnlock())")])
        self.connection_now = SecretRef(name=secret.metadata.name, key="connection-string")
        self.connection = SecretRef(name=w.after(secret.metadata.name, job), key="connection-string")
        self.register_outputs({"connection_secret": secret.metadata.name, "members": self.members})

    def _setup_job(self, name: str, args: MongoDBArgs, root_volume: k8s.core.v1.VolumeArgs,
                   root_mount: k8s.core.v1.VolumeMountArgs, account: k8s.core.v1.ServiceAccount,
                   replicated: bool, previous: k8s.core.v1.Secret | None) -> k8s.batch.v1.Job:
        ctx = args.context
        generation = args.settings.root_password_generation
        volumes, mounts = [w.empty_dir("tmp", "64Mi"), root_volume], [w.mount("tmp", "/tmp"), root_mount]
        env = {"RS_MEMBERS": ",".join(self.members), "HOME": "/tmp", "ROOT_CREDENTIALS_DIR": ROOT_CREDENTIALS_DIR,
               ROOT_PASSWORD_GENERATION_ENV: str(generation), **({"RS_NAME": REPLICA_SET} if replicated else {})}
        if previous is not None:
            volumes.append(k8s.core.v1.VolumeArgs(name="previous-root", secret=k8s.core.v1.SecretVolumeSourceArgs(
                secret_name=previous.metadata.name, default_mode=0o440)))
            mounts.append(w.mount("previous-root", PREVIOUS_ROOT_DIR, read_only=True))
            env["PREVIOUS_ROOT_PASSWORD_FILE"] = f"{PREVIOUS_ROOT_DIR}/password"
        runner = w.container(
            name="setup",
            image=ctx.images.mongodb.ref,
            pull_policy=ctx.images.pull_policy,
            resources_spec=JOB_RESOURCES,
            read_only_root_filesystem=True,
            command=["mongosh", "--nodb", "--quiet", "--norc", "--eval", SETUP_SCRIPT],
            env_vars=w.env(env),
            mounts=mounts,
        )
        # Replaced (so run again) whenever its spec changes: the members, the image, the root password's generation.
        return k8s.batch.v1.Job(
            f"{name}-setup",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-setup", namespace=ctx.namespace,
                                                labels=w.labels(COMPONENT)),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=10,
                template=w.pod_template(
                    pull_secrets=ctx.images.pull_secrets,
                    scheduling=args.settings.scheduling,
                    required_scc=ctx.scc("mongodb"),
                    component=tiers.MONGODB_SETUP,
                    service_account=account.metadata.name,
                    containers=[runner],
                    volumes=volumes,
                    restart_policy="OnFailure",
                ),
            ),
            # It was the replica-set Job (replica sets only) before it also set the feature compatibility version.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.statefulset],
                                        aliases=[pulumi.Alias(name=f"{name}-rs-init")]),
        )
