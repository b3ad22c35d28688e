"""Entry point of the clearml-openshift policy pack: `pulumi preview --policy-pack policy`.

Constructing the PolicyPack starts the analyzer's gRPC server and blocks, so nothing but this file
does it; the rules live in policies.py (imported by the tests). The pack judges with the project's
own code (admission/, settings/), so the repository root goes on sys.path first.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import EnforcementLevel, Policy, PolicyPack

from policy.policies import POLICIES
from settings.load import PROJECT

PolicyPack(
    name=PROJECT,
    description="ClearML on OpenShift: restricted-v2 admission, Pod Security restricted, SCC grants, TLS, "
    "secrets, resources and probes, pinned images.",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=list[Policy](POLICIES),
)
