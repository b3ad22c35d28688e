"""`ClearmlServer`: the whole ClearML server in one namespace, wiring every tier together."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
import pulumi_kubernetes as k8s

from settings import Settings

from . import clearml_image as ci
from . import edge_plan
from . import workload as w
from .agent import Agent, AgentArgs
from .apiserver import ApiServer, ApiServerArgs
from .apiserver import url_for as apiserver_url_for
from .async_delete import AsyncDelete, AsyncDeleteArgs
from .backup import Backup, BackupArgs
from .certificate import CertificateAuthority, CertificateAuthorityArgs, chosen_issuer
from .context import TierContext
from .credentials import ADMIN_USERNAME, Credentials, CredentialsArgs
from .data_tiers import data_tiers
from .edge import Edge, EdgeArgs
from .fileserver import FileServer, FileServerArgs
from .monitoring import Monitoring, MonitoringArgs
from .network_policies import NetworkPolicies, NetworkPoliciesArgs
from .upgrade_backup import BackupGate, Deployed
from .upgrade_backup import plan as upgrade_backup_plan
from .velero import VeleroBackup, VeleroBackupArgs
from .webserver import ServingTls, WebServer, WebServerArgs


@dataclass(frozen=True)
class ClearmlServerArgs:
    settings: Settings
    # What runs now, as preflight read it (None: not read, the offline render): decides the backup before an upgrade.
    deployed: Deployed | None = None


class ClearmlServer(pulumi.ComponentResource):
    """Outputs: `namespace`, `urls` (public), `credentials_secret`, `admin_username`, `admin_password`, `tests_key` and
    `tests_secret` (secrets), and `ca_certificate` (the in-cluster CA's PEM, when it was created and read)."""

    namespace: str
    urls: dict[str, str]
    credentials_secret: pulumi.Output[str]
    admin_username: str
    admin_password: pulumi.Output[str]
    tests_key: pulumi.Output[str]
    tests_secret: pulumi.Output[str]
    ca_certificate: pulumi.Output[str] | None

    def __init__(self, name: str, args: ClearmlServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:index:ClearmlServer", name, None, opts)
        settings = args.settings
        child = pulumi.ResourceOptions(parent=self)
        context = TierContext.from_settings(settings)
        ns = context.namespace
        # Before an upgrade, a backup set, and the workloads it guards roll after it (components/upgrade_backup.py).
        gate = BackupGate(upgrade_backup_plan(settings, args.deployed))
        context = replace(context, rolls_after=gate.rolls_after)
        for tier, scc in settings.scc.elevated.items():
            pulumi.log.warn(f"{tier} is granted the SCC {scc} (acknowledged in scc.acknowledge): "
                            "its pods may run as root or reach the host", self)
        urls = settings.public_urls

        if settings.namespace.create:
            namespace = k8s.core.v1.Namespace(
                f"{name}-namespace",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=ns, labels=w.labels("server")),
                # Deleting the namespace would delete every volume claim in it.
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=settings.storage.retain_on_delete),
            )
            child = pulumi.ResourceOptions(parent=self, depends_on=[namespace])

        credentials = Credentials(f"{name}-credentials", CredentialsArgs(
            namespace=ns, k8s_agent=settings.agent.enabled), opts=child)

        # ---- certificates: the in-cluster CA (unless both issuers are given) --------------------
        tls = settings.tls
        ca = CertificateAuthority(f"{name}-ca", CertificateAuthorityArgs(namespace=ns, tls=tls), opts=child) \
            if tls.bootstraps_ca else None
        internal_issuer = chosen_issuer(tls.internal_issuer, ca)
        route_issuer = chosen_issuer(tls.route_issuer, ca) if tls.route_certificates != "router-default" else None
        server_config = k8s.core.v1.ConfigMap(
            f"{name}-server-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-server-config", namespace=ns, labels=w.labels("server")),
            data=ci.server_config_data(),
            opts=child,
        )

        # ---- data tiers (in-cluster, or the team's own services) -----------------------------------
        data = data_tiers(name, settings, context, internal_issuer, child)
        peers = data.peers

        # ---- ClearML tiers ----------------------------------------------------------------
        # The file server first: with example pre-population the API server mounts its claim.
        files = FileServer(f"{name}-fileserver", FileServerArgs(
            context=context, settings=settings.fileserver, apiserver_url=apiserver_url_for(f"{name}-apiserver"),
            redis=peers.redis, credentials_secret=credentials.secret_name,
            credentials_digest=credentials.digests["fileserver"]), opts=child)
        api = ApiServer(f"{name}-apiserver", ApiServerArgs(
            context=context, settings=settings.apiserver,
            peers=peers, credentials_secret=credentials.secret_name, server_config=server_config.metadata.name,
            credentials_digest=credentials.digests["apiserver"], files_url=urls["files"], cookie_domain=settings.cookie_domain,
            fileserver_claim=files.claim_name if settings.features.prepopulate_examples else None),
            opts=child)
        reencrypt = edge_plan.reencrypts(settings.edge)
        web = WebServer(f"{name}-webserver", WebServerArgs(
            context=context, settings=settings.webserver, apiserver_url=api.url, fileserver_url=files.url, public_urls=urls,
            serving_tls=ServingTls(internal_issuer, tls, settings.public_hosts) if reencrypt else None), opts=child)
        if settings.features.async_delete:
            AsyncDelete(f"{name}-async-delete", AsyncDeleteArgs(
                context=context, settings=settings.async_delete, peers=peers,
                credentials_secret=credentials.secret_name, server_config=server_config.metadata.name,
                credentials_digest=credentials.digests["async-delete"], fileserver_url=files.url,
                files_url=urls["files"]), opts=child)

        if settings.agent.enabled:
            Agent(f"{name}-agent", AgentArgs(
                context=context, settings=settings.agent,
                credentials_secret=credentials.secret_name, credentials_digest=credentials.digests["agent"],
                apiserver_url=api.url, public_urls=urls,
                kubectl_image=settings.agent.kubectl_image), opts=child)

        if settings.backup.by_velero:
            gate.taken(VeleroBackup(f"{name}-backup", VeleroBackupArgs(
                namespace=ns, settings=settings.backup, hooks=data.backup_hooks, before_upgrade=gate.plan),
                opts=child).upgrade_backup)
        elif settings.backup.enabled:
            gate.taken(Backup(f"{name}-backup", BackupArgs(
                context=context, settings=settings.backup, peers=data.backup_peers,
                fileserver=settings.fileserver, fileserver_claim=files.claim_name,
                snapshot_repository=data.snapshot_repository, before_upgrade=gate.plan), opts=child).upgrade_job)

        if settings.monitoring.enabled:
            # Exporters for the data tiers that run here (an external one is its operator's to watch).
            Monitoring(f"{name}-monitoring", MonitoringArgs(
                context=context, settings=settings.monitoring,
                mongodb=peers.mongo_connection if settings.mongodb.external is None else None,
                mongodb_digest=peers.mongo_digest,
                redis=peers.redis if settings.redis.external is None else None,
                elasticsearch=peers.elastic if settings.elasticsearch.external is None else None), opts=child)

        # ---- edge: Routes (or Ingresses) for the three hosts, to the Services the tiers expose ---------
        exposure = edge_plan.plan(settings.edge, web, api, files)
        destination_ca = settings.edge.destination_ca_certificate or (ca.ca_certificate if ca and reencrypt else None)
        edge = Edge(f"{name}-edge", EdgeArgs(
            namespace=ns, edge=settings.edge, tls=tls, hosts=settings.public_hosts, backends=exposure.backends,
            issuer=route_issuer, destination_ca=destination_ca), opts=pulumi.ResourceOptions(
                parent=self, depends_on=[web, api, files] + ([namespace] if settings.namespace.create else [])))

        if settings.network_policies.enabled:
            # The router reaches exactly the ports the Routes/Ingresses above target.
            NetworkPolicies(f"{name}-network-policies", NetworkPoliciesArgs(
                namespace=ns, router_namespace_labels=settings.network_policies.router_namespace_labels,
                router_ports=exposure.router_ports,
                mongodb=settings.mongodb.external is None, redis=settings.redis.external is None,
                elasticsearch=settings.elasticsearch.external is None,
                async_delete=settings.features.async_delete, agent=settings.agent.enabled,
                backup=settings.backup.enabled, monitoring=settings.monitoring.enabled), opts=child)

        self.namespace = ns
        self.urls = edge.urls
        self.ca_certificate = ca.ca_certificate if ca else None
        self.tests_key, self.tests_secret = credentials.tests_key, credentials.tests_secret
        self.credentials_secret = credentials.secret_name
        self.admin_username = ADMIN_USERNAME
        self.admin_password = credentials.admin_password
        self.register_outputs({
            "namespace": ns, "urls": urls, "credentials_secret": self.credentials_secret,
            "admin_password": self.admin_password,
        })
