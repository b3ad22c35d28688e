"""The private Pulumi SDK APIs of program/sdk.py, each checked on its own against the pinned SDKs: after
an SDK upgrade, the failing test names the API that moved or changed, and what in this project uses it.
Also: no other module of the project reaches into an SDK's private modules."""

from __future__ import annotations

import re

import pulumi
import pulumi_kubernetes as k8s
import pytest

from program import sdk
from tests.conftest import ROOT, walk


def test_config_values_and_secret_keys_as_the_engine_passes_them(monkeypatch):
    """pulumi.runtime.config (settings/load.py reads the stack config and its secret keys through it)."""
    sdk.set_config({"clearml-openshift:hosts": '{"baseDomain": "a.example.com"}',
                    "clearml-openshift:redis": '{"external": {}}'}, ["clearml-openshift:redis"])
    try:
        assert sdk.config_values()["clearml-openshift:hosts"] == '{"baseDomain": "a.example.com"}'
        assert sdk.config_secret_keys() == {"clearml-openshift:redis"}
    finally:
        sdk.set_config({}, [])
    # What the engine sets for a program it runs (PULUMI_CONFIG, PULUMI_CONFIG_SECRET_KEYS).
    monkeypatch.setenv("PULUMI_CONFIG", '{"clearml-openshift:mongodb": "{}"}')
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", '["clearml-openshift:mongodb"]')
    assert "clearml-openshift:mongodb" in sdk.config_values()
    assert "clearml-openshift:mongodb" in sdk.config_secret_keys()


def test_real_engine_is_false_without_an_engine():
    """pulumi.runtime.settings/proto (program/transforms.py registers transforms only with a real engine)."""
    assert sdk.real_engine() is False


def test_input_type_to_dict_gives_the_api_names():
    """pulumi._types (components/agent.py writes task-pod templates from the shared builders' Args)."""
    container = k8s.core.v1.ContainerArgs(name="c", image="i", image_pull_policy="IfNotPresent",
                                           security_context=k8s.core.v1.SecurityContextArgs(run_as_non_root=True))
    plain = sdk.input_type_to_dict(container)
    assert plain["imagePullPolicy"] == "IfNotPresent" and plain["name"] == "c"
    assert sdk.input_type_to_dict(plain["securityContext"]) == {"runAsNonRoot": True}
    assert sdk.input_type_to_dict({"a": 1}) == {"a": 1}  # anything else unchanged


def test_unknown_values_and_the_checking_proxy():
    """pulumi_policy.proxy (policy/policies.py tells unknown preview values apart, and runs rules as the analyzer)."""
    unknowns = sdk.unknown_values()
    assert set(unknowns) == {"boolean", "number", "string", "array", "asset", "archive", "object"}
    assert len(set(unknowns.values())) == 7 and all(isinstance(v, str) for v in unknowns.values())
    wrapped = sdk.unknown_checking_proxy({"known": 1, "later": unknowns["string"]})
    assert wrapped["known"] == 1
    with pytest.raises(Exception) as err:
        wrapped["later"]
    assert type(err.value).__name__ == "UnknownValueError"


# Private: `pulumi._*`, `pulumi.runtime.*` but its public testing API (`pulumi.runtime.mocks`), `pulumi_policy.proxy`.
PRIVATE = re.compile(r"^\s*(?:from|import)\s+(pulumi\._\w+|pulumi\.runtime(?!\.mocks\b)\b[.\w]*|pulumi_policy\.proxy|"
                     r"pulumi\s+import\s+_\w+|pulumi_policy\s+import\s+proxy)", re.M)


def test_resources_register_without_a_stack_walk_in_the_unit_tests():
    # tests/conftest.py applied it (sdk.skip_source_positions) to the function the SDK calls per resource.
    assert sdk.source_positions_skipped()
    sdk.skip_source_positions()  # again: still the SDK's function it replaces, found by name
    assert sdk.source_positions_skipped()


def test_no_other_module_imports_a_private_sdk_api():
    offenders = []
    def not_ours(parts: tuple[str, ...]) -> bool:
        return parts[0] in ("venv", "build", ".git")

    for path in sorted(walk(ROOT, "*.py", prune=not_ours)):
        parts = path.relative_to(ROOT).parts
        if not_ours(parts) or path == ROOT / "program" / "sdk.py":
            continue
        for match in PRIVATE.finditer(path.read_text()):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0).strip()}")
    assert offenders == [], "use program/sdk.py instead:\n" + "\n".join(offenders)
    assert pulumi.runtime.test  # the public testing API stays public (tests/conftest.py)
