"""The rules of the policy pack, one module each. A rule module declares its policy beside its code:
`NAME`, `DESCRIPTION`, `ENFORCEMENT`, and `check(manifest)` returning its violations (a manifest in,
messages out; empty when it passes or does not apply); a rule with settings adds `CONFIG_SCHEMA` and
`read_config(config)`, the further arguments `check` takes from the pack's config.
Adding a rule: a new module here, and its line in `RULES`."""

from __future__ import annotations

from . import (
    edge_tls,
    no_literal_secrets,
    pinned_images,
    pod_security,
    resources_and_probes,
    scc_admission,
    scc_grants,
    tls_verification_on,
)

RULES = (
    scc_admission,
    pod_security,
    scc_grants,
    edge_tls,
    no_literal_secrets,
    tls_verification_on,
    resources_and_probes,
    pinned_images,
)
