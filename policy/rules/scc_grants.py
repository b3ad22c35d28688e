"""Rule `scc-grants`: SCC grants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import EnforcementLevel, PolicyConfigSchema

from policy.manifest import Manifest, as_dict, as_list, describe, has_unknown
from vocabulary.openshift import ELEVATED_SCCS, SCC_CLUSTER_ROLE_PREFIX, grant_refusal

NAME = "scc-grants"
DESCRIPTION = 'No SCC beyond nonroot-v2 is granted unless the policy config acknowledges it, and no custom SCC.'
ENFORCEMENT = EnforcementLevel.MANDATORY


SCC_ROLE_PREFIX = SCC_CLUSTER_ROLE_PREFIX


def _scc_grant_problem(scc: str, acknowledged: Sequence[str]) -> str | None:
    refusal = grant_refusal(scc, acknowledged, "the policy config acknowledges it: --policy-pack-config with "
                                               f'{{"scc-grants": {{"acknowledge": ["{scc}"]}}}}')
    return f"grants the SCC {refusal}" if refusal else None


def check_scc_grants(manifest: Manifest, acknowledge: Sequence[str] = ()) -> list[str]:
    """No SCC beyond nonroot-v2 without acknowledgement: RoleBindings and ClusterRoleBindings to
    `system:openshift:scc:<scc>`, and Roles/ClusterRoles allowing `use` of SCCs."""
    kind = manifest.get("kind")
    where = describe(manifest)
    errors = []
    if kind in ("RoleBinding", "ClusterRoleBinding"):
        role = as_dict(manifest.get("roleRef")).get("name")
        if isinstance(role, str) and role.startswith(SCC_ROLE_PREFIX):
            problem = _scc_grant_problem(role[len(SCC_ROLE_PREFIX):], acknowledge)
            if problem:
                errors.append(f"{where}: {problem}")
    elif kind in ("Role", "ClusterRole"):
        for index, rule in enumerate(as_list(manifest.get("rules"))):
            if not isinstance(rule, dict) or has_unknown(rule):
                continue
            groups, resources, verbs = (set(as_list(rule.get(k))) for k in ("apiGroups", "resources", "verbs"))
            if not (groups & {"security.openshift.io", "*"} and resources & {"securitycontextconstraints", "*"}
                    and verbs & {"use", "*"}):
                continue
            names = as_list(rule.get("resourceNames"))
            if not names:
                errors.append(f"{where}: rules[{index}] allows `use` of every SCC")
            for scc in names:
                problem = _scc_grant_problem(str(scc), acknowledge)
                if problem:
                    errors.append(f"{where}: rules[{index}] {problem}")
    return errors


CONFIG_SCHEMA = PolicyConfigSchema(
    properties={
        "acknowledge": {
            "type": "array",
            "items": {"type": "string", "enum": list(ELEVATED_SCCS)},
            "uniqueItems": True,
            "default": [],
            "description": "SCCs beyond nonroot-v2 (root or host access) that may be granted.",
        },
    },
)


check = check_scc_grants


def read_config(config: Mapping[str, Any]) -> tuple[list[str]]:
    """The arguments `check` takes from the pack's config for this rule: the SCCs acknowledged."""
    value = config.get("acknowledge") if isinstance(config, Mapping) else None
    return ([str(v) for v in value] if isinstance(value, (list, tuple)) else [],)
