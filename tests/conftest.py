"""Pulumi mocks for unit tests: a fresh event loop and a recording mock monitor per test.

The machinery lives in tests/mocking.py (see there); this file holds the fixtures and re-exports what
the tests import from `tests.conftest`. `mocks.resources` lists every registered resource as a
`Recorded(typ, name, inputs, outputs)` with the inputs exactly as the provider would receive them
(camelCase manifests). Tests assert on those manifests, not on Python objects.
"""

from __future__ import annotations

import asyncio
import fnmatch
import gc
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# A program run under the mocks allocates so many short-lived objects (the SDK's futures and tasks) that
# with CPython's default thresholds (700, 10, 10) the collector runs ~50 times per run, a quarter of its
# CPU time. Collecting less often changes no result, only when cyclic garbage is freed.
gc.set_threshold(20_000, 20, 20)

# PYTHONDONTWRITEBYTECODE=1 (set on some machines) makes every run, and each xdist worker, rewrite every
# test module's asserts (pytest keeps the result as bytecode) and compile the project again: ~0.6 s per
# process. Tests cache bytecode as Python does by default (__pycache__/ is ignored by git and left out
# by scripts/copy-project.sh).
sys.dont_write_bytecode = False

pytest.register_assert_rewrite("tests.mocking")  # its `assert`s report like the tests' own

from program import sdk  # noqa: E402
from settings import PROJECT  # noqa: E402  (Pulumi.yaml `name`, the config namespace)

# The mocks never read the source positions the SDK computes for each resource from its call stack (a
# tenth of a run). Only here, for pytest: scripts/benchmark_eval.py times the program as it runs.
sdk.skip_source_positions()
from tests.mocking import (  # noqa: E402,F401  (re-exported: the tests import these from here)
    EVALUATIONS,
    MOCK_CA,
    Recorded,
    RecordingMocks,
    RecordingMonitor,
    deploy,
    deploy_config,
    deploy_program,
    fake_connect,
    is_secret,
    run_program,
    set_mocks,
    stack_config,
    unwrap,
)

# Every stack file of the repository: each test that covers stacks covers all of them, deriving what it
# expects from the stack's settings (tiers in-cluster or external, features on or off).
STACKS = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in ROOT.glob("Pulumi.*.yaml"))


def walk(root: Path, pattern: str = "*", *, prune: Callable[[tuple[str, ...]], bool]) -> Iterator[Path]:
    """What `root.rglob(pattern)` yields (symlinked directories not entered), except below the directories
    whose parts relative to `root` `prune` is true for. For tests whose filter drops every path below
    such a directory anyway: rglob would walk all of venv/ (~20,000 paths, ~0.7 s) to drop it."""
    pending = [root]
    while pending:
        directory = pending.pop()
        try:
            entries = list(os.scandir(directory))
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            path = Path(entry.path)
            if fnmatch.fnmatchcase(entry.name, pattern):
                yield path
            if entry.is_dir(follow_symlinks=False) and not prune(path.relative_to(root).parts):
                pending.append(path)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config) -> None:
    """The interpreter's last collection, at exit, would walk every object the session made: ~0.6 s per
    process, on the critical path (xdist waits for its workers). The session is over; nothing left needs it."""
    gc.freeze()


@pytest.fixture(scope="session")
def _shared_evaluations(tmp_path_factory) -> None:
    """Under pytest-xdist, the program runs of every worker go to the session's base temp directory
    (the workers' own are below it), so each config runs once per session (tests/mocking.py)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        EVALUATIONS.share(tmp_path_factory.getbasetemp().parent / "program-runs")


@pytest.fixture
def cluster(monkeypatch):
    """The cluster preflight sees while the program runs under the mocks: one that has every
    prerequisite (tests/fake_cluster.py); a test takes away what it wants missing."""
    from tests.fake_cluster import FakeCluster
    fake = FakeCluster()
    monkeypatch.setattr("preflight.cluster.connect", fake_connect(fake, PROJECT))
    return fake


@pytest.fixture
def mocks(cluster, _shared_evaluations):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recording = RecordingMocks()
    import preflight.cluster
    recording.cluster, recording.connect = cluster, preflight.cluster.connect
    set_mocks(recording, PROJECT)
    yield recording
    sdk.set_config({}, [])
    asyncio.set_event_loop(None)
    loop.close()


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


def assert_restricted_v2(pods: list[tuple[str, dict[str, Any]]], scc_name: str, start: int) -> None:
    """Each (name, pod spec) is admitted unchanged by OpenShift's `scc_name` in a namespace whose UID
    range starts at `start` (10000 UIDs), every container gets a UID of that range, and the spec holds
    Pod Security `restricted` as it stands."""
    from admission import Namespace, admit, check_restricted, load_scc

    namespace = Namespace(uid_range=f"{start}/10000", supplemental_groups=f"{start}/10000", mcs="s0:c27,c4")
    for name, spec in pods:
        mutated, errors = admit(spec, load_scc(scc_name), namespace)
        assert errors == [], f"{name} rejected by {scc_name}: {errors}"
        for container in containers(mutated):
            assert start <= container["securityContext"]["runAsUser"] < start + 10000, name
        assert check_restricted(spec) == [], name


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    """name -> literal value, or ("secret", name, key) for secretKeyRef values."""
    out = {}
    for item in container.get("env") or []:
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        out[item["name"]] = ("secret", ref["name"], ref["key"]) if ref else item.get("value")
    return out
