"""Every private API of the Pulumi SDKs this project uses, in one place.

The pinned SDKs (requirements.txt: pulumi, pulumi-policy) expose these only as internals, so an
upgrade may move or change them; tests/test_sdk.py checks each one and names the one that broke.
Nothing else in the project imports an SDK's private module.

| what | from | used by |
|---|---|---|
| the config the program was given, and which keys are secret | `pulumi.runtime.config` | settings/load.py, tests |
| whether the program talks to a real engine (transforms only run there) | `pulumi.runtime.settings`, `pulumi.runtime.proto` | program/transforms.py |
| an input type (`...Args`) as the plain dict the API server takes | `pulumi._types` | components/agent.py (task pods) |
| unknown values, and the proxy the policy analyzer wraps properties in | `pulumi_policy.proxy` | policy/policies.py, tests |
| the call stack the SDK records with each resource (source positions) | `pulumi.runtime.resource` | tests (mocks) |
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def config_values() -> dict[str, Any]:
    """Every config value the running program was given (engine, tests or PULUMI_CONFIG)."""
    from pulumi.runtime import config as runtime_config

    merged = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    return merged


def config_secret_keys() -> set[str]:
    """The config keys of the running program that were set as secrets."""
    from pulumi.runtime import config as runtime_config

    return set(runtime_config.get_config_secret_keys_env()) | {
        key for key in config_values() if runtime_config.is_config_secret(key)}


def set_config(config: Mapping[str, str], secret_keys: list[str]) -> None:
    """Replace the program's config (unit tests: what the engine would pass)."""
    from pulumi.runtime import config as runtime_config

    runtime_config.set_all_config(dict(config), secret_keys)


def real_engine() -> bool:
    """Whether the program talks to a real engine's resource monitor (not unit-test mocks)."""
    from pulumi.runtime.proto import resource_pb2_grpc
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), resource_pb2_grpc.ResourceMonitorStub)


def input_type_to_dict(value: Any) -> Any:
    """An input type instance (`k8s.core.v1.ContainerArgs(...)`) as a dict keyed by the API's
    camelCase names, nested values left as they are; anything else unchanged."""
    from pulumi import _types

    return _types.input_type_to_dict(value) if _types.is_input_type(type(value)) else value


def unknown_values() -> dict[str, Any]:
    """The placeholders the policy analyzer passes for values not known during a preview, by kind
    (boolean, number, string, array, asset, archive, object)."""
    from pulumi_policy import proxy

    kinds = ("boolean", "number", "string", "array", "asset", "archive", "object")
    return {kind: getattr(proxy, f"UNKNOWN_{kind.upper()}_VALUE") for kind in kinds}


def unknown_checking_proxy(props: Any) -> Any:
    """`props` wrapped as the analyzer wraps resource properties (reading an unknown raises)."""
    from pulumi_policy import proxy

    return proxy.unknown_checking_proxy(props)


def skip_source_positions() -> None:
    """Unit tests only (the mocks never read them): register resources without the call stack the SDK
    walks for each one (`traceback.extract_stack`, a path per frame) to give the engine source positions
    for its diagnostics. About a tenth of a program run under the mocks; never done in a deployment."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    if not callable(getattr(resource, "_get_stack_trace", None)):
        raise RuntimeError("pulumi.runtime.resource._get_stack_trace is gone: the SDK records source positions "
                           "another way now; update program/sdk.py skip_source_positions")
    resource._get_stack_trace = source_pb2.StackTrace


def source_positions_skipped() -> bool:
    """Whether `skip_source_positions` is in effect (the resource registration's stack walk replaced)."""
    from pulumi.runtime import resource
    from pulumi.runtime.proto import source_pb2

    return resource._get_stack_trace is source_pb2.StackTrace and resource._get_source_position(
        resource._get_stack_trace()) is None
