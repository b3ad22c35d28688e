"""Rule `pod-security-restricted`: Pod Security restricted."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from admission import check_restricted
from policy.manifest import Manifest, admission_view, is_unknown, pod_templates
from vocabulary.openshift import ELEVATED_SCCS, REQUIRED_SCC_ANNOTATION

NAME = "pod-security-restricted"
DESCRIPTION = (
    'Every pod template meets the Kubernetes Pod Security restricted profile, unless it is pinned to an '
    'SCC the scc-grants rule must acknowledge (anyuid, privileged, host*).'
)
ENFORCEMENT = EnforcementLevel.MANDATORY


def check_pod_security_restricted(manifest: Manifest) -> list[str]:
    """Every pod template meets the Kubernetes Pod Security `restricted` profile as written
    (Pod Security admission fills nothing in), except a pod pinned to an SCC that runs as root or
    reaches the host (anyuid, ...): such a grant is what the scc-grants rule makes you acknowledge, and
    OpenShift then labels the namespace for a laxer profile itself."""
    errors = []
    for pod in pod_templates(manifest):
        if not pod.known or is_unknown(pod.annotations):
            continue
        annotations = pod.annotations if isinstance(pod.annotations, dict) else {}
        if annotations.get(REQUIRED_SCC_ANNOTATION) in ELEVATED_SCCS:
            continue
        view = admission_view(pod.spec)
        if view is None or any(is_unknown(v) for k, v in annotations.items() if "apparmor" in k):
            continue
        errors += [f"{pod.where}: Pod Security restricted: {v}" for v in check_restricted(view, annotations)]
    return errors


check = check_pod_security_restricted
