"""Pulumi mocks for unit tests and the tools that time them (scripts/benchmark_eval.py): a recording
mock monitor, the program run as `pulumi up` runs it, and a per-session cache of whole-program runs.

Kept apart from conftest.py so that it is one module (pytest imports conftest.py as `conftest` while
the tests import it as `tests.conftest`: two copies, two caches) and so that it needs no pytest.

`RecordingMocks.resources` lists every registered resource as a `Recorded(typ, name, inputs, outputs)`
with the inputs exactly as the provider would receive them (camelCase manifests). Tests assert on
those manifests, not on Python objects.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import pickle
import runpy
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime.mocks
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from program import sdk  # noqa: E402
from tests.fake_cluster import FakeCluster  # noqa: E402

try:
    import fcntl
except ImportError:  # not POSIX: every xdist worker keeps its own cache
    fcntl = None  # type: ignore[assignment]

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
    aliases: list[str] = field(default_factory=list)  # the names of its aliases (a child that was renamed)
    timeouts: dict[str, str] = field(default_factory=dict)  # customTimeouts given (create, update, delete)

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


def unwrap(value: Any) -> Any:
    return _unwrap(value)[0]


def is_secret(value: Any) -> bool:
    return _unwrap(value)[1]


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.resources: list[Recorded] = []
        # The cluster preflight sees and the `connect` that hands it out (the `cluster` fixture's):
        # `deploy_config` reuses an earlier run only while both are as that fixture made them.
        self.cluster: FakeCluster | None = None
        self.connect: Callable[..., Any] | None = None

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
    """Adds what MockResourceArgs leaves out: the parent, retainOnDelete, dependencies, ignoreChanges,
    aliases and customTimeouts of every registration."""

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
                         dependencies=list(request.dependencies), ignore_changes=list(request.ignoreChanges),
                         aliases=[a.spec.name or a.urn for a in request.aliases],
                         timeouts={k: v for k in ("create", "update", "delete")
                                   if (v := getattr(request.customTimeouts, k, ""))})
        return response

    def ReadResource(self, request):
        response = super().ReadResource(request)
        self._record(request, dependencies=list(request.dependencies))
        return response


def fake_connect(fake: FakeCluster, project: str) -> Callable[[Any], FakeCluster]:
    """A `preflight.cluster.connect` handing out `fake`, its Secrets naming a MongoDB CA when the
    stack's config gives one (as the `cluster` fixture installs it)."""

    def connect(config):
        mongodb = config.get(f"{project}:mongodb") or "{}"
        mongodb = json.loads(mongodb) if isinstance(mongodb, str) else mongodb
        fake.mongodb_ca = bool((mongodb.get("external") or {}).get("ca"))
        return fake

    return connect


def set_mocks(recording: RecordingMocks, project: str) -> None:
    """Point the Pulumi runtime at `recording` (for the current event loop), config emptied."""
    pulumi.runtime.set_mocks(recording, project=project, stack="test", preview=False, monitor=RecordingMonitor(recording))
    sdk.set_config({}, [])


@functools.cache
def _stack_file(stack: str) -> tuple[tuple[str, str], ...]:
    data = yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return tuple((key, value if isinstance(value, str) else json.dumps(value))
                 for key, value in (data.get("config") or {}).items())


def stack_config(stack: str) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program: JSON text for objects. (The file
    is read once per session; every call returns a new dict, which the caller may change.)"""
    return dict(_stack_file(stack))


def run_program(config: dict[str, str], secret_keys: list[str] | None = None) -> dict[str, Any]:
    """Run __main__.py under the current mocks with `config` (`secret_keys` set as secrets), as `pulumi up` would."""
    sdk.set_config(config, secret_keys or [])
    return runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")


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


# ---- whole-program runs, once per session and config ----------------------------------------------
#
# Most program runs of the unit suite repeat one another: the dev stack alone runs in seven files.
# A run costs ~0.3 s (most of it the SDK registering ~100 resources with the mock monitor), so the
# suite keeps each run's recording, pickled, and hands every later test a fresh unpickled copy (a test
# that mutates a manifest mutates its own). Under pytest-xdist the pickles also sit in a directory
# every worker of the session shares, so a config runs once per session, not once per worker.

# What a run's outcome depends on besides its config: the engine's config variables and the local
# target switches (program/local_target.py). `deploy_config` keys on them too.
_ENVIRONMENT_PREFIXES = ("PULUMI_", "CLEARML_OPENSHIFT_")
# Side effects a test may watch: a test that replaced one of these runs the program itself.
_LOG = {name: getattr(pulumi.log, name) for name in ("debug", "info", "warn", "error")}


class EvaluationStore:
    """Pickled program runs by key: in this process, and in `directory` when one is given (shared by
    the xdist workers of a session; a lock file per key lets one worker run a config while the other
    waits for its result)."""

    def __init__(self) -> None:
        self.directory: Path | None = None
        self._memory: dict[str, bytes] = {}

    def share(self, directory: Path) -> None:
        if fcntl is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self.directory = directory

    @contextlib.contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        assert self.directory is not None and fcntl is not None
        with open(self.directory / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        """What is stored under `key`; if nothing is yet, what `make()` returns, stored."""
        if key in self._memory:
            return self._memory[key]
        if self.directory is None:
            blob = make()
        else:
            path = self.directory / f"{key}.pickle"
            with self._locked(key):
                if path.exists():
                    blob = path.read_bytes()
                else:
                    blob = make()
                    partial = path.with_suffix(".partial")
                    partial.write_bytes(blob)
                    partial.replace(path)
        self._memory[key] = blob
        return blob


EVALUATIONS = EvaluationStore()


def _reusable(mocks: RecordingMocks) -> bool:
    """Whether a run recorded in another test is this test's run too: nothing registered yet in this test,
    the cluster preflight sees is the `cluster` fixture's, untouched, and no log function is replaced
    (a test watching warnings runs its own)."""
    import preflight.cluster

    return (not mocks.resources and mocks.cluster is not None and mocks.cluster == FakeCluster()
            and preflight.cluster.connect is mocks.connect
            and all(getattr(pulumi.log, name) is fn for name, fn in _LOG.items()))


def _snapshot(mocks: RecordingMocks, start: int) -> bytes:
    """What the run that began when `mocks` held `start` resources recorded, pickled."""
    assert mocks.cluster is not None
    return pickle.dumps({"resources": [vars(r) for r in mocks.resources[start:]],
                         "reviews": mocks.cluster.reviews, "mongodb_ca": mocks.cluster.mongodb_ca},
                        protocol=pickle.HIGHEST_PROTOCOL)


def _key(config: dict[str, str], secret_keys: list[str]) -> str:
    environment = {k: v for k, v in os.environ.items() if k.startswith(_ENVIRONMENT_PREFIXES)}
    return hashlib.sha256(json.dumps([config, secret_keys, environment], sort_keys=True).encode()).hexdigest()


def deploy_config(mocks: RecordingMocks, config: dict[str, str], secret_keys: list[str] | None = None) -> None:
    """`deploy(lambda: run_program(config, secret_keys))` for tests that read what the program
    registered (`mocks.resources`, and the cluster's `reviews`): the first test of the session with
    this config runs the program, later ones get a copy of that run's recording. A test that changed
    the cluster or replaced `preflight.cluster.connect` or a `pulumi.log` function gets a run of its
    own (such a run is never served from, nor added to, the cache); one that needs the program's
    Output objects calls `deploy_program`."""
    keys = sorted(secret_keys or [])
    if not _reusable(mocks):
        deploy(lambda: run_program(config, keys))
        return
    fresh, start = [], len(mocks.resources)

    def make() -> bytes:
        deploy(lambda: run_program(config, keys))
        fresh.append(True)
        return _snapshot(mocks, start)

    blob = EVALUATIONS.get(_key(config, keys), make)
    if fresh:
        return  # this test's own run: mocks and cluster already hold it
    # As the run itself would leave them: the stack registered (set_mocks started that), the program's
    # resources recorded, its reviews on the cluster, its config set.
    deploy(lambda: None)
    run = pickle.loads(blob)
    mocks.resources[:] = [Recorded(**fields) for fields in run["resources"]]
    assert mocks.cluster is not None
    mocks.cluster.reviews[:] = run["reviews"]
    mocks.cluster.mongodb_ca = run["mongodb_ca"]
    sdk.set_config(config, keys)


def deploy_program(mocks: RecordingMocks, config: dict[str, str], secret_keys: list[str] | None = None) -> dict[str, Any]:
    """`deploy(lambda: run_program(config, secret_keys))`, always a run of its own: returns the
    program's globals (its components and their Outputs, tied to this test's event loop). Its
    recording is kept for later `deploy_config` calls with the same config."""
    keys = sorted(secret_keys or [])
    reusable, start = _reusable(mocks), len(mocks.resources)  # before the run: preflight's reviews change the cluster
    program = deploy(lambda: run_program(config, keys))
    if reusable:
        EVALUATIONS.get(_key(config, keys), lambda: _snapshot(mocks, start))
    return program
