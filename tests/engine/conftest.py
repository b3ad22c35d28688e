"""Fixtures of the engine tests: the toolchain, a local control plane, and a Pulumi project copy.

Everything comes from this repository's scripts: `scripts/toolchain.sh` builds (or reuses) the
Pulumi CLI, the providers, kube-apiserver, kube-controller-manager and etcd; `scripts/cluster.sh`
runs the control plane on loopback; the stand-in random provider is built by
`scripts/build-random-provider.sh`. The project is copied to a temporary directory so that
`pulumi stack init` never writes into the repository's stack files.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from engine_env import bin_dir, install_example_prerequisites, install_stack_prerequisites, prepare, script  # noqa: E402,F401

TIMINGS = ROOT / "build" / "engine-timings.json"


# Modules that change the shared deployment for good (Elasticsearch cannot go back to an older version): last.
LAST = ("test_e2e_upgrade.py",)


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/engine/" in str(item.fspath):
            item.add_marker(pytest.mark.engine)
    items.sort(key=lambda item: Path(str(item.fspath)).name in LAST)  # stable: the others keep their order


@dataclass
class Run:
    returncode: int
    output: str
    seconds: float


@dataclass
class Engine:
    workdir: Path
    env: dict[str, str]
    kubectl_bin: Path
    cluster: Path
    timings: dict[str, list[float]] = field(default_factory=dict)

    def pulumi(self, *args: str, stack: str, check: bool = True, timeout: int = 900) -> Run:
        start = time.monotonic()
        result = subprocess.run(["pulumi", *args, "--stack", stack, "--non-interactive", "--color", "never"],
                                cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=timeout)
        run = Run(result.returncode, result.stdout + result.stderr, time.monotonic() - start)
        self.timings.setdefault(f"{stack}: pulumi {args[0]}", []).append(round(run.seconds, 2))
        if check and run.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed ({run.returncode}):\n{run.output[-6000:]}")
        return run

    def kubectl(self, *args: str, check: bool = True) -> str:
        result = subprocess.run([str(self.kubectl_bin), *args], env=self.env, capture_output=True, text=True,
                                timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr}")
        return result.stdout

    def objects(self, namespace: str, kind: str) -> list[dict]:
        return json.loads(self.kubectl("get", kind, "-n", namespace, "-o", "json"))["items"]

    def scheduling_report(self) -> str:
        """Why pods may wait to be scheduled, for a failure message: each node's allocatable CPU and
        memory, what the running and pending pods request per namespace, and the scheduler's reason
        for every pod not scheduled."""
        def cpu(v: str) -> int:  # millicores
            return int(v[:-1]) if v.endswith("m") else int(float(v) * 1000)

        def mem(v: str) -> int:  # MiB
            units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "K": 1 / 1048.576, "M": 1 / 1.048576, "G": 953.67}
            for unit, factor in units.items():
                if v.endswith(unit):
                    return int(float(v[: -len(unit)]) * factor)
            return int(int(v) / 1048576)

        lines = []
        for node in json.loads(self.kubectl("get", "nodes", "-o", "json", check=False) or '{"items": []}')["items"]:
            alloc = node["status"].get("allocatable", {})
            lines.append(f"node {node['metadata']['name']}: allocatable cpu {alloc.get('cpu')} memory {alloc.get('memory')}")
        pods = json.loads(self.kubectl("get", "pods", "-A", "-o", "json", check=False) or '{"items": []}')["items"]
        per_namespace: dict[str, list[int]] = {}
        for pod in pods:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                continue
            spec = pod["spec"]
            requests = [c.get("resources", {}).get("requests", {}) for c in spec.get("containers", [])]
            init = [c.get("resources", {}).get("requests", {}) for c in spec.get("initContainers", [])]
            pod_cpu = max([sum(cpu(r.get("cpu", "0")) for r in requests)] + [cpu(r.get("cpu", "0")) for r in init])
            pod_mem = max([sum(mem(r.get("memory", "0")) for r in requests)] + [mem(r.get("memory", "0")) for r in init])
            total = per_namespace.setdefault(pod["metadata"]["namespace"], [0, 0, 0])
            total[0], total[1], total[2] = total[0] + 1, total[1] + pod_cpu, total[2] + pod_mem
            for condition in pod.get("status", {}).get("conditions", []):
                if condition["type"] == "PodScheduled" and condition["status"] != "True":
                    lines.append(f"not scheduled: {pod['metadata']['namespace']}/{pod['metadata']['name']}: "
                                 f"{condition.get('reason')}: {condition.get('message')}")
        for namespace, (count, pod_cpu, pod_mem) in sorted(per_namespace.items()):
            lines.append(f"requests in {namespace}: {count} pods, cpu {pod_cpu}m, memory {pod_mem}Mi")
        return "\n".join(lines)

    def new_stack(self, stack: str, config_text: str | None = None) -> None:
        if config_text is not None:
            (self.workdir / f"Pulumi.{stack}.yaml").write_text(config_text)
        self.pulumi("stack", "init", stack=stack)


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine")
    workdir, env = prepare(tmp, passphrase="engine-tests")
    # Where scripts/pulumi.sh keeps the local target (CLEARML_OPENSHIFT_LOCAL): the cluster, its
    # backend and project copy, so the e2e tests run `make up`'s own path on this cluster.
    cluster = tmp / "local" / "cluster"
    start = time.monotonic()
    script("cluster.sh", "start", str(cluster))
    cluster_start = round(time.monotonic() - start, 1)
    env.update({"KUBECONFIG": str(cluster / "kubeconfig"), "CLEARML_OPENSHIFT_LOCAL_TARGET": "1",
                "CLEARML_OPENSHIFT_LOCAL": str(cluster.parent)})
    install_example_prerequisites(env)
    engine = Engine(workdir=workdir, env=env, kubectl_bin=bin_dir() / "kubectl", cluster=cluster)
    engine.timings["cluster start, images imported (s)"] = [cluster_start]
    try:
        yield engine
    finally:
        TIMINGS.parent.mkdir(exist_ok=True)
        TIMINGS.write_text(json.dumps(engine.timings, indent=2, sort_keys=True) + "\n")
        subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "stop", str(cluster)], check=False, timeout=120)


@pytest.fixture(scope="session")
def deployed(engine):
    """The dev stack deployed on the local cluster as `make up` does it (tests/engine/e2e_harness.py),
    once, with full await. Yields what `up` printed."""
    from tests.engine.e2e_harness import deploy
    seconds, printed = deploy(engine)
    engine.timings.setdefault("e2e: make up's path to all ready (s)", []).append(round(seconds, 1))
    yield printed
