"""Rule `restricted-v2-admission`: Restricted-v2 (or the pinned SCC) as OpenShift admits the pod."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from admission import Namespace, admit, load_scc
from admission.scc import DATA
from policy.manifest import Manifest, admission_view, is_unknown, pod_templates
from vocabulary.openshift import REQUIRED_SCC_ANNOTATION

NAME = "restricted-v2-admission"
DESCRIPTION = (
    'Every pod template is admitted by OpenShift under restricted-v2 (or the SCC it pins with '
    'openshift.io/required-scc), UID range, fsGroup and volume types included.'
)
ENFORCEMENT = EnforcementLevel.MANDATORY


REQUIRED_SCC = REQUIRED_SCC_ANNOTATION
# SCCs the policy can judge: the upstream objects in admission/data (not the dated release copies).
JUDGEABLE_SCCS = tuple(sorted(p.stem for p in DATA.glob("*.yaml") if "-release-" not in p.stem))




def check_scc_admission(manifest: Manifest) -> list[str]:
    """Every pod template is admitted by OpenShift under restricted-v2 (or the SCC it pins with
    `openshift.io/required-scc`), as the API server computes it: mutation, then the UID range,
    fsGroup, SELinux, capabilities, seccomp, host access and volume type checks."""
    errors = []
    for pod in pod_templates(manifest):
        annotations = pod.annotations if isinstance(pod.annotations, dict) else {}
        if not pod.known or is_unknown(pod.annotations) or is_unknown(annotations.get(REQUIRED_SCC)):
            continue
        scc = annotations.get(REQUIRED_SCC, "restricted-v2")
        if scc not in JUDGEABLE_SCCS:
            errors.append(f"{pod.where}: pins the SCC {scc!r} ({REQUIRED_SCC}), which this policy cannot judge "
                          f"(known: {', '.join(JUDGEABLE_SCCS)})")
            continue
        view = admission_view(pod.spec)
        if view is None:
            continue
        _, violations = admit(view, load_scc(scc), Namespace())
        errors += [f"{pod.where}: not admitted under {scc}: {v}" for v in violations]
    return errors


check = check_scc_admission
