"""Pulumi mocks for unit tests: a fresh event loop and a recording mock monitor per test.

`mocks.resources` lists every registered resource as a `Recorded(typ, name, inputs, outputs)`
with the inputs exactly as the provider would receive them (camelCase manifests). Tests assert on
those manifests, not on Python objects.
"""

from __future__ import annotations

import asyncio
import base64
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.mocks
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from program import sdk  # noqa: E402
from settings import PROJECT  # noqa: E402  (Pulumi.yaml `name`, the config namespace)

# Every stack file of the repository: each test that covers stacks covers all of them, deriving what it
# expects from the stack's settings (tiers in-cluster or external, features on or off).
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))
MOCK_CA = "-----BEGIN CERTIFICATE-----\nMOCKCA\n-----END CERTIFICATE-----\n"


@dataclass
class Recorded:
    typ: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    parent: str = ""
    retain_on_delete: bool = False
    custom: bool = True
    read: bool = False  # a `.get()` of an existing object, not something the program creates
    dependencies: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.typ.rsplit(":", 1)[-1]


def _unwrap(value: Any) -> tuple[Any, bool]:
    """Strip Pulumi's secret envelopes; report whether any were present."""
    sig = "4dabf18193072939515e22adb298388d"
    if isinstance(value, dict):
        if value.get(sig) == "1b47061264138c4ac30d75fd1eb44270":
            inner, _ = _unwrap(value.get("value"))
            return inner, True
        out, secret = {}, False
        for k, v in value.items():
            out[k], s = _unwrap(v)
            secret |= s
        return out, secret
    if isinstance(value, list):
        items = [_unwrap(v) for v in value]
        return [i for i, _ in items], any(s for _, s in items)
    return value, False


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = dict(args.inputs)
        if args.resource_id and args.typ == "kubernetes:core/v1:Secret":
            # What cert-manager leaves in a CA Secret (base64 like the API server returns it).
            outputs["data"] = {"ca.crt": base64.b64encode(MOCK_CA.encode()).decode()}
        if args.typ.startswith("random:index/random"):
            # Deterministic stand-ins for generated values: long enough, and unique per resource.
            length = int(args.inputs.get("length", 32))
            outputs["result"] = (args.name.replace("-", "") * 8)[:length]
        self.resources.append(Recorded(args.typ, args.name, dict(args.inputs), outputs, custom=args.custom,
                                       read=bool(args.resource_id)))
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    # ---- queries used by the tests -------------------------------------------------------
    def of_kind(self, kind: str) -> list[Recorded]:
        return [r for r in self.resources if r.typ.startswith("kubernetes:") and r.kind == kind and not r.read]

    def one(self, kind: str, name: str) -> Recorded:
        """The Kubernetes object of this kind whose metadata.name is `name`."""
        found = [r for r in self.of_kind(kind) if r.inputs.get("metadata", {}).get("name") == name]
        assert len(found) == 1, f"expected one {kind} named {name}, found {[r.name for r in self.of_kind(kind)]}"
        return found[0]

    def manifest(self, kind: str, name: str) -> dict[str, Any]:
        """The object as it would be sent to the API server, secret envelopes removed."""
        return _unwrap(self.one(kind, name).inputs)[0]


class RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """Adds what MockResourceArgs leaves out: the parent and retainOnDelete of every registration."""

    def _record(self, request, **extra) -> None:
        for recorded in self.mocks.resources:
            if recorded.typ == request.type and recorded.name == request.name:
                recorded.parent = request.parent
                for key, value in extra.items():
                    setattr(recorded, key, value)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self._record(request, retain_on_delete=bool(request.retainOnDelete),
                         dependencies=list(request.dependencies), ignore_changes=list(request.ignoreChanges))
        return response

    def ReadResource(self, request):
        response = super().ReadResource(request)
        self._record(request, dependencies=list(request.dependencies))
        return response


@pytest.fixture
def cluster(monkeypatch):
    """The cluster preflight sees while the program runs under the mocks: one that has every
    prerequisite (tests/fake_cluster.py); a test takes away what it wants missing."""
    from tests.fake_cluster import FakeCluster
    fake = FakeCluster()

    def connect(config):
        mongodb = config.get(f"{PROJECT}:mongodb") or "{}"
        mongodb = json.loads(mongodb) if isinstance(mongodb, str) else mongodb
        fake.mongodb_ca = bool((mongodb.get("external") or {}).get("ca"))
        return fake

    monkeypatch.setattr("preflight.cluster.connect", connect)
    return fake


@pytest.fixture
def mocks(cluster):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recording = RecordingMocks()
    pulumi.runtime.set_mocks(recording, project=PROJECT, stack="test", preview=False,
                             monitor=RecordingMonitor(recording))
    sdk.set_config({}, [])
    yield recording
    sdk.set_config({}, [])
    asyncio.set_event_loop(None)
    loop.close()


def stack_config(stack: str) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program: JSON text for objects."""
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    out = {}
    for key, value in (data.get("config") or {}).items():
        out[key] = value if isinstance(value, str) else json.dumps(value)
    return out


def run_program(config: dict[str, str], secret_keys: list[str] | None = None) -> dict[str, Any]:
    """Run __main__.py under the current mocks with `config` (`secret_keys` set as secrets), as `pulumi up` would."""
    sdk.set_config(config, secret_keys or [])
    return runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


def unwrap(value: Any) -> Any:
    return _unwrap(value)[0]


def is_secret(value: Any) -> bool:
    return _unwrap(value)[1]


def deploy(build):
    """Run `build()` as a Pulumi program under the mocks and wait until every resource is registered.

    Returns what `build` returned. Assertions then run on `mocks.resources`, i.e. on every manifest
    the program produced, after the engine has seen all of them.
    """
    result = {}

    def program():
        result["value"] = build()

    pulumi.runtime.test(program)()
    return result["value"]


def pod_templates(resources: list[Recorded]) -> list[tuple[str, dict[str, Any]]]:
    """(`Kind/name`, pod spec) of every pod the program's workloads would create, secrets unwrapped,
    found by the policy pack's own walker (policy.manifest.pod_templates). The template's annotations
    are kept in the spec under the key `_annotations`."""
    from policy.manifest import pod_templates as walk

    out = []
    for r in resources:
        if not r.typ.startswith("kubernetes:"):
            continue
        obj = unwrap(r.inputs)
        for pod in walk({"kind": r.kind, **obj}):
            out.append((f"{r.kind}/{obj['metadata']['name']}", {**pod.spec, "_annotations": pod.annotations or {}}))
    return out


def containers(pod_spec: dict[str, Any], *, init: bool = True) -> list[dict[str, Any]]:
    fields = ("initContainers", "containers") if init else ("containers",)
    return [c for f in fields for c in pod_spec.get(f) or []]


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> literal value, or ("secret", name, key) for secretKeyRef values."""
    out = {}
    for item in container.get("env") or []:
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        out[item["name"]] = ("secret", ref["name"], ref["key"]) if ref else item.get("value")
    return out


_PROGRAM_RUNS: dict[str, list[Recorded]] = {}


def deploy_config(mocks: RecordingMocks, config: dict[str, str]) -> None:
    """`run_program(config)` under the mocks, once per session and config: later calls reuse the
    recorded resources. For tests that only read manifests (they never mutate them); tests that need
    the program's Output objects call `deploy(lambda: run_program(config))` themselves."""
    key = json.dumps(config, sort_keys=True)
    if key not in _PROGRAM_RUNS:
        deploy(lambda: run_program(config))
        _PROGRAM_RUNS[key] = list(mocks.resources)
    else:
        mocks.resources[:] = _PROGRAM_RUNS[key]
