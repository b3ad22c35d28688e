"""OpenShift's own names and rules that this project relies on, each with where OpenShift defines it.

SCC objects and ClusterRoles: cluster-kube-apiserver-operator `bindata/bootkube/scc-manifests`
(copies in scripts/lib/openshift-scc/); SCC admission: openshift/apiserver-library-go
`pkg/securitycontextconstraints`; the pod annotations: openshift/api `annotations`.
"""

from __future__ import annotations

from collections.abc import Sequence

# Pod annotations: the SCC a pod must be admitted under (OpenShift 4.14+), and the one it was.
REQUIRED_SCC_ANNOTATION = "openshift.io/required-scc"
ADMITTED_SCC_ANNOTATION = "openshift.io/scc"

RESTRICTED_V2 = "restricted-v2"
# SCCs whose `system:openshift:scc:<name>` ClusterRole exists on every OpenShift from 4.11.
KNOWN_SCCS = ("restricted-v2", "restricted", "nonroot-v2", "nonroot", "hostnetwork-v2", "hostnetwork",
              "hostmount-anyuid", "hostaccess", "anyuid", "privileged")
# SCCs that let pods run as root or reach the host: granted only when acknowledged.
ELEVATED_SCCS = ("hostnetwork-v2", "hostnetwork", "hostmount-anyuid", "hostaccess", "anyuid", "privileged")
# SCCs with no `seccompProfiles`: admission refuses any seccomp profile under them ("seccomp may not be
# set"; checked against the real plugin in tests/engine/test_scc_grants_local.py).
NO_SECCOMP_SCCS = ("restricted", "nonroot", "hostnetwork", "hostmount-anyuid", "hostaccess", "anyuid")
# The SCCs a granted tier's pods are shaped for (settings `scc.identities`): nonroot-v2 runs the UID
# chosen, anyuid the image's own user. Other grants keep the restricted-v2 shape, pinned to the SCC.
IDENTITY_SCCS = ("nonroot-v2", "anyuid")

SCC_CLUSTER_ROLE_PREFIX = "system:openshift:scc:"

# The label of the namespaces OpenShift's routers run in (ingress operator), for NetworkPolicies.
ROUTER_NAMESPACE_LABELS = {"network.openshift.io/policy-group": "ingress"}
# ... and of the monitoring namespaces (openshift-monitoring, openshift-user-workload-monitoring), whose
# Prometheus scrapes the ServiceMonitors' targets ("Allowing traffic from monitoring" in OpenShift's docs).
MONITORING_NAMESPACE_LABELS = {"network.openshift.io/policy-group": "monitoring"}


def scc_cluster_role(scc: str) -> str:
    """The ClusterRole that allows `use` of one built-in SCC (`oc adm policy add-scc-to-user` binds it)."""
    return f"{SCC_CLUSTER_ROLE_PREFIX}{scc}"


def grant_refusal(scc: str, acknowledged: Sequence[str], how_to_acknowledge: str) -> str | None:
    """Why granting `scc` is refused, or None: the rule the settings and the policy pack share. A
    custom SCC is refused (its ClusterRole is not guaranteed to exist); an elevated one unless
    acknowledged (`how_to_acknowledge` says where). The settings also refuse a restricted-v2 grant as
    pointless (every ServiceAccount may use it); the policy pack, which judges safety, lets such a
    binding through."""
    if scc not in KNOWN_SCCS:
        return f"{scc!r} is not a built-in SCC of OpenShift 4.11+ ({', '.join(KNOWN_SCCS)})"
    if scc in ELEVATED_SCCS and scc not in acknowledged:
        return f"{scc} lets pods run as root or reach the host; refused unless {how_to_acknowledge}"
    return None
