"""The checks: `Needs` (what the stack needs) against a `Cluster` (what is there).

Every problem is one line: the setting or prerequisite, what is wrong, and the fix. All problems are
collected before anything is reported. What preflight could not check (a read the identity may not
make) is a note, not a problem: the deployment may still work, and Pulumi would say why if not.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from vocabulary.clearml import MONGODB_SETUP_JOB
from vocabulary.openshift import scc_cluster_role

from .cluster import Cluster, Forbidden, Unreachable, api_path
from .needs import MIN_KUBERNETES, Access, Api, Needs, key
from .scaling import DRAINED_ANNOTATION, elasticsearch_problem, mongodb_problem
from .upgrades import elasticsearch_version_problem, mongodb_version_problem, root_password_generation_problem, setup_job_generation, tag_of

DEFAULT_CLASS_ANNOTATIONS = ("storageclass.kubernetes.io/is-default-class",
                             "storageclass.beta.kubernetes.io/is-default-class")

# Where each kind an existing object is looked up lives: (group, version, resource).
_LOOKUP = {
    "StorageClass": ("storage.k8s.io", "v1", "storageclasses"),
    "IngressClass": ("networking.k8s.io", "v1", "ingressclasses"),
    "PriorityClass": ("scheduling.k8s.io", "v1", "priorityclasses"),
    "RuntimeClass": ("node.k8s.io", "v1", "runtimeclasses"),
    "Issuer": ("cert-manager.io", "v1", "issuers"),
    "ClusterIssuer": ("cert-manager.io", "v1", "clusterissuers"),
    "ClusterRole": ("rbac.authorization.k8s.io", "v1", "clusterroles"),
    "SecurityContextConstraints": ("security.openshift.io", "v1", "securitycontextconstraints"),
}

_API_FIX = {
    "route.openshift.io": f"on a cluster without OpenShift Routes set {key('edge.mode')}: ingress",
    "cert-manager.io": "install cert-manager 1.x (README, Prerequisites: OperatorHub's cert-manager Operator for "
                       "Red Hat OpenShift, or upstream)",
    "security.openshift.io": f"SCC grants need OpenShift: remove {key('scc.grants')}",
    "velero.io": "install the OADP Operator (OperatorHub: OADP Operator) with a DataProtectionApplication, or set "
                 f"{key('backup.mechanism')}: jobs",
    "monitoring.coreos.com": "enable monitoring for user-defined projects (enableUserWorkload: true in "
                             f"openshift-monitoring/cluster-monitoring-config), or set {key('monitoring.enabled')}: false",
}

_ADMIN_FIX = "ask a cluster admin for the `admin` role in the namespace (oc adm policy add-role-to-user admin <you> -n {ns})"


@dataclass
class Report:
    endpoint: str = ""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checks: int = 0
    # The image each guarded workload runs now (Needs.guarded; absent: not deployed or not readable), and
    # whether the Job that backs up before the configured images (Needs.upgrade_job) is already there.
    running_images: dict[str, str] = field(default_factory=dict)
    upgrade_job_exists: bool = False


NOT_READ = object()  # what `_read` returns when the identity may not read the object


def _read(cluster: Cluster, path: str, what: str, report: Report):
    """One object (None if absent), counted as a check; a forbidden read becomes a note."""
    report.checks += 1
    try:
        return cluster.get(path)
    except Forbidden:
        report.notes.append(f"{what}: not checked (reading it is forbidden)")
        return NOT_READ


def _version_text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def _openshift_version(cluster: Cluster) -> tuple[int, int] | str:
    """(major, minor) of the OpenShift release, or why it is not known."""
    served = cluster.resources("config.openshift.io/v1")
    if served is None or "clusterversions" not in served:
        return "config.openshift.io is not served (not OpenShift)"
    try:
        obj = cluster.get(api_path("config.openshift.io", "v1", "clusterversions", "version"))
    except Forbidden:
        return "reading clusterversions/version is forbidden"
    status = (obj or {}).get("status") or {}
    text = (status.get("desired") or {}).get("version") or next(
        (h.get("version") for h in status.get("history") or [] if h.get("state") == "Completed"), None)
    try:
        major, minor = (int(part) for part in str(text).split(".")[:2])
    except ValueError:
        return f"clusterversions/version reports no version ({text!r})"
    return major, minor


def _check_versions(cluster: Cluster, needs: Needs, report: Report) -> None:
    version = cluster.version()
    report.checks += 1
    if version < MIN_KUBERNETES:
        report.problems.append(
            f"cluster: Kubernetes {_version_text(version)} is older than {_version_text(MIN_KUBERNETES)}, the oldest "
            f"this program supports (OpenShift {_version_text(needs.openshift_min)}): upgrade the cluster")
    openshift = _openshift_version(cluster)
    report.checks += 1
    if isinstance(openshift, str):
        report.notes.append(f"OpenShift version not checked: {openshift}")
    elif openshift < needs.openshift_min:
        report.problems.append(
            f"cluster: OpenShift {_version_text(openshift)} is older than {_version_text(needs.openshift_min)}, "
            f"which {needs.openshift_min_why} needs: upgrade the cluster"
            + (f", or set {key('tls.routeCertificates')}: cert-manager-annotations or router-default"
               if "routeCertificates" in needs.openshift_min_why else ""))


def _check_apis(cluster: Cluster, apis: Iterable[Api], report: Report) -> set[str]:
    """Reports every API that is not served; returns the groups that are missing."""
    missing_groups: set[str] = set()
    served: dict[str, set[str] | None] = {}
    for api in apis:
        report.checks += 1
        if api.group_version not in served:
            served[api.group_version] = cluster.resources(api.group_version)
        resources = served[api.group_version]
        if resources is None or api.resource not in resources:
            missing_groups.add(api.group)
            fix = _API_FIX.get(api.group, "use a cluster that serves it")
            report.problems.append(
                f"{api.why}: the cluster does not serve {api.kind} ({api.group_version} {api.resource}): {fix}")
    return missing_groups


def _check_namespace(cluster: Cluster, needs: Needs, report: Report) -> bool:
    """Reports a missing or terminating namespace; returns whether it exists."""
    ns = needs.namespace
    obj = _read(cluster, api_path("", "v1", "namespaces", ns), f"namespace {ns}", report)
    if obj is NOT_READ:
        return True
    if obj is None:
        if not needs.create_namespace:
            report.problems.append(
                f"{key('namespace.name')}: namespace {ns} does not exist and {key('namespace.create')} is false: "
                f"create it first (oc new-project {ns}) or set namespace.create: true")
        return False
    if (obj.get("status") or {}).get("phase") == "Terminating":
        report.problems.append(
            f"{key('namespace.name')}: namespace {ns} is being deleted: wait until it is gone, or choose another name")
    return True


def _resource_text(access: Access) -> str:
    return f"{access.resource}.{access.group}" if access.group else access.resource


def _check_access(cluster: Cluster, needs: Needs, report: Report) -> None:
    reviews = [(a, verb) for a in needs.access for verb in a.verbs]
    scc_reviews = needs.scc_uses
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda r: cluster.allowed(r[1], r[0].group, r[0].resource, r[0].namespace, r[0].name),
                                reviews))

        def may_grant(scc: str) -> bool:
            return (cluster.allowed("use", "security.openshift.io", "securitycontextconstraints", needs.namespace, scc)
                    or cluster.allowed("bind", "rbac.authorization.k8s.io", "clusterroles", needs.namespace,
                                       scc_cluster_role(scc)))
        scc_answers = list(pool.map(lambda r: may_grant(r[0]), scc_reviews))
    report.checks += len(reviews) + len(scc_reviews)
    denied: dict[Access, list[str]] = {}
    for (access, verb), ok in zip(reviews, answers, strict=True):
        if not ok:
            denied.setdefault(access, []).append(verb)
    for access, verbs in denied.items():
        if access.resource == "namespaces":
            report.problems.append(
                f"{key('namespace.create')}: you may not create namespaces: create the project first "
                f"(oc new-project {needs.namespace}) and set namespace.create: false")
        else:
            report.problems.append(
                f"access: you may not {', '.join(verbs)} {_resource_text(access)} in namespace {access.namespace}: "
                + _ADMIN_FIX.format(ns=access.namespace))
    for (scc, setting), ok in zip(scc_reviews, scc_answers, strict=True):
        if not ok:
            report.problems.append(
                f"{setting}: you may not grant the SCC {scc} (neither `use` on it nor `bind` on "
                f"{scc_cluster_role(scc)}): run this stack as a cluster admin, or remove the grant")


def _is_default(storage_class: dict) -> bool:
    annotations = (storage_class.get("metadata") or {}).get("annotations") or {}
    return any(annotations.get(a) == "true" for a in DEFAULT_CLASS_ANNOTATIONS)


def _check_storage(cluster: Cluster, needs: Needs, report: Report) -> None:
    group, version, resource = _LOOKUP["StorageClass"]
    listed: list = []  # the cluster's classes, listed once, when first needed (None: forbidden)

    def classes() -> list[dict] | None:
        if not listed:
            try:
                listed.append((cluster.get(api_path(group, version, resource)) or {}).get("items") or [])
            except Forbidden:
                listed.append(None)
        return listed[0]

    def names() -> str:
        items = classes()
        if items is None:
            return "not listed: listing StorageClasses is forbidden"
        return ", ".join(sorted(item["metadata"]["name"] for item in items)) or "none"

    for named in needs.storage_classes:
        if _read(cluster, api_path(group, version, resource, named.name), f"StorageClass {named.name}", report) is None:
            report.problems.append(
                f"{named.setting}: StorageClass {named.name} does not exist (the cluster has: {names()}): "
                "name an existing class")
    if needs.default_storage_class_for:
        report.checks += 1
        found = classes()
        if found is None:
            report.notes.append("default StorageClass: not checked (listing StorageClasses is forbidden)")
            return
        if not any(_is_default(c) for c in found):
            report.problems.append(
                f"{', '.join(needs.default_storage_class_for)}: no StorageClass named and the cluster has no default "
                f"class (it has: {names()}): set {key('storage.className')}")


def _ready(obj: dict) -> str | None:
    """None if a cert-manager issuer is Ready, else why not."""
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            if condition.get("status") == "True":
                return None
            return condition.get("message") or condition.get("reason") or "not Ready"
    return "no Ready condition yet"


def _check_existing(cluster: Cluster, needs: Needs, missing_groups: set[str], report: Report) -> None:
    for named in needs.existing:
        group, version, resource = _LOOKUP[named.kind]
        if group in missing_groups:
            continue  # already reported: the whole API is missing
        where = f" in namespace {named.namespace}" if named.namespace else ""
        obj = _read(cluster, api_path(group, version, resource, named.name, named.namespace),
                    f"{named.kind} {named.name}{where}", report)
        if obj is NOT_READ:
            continue
        if obj is None:
            report.problems.append(f"{named.setting}: {named.kind} {named.name} does not exist{where}: "
                                   f"create it, or name one that exists")
        elif named.kind in ("Issuer", "ClusterIssuer") and (why := _ready(obj)):
            report.problems.append(f"{named.setting}: {named.kind} {named.name}{where} is not Ready ({why}): "
                                   "certificates from it would never be issued; fix the issuer first")


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value).decode()
    except (ValueError, UnicodeDecodeError):
        return ""


def _check_secrets(cluster: Cluster, needs: Needs, report: Report) -> None:
    for ref in needs.secrets:
        obj = _read(cluster, api_path("", "v1", "secrets", ref.name, needs.namespace), f"Secret {ref.name}", report)
        if obj is NOT_READ:
            continue
        if obj is None:
            how = (f"docker-registry {ref.name} --docker-server=<registry> --docker-username=<user> "
                   "--docker-password=<password>" if ref.key == ".dockerconfigjson"
                   else f"generic {ref.name} --from-file={ref.key}=<file>")
            report.problems.append(f"{ref.setting}: Secret {ref.name} does not exist in namespace {needs.namespace}: "
                                   f"create it (oc -n {needs.namespace} create secret {how})")
        elif not any(k in (data := {} if obj.get("data") is None else obj["data"]) for k in (ref.key, *ref.alternatives)):
            keys = ", ".join(sorted(data)) or "none"
            report.problems.append(
                f"{ref.setting}: Secret {ref.name} has no key {ref.key} (its keys: {keys}): add it or name another key")
        elif ref.value_problem and (problem := ref.value_problem(_decoded(data[ref.key]))):
            report.problems.append(f"{ref.setting}: Secret {ref.name}, key {ref.key}: {problem}")


def _container_image(workload: dict, container: str) -> str | None:
    """The image of `container` in a Deployment's or StatefulSet's pod template."""
    containers = (((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers") or []
    return next((c.get("image") for c in containers if c.get("name") == container), None)


def _check_scaling(cluster: Cluster, needs: Needs, report: Report) -> None:
    """A data tier already running at another size or version: is the change safe (preflight/scaling.py,
    preflight/upgrades.py)?"""
    for tier, statefulset, wanted, wanted_tag in needs.scaled:
        live = _read(cluster, api_path("apps", "v1", "statefulsets", statefulset, needs.namespace),
                     f"StatefulSet {statefulset}", report)
        if not live or live is NOT_READ:
            continue
        current = int((live.get("spec") or {}).get("replicas") or 1)
        if tier == "mongodb":
            problem = mongodb_problem(current, wanted)
        else:
            drained = ((live.get("metadata") or {}).get("annotations") or {}).get(DRAINED_ANNOTATION)
            problem = elasticsearch_problem(current, wanted, drained, statefulset)
        if problem:
            report.problems.append(f"{key(tier + '.replicas')}: {problem}")
        running = _container_image(live, tier)
        current_tag = tag_of(running) if running else None
        if current_tag:
            judge = mongodb_version_problem if tier == "mongodb" else elasticsearch_version_problem
            if problem := judge(current_tag, wanted_tag):
                report.problems.append(f"{key('images.' + tier + '.tag')}: {problem}")


def _check_upgrade(cluster: Cluster, needs: Needs, report: Report) -> None:
    """What the workloads a backup set guards run now, and whether the backup before the configured
    images was already taken (the program takes it when an image changes, and keeps its Job after)."""
    for tier, (resource, name, container, _wanted) in needs.guarded.items():
        live = _read(cluster, api_path("apps", "v1", resource, name, needs.namespace), f"{resource} {name}", report)
        if not live or live is NOT_READ:
            continue
        if running := _container_image(live, container):
            report.running_images[tier] = running
    if needs.upgrade_job:
        group, version, resource, namespace = needs.upgrade_backup_api
        job = _read(cluster, api_path(group, version, resource, needs.upgrade_job, namespace),
                    f"{resource} {needs.upgrade_job}", report)
        report.upgrade_job_exists = bool(job) and job is not NOT_READ


def _check_root_password(cluster: Cluster, needs: Needs, report: Report) -> None:
    """An in-cluster MongoDB's root password moves one generation at a time (preflight/upgrades.py): the
    generation its setup Job ran with, against the configured one."""
    if needs.root_password_generation is None:
        return
    job = _read(cluster, api_path("batch", "v1", "jobs", MONGODB_SETUP_JOB, needs.namespace),
                f"Job {MONGODB_SETUP_JOB}", report)
    if not job or job is NOT_READ:
        return  # not deployed yet: any generation starts the database with its own password
    deployed, succeeded = setup_job_generation(job)
    if problem := root_password_generation_problem(deployed, succeeded, needs.root_password_generation):
        report.problems.append(f"{key('mongodb.rootPasswordGeneration')}: {problem}")


def check(cluster: Cluster, needs: Needs) -> Report:
    report = Report(endpoint=cluster.endpoint)
    try:
        _check_versions(cluster, needs, report)
        missing_groups = _check_apis(cluster, needs.apis, report)
        namespace_exists = _check_namespace(cluster, needs, report)
        _check_access(cluster, needs, report)
        _check_storage(cluster, needs, report)
        _check_existing(cluster, needs, missing_groups, report)
        if namespace_exists:
            _check_secrets(cluster, needs, report)
            _check_scaling(cluster, needs, report)
            _check_upgrade(cluster, needs, report)
            _check_root_password(cluster, needs, report)
        elif needs.secrets and needs.create_namespace:
            report.problems.append(
                f"{needs.secrets[0].setting}: Secret {needs.secrets[0].name} must exist before `up`, so the namespace "
                f"{needs.namespace} must too: create both first and set {key('namespace.create')}: false")
    except Unreachable as err:
        report.problems.append(f"cluster: cannot reach the Kubernetes API ({err}): check the kubeconfig, "
                               "its current context or kubernetes:context, and that you are logged in (oc login)")
    return report
