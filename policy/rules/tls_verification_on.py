"""Rule `tls-verification-on`: TLS verification stays on."""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import EnforcementLevel

from policy.manifest import (
    Manifest,
    PodTemplate,
    command_lines,
    configmap_entries,
    describe,
    embedded_pods,
    env_values,
    is_unknown,
    pod_templates,
)
from policy.tls_verification import tls_verification_off

NAME = "tls-verification-on"
DESCRIPTION = 'Nothing switches TLS certificate verification off.'
ENFORCEMENT = EnforcementLevel.MANDATORY


_FALSY = ("false", "0", "no", "off", "none")
_TRUTHY = ("true", "1", "yes", "on")




def _env_switches_verification_off(name: str, value: str) -> str | None:
    upper = name.upper()
    tokens = [t for t in re.split(r"[^A-Z0-9]+", upper) if t]
    v = value.strip().strip("\"'").lower()
    if upper == "GIT_SSL_NO_VERIFY" and v:
        return f"{name}={value}"
    if upper in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE") and not v:
        return f"{name} is empty (requests then skips verification)"
    if ("INSECURE" in tokens or ("SKIP" in tokens and any(t.startswith("VERIF") for t in tokens))
            or ("NO" in tokens and "VERIFY" in tokens)) and v in _TRUTHY:
        return f"{name}={value}"
    if any(t in ("VERIFY", "VERIFYCERT", "VERIFYCERTS", "SSLVERIFY", "TLSVERIFY") for t in tokens) \
            and "NO" not in tokens and "SKIP" not in tokens and v in _FALSY:
        return f"{name}={value}"
    found = tls_verification_off(f"{name}={value}")
    return found[0] if found else None


def check_tls_verification(manifest: Manifest) -> list[str]:
    """Nothing switches certificate verification off: env values, command lines, probes, lifecycle
    hooks and ConfigMap data are checked against the patterns of policy.tls_verification (the ones
    tests/test_edge_tls.py applies to the whole repository), and env vars by name: *VERIFY* set to a
    false value, *INSECURE*/*SKIP*VERIFY* set to a true one, git's no-verify variable set at all, and
    an empty CA bundle for curl or requests."""
    where = describe(manifest)
    errors = []

    def env_checks(label: str, container: dict[str, Any]) -> None:
        for name, value in env_values(container):
            if isinstance(value, str) and not is_unknown(value):
                found = _env_switches_verification_off(name, value)
                if found:
                    errors.append(f"{where}: {label}: env switches TLS verification off ({found})")

    if manifest.get("kind") == "ConfigMap":
        for key, text in configmap_entries(manifest):
            for found in tls_verification_off(text):
                errors.append(f"{where}: data key {key} switches TLS verification off ({found})")
            for embedded in embedded_pods(text):
                for label, container, _ in PodTemplate(where, embedded, {}, False).containers():
                    env_checks(f"{key}: {label}", container)
        return errors
    for pod in pod_templates(manifest):
        where = pod.where
        for label, container, _ in pod.containers():
            env_checks(label, container)
            for line in command_lines(container):
                for found in tls_verification_off(line):
                    errors.append(f"{where}: {label}: the command line switches TLS verification off ({found})")
    return errors


check = check_tls_verification
