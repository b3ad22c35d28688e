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

A tier granted another SCC (settings `scc.grants`, `scc.identities`) gets what that SCC needs to
start its image, and nothing more:

* `nonroot-v2`: the UID chosen (`runAsUser`, never 0), its group, and `fsGroup` so the data volume
  is writable by it; otherwise the restricted-v2 shape.
* `anyuid`: the image's own user (no `runAsNonRoot`, so an image that starts as root may), or the
  identity given; of the capabilities only `MKNOD` (which anyuid requires) and `NET_RAW` are dropped,
  so an entrypoint that starts as root can still chown its data and switch user. No privilege
  escalation, no privileged container. No seccomp profile either: anyuid (like the v1 SCCs) allows
  none, and OpenShift refuses a pod that sets one; the runtime's default applies.
"""

from __future__ import annotations

import pulumi_kubernetes as k8s

from settings.models import SccProfile
from vocabulary.openshift import IDENTITY_SCCS, NO_SECCOMP_SCCS

RUNTIME_DEFAULT = k8s.core.v1.SeccompProfileArgs(type="RuntimeDefault")
ANYUID_DROP = ["MKNOD", "NET_RAW"]


def _image_user(profile: SccProfile | None) -> bool:
    """anyuid without a UID: the image's own user runs, root included."""
    return profile is not None and profile.name == "anyuid" and profile.run_as_user is None


def _identity(profile: SccProfile | None) -> SccProfile | None:
    return profile if profile is not None and profile.name in IDENTITY_SCCS else None


def _seccomp(profile: SccProfile | None) -> k8s.core.v1.SeccompProfileArgs | None:
    """RuntimeDefault, except under an SCC that allows no seccomp profile at all (anyuid, the v1 SCCs):
    there the runtime's default applies, and setting one would be refused."""
    return None if profile is not None and profile.name in NO_SECCOMP_SCCS else RUNTIME_DEFAULT


def pod_security_context(profile: SccProfile | None = None) -> k8s.core.v1.PodSecurityContextArgs:
    identity = _identity(profile)
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=None if _image_user(profile) else True,
        run_as_user=identity.run_as_user if identity else None,
        run_as_group=identity.run_as_group if identity else None,
        fs_group=identity.fs_group if identity else None,
        seccomp_profile=_seccomp(profile),
    )


def container_security_context(*, read_only_root_filesystem: bool,
                               profile: SccProfile | None = None) -> k8s.core.v1.SecurityContextArgs:
    """Container security context. Callers must say whether the root filesystem can be read-only."""
    image_user = _image_user(profile)
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=False,
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=ANYUID_DROP if image_user else ["ALL"]),
        privileged=False,
        read_only_root_filesystem=read_only_root_filesystem,
        run_as_non_root=None if image_user else True,
        seccomp_profile=_seccomp(profile),
    )
