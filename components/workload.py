"""Builders for the parts every tier shares: labels, containers, pod templates, Services, PDBs.

Containers and pod templates are only built here, so every one of them gets the security contexts
from `components.security`, explicit resources, `enableServiceLinks: false` (ClearML reads
`MONGODB_SERVICE_HOST`-style variables as fallbacks, so Kubernetes' injected service links could
silently rewire it) and no service-account token unless a tier asks for one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from settings.models import Resources, SccProfile
from settings.scheduling import Scheduling
from vocabulary.clearml import CREDENTIALS_ANNOTATION
from vocabulary.openshift import REQUIRED_SCC_ANNOTATION

from .labels import labels, selector_labels
from .scc_grant import SccGrant, SccGrantArgs
from .security import container_security_context, pod_security_context


def _extended(spec: Resources) -> dict[str, str]:
    return {name: str(count) for name, count in spec.extended.items()}


def resources(spec: Resources) -> k8s.core.v1.ResourceRequirementsArgs:
    return k8s.core.v1.ResourceRequirementsArgs(
        requests={"cpu": spec.requests.cpu, "memory": spec.requests.memory, **_extended(spec)},
        limits={"cpu": spec.limits.cpu, "memory": spec.limits.memory, **_extended(spec)},
    )


def env(values: Mapping[str, pulumi.Input[str]]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in values.items()]


def secret_env(name: str, secret: pulumi.Input[str], key: str) -> k8s.core.v1.EnvVarArgs:
    return k8s.core.v1.EnvVarArgs(
        name=name,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret, key=key)
        ),
    )


def mount(name: str, path: str, *, read_only: bool = False, sub_path: str | None = None) -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=name, mount_path=path, read_only=read_only, sub_path=sub_path)


def empty_dir(name: str, size_limit: str = "256Mi", medium: str | None = None) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(
        name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size_limit, medium=medium)
    )


@dataclass(frozen=True)
class PrivateFile:
    """A key of a Secret as a file only the pod's own user may read (mode 0600 or 0400), as programs
    that check the mode of their secret files want (mongod's keyfile, Elastic's `*_FILE` variables).
    A Secret volume cannot give that to a random UID: its files belong to root, so an init container
    copies the key into a memory-backed emptyDir as the pod's user. Parts: `init` (the init
    container), `volumes`, and `mount` (the directory holding `file`)."""

    init: k8s.core.v1.ContainerArgs
    volumes: list[k8s.core.v1.VolumeArgs]
    mount: k8s.core.v1.VolumeMountArgs
    file: str


def private_file(name: str, *, secret: pulumi.Input[str], key: str, directory: str, image: str, pull_policy: str,
                 resources_spec: Resources, mode: int = 0o600) -> PrivateFile:
    source = f"/{name}-source"
    init = container(
        name=f"install-{name}", image=image, pull_policy=pull_policy, resources_spec=resources_spec,
        read_only_root_filesystem=True,
        command=["sh", "-c", f"install -m {mode:04o} {source}/{key} /{name}/{key}"],
        mounts=[mount(f"{name}-source", source, read_only=True), mount(name, f"/{name}")],
    )
    volumes = [
        k8s.core.v1.VolumeArgs(name=f"{name}-source", secret=k8s.core.v1.SecretVolumeSourceArgs(
            secret_name=secret, default_mode=0o440, items=[k8s.core.v1.KeyToPathArgs(key=key, path=key)])),
        empty_dir(name, "1Mi", medium="Memory"),
    ]
    return PrivateFile(init=init, volumes=volumes, mount=mount(name, directory, read_only=True),
                       file=f"{directory}/{key}")


def container(
    *,
    name: str,
    image: str,
    pull_policy: str,
    resources_spec: Resources,
    read_only_root_filesystem: bool,
    command: Sequence[str] | None = None,
    args: Sequence[str] | None = None,
    env_vars: Sequence[k8s.core.v1.EnvVarArgs] = (),
    ports: Sequence[k8s.core.v1.ContainerPortArgs] = (),
    mounts: Sequence[k8s.core.v1.VolumeMountArgs] = (),
    readiness: k8s.core.v1.ProbeArgs | None = None,
    liveness: k8s.core.v1.ProbeArgs | None = None,
    startup: k8s.core.v1.ProbeArgs | None = None,
    working_dir: str | None = None,
) -> k8s.core.v1.ContainerArgs:
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=image,
        image_pull_policy=pull_policy,
        command=list(command) if command else None,
        args=list(args) if args else None,
        env=list(env_vars) or None,
        ports=list(ports) or None,
        volume_mounts=list(mounts) or None,
        resources=resources(resources_spec),
        security_context=container_security_context(read_only_root_filesystem=read_only_root_filesystem),
        readiness_probe=readiness,
        liveness_probe=liveness,
        startup_probe=startup,
        working_dir=working_dir,
        termination_message_policy="FallbackToLogsOnError",
    )


def port(name: str, number: int) -> k8s.core.v1.ContainerPortArgs:
    return k8s.core.v1.ContainerPortArgs(name=name, container_port=number, protocol="TCP")


def http_probe(path: str, port_name: str, *, period: int = 10, failures: int = 3, timeout: int = 5,
               initial_delay: int = 0) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        http_get=k8s.core.v1.HTTPGetActionArgs(path=path, port=port_name, scheme="HTTP"),
        period_seconds=period, failure_threshold=failures, timeout_seconds=timeout,
        initial_delay_seconds=initial_delay,
    )


def tcp_probe(port_name: str, *, period: int = 10, failures: int = 3, timeout: int = 5) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        tcp_socket=k8s.core.v1.TCPSocketActionArgs(port=port_name),
        period_seconds=period, failure_threshold=failures, timeout_seconds=timeout,
    )


def exec_probe(command: Sequence[str], *, period: int = 10, failures: int = 3, timeout: int = 5,
               initial_delay: int = 0) -> k8s.core.v1.ProbeArgs:
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=list(command)),
        period_seconds=period, failure_threshold=failures, timeout_seconds=timeout,
        initial_delay_seconds=initial_delay,
    )


def topology_spread(component: str, replicas: int, mode: str | None) -> list[k8s.core.v1.TopologySpreadConstraintArgs] | None:
    """Spread across nodes and zones for replicated tiers (`features.topologySpread`): `preferred`
    (ScheduleAnyway, which keeps single-node and single-zone clusters working) or `required`
    (DoNotSchedule: a replica waits rather than share a node or zone; nodes need the zone label)."""
    if mode is None or replicas < 2:
        return None
    return [
        k8s.core.v1.TopologySpreadConstraintArgs(
            max_skew=1,
            topology_key=key,
            when_unsatisfiable="DoNotSchedule" if mode == "required" else "ScheduleAnyway",
            label_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(component)),
        )
        for key in ("kubernetes.io/hostname", "topology.kubernetes.io/zone")
    ]


def credential_digest(*values: pulumi.Input[str]) -> pulumi.Output[str]:
    """A short SHA-256 digest of generated credentials (random values of 30 to 756 characters, so the
    digest gives nothing away), as a plain Output: a pod template annotated with it (`pod_template`'s
    `credentials`) changes when one of them is rotated, and only then."""
    digest = pulumi.Output.all(*values).apply(
        lambda texts: hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16])
    return pulumi.Output.unsecret(digest)


def after(value: pulumi.Output[str], resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """`value`, resolved only once `resource` is created or updated: whatever takes it depends on that
    resource too (with await, it is updated after the resource is ready)."""
    return pulumi.Output.all(value, resource.id).apply(lambda resolved: resolved[0])


def pod_template(
    *,
    component: str,
    service_account: pulumi.Input[str],
    containers: Sequence[k8s.core.v1.ContainerArgs],
    init_containers: Sequence[k8s.core.v1.ContainerArgs] = (),
    volumes: Sequence[k8s.core.v1.VolumeArgs] = (),
    replicas: int = 1,
    spread: str | None = "preferred",
    termination_grace_seconds: int = 30,
    annotations: Mapping[str, pulumi.Input[str]] | None = None,
    restart_policy: str | None = None,
    required_scc: SccProfile | str | None = None,
    automount_token: bool = False,
    pull_secrets: Sequence[str] = (),
    scheduling: Scheduling | None = None,
    runtime_class: str | None = None,
    credentials: Sequence[pulumi.Input[str]] = (),
) -> k8s.core.v1.PodTemplateSpecArgs:
    """`required_scc` pins the pod to one SCC (`openshift.io/required-scc`, OpenShift 4.14+). It is only set
    for tiers with an explicit grant: without the pin, restricted-v2 is tried first and a grant has no effect.
    A granted tier's profile (`SccSettings.profile`) also shapes the pod's and every container's security
    context for that SCC (`components/security.py`).

    `automount_token` mounts the ServiceAccount token: only for a pod that talks to the Kubernetes API.
    `pull_secrets` (`images.pullSecrets`) become the pod's `imagePullSecrets`; `scheduling` (the tier's
    `scheduling` setting) places the pod and adds the user's labels and annotations to the program's.
    `credentials` are the `credential_digest`s of the generated credentials the pod reads: the pod rolls
    when one of them is rotated (README, "Rotating credentials")."""
    scheduling = scheduling or Scheduling()
    all_annotations: dict[str, pulumi.Input[str]] = {**scheduling.pod_annotations, **(annotations or {})}
    if credentials:
        all_annotations[CREDENTIALS_ANNOTATION] = credential_digest(*credentials) if len(credentials) > 1 \
            else credentials[0]
    profile = SccProfile(required_scc) if isinstance(required_scc, str) else required_scc
    if profile:
        all_annotations[REQUIRED_SCC_ANNOTATION] = profile.name
        for c in [*containers, *init_containers]:
            current = c.security_context
            if not isinstance(current, k8s.core.v1.SecurityContextArgs):
                raise TypeError(f"container {c.name}: its security context must come from container()")
            c.security_context = container_security_context(
                read_only_root_filesystem=bool(current.read_only_root_filesystem), profile=profile)
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels={**scheduling.pod_labels, **labels(component)},
                                            annotations=all_annotations or None),
        spec=k8s.core.v1.PodSpecArgs(
            service_account_name=service_account,
            automount_service_account_token=automount_token,
            enable_service_links=False,
            security_context=pod_security_context(profile),
            init_containers=list(init_containers) or None,
            containers=list(containers),
            volumes=list(volumes) or None,
            termination_grace_period_seconds=termination_grace_seconds,
            topology_spread_constraints=topology_spread(component, replicas, spread),
            restart_policy=restart_policy,
            image_pull_secrets=[k8s.core.v1.LocalObjectReferenceArgs(name=n) for n in pull_secrets] or None,
            node_selector=scheduling.node_selector or None,
            # Manifest-shaped dicts, as the user wrote them: the SDK takes a dict wherever it takes an Args class.
            tolerations=cast(Any, [t.manifest() for t in scheduling.tolerations] or None),
            affinity=cast(Any, scheduling.affinity),
            priority_class_name=scheduling.priority_class_name,
            runtime_class_name=runtime_class,
        ),
    )


def service_account(name: str, namespace: pulumi.Input[str], component: str,
                    opts: pulumi.ResourceOptions, scc: SccProfile | None = None) -> k8s.core.v1.ServiceAccount:
    """The tier's own ServiceAccount; with `scc`, also the RoleBinding that lets it use that SCC.

    The grant is namespaced (a RoleBinding in the ClearML namespace) and names only this
    ServiceAccount, binding OpenShift's built-in ClusterRole `system:openshift:scc:<scc>`.
    """
    account = k8s.core.v1.ServiceAccount(
        f"{name}-sa",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        automount_service_account_token=False,
        opts=opts,
    )
    if scc:
        SccGrant(f"{name}-scc-{scc.name}", SccGrantArgs(namespace=namespace, service_account=name, scc=scc.name,
                                                   component=component), opts=opts)
    return account


def service(
    logical_name: str,
    *,
    name: str,
    namespace: pulumi.Input[str],
    component: str,
    ports: Mapping[str, int],
    opts: pulumi.ResourceOptions,
    headless: bool = False,
) -> k8s.core.v1.Service:
    """ClusterIP Service; `ports` maps the container port name to the service port number."""
    return k8s.core.v1.Service(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        spec=k8s.core.v1.ServiceSpecArgs(
            type="ClusterIP",
            cluster_ip="None" if headless else None,
            publish_not_ready_addresses=True if headless else None,
            selector=selector_labels(component),
            ports=[
                k8s.core.v1.ServicePortArgs(name=port_name, port=number, target_port=port_name, protocol="TCP")
                for port_name, number in ports.items()
            ],
        ),
        opts=opts,
    )


def disruption_budget(logical_name: str, *, name: str, namespace: pulumi.Input[str], component: str,
                      replicas: int, opts: pulumi.ResourceOptions) -> k8s.policy.v1.PodDisruptionBudget | None:
    """A PDB for replicated tiers: at most one pod down at a time. None for single replicas (it would block drains)."""
    if replicas < 2:
        return None
    return k8s.policy.v1.PodDisruptionBudget(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
            max_unavailable=1,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(component)),
        ),
        opts=opts,
    )


def volume_claim_template(name: str, size: str, access_mode: str, storage_class: str | None,
                          component: str) -> k8s.core.v1.PersistentVolumeClaimArgs:
    return k8s.core.v1.PersistentVolumeClaimArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=selector_labels(component)),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=[access_mode],
            storage_class_name=storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
    )


def claim(logical_name: str, *, name: str, namespace: pulumi.Input[str], component: str, size: str, access_mode: str,
          storage_class: str | None, retain: bool, parent: pulumi.Resource) -> k8s.core.v1.PersistentVolumeClaim:
    """A volume claim of its own (not a StatefulSet's), kept on `pulumi destroy` and replacement when `retain`
    (`storage.retainOnDelete`): data outlives the program's objects. Not awaited (program/transforms.py)."""
    return k8s.core.v1.PersistentVolumeClaim(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=[access_mode],
            storage_class_name=storage_class,
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": size}),
        ),
        opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=retain),
    )


def claim_volume(name: str, claim_name: pulumi.Input[str], *, read_only: bool = False) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=name, persistent_volume_claim=k8s.core.v1.PersistentVolumeClaimVolumeSourceArgs(
        claim_name=claim_name, read_only=read_only or None))


# Claims created from volumeClaimTemplates are owned by nobody: keep them when the StatefulSet is
# deleted (pulumi destroy, replacement) or scaled down. Deleting data is an explicit, manual act.
RETAIN_CLAIMS = k8s.apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicyArgs(
    when_deleted="Retain", when_scaled="Retain"
)


def deployment(logical_name: str, *, name: str, namespace: pulumi.Input[str], component: str, replicas: int,
               template: k8s.core.v1.PodTemplateSpecArgs, opts: pulumi.ResourceOptions,
               single_writer: bool = False) -> k8s.apps.v1.Deployment:
    """A Deployment that never drops below its replica count during a rollout.

    `single_writer` tiers (one process that must not run twice, or a ReadWriteOnce volume) use
    Recreate instead: the old pod stops before the new one starts.
    """
    strategy = (
        k8s.apps.v1.DeploymentStrategyArgs(type="Recreate")
        if single_writer
        else k8s.apps.v1.DeploymentStrategyArgs(
            type="RollingUpdate",
            rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_surge=1, max_unavailable=0),
        )
    )
    return k8s.apps.v1.Deployment(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        spec=k8s.apps.v1.DeploymentSpecArgs(
            replicas=replicas,
            revision_history_limit=5,
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(component)),
            strategy=strategy,
            template=template,
        ),
        opts=opts,
    )


def stateful_set(logical_name: str, *, name: str, namespace: pulumi.Input[str], component: str, replicas: int,
                 service_name: pulumi.Input[str], template: k8s.core.v1.PodTemplateSpecArgs, data_size: str,
                 data_access_mode: str, storage_class: str | None, opts: pulumi.ResourceOptions,
                 parallel: bool = False) -> k8s.apps.v1.StatefulSet:
    """A StatefulSet whose pods each get a `data` volume claim that outlives the StatefulSet.

    `parallel` starts all members at once (clusters that need a quorum to become ready). A rolling
    update replaces the members one at a time, each after the one before is ready (Elasticsearch: with the
    cluster green again), so `up` waits up to 10 minutes per member, not the provider's 10 in all.
    """
    budget = f"{10 * max(1, replicas)}m"
    opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
        custom_timeouts=pulumi.CustomTimeouts(create=budget, update=budget)))
    return k8s.apps.v1.StatefulSet(
        logical_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels(component)),
        spec=k8s.apps.v1.StatefulSetSpecArgs(
            replicas=replicas,
            service_name=service_name,
            pod_management_policy="Parallel" if parallel else "OrderedReady",
            selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector_labels(component)),
            persistent_volume_claim_retention_policy=RETAIN_CLAIMS,
            update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(type="RollingUpdate"),
            template=template,
            volume_claim_templates=[volume_claim_template("data", data_size, data_access_mode, storage_class, component)],
        ),
        opts=opts,
    )
