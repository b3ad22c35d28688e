"""`SccGrant`: lets one ServiceAccount use one SecurityContextConstraints, declaratively.

This is what `oc adm policy add-scc-to-user <scc> -z <sa> -n <ns>` does, as a namespaced
RoleBinding to OpenShift's built-in ClusterRole `system:openshift:scc:<scc>` (present for every
default SCC since OpenShift 4.11; cluster-kube-apiserver-operator bindata/bootkube/scc-manifests).
SCC admission checks `use` on the SCC in the pod's namespace, so the grant applies only there.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from vocabulary.openshift import scc_cluster_role

from .labels import labels


@dataclass(frozen=True)
class SccGrantArgs:
    namespace: pulumi.Input[str]
    service_account: str
    scc: str
    component: str


class SccGrant(pulumi.ComponentResource):
    """Outputs: `role_binding` (name)."""

    role_binding: pulumi.Output[str]

    def __init__(self, name: str, args: SccGrantArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:sccgrant:SccGrant", name, None, opts)
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=labels(args.component)),
            role_ref=k8s.rbac.v1.RoleRefArgs(
                api_group="rbac.authorization.k8s.io", kind="ClusterRole", name=scc_cluster_role(args.scc)),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=args.service_account, namespace=args.namespace)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_binding = binding.metadata.name
        self.register_outputs({"role_binding": self.role_binding})
