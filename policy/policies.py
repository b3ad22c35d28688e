"""The clearml-openshift policy pack, assembled from its rules (policy/rules/, one module each) into
mandatory `ResourceValidationPolicy`s; `__main__.py` puts exactly `POLICIES` into the `PolicyPack`.
Nothing here constructs a `PolicyPack` (that starts a gRPC server), so tests import this module freely.

Rules read manifests through policy/manifest.py (pod templates, unknown values) and reuse the
project's own definitions: `admission` (OpenShift SCC admission and Pod Security `restricted`),
`vocabulary` (SCC names, the grant rule, image references) and `policy.tls_verification`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from policy.manifest import Manifest, kubernetes_manifest
from policy.rules import RULES
from policy.rules.edge_tls import check_edge_tls
from policy.rules.no_literal_secrets import check_no_literal_secrets
from policy.rules.pinned_images import check_pinned_images
from policy.rules.pod_security import check_pod_security_restricted
from policy.rules.resources_and_probes import check_resources_and_probes
from policy.rules.scc_admission import check_scc_admission
from policy.rules.scc_grants import check_scc_grants
from policy.rules.tls_verification_on import check_tls_verification
from program import sdk

__all__ = ["CHECKS", "POLICIES", "check_edge_tls", "check_no_literal_secrets", "check_pinned_images",
           "check_pod_security_restricted", "check_resources_and_probes", "check_scc_admission", "check_scc_grants",
           "check_tls_verification", "violations"]

# Policy name -> the rule's check. The pack reports "<description>\n<message>".
CHECKS: dict[str, Callable[..., list[str]]] = {rule.NAME: rule.check for rule in RULES}


def messages(rule: ModuleType, manifest: Manifest, config: Mapping[str, Any]) -> list[str]:
    """The violations `rule` finds in `manifest`, given the pack's config for that rule."""
    read_config = getattr(rule, "read_config", None)
    return rule.check(manifest, *read_config(config)) if read_config else rule.check(manifest)


def _validator(rule: ModuleType):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        manifest = kubernetes_manifest(args.resource_type, args.props)
        if manifest is None:
            return
        for message in messages(rule, manifest, args.get_config() or {}):
            report_violation(message, None)

    validate.__name__ = f"validate_{rule.NAME.replace('-', '_')}"
    return validate


POLICIES: list[ResourceValidationPolicy] = [
    ResourceValidationPolicy(
        name=rule.NAME,
        description=rule.DESCRIPTION,
        validate=_validator(rule),
        enforcement_level=rule.ENFORCEMENT,
        config_schema=getattr(rule, "CONFIG_SCHEMA", None),
    )
    for rule in RULES
]


# The options of a resource that sets none (what the engine sends for one).
_NO_OPTIONS = PolicyResourceOptions(protect=False, ignore_changes=[], delete_before_replace=None, aliases=[],
                                    custom_timeouts=PolicyCustomTimeouts(0, 0, 0), additional_secret_outputs=[])


def violations(resource_type: str, props: Any, config: Mapping[str, Mapping[str, Any]] | None = None
               ) -> dict[str, list[str]]:
    """Run every policy on one resource the way the analyzer does (props behind pulumi_policy's
    unknown-checking proxy); {policy name: messages} for the policies it violates."""
    out: dict[str, list[str]] = {}
    wrapped = sdk.unknown_checking_proxy(props) if isinstance(props, dict) else props
    for policy in POLICIES:
        found: list[str] = []

        def report(message: str, urn: str | None = None, found: list[str] = found) -> None:
            found.append(message)

        args = ResourceValidationArgs(resource_type, wrapped, f"urn:pulumi:test::test::{resource_type}::x", "x",
                                      _NO_OPTIONS, None, dict((config or {}).get(policy.name) or {}))
        policy.validate(args, report)
        if found:
            out[policy.name] = found
    return out
