"""The one place security contexts are built. Every pod template and container uses these.

The result passes OpenShift's `restricted-v2` SCC for a namespace with a random UID range and the
Kubernetes Pod Security `restricted` profile:

* pod: `runAsNonRoot: true`, `seccompProfile: RuntimeDefault`;
* container: `allowPrivilegeEscalation: false`, `capabilities.drop: [ALL]`, `runAsNonRoot: true`,
  `seccompProfile: RuntimeDefault`, and `readOnlyRootFilesystem` where the process's write paths
  are known and each has its own volume.

`runAsUser`, `runAsGroup`, `fsGroup` and `seLinuxOptions` are never set: OpenShift assigns the UID,
the fsGroup and the MCS label from the namespace's annotations, and any fixed value outside the
namespace range (1000, 1001, ...) is rejected by admission.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

RUNTIME_DEFAULT = k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")


def pod_security_context() -> k8s.core.v1.PodSecurityContextArgs:
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=True,
        seccomp_profile=RUNTIME_DEFAULT,
    )


def container_security_context(*, read_only_root_filesystem: bool) -> k8s.core.v1.SecurityContextArgs:
    """Container security context. Callers must say whether the root filesystem can be read-only."""
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=["ALL"]),
        privileged=False,
        read_only_root_filesystem=read_only_root_filesystem,
        run_as_non_root=True,
        seccomp_profile=RUNTIME_DEFAULT,
    )
