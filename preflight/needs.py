"""What a stack needs from the cluster before anything is created: derived from `Settings` alone.

Every need carries the config key (or prerequisite) a failure names, so a refusal can say which
setting to change. `tests/test_preflight.py` checks `access` against the kinds the program really
registers for every example stack and variant, so this list cannot drift from the components.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from settings import Settings
from settings.external import mongodb_uri_problem, secret_references
from settings.load import PROJECT
from vocabulary.clearml import STATEFULSETS, UPGRADE_GUARDED, upgrade_backup_job
from vocabulary.openshift import scc_cluster_role
from vocabulary.velero import API_GROUP as VELERO

# The `openshift.io/required-scc` pod annotation (a granted tier's pods) is honoured from OpenShift
# 4.14 (openshift/api release-4.14, apiserver-library-go admission), which is Kubernetes 1.27.
MIN_KUBERNETES = (1, 27)
MIN_OPENSHIFT = (4, 14)
# Routes with `spec.tls.externalCertificate` are GA from OpenShift 4.19 (RouteExternalCertificate gate).
MIN_OPENSHIFT_EXTERNAL_CERTIFICATE = (4, 19)

# What Pulumi does to every object it manages: read it, create it, patch it (server-side apply and
# updates; a preview's server-side dry run needs the same), delete it (replacements, destroy).
VERBS = ("get", "create", "patch", "delete")


def key(path: str) -> str:
    """The full config key of a settings path, as errors name it (`clearml-openshift:namespace.name`)."""
    return f"{PROJECT}:{path}"


@dataclass(frozen=True)
class Api:
    """A resource the cluster must serve: `group/version`, `resource` (plural)."""

    group: str
    version: str
    resource: str
    kind: str
    why: str  # the setting or feature that needs it

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


@dataclass(frozen=True)
class Access:
    """Verbs the deploying identity needs on one resource (cluster-scoped when `namespace` is None)."""

    group: str
    resource: str
    verbs: tuple[str, ...]
    namespace: str | None
    name: str | None = None


@dataclass(frozen=True)
class Named:
    """An object that must already exist: `kind` `name` (in `namespace` if namespaced), for `setting`."""

    kind: str
    name: str
    setting: str
    namespace: str | None = None


@dataclass(frozen=True)
class SecretKey:
    """A key of an existing Secret the stack references (external services, image pull secrets);
    `key` or one of `alternatives` must be there, and `value_problem` (if any) must find nothing wrong
    with its value (it says why, never quoting the value)."""

    name: str
    key: str
    setting: str
    alternatives: tuple[str, ...] = ()
    value_problem: Callable[[str], str | None] | None = None


@dataclass
class Needs:
    namespace: str
    create_namespace: bool
    openshift_min: tuple[int, int]
    openshift_min_why: str
    apis: list[Api] = field(default_factory=list)
    access: list[Access] = field(default_factory=list)
    storage_classes: list[Named] = field(default_factory=list)
    default_storage_class_for: list[str] = field(default_factory=list)  # settings of claims without a class
    existing: list[Named] = field(default_factory=list)  # IngressClass, Issuer, ClusterIssuer, ClusterRole, SCC
    secrets: list[SecretKey] = field(default_factory=list)
    scc_uses: list[tuple[str, str]] = field(default_factory=list)  # (scc, setting)
    # (tier, StatefulSet, replicas, image tag) of each in-cluster data tier, judged against the running one.
    scaled: list[tuple[str, str, int, str]] = field(default_factory=list)
    # With backups on: tier -> (API resource, name, container, image wanted) of each workload a backup set
    # guards (vocabulary.clearml.UPGRADE_GUARDED), and the name of the Job that backs up before they move.
    guarded: dict[str, tuple[str, str, str, str]] = field(default_factory=dict)
    upgrade_job: str | None = None
    # An in-cluster MongoDB: the root password's generation configured (its setup Job tells the deployed one).
    root_password_generation: int | None = None
    # Where that backup's object is read: (API group, version, resource, namespace): a Job, or a Velero Backup.
    upgrade_backup_api: tuple[str, str, str, str] = ("batch", "v1", "jobs", "")


CORE = ""
APPS, BATCH, POLICY = "apps", "batch", "policy"
NETWORKING, RBAC = "networking.k8s.io", "rbac.authorization.k8s.io"
ROUTE, SECURITY, CERT_MANAGER = "route.openshift.io", "security.openshift.io", "cert-manager.io"
MONITORING = "monitoring.coreos.com"


def _in_cluster(settings: Settings) -> dict[str, bool]:
    return {"mongodb": settings.mongodb.external is None, "redis": settings.redis.external is None,
            "elasticsearch": settings.elasticsearch.external is None}


def kinds(settings: Settings) -> set[tuple[str, str]]:
    """(API group, resource) of every kind of object the program registers for these settings."""
    data = _in_cluster(settings)
    out = {(CORE, "secrets"), (CORE, "configmaps"), (CORE, "services"), (CORE, "serviceaccounts"),
           (APPS, "deployments"), (CORE, "persistentvolumeclaims")}  # the file server's claim
    if settings.namespace.create:
        out.add((CORE, "namespaces"))
    if any(data.values()):
        out.add((APPS, "statefulsets"))
    if data["mongodb"]:
        out.add((BATCH, "jobs"))  # the MongoDB setup Job (replica set, feature compatibility version)
    replicated = [settings.apiserver.replicas, settings.fileserver.replicas, settings.webserver.replicas]
    replicated += [t.replicas for t, in_cluster in ((settings.mongodb, data["mongodb"]), (settings.redis, data["redis"]),
                                                     (settings.elasticsearch, data["elasticsearch"])) if in_cluster]
    if max(replicated) > 1:
        out.add((POLICY, "poddisruptionbudgets"))
    if settings.network_policies.enabled:
        out.add((NETWORKING, "networkpolicies"))
    if settings.monitoring.enabled:
        out |= {(MONITORING, "servicemonitors"), (MONITORING, "prometheusrules")}
    if settings.backup.by_velero:
        # The Schedule and the Backup before an upgrade, in Velero's namespace (velero_namespace).
        out |= {(VELERO, "schedules"), (VELERO, "backups")}
    elif settings.backup.enabled:
        # The backup CronJob and the Job before an upgrade (their claim and ConfigMap are kinds listed above).
        out |= {(BATCH, "cronjobs"), (BATCH, "jobs")}
    tls = settings.tls
    if tls.bootstraps_ca:
        out.add((CERT_MANAGER, "issuers"))
    host_certificates = tls.route_certificates == "external-certificate"
    if tls.bootstraps_ca or host_certificates or data["elasticsearch"] or settings.edge.termination == "reencrypt":
        out.add((CERT_MANAGER, "certificates"))
    if settings.edge.mode == "route":
        out.add((ROUTE, "routes"))
    else:
        out.add((NETWORKING, "ingresses"))
    external_certificate = settings.edge.mode == "route" and tls.route_certificates == "external-certificate"
    if external_certificate:  # the router's read access to the certificate Secrets
        out |= {(RBAC, "roles"), (RBAC, "rolebindings")}
    if settings.agent.enabled:
        out |= {(RBAC, "roles"), (RBAC, "rolebindings")}
    if settings.scc.grants:
        out.add((RBAC, "rolebindings"))
    return out


_API = {
    (ROUTE, "routes"): Api(ROUTE, "v1", "routes", "Route", key("edge.mode") + " route"),
    (NETWORKING, "ingresses"): Api(NETWORKING, "v1", "ingresses", "Ingress", key("edge.mode") + " ingress"),
    (CERT_MANAGER, "certificates"): Api(CERT_MANAGER, "v1", "certificates", "Certificate",
                                        "cert-manager (every certificate of the stack)"),
    (CERT_MANAGER, "issuers"): Api(CERT_MANAGER, "v1", "issuers", "Issuer", "cert-manager (the in-cluster CA)"),
    (NETWORKING, "networkpolicies"): Api(NETWORKING, "v1", "networkpolicies", "NetworkPolicy",
                                         key("networkPolicies.enabled")),
    (POLICY, "poddisruptionbudgets"): Api(POLICY, "v1", "poddisruptionbudgets", "PodDisruptionBudget",
                                          "replicated tiers"),
    (MONITORING, "servicemonitors"): Api(MONITORING, "v1", "servicemonitors", "ServiceMonitor",
                                         key("monitoring.enabled")),
    (MONITORING, "prometheusrules"): Api(MONITORING, "v1", "prometheusrules", "PrometheusRule",
                                         key("monitoring.enabled")),
    (VELERO, "schedules"): Api(VELERO, "v1", "schedules", "Schedule", key("backup.mechanism") + " velero"),
    (VELERO, "backups"): Api(VELERO, "v1", "backups", "Backup", key("backup.mechanism") + " velero"),
}


def needs(settings: Settings) -> Needs:
    ns = settings.namespace.name
    tls, edge = settings.tls, settings.edge
    external_certificate = edge.mode == "route" and tls.route_certificates == "external-certificate"
    out = Needs(
        namespace=ns, create_namespace=settings.namespace.create,
        openshift_min=MIN_OPENSHIFT_EXTERNAL_CERTIFICATE if external_certificate else MIN_OPENSHIFT,
        openshift_min_why=(f"{key('tls.routeCertificates')} external-certificate (Route spec.tls.externalCertificate)"
                           if external_certificate else "the openshift.io/required-scc pod annotation"),
    )
    wanted = kinds(settings)
    out.scaled = [(t, STATEFULSETS[t], getattr(settings, t).replicas, getattr(settings.images, t).tag)
                  for t in ("mongodb", "elasticsearch") if t in settings.deployed_tiers]
    if "mongodb" in settings.deployed_tiers:
        out.root_password_generation = settings.mongodb.root_password_generation
    if images := settings.upgrade_guarded_images:
        out.guarded = {tier: (*UPGRADE_GUARDED[tier], image) for tier, image in images.items()}
        out.upgrade_job = upgrade_backup_job(images)
        out.upgrade_backup_api = (VELERO, "v1", "backups", settings.backup.velero.namespace) \
            if settings.backup.by_velero else (BATCH, "v1", "jobs", ns)
    out.apis = [api for k, api in _API.items() if k in wanted]
    if settings.scc.grants:
        out.apis.append(Api(SECURITY, "v1", "securitycontextconstraints", "SecurityContextConstraints",
                            key("scc.grants")))
    for group, resource in sorted(wanted):
        if resource == "namespaces":
            out.access.append(Access(group, resource, ("get", "create"), None))
        else:  # Velero's objects live in Velero's namespace
            out.access.append(Access(group, resource, VERBS, settings.backup.velero.namespace if group == VELERO else ns))

    # Storage: a named class must exist; a claim without one needs the cluster's default class.
    volumes = {"fileserver.storage": settings.fileserver.storage}
    for tier in ("mongodb", "redis", "elasticsearch"):
        if tier in settings.deployed_tiers:
            volumes[f"{tier}.storage"] = getattr(settings, tier).storage
    if settings.backup.enabled:
        volumes["backup.storage"] = settings.backup.storage
        if "elasticsearch" in settings.deployed_tiers and settings.backup.snapshot_volume:
            volumes["backup.snapshotStorage"] = settings.backup.snapshot_volume
    for path, volume in volumes.items():
        name = settings.storage.class_for(volume)
        if name is None:
            out.default_storage_class_for.append(key(path))
        else:
            where = f"{path}.className" if volume.class_name else "storage.className"
            if all(n.name != name for n in out.storage_classes):  # checked once, under the first setting naming it
                out.storage_classes.append(Named("StorageClass", name, key(where)))

    def add_once(kind: str, name: str | None, path: str) -> None:
        """A class named in several places is checked once, under the first setting naming it."""
        if name and all((n.kind, n.name) != (kind, name) for n in out.existing):
            out.existing.append(Named(kind, name, key(path)))

    scheduling = {"scheduling": settings.scheduling}  # named first: a tier's class may come from it
    scheduling |= {f"{t}.scheduling": settings.tier(t).scheduling for t in settings.deployed_tiers}
    if settings.agent.enabled:
        scheduling["agent.taskScheduling"] = settings.agent.task_scheduling
    for path, spec in scheduling.items():
        add_once("PriorityClass", spec.priority_class_name, f"{path}.priorityClassName")
    if settings.agent.enabled:
        for i, (suffix, queue) in enumerate(settings.agent.all_queues):
            path = "agent.runtimeClassName" if suffix is None else f"agent.queues[{i - 1}].runtimeClassName"
            add_once("RuntimeClass", queue.runtime_class_name, path)
    if edge.mode == "ingress" and edge.ingress_class_name:
        out.existing.append(Named("IngressClass", edge.ingress_class_name, key("edge.ingressClassName")))
    for path, ref in (("tls.routeIssuer", tls.route_issuer if tls.route_certificates != "router-default" else None),
                      ("tls.internalIssuer", tls.internal_issuer)):
        if ref is not None:
            out.existing.append(Named(ref.kind, ref.name, key(f"{path}.name"),
                                      namespace=ns if ref.kind == "Issuer" else None))
    for tier, scc in sorted(settings.scc.grants.items()):
        setting = key(f"scc.grants.{tier}")
        out.existing.append(Named("SecurityContextConstraints", scc, setting))
        out.existing.append(Named("ClusterRole", scc_cluster_role(scc), setting))
        out.scc_uses.append((scc, setting))

    mongo = settings.mongodb.external
    checks = {"mongodb.external.connectionString":
              (lambda uri, ca=mongo.ca is not None: mongodb_uri_problem(uri, ca)) if mongo else None}
    out.secrets = [SecretKey(ref.name, ref.key, key(path), value_problem=checks.get(path))
                   for path, ref in secret_references(settings)]
    out.secrets += [SecretKey(name, ".dockerconfigjson", key("images.pullSecrets"), alternatives=(".dockercfg",))
                    for name in settings.images.pull_secrets]
    return out
