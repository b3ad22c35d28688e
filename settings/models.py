"""The typed settings of one stack.

Every top-level field of `Settings` is one top-level key of the stack's Pulumi config
(`clearml-openshift:<key>`), declared with the same name in `Pulumi.yaml`. Field descriptions
are the configuration reference: the README table is generated from them (see `settings.reference`)
and a test keeps the two in sync.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, get_args

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from vocabulary import images
from vocabulary.clearml import UPGRADE_GUARDED
from vocabulary.openshift import ELEVATED_SCCS, IDENTITY_SCCS, RESTRICTED_V2, ROUTER_NAMESPACE_LABELS, grant_refusal

from .backup import BackupSettings
from .base import KeyedError, Model, deep_merge
from .blocks import GoDuration, Image, Resources, Volume, go_duration_seconds, resources
from .external import ExternalElastic, ExternalMongo, ExternalRedis
from .monitoring import MonitoringSettings
from .quantities import DnsLabel, HostName, StorageSize, dns1123_subdomain, parse_quantity
from .scheduling import Scheduling
from .scheduling import merged as merged_scheduling

# --------------------------------------------------------------------------------------------
# Top-level sections
# --------------------------------------------------------------------------------------------


class NamespaceSettings(Model):
    name: DnsLabel = Field(default="clearml", description="Namespace (OpenShift project) that holds ClearML.")
    create: bool = Field(
        default=True,
        description="Create the namespace (kept on `pulumi destroy`); false to deploy into an existing project.",
    )

    @field_validator("name")
    @classmethod
    def _not_a_system_namespace(cls, value: str) -> str:
        if value in ("default", "openshift") or value.startswith(("openshift-", "kube-")):
            raise ValueError(
                f"{value!r} is a system namespace (default, openshift, openshift-*, kube-*): OpenShift gives pods there "
                "other SCCs and Pod Security levels than a project's; use a project of its own, e.g. clearml")
        return value


class HostSettings(Model):
    base_domain: HostName | None = Field(
        default=None,
        description="Router domain, e.g. `apps.cluster.example.com`; hosts default to `<namespace>-app|api|files.<baseDomain>`.",
    )
    app: HostName | None = Field(default=None, description="Host of the web app (overrides the derived one).")
    api: HostName | None = Field(default=None, description="Host of the API server (overrides the derived one).")
    files: HostName | None = Field(default=None, description="Host of the file server (overrides the derived one).")
    cookie_domain: HostName | None = Field(
        default=None,
        description="Domain of the session cookie shared by app, api and files; defaults to `baseDomain`.",
    )

    @model_validator(mode="after")
    def _hosts_resolvable(self) -> HostSettings:
        missing = [name for name in ("app", "api", "files") if getattr(self, name) is None]
        if missing and self.base_domain is None:
            raise ValueError(
                "set baseDomain, or all of app, api and files (missing: " + ", ".join(missing) + ")"
            )
        return self

    def resolve(self, namespace: str) -> dict[str, str]:
        """The three public host names, derived from the base domain where not given."""
        hosts = {}
        for name in ("app", "api", "files"):
            explicit = getattr(self, name)
            hosts[name] = explicit or dns1123_subdomain(f"{namespace}-{name}.{self.base_domain}")
        if len(set(hosts.values())) != 3:
            raise ValueError(f"app, api and files must be three different hosts, got {hosts}")
        return hosts


class ImageSettings(Model):
    clearml: Image = Field(
        default=Image(repository="docker.io/clearml/server", tag="2.4.0"),
        description="ClearML server image (apiserver, fileserver, webserver, async-delete).",
    )
    mongodb: Image = Field(
        default=Image(repository="docker.io/library/mongo", tag="8.0.15"),
        description="Official MongoDB image.",
    )
    redis: Image = Field(
        default=Image(repository="docker.io/library/redis", tag="8.2.3"),
        description="Official Redis image.",
    )
    elasticsearch: Image = Field(
        default=Image(repository="docker.elastic.co/elasticsearch/elasticsearch", tag="8.19.9"),
        description="Elastic's Elasticsearch 8.x image.",
    )
    pull_policy: Literal["IfNotPresent", "Always"] = Field(
        default="IfNotPresent", description="imagePullPolicy of every container."
    )
    pull_secrets: list[DnsLabel] = Field(
        default_factory=list,
        description="Existing Secrets (type `kubernetes.io/dockerconfigjson`) in the namespace, as `imagePullSecrets` "
        "of every pod, the agent's task pods included.",
    )
    mirror: str | None = Field(
        default=None,
        description="Registry (and path) that replaces the registry of every image, the agent's included, as "
        "disconnected clusters need (the layout `oc-mirror` writes): with `mirror.example.com:5000/ml`, "
        "`docker.io/clearml/server` becomes `mirror.example.com:5000/ml/clearml/server`. Tags and digests are kept.",
    )

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: str | None) -> str | None:
        if value is not None and not images.is_registry(value):
            raise ValueError(f"{value!r} is not a registry with an optional path, e.g. mirror.example.com:5000/ml")
        return value

    @field_validator("elasticsearch")
    @classmethod
    def _elasticsearch_8(cls, value: Image) -> Image:
        if not value.tag.startswith("8."):
            raise ValueError(f"ClearML server 2.x needs Elasticsearch 8.x, got tag {value.tag!r}")
        return value


class StorageSettings(Model):
    class_name: str | None = Field(
        default=None, description="Default StorageClass for every volume claim (unset: the cluster default)."
    )
    retain_on_delete: bool = Field(
        default=True,
        description="Keep volume claims (and the namespace, if created) when resources are deleted or replaced.",
    )

    @field_validator("class_name")
    @classmethod
    def _class_name(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)

    def class_for(self, volume: Volume) -> str | None:
        """The StorageClass of a volume claim: the volume's own, else this default, else the cluster's (None)."""
        return volume.class_name or self.class_name


class FeatureSettings(Model):
    async_delete: bool = Field(default=True, description="Run the async-delete worker (deletes task artifacts).")
    prepopulate_examples: bool = Field(
        default=False, description="Load ClearML's example projects into an empty database at first start."
    )
    topology_spread: Literal["preferred", "required", "off"] = Field(
        default="preferred",
        description="Spread replicated tiers across nodes and zones: `preferred` (ScheduleAnyway: works on one node "
        "or zone), `required` (DoNotSchedule: a replica stays Pending rather than share a node or zone; nodes need "
        "`topology.kubernetes.io/zone`), or `off` (`true`/`false` are read as preferred/off).",
    )

    @field_validator("topology_spread", mode="before")
    @classmethod
    def _spread_bool(cls, value: object) -> object:
        return {True: "preferred", False: "off"}.get(value, value) if isinstance(value, bool) else value

    @property
    def spread(self) -> str | None:
        return None if self.topology_spread == "off" else self.topology_spread


SCHEDULING = "Where the pods run (merged over the stack-wide `scheduling`)."


class ServerTier(Model):
    replicas: int = Field(default=1, ge=1, le=20, description="Number of pods.")
    resources: Resources = Field(description="Requests and limits of the main container.")
    scheduling: Scheduling = Field(default=Scheduling(), description=SCHEDULING)


class ApiServerSettings(ServerTier):
    resources: Resources = Field(default=resources("100m", "512Mi", "2", "1Gi"), description="Requests and limits.")
    gunicorn_workers: int = Field(
        default=0, ge=0, le=32, description="Run under gunicorn with this many workers; 0 uses the built-in server."
    )


class FileServerSettings(ServerTier):
    resources: Resources = Field(default=resources("100m", "256Mi", "1", "1Gi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="50Gi"), description="Volume at `/mnt/fileserver`.")

    @model_validator(mode="after")
    def _shared_volume_for_replicas(self) -> FileServerSettings:
        if self.replicas > 1 and self.storage.access_mode != "ReadWriteMany":
            raise ValueError(
                f"replicas is {self.replicas}, but all file server pods share one volume: "
                "set storage.accessMode to ReadWriteMany (and a class that supports it) or use 1 replica"
            )
        return self


class WebServerSettings(ServerTier):
    resources: Resources = Field(default=resources("50m", "64Mi", "500m", "256Mi"), description="Requests and limits.")


class AsyncDeleteSettings(Model):
    resources: Resources = Field(default=resources("50m", "128Mi", "500m", "512Mi"), description="Requests and limits.")
    scheduling: Scheduling = Field(default=Scheduling(), description=SCHEDULING)


def _in_cluster_only(tier: str, data: object, fields: tuple[str, ...]) -> object:
    """Refuses settings of the in-cluster deployment next to `external` (they would be ignored)."""
    if isinstance(data, dict) and data.get("external") is not None:
        given = [f for f in fields if f in data]
        if given:
            raise KeyedError(given[0],
                f"{' and '.join(given)} only {'apply' if len(given) > 1 else 'applies'} to the in-cluster {tier}, and "
                f"external is set: remove {'them' if len(given) > 1 else 'it'} (or remove external to deploy {tier} "
                "in the cluster)")
    return data


class MongoSettings(Model):
    replicas: int = Field(default=1, description="1 (standalone member) or an odd replica-set size: 3, 5 or 7.")
    resources: Resources = Field(default=resources("200m", "512Mi", "2", "2Gi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="20Gi"), description="Volume claim template of each member.")
    scheduling: Scheduling = Field(default=Scheduling(), description=SCHEDULING)
    root_password_generation: int = Field(
        default=0, ge=0, le=1_000_000,
        description="Which generated root password the in-cluster MongoDB uses: raise it by one to rotate that "
                    "password (`scripts/pulumi.sh rotate <stack> mongodb` does). The setup Job changes it inside "
                    "the database with the previous generation's, then the clients roll.",
    )
    external: ExternalMongo | None = Field(
        default=None, description="Use an existing MongoDB instead of deploying one."
    )

    @model_validator(mode="before")
    @classmethod
    def _external_alone(cls, data: object) -> object:
        return _in_cluster_only("MongoDB", data, ("replicas", "resources", "storage", "scheduling",
                                                  "rootPasswordGeneration"))

    @field_validator("replicas")
    @classmethod
    def _odd_members(cls, value: int) -> int:
        if value not in (1, 3, 5, 7):
            raise ValueError(
                f"a MongoDB replica set needs an odd number of voting members: 1, 3, 5 or 7 (got {value})"
            )
        return value


class RedisSettings(Model):
    replicas: Literal[1] = Field(
        default=1, description="Always 1: ClearML talks to a single Redis endpoint (no Sentinel support)."
    )
    resources: Resources = Field(default=resources("50m", "128Mi", "500m", "512Mi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="5Gi"), description="Volume claim template.")
    scheduling: Scheduling = Field(default=Scheduling(), description=SCHEDULING)
    external: ExternalRedis | None = Field(default=None, description="Use an existing Redis instead of deploying one.")

    @model_validator(mode="before")
    @classmethod
    def _external_alone(cls, data: object) -> object:
        return _in_cluster_only("Redis", data, ("replicas", "resources", "storage", "scheduling"))


_HEAP = re.compile(r"^[1-9][0-9]*[mg]$")


class ElasticSettings(Model):
    replicas: int = Field(default=1, description="1 (single node) or 3 to 7 master-eligible data nodes.")
    resources: Resources = Field(default=resources("500m", "2Gi", "2", "2Gi"), description="Requests and limits.")
    heap: str = Field(default="1g", description="JVM heap (`-Xms`/`-Xmx`), at most half the memory limit, e.g. `2g`.")
    storage: Volume = Field(default=Volume(size="30Gi"), description="Volume claim template of each node.")
    rolling_health: Literal["green", "yellow"] = Field(default="green", description=(
        "With more than one node: what a restarted node waits for before it is ready, and so before the next node "
        "rolls. `green`: every shard allocated. `yellow`: every primary allocated and no shard initializing or "
        "relocating, Elastic's condition for a rolling upgrade of indices whose replicas cannot yet go to nodes "
        "of the old version (README, \"Change a data tier's size or version\")."))
    scheduling: Scheduling = Field(default=Scheduling(), description=SCHEDULING)
    external: ExternalElastic | None = Field(
        default=None, description="Use an existing Elasticsearch 8 cluster instead of deploying one."
    )

    @model_validator(mode="before")
    @classmethod
    def _external_alone(cls, data: object) -> object:
        return _in_cluster_only("Elasticsearch", data, ("replicas", "resources", "heap", "storage", "rollingHealth",
                                                         "scheduling"))

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, value: int) -> int:
        if not (value == 1 or 3 <= value <= 7):
            raise ValueError(
                f"Elasticsearch needs 1 node, or 3 to 7 nodes for a master quorum that survives a node loss (got {value})"
            )
        return value

    @field_validator("heap")
    @classmethod
    def _heap_format(cls, value: str) -> str:
        if not _HEAP.match(value):
            raise ValueError(f"{value!r} is not a JVM heap size like 512m or 2g")
        return value

    @model_validator(mode="after")
    def _heap_fits(self) -> ElasticSettings:
        heap_bytes = int(self.heap[:-1]) * (2**20 if self.heap.endswith("m") else 2**30)
        limit = parse_quantity(self.resources.limits.memory)
        if heap_bytes * 2 > limit:
            raise ValueError(
                f"heap {self.heap} is more than half of the memory limit {self.resources.limits.memory}; "
                "Elasticsearch needs the rest for off-heap memory and the file-system cache"
            )
        return self


# --------------------------------------------------------------------------------------------
# Edge (Routes / Ingress), TLS, SCC grants, network policies, agent
# --------------------------------------------------------------------------------------------

# haproxy.router.openshift.io/timeout (openshift/router haproxy-config.template)
_ROUTER_TIMEOUT = re.compile(r"^[1-9][0-9]*(us|ms|s|m|h|d)?$")
_HSTS_TOKEN = re.compile(r"^(max-age=[0-9]+|includesubdomains|preload)$", re.I)




def _router_timeout(value: str) -> str:
    if not _ROUTER_TIMEOUT.match(value):
        raise ValueError(f"{value!r} is not a router timeout like 30s, 10m or 1h")
    return value


RouterTimeout = Annotated[str, AfterValidator(_router_timeout)]


class EdgeSettings(Model):
    mode: Literal["route", "ingress"] = Field(
        default="route", description="`route` (OpenShift Routes) or `ingress` (networking.k8s.io/v1, for clusters without Routes)."
    )
    termination: Literal["edge", "reencrypt"] = Field(
        default="edge",
        description="TLS termination at the router. `reencrypt` also encrypts router-to-pod traffic "
        "(the web server serves TLS for all three hosts); `passthrough` is not possible (ClearML serves HTTP).",
    )
    insecure_edge_termination_policy: Literal["Redirect", "None", "Allow"] = Field(
        default="Redirect", description="What the router does with plain-HTTP requests."
    )
    path: str | None = Field(default=None, description="Path prefix of every Route (default: the whole host).")
    timeout: RouterTimeout = Field(default="60s", description="Router timeout for the app and api hosts.")
    files_timeout: RouterTimeout = Field(default="600s", description="Router timeout for the files host (uploads).")
    hsts: str | None = Field(
        default="max-age=31536000;includeSubDomains",
        description="Strict-Transport-Security header set by the router; null to leave it out.",
    )
    ip_allowlist: list[str] = Field(
        default_factory=list, description="Source IPs/CIDRs allowed through the router (empty: everyone)."
    )
    destination_ca_certificate: str | None = Field(
        default=None,
        description="PEM CA of the backend certificate, for `reencrypt` with an external internal issuer "
        "(with the in-cluster CA it is read from the cluster).",
    )
    ingress_class_name: str | None = Field(default=None, description="IngressClass, with `mode: ingress`.")

    @field_validator("termination", mode="before")
    @classmethod
    def _no_passthrough(cls, value: object) -> object:
        # The Route termination Helm users reach for first: refused with the reason, not as a typo.
        if value == "passthrough":
            raise ValueError("passthrough is impossible: ClearML's pods serve plain HTTP; use edge or reencrypt")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is not None and (not value.startswith("/") or "#" in value or any(c.isspace() for c in value)):
            raise ValueError(f"{value!r} must start with '/' and contain no '#' or spaces")
        return value

    @field_validator("hsts")
    @classmethod
    def _hsts(cls, value: str | None) -> str | None:
        if value is None:
            return value
        tokens = [t.strip() for t in value.split(";") if t.strip()]
        if not any(t.lower().startswith("max-age=") for t in tokens) or not all(_HSTS_TOKEN.match(t) for t in tokens):
            raise ValueError(f"{value!r} must be max-age=<seconds>, optionally with ;includeSubDomains and ;preload")
        return value

    @field_validator("ip_allowlist")
    @classmethod
    def _allowlist(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR") from None
        return value

    @field_validator("destination_ca_certificate")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is not None and "-----BEGIN CERTIFICATE-----" not in value:
            raise ValueError("must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
        return value

    @model_validator(mode="after")
    def _possible(self) -> EdgeSettings:
        problems = []
        if self.destination_ca_certificate and self.termination != "reencrypt":
            problems.append(f"destinationCaCertificate is only used with reencrypt, not {self.termination}")
        if self.mode == "ingress":
            if self.termination != "edge":
                problems.append("mode ingress supports edge termination only")
            if self.ip_allowlist:
                problems.append("ipAllowlist is a Route feature; it is not available with mode ingress")
        elif self.ingress_class_name:
            problems.append("ingressClassName is only used with mode ingress")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class IssuerRef(Model):
    name: str = Field(description="Name of the cert-manager Issuer or ClusterIssuer.")
    kind: Literal["Issuer", "ClusterIssuer"] = Field(default="ClusterIssuer", description="Issuer kind.")
    group: str = Field(default="cert-manager.io", description="API group of the issuer.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns1123_subdomain(value)


_KEY_SIZES = {"RSA": (2048, 3072, 4096, 8192), "ECDSA": (256, 384, 521), "Ed25519": ()}


class PrivateKeySettings(Model):
    algorithm: Literal["RSA", "ECDSA", "Ed25519"] = Field(default="ECDSA", description="Key algorithm.")
    size: int | None = Field(default=None, description="Key size: RSA 2048-8192, ECDSA 256/384/521; unset for the default.")
    rotation_policy: Literal["Always", "Never"] = Field(default="Always", description="New key on every renewal.")

    @model_validator(mode="after")
    def _size_fits(self) -> PrivateKeySettings:
        if self.size is not None and self.size not in _KEY_SIZES[self.algorithm]:
            allowed = ", ".join(map(str, _KEY_SIZES[self.algorithm])) or "none"
            raise ValueError(f"size {self.size} is not valid for {self.algorithm} (allowed: {allowed})")
        return self


class TlsSettings(Model):
    route_certificates: Literal["external-certificate", "cert-manager-annotations", "router-default"] = Field(
        default="external-certificate",
        description="Where Route certificates come from: a Certificate referenced by `spec.tls.externalCertificate` "
        "(OpenShift 4.19+), the cert-manager openshift-routes annotations, or the router's default certificate.",
    )
    route_issuer: IssuerRef | None = Field(
        default=None, description="Issuer of the public Route certificates (e.g. an ACME ClusterIssuer); unset: the in-cluster CA."
    )
    internal_issuer: IssuerRef | None = Field(
        default=None, description="Issuer of in-cluster certificates (Elasticsearch, reencrypt); unset: bootstrap an in-cluster CA."
    )
    duration: GoDuration = Field(default="2160h", description="Lifetime of issued certificates (at least 1h).")
    renew_before: GoDuration = Field(default="720h", description="Renew this long before expiry (at least 5m, less than duration).")
    ca_duration: GoDuration = Field(default="87600h", description="Lifetime of the bootstrapped CA.")
    private_key: PrivateKeySettings = Field(default=PrivateKeySettings(), description="Private key of every certificate.")
    export_ca_certificate: bool = Field(
        default=True,
        description="Read the bootstrapped CA certificate back from the cluster for the `caCertificate` output "
        "(and reencrypt's destination CA); needs cert-manager to have issued it.",
    )

    @model_validator(mode="after")
    def _durations(self) -> TlsSettings:
        duration, renew, ca = (go_duration_seconds(v) for v in (self.duration, self.renew_before, self.ca_duration))
        if duration < 3600:
            raise ValueError(f"duration {self.duration} is shorter than cert-manager's minimum of 1h")
        if renew < 300 or renew >= duration:
            raise ValueError(f"renewBefore {self.renew_before} must be at least 5m and less than duration {self.duration}")
        if ca < duration:
            raise ValueError(f"caDuration {self.ca_duration} is shorter than the certificates it signs ({self.duration})")
        return self

    @property
    def bootstraps_ca(self) -> bool:
        route_needs_ca = self.route_certificates != "router-default" and self.route_issuer is None
        return self.internal_issuer is None or route_needs_ca


class TierSettings(Protocol):
    """What the settings of every tier have."""

    scheduling: Scheduling


Tier = Literal["apiserver", "fileserver", "webserver", "asyncDelete", "mongodb", "redis", "elasticsearch", "agent"]
class SccIdentity(Model):
    run_as_user: int | None = Field(default=None, ge=1, description="UID the containers run as (never 0).")
    run_as_group: int | None = Field(default=None, ge=0, description="Primary GID of the containers.")
    fs_group: int | None = Field(
        default=None, ge=0, description="Group that owns the volumes (with nonroot-v2, defaults to runAsUser).")


@dataclass(frozen=True)
class SccProfile:
    """What a tier's pods run under: the SCC pinned (`openshift.io/required-scc`) and the identity it
    needs. Built by `SccSettings.profile`; `components/security.py` shapes the pod from it."""

    name: str
    run_as_user: int | None = None
    run_as_group: int | None = None
    fs_group: int | None = None


class SccSettings(Model):
    grants: dict[Tier, str] = Field(
        default_factory=dict,
        description="Extra SCC per tier, e.g. `{elasticsearch: nonroot-v2}`: a RoleBinding for that tier's "
        "ServiceAccount and a pod annotation pinning the SCC. Empty by default: restricted-v2 needs no grant.",
    )
    acknowledge: list[str] = Field(
        default_factory=list,
        description="SCCs that run as root or reach the host (anyuid, privileged, host*) that you accept granting; "
        "every such grant must be listed here.",
    )
    identities: dict[Tier, SccIdentity] = Field(
        default_factory=dict,
        description="Who a granted tier's containers run as: required with nonroot-v2 (`{runAsUser: 1000}`; fsGroup "
        "defaults to it, so the data volume is writable), optional with anyuid (unset: the image's own user, root "
        "included). Under restricted-v2 OpenShift assigns both: no identity there.",
    )

    @model_validator(mode="after")
    def _grants_allowed(self) -> SccSettings:
        problems = []
        for tier, scc in self.grants.items():
            refusal = grant_refusal(scc, self.acknowledge, f"scc.acknowledge lists {scc!r}")
            if refusal:
                problems.append(f"{tier}: {refusal}")
            elif scc == RESTRICTED_V2:
                problems.append(f"{tier}: restricted-v2 is available to every ServiceAccount; remove the grant")
        for scc in self.acknowledge:
            if scc not in self.grants.values():
                problems.append(f"acknowledge lists {scc!r}, which no tier is granted")
        if problems:
            raise ValueError("; ".join(problems))
        for tier in self.identities:
            granted = self.grants.get(tier)
            if granted not in IDENTITY_SCCS:
                raise KeyedError(f"identities.{tier}", f"{tier} runs under {granted or 'restricted-v2'}, which assigns the "
                                 "UID and fsGroup itself; identities apply to tiers granted nonroot-v2 or anyuid")
        for tier, scc in self.grants.items():
            if scc == "nonroot-v2" and (tier not in self.identities or self.identities[tier].run_as_user is None):
                raise KeyedError(f"identities.{tier}.runAsUser",
                                 f"{tier} is granted nonroot-v2, which runs the UID you choose: set it (the official "
                                 "images: Elasticsearch 1000, MongoDB 999, Redis 999; the image must work as that UID)")
        return self

    def profile(self, tier: Tier) -> SccProfile | None:
        """The SCC and identity of a granted tier's pods; None under restricted-v2."""
        scc = self.grants.get(tier)
        if scc is None:
            return None
        identity = self.identities.get(tier) or SccIdentity()
        fs_group = identity.fs_group
        if fs_group is None and scc == "nonroot-v2":
            fs_group = identity.run_as_user  # the volume writable by the UID chosen
        return SccProfile(scc, identity.run_as_user, identity.run_as_group, fs_group)

    @property
    def elevated(self) -> dict[str, str]:
        return {tier: scc for tier, scc in self.grants.items() if scc in ELEVATED_SCCS}


class NetworkPolicySettings(Model):
    enabled: bool = Field(
        default=True, description="Default-deny ingress plus allow rules; false on clusters without NetworkPolicy support.")
    router_namespace_labels: dict[str, str] = Field(
        default_factory=lambda: dict(ROUTER_NAMESPACE_LABELS),
        description="Labels of the namespaces the router (or ingress controller) runs in.",
    )

    @field_validator("router_namespace_labels")
    @classmethod
    def _not_every_namespace(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("must name at least one label: an empty selector matches every namespace in the cluster")
        return value


_QUEUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


_TASK_FIELDS = ("maxPods", "taskImage", "taskResources", "taskScheduling", "runtimeClassName", "taskTmpSize")


class TaskPodSettings(Model):
    """What the task pods of one queue get; the agent's own values are every queue's defaults."""

    max_pods: int = Field(default=4, ge=1, le=500, description="Most task pods of this queue at a time.")
    task_image: Image = Field(
        default=Image(repository="docker.io/library/python", tag="3.11-slim-bookworm"),
        description="Default image of task pods (must contain python3 and pip; see README).",
    )
    task_resources: Resources = Field(
        default=resources("500m", "1Gi", "2", "4Gi"),
        description="Each task pod; `extended` asks for GPUs and other extended resources.")
    task_scheduling: Scheduling = Field(
        default=Scheduling(), description="Where task pods run (GPU nodes, say); not merged with `scheduling`.")
    runtime_class_name: str | None = Field(
        default=None, description="RuntimeClass of task pods, e.g. `nvidia` (preflight checks it exists).")
    task_tmp_size: StorageSize = Field(
        default="20Gi", description="Size limit of each task pod's `/tmp` (virtualenv, repository, caches).")

    @field_validator("runtime_class_name")
    @classmethod
    def _runtime_class(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)


def _queue_name(value: str) -> str:
    if not _QUEUE.match(value):
        raise ValueError(f"{value!r} is not a queue name (letters, digits, '_', '.', '-')")
    return value


def queue_slug(queue: str) -> str:
    """The part of an extra queue's glue names (`clearml-agent-<slug>`) that comes from its queue."""
    return re.sub(r"[^a-z0-9]+", "-", queue.lower()).strip("-")[:40].rstrip("-")


class AgentQueue(TaskPodSettings):
    name: str = Field(description="ClearML queue this glue serves.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _queue_name(value)


class AgentSettings(TaskPodSettings):
    enabled: bool = Field(default=False, description="Deploy the ClearML Kubernetes agent (k8s glue).")
    image: Image = Field(
        default=Image(repository="docker.io/allegroai/clearml-agent-k8s-base", tag="1.24-21"),
        description="Image of the glue pods.",
    )
    queue: str = Field(default="k8s", description="ClearML queue the agent serves (with the task settings above).")
    queues: list[AgentQueue] = Field(
        default_factory=list,
        description="More queues, each served by a glue of its own (`clearml-agent-<queue>`) with its own task pods; "
        "unset task settings come from the agent's.")
    kubectl_image: Image = Field(
        default=Image(repository="registry.k8s.io/kubectl", tag="v1.32.0"),
        description="Image the glue's kubectl is copied from (needs `cp`; the glue image keeps its own under /root).",
    )
    resources: Resources = Field(default=resources("100m", "256Mi", "1", "1Gi"), description="Each glue pod.")
    scheduling: Scheduling = Field(default=Scheduling(), description="Where the glue pods run (merged over `scheduling`).")

    @model_validator(mode="before")
    @classmethod
    def _queues_inherit(cls, data: object) -> object:
        """Each extra queue starts from the agent's task settings (mappings merged key by key)."""
        if not isinstance(data, dict) or not isinstance(data.get("queues"), list):
            return data
        inherited = {k: data[k] for k in _TASK_FIELDS if k in data}
        return {**data, "queues": [deep_merge(inherited, q) if isinstance(q, dict) else q for q in data["queues"]]}

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str) -> str:
        return _queue_name(value)

    @model_validator(mode="after")
    def _distinct_queues(self) -> AgentSettings:
        names, slugs = [self.queue], dict[str, str]()
        for i, q in enumerate(self.queues):
            if q.name in names:
                raise KeyedError(f"queues.{i}.name", f"queue {q.name} is served twice: each queue needs one glue")
            slug = queue_slug(q.name)
            if not slug or slug in slugs:
                raise KeyedError(f"queues.{i}.name", f"queue {q.name} gives the glue name clearml-agent-{slug}, "
                                 f"{'empty' if not slug else 'as ' + slugs[slug] + ' does'}: rename one")
            names.append(q.name)
            slugs[slug] = q.name
        return self

    @property
    def all_queues(self) -> list[tuple[str | None, AgentQueue]]:
        """(name suffix of its glue, queue): the agent's own queue first (no suffix), then `queues`."""
        own = AgentQueue(name=self.queue, **{f: getattr(self, f) for f in TaskPodSettings.model_fields})
        return [(None, own)] + [(queue_slug(q.name), q) for q in self.queues]


class Settings(Model):
    """All settings of one stack. Each field is one top-level Pulumi config key."""

    @model_validator(mode="before")
    @classmethod
    def _stack_wide_scheduling(cls, data: object) -> object:
        """`scheduling` under every tier deployed in the cluster, each tier's own merged over it."""
        if not isinstance(data, dict) or not isinstance(data.get("scheduling"), dict):
            return data
        data = dict(data)
        for tier in get_args(Tier):
            section = data.get(tier, {})
            if not isinstance(section, dict) or section.get("external") is not None:
                continue
            own = section.get("scheduling", {})
            if isinstance(own, dict):
                data[tier] = {**section, "scheduling": merged_scheduling(data["scheduling"], own)}
        return data

    @model_validator(mode="before")
    @classmethod
    def _mirror_every_image(cls, data: object) -> object:
        """With `images.mirror`, every image (defaults included) is pulled from the mirror."""
        if not isinstance(data, dict) or not isinstance(data.get("images"), dict) or not data["images"].get("mirror"):
            return data
        mirror = data["images"]["mirror"]
        if not isinstance(mirror, str) or not images.is_registry(mirror):
            return data  # ImageSettings reports it
        data = dict(data)
        for section, model in (("images", ImageSettings), ("agent", AgentSettings), ("monitoring", MonitoringSettings)):
            given = data.get(section) or {}
            if not isinstance(given, dict):
                continue
            given = dict(given)
            for name, field in model.model_fields.items():
                if not isinstance(field.default, Image):
                    continue
                key = field.alias or name
                own = given.get(key) or {}
                if not isinstance(own, dict):
                    continue
                image = deep_merge(field.default.model_dump(by_alias=True, exclude_unset=True), own)
                if isinstance(image.get("repository"), str):
                    image["repository"] = images.mirrored(image["repository"], mirror)
                given[key] = image
            data[section] = given
        return data

    namespace: NamespaceSettings = Field(default=NamespaceSettings(), description="Target namespace.")
    hosts: HostSettings = Field(description="Public host names of the web app, API server and file server.")
    images: ImageSettings = Field(default=ImageSettings(), description="Container images, pinned.")
    storage: StorageSettings = Field(default=StorageSettings(), description="Defaults for every volume claim.")
    features: FeatureSettings = Field(default=FeatureSettings(), description="Optional behaviour.")
    scheduling: Scheduling = Field(
        default=Scheduling(), description="Where every server pod runs, by default: each tier's `scheduling` is "
        "merged over it (mappings key by key, the rest replaced). Not the agent's task pods (`agent.taskScheduling`).")
    apiserver: ApiServerSettings = Field(default=ApiServerSettings(), description="ClearML API server tier.")
    fileserver: FileServerSettings = Field(default=FileServerSettings(), description="ClearML file server tier.")
    webserver: WebServerSettings = Field(default=WebServerSettings(), description="ClearML web app tier.")
    async_delete: AsyncDeleteSettings = Field(default=AsyncDeleteSettings(), description="Async-delete worker.")
    mongodb: MongoSettings = Field(default=MongoSettings(), description="MongoDB tier (or an external MongoDB).")
    redis: RedisSettings = Field(default=RedisSettings(), description="Redis tier (or an external Redis).")
    elasticsearch: ElasticSettings = Field(
        default=ElasticSettings(), description="Elasticsearch tier (or an external cluster)."
    )
    tls: TlsSettings = Field(default=TlsSettings(), description="cert-manager certificates and issuers.")
    edge: EdgeSettings = Field(default=EdgeSettings(), description="How ClearML is exposed: Routes or Ingress, TLS termination.")
    scc: SccSettings = Field(default=SccSettings(), description="SCC grants beyond restricted-v2 (none by default).")
    network_policies: NetworkPolicySettings = Field(default=NetworkPolicySettings(), description="NetworkPolicies.")
    agent: AgentSettings = Field(default=AgentSettings(), description="The optional ClearML Kubernetes agent.")
    backup: BackupSettings = Field(default=BackupSettings(), description="Scheduled backup sets and their restore.")
    monitoring: MonitoringSettings = Field(default=MonitoringSettings(), description="Exporters, ServiceMonitors and "
                                           "alerts for OpenShift's user-workload monitoring (off by default).")

    @field_validator("hosts")
    @classmethod
    def _derived_hosts_valid(cls, hosts: HostSettings, info: ValidationInfo) -> HostSettings:
        namespace = info.data.get("namespace")
        if namespace is not None:
            resolved = hosts.resolve(namespace.name)
            domain = hosts.cookie_domain
            outside = [h for h in resolved.values() if domain and h != domain and not h.endswith("." + domain)]
            if outside:
                raise KeyedError("cookieDomain",
                    f"cookieDomain {domain} does not contain {', '.join(outside)}: the browser would not send the "
                    "session cookie there and login would fail; use a domain every host ends with, or leave it unset")
        return hosts

    @model_validator(mode="after")
    def _grants_for_deployed_tiers(self) -> Settings:
        idle = sorted(set(self.scc.grants) - set(self.deployed_tiers))
        if idle:
            raise KeyedError(f"scc.grants.{idle[0]}",
                f"{' and '.join(idle)} {'are' if len(idle) > 1 else 'is'} not deployed in the cluster by this stack "
                "(external, or turned off), so the grant would do nothing: remove it")
        return self

    @model_validator(mode="after")
    def _backups_can_mount_their_volumes(self) -> Settings:
        if not self.backup.enabled:
            return self
        if self.backup.mechanism == "jobs" and self.fileserver.storage.access_mode == "ReadWriteOncePod":
            raise KeyedError("backup.enabled", "the backup Job reads the file server's volume beside the file server "
                             "pod, which fileserver.storage.accessMode ReadWriteOncePod forbids: use ReadWriteOnce or "
                             "ReadWriteMany, or leave backups off")
        volume = self.backup.snapshot_volume
        snapshot_mode = volume.access_mode if volume else "ReadWriteMany"
        if self.elasticsearch.external is None and self.elasticsearch.replicas > 1 and snapshot_mode != "ReadWriteMany":
            raise KeyedError("backup.snapshotStorage.accessMode", f"{snapshot_mode} cannot work: all "
                             f"{self.elasticsearch.replicas} Elasticsearch nodes mount the snapshot repository at once, "
                             "on different nodes; use ReadWriteMany (a storage class that offers it, e.g. CephFS or NFS)")
        return self

    @field_validator("fileserver")
    @classmethod
    def _examples_need_a_shared_volume(cls, fileserver: FileServerSettings, info: ValidationInfo) -> FileServerSettings:
        features = info.data.get("features")
        if features is not None and features.prepopulate_examples and fileserver.storage.access_mode != "ReadWriteMany":
            raise ValueError(
                "features.prepopulateExamples makes the API server write the example artifacts into the file "
                "server's volume, which both pods then mount: set fileserver.storage.accessMode: ReadWriteMany, "
                "or leave prepopulateExamples off")
        return fileserver

    @field_validator("edge")
    @classmethod
    def _reencrypt_has_a_ca(cls, edge: EdgeSettings, info: ValidationInfo) -> EdgeSettings:
        tls = info.data.get("tls")
        if tls is None or edge.termination != "reencrypt" or edge.destination_ca_certificate:
            return edge
        if tls.internal_issuer is not None:
            raise ValueError("reencrypt with tls.internalIssuer needs destinationCaCertificate (the PEM CA of that issuer)")
        if not tls.export_ca_certificate:
            raise ValueError("reencrypt with the in-cluster CA needs tls.exportCaCertificate: true (the router must trust it)")
        return edge

    def tier(self, name: str) -> TierSettings:
        """A tier's settings by its config key (`asyncDelete` is `async_delete`)."""
        return getattr(self, "async_delete" if name == "asyncDelete" else name)

    @property
    def deployed_tiers(self) -> list[str]:
        """The tiers this stack runs in the cluster, in `Tier` order: not an external data tier, not a
        turned-off async-delete worker or agent."""
        off = {"asyncDelete": not self.features.async_delete, "agent": not self.agent.enabled}
        return [t for t in get_args(Tier)
                if not off.get(t, False) and getattr(self.tier(t), "external", None) is None]

    @property
    def upgrade_guarded_images(self) -> dict[str, str]:
        """The image each workload of `vocabulary.clearml.UPGRADE_GUARDED` this stack runs is to run;
        empty without backups (there is nothing to take the backup with)."""
        if not self.backup.enabled:
            return {}
        # The ClearML server image for its processes; a data tier's own image (only when it runs here).
        own = {"mongodb": self.images.mongodb, "elasticsearch": self.images.elasticsearch}
        return {tier: own.get(tier, self.images.clearml).ref for tier in UPGRADE_GUARDED if tier in self.deployed_tiers}

    @property
    def public_hosts(self) -> dict[str, str]:
        return self.hosts.resolve(self.namespace.name)

    @property
    def public_urls(self) -> dict[str, str]:
        return {name: f"https://{host}" for name, host in self.public_hosts.items()}

    @property
    def cookie_domain(self) -> str | None:
        return self.hosts.cookie_domain or self.hosts.base_domain

