"""The end-to-end deployment shared by the e2e test modules (fixture `deployed` in conftest.py).

`deploy(engine)` creates what the stack expects to exist (its namespace, which the SCC webhook
annotates like OpenShift does; the MongoDB stand-in and the Secret with its connection string),
then runs `pulumi up` of tests/engine/e2e/stack.yaml with full await (no skipAwait anywhere).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import yaml

from tests.engine.conftest import Engine

HERE = Path(__file__).resolve().parent / "e2e"
STACK = "e2e"
CONFIG = yaml.safe_load((HERE / "stack.yaml").read_text())["config"]
NAMESPACE = CONFIG["clearml-openshift:namespace"]["name"]
MONGO_NAMESPACE = "standin-mongodb"
UP_TIMEOUT = 1800


def full_await_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment without the local-target switch: Pulumi awaits readiness."""
    return {k: v for k, v in engine.env.items() if k != "CLEARML_OPENSHIFT_LOCAL_TARGET"}


def pulumi(engine: Engine, *args: str, check: bool = True, timeout: int = UP_TIMEOUT):
    start = time.monotonic()
    result = subprocess.run(["pulumi", *args, "--stack", STACK, "--non-interactive", "--color", "never"],
                            cwd=engine.workdir, env=full_await_env(engine), capture_output=True, text=True,
                            timeout=timeout)
    seconds = time.monotonic() - start
    engine.timings.setdefault(f"{STACK}: pulumi {args[0]} (full await)", []).append(round(seconds, 2))
    if check and result.returncode != 0:
        raise AssertionError(f"pulumi {' '.join(args)} failed ({result.returncode}) after {seconds:.0f}s:\n"
                             f"{(result.stdout + result.stderr)[-6000:]}\n{diagnostics(engine)}")
    return result


def diagnostics(engine: Engine) -> str:
    """Events and the last log lines of every pod that is not ready, in the stack's namespaces."""
    out = []
    for ns in (NAMESPACE, MONGO_NAMESPACE):
        if not engine.kubectl("get", "namespace", ns, "-o", "name", check=False):
            continue
        out.append(f"--- events in {ns}")
        out.append(engine.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False)[-6000:])
        for pod in engine.objects(ns, "pods"):
            statuses = pod["status"].get("containerStatuses") or []
            if statuses and all(s.get("ready") for s in statuses):
                continue
            name = pod["metadata"]["name"]
            out.append(f"--- pod {ns}/{name}: phase {pod['status'].get('phase')}, "
                       f"conditions {json.dumps(pod['status'].get('conditions'))}")
            for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]:
                out.append(f"--- logs {name}/{c['name']}")
                out.append(engine.kubectl("logs", "-n", ns, name, "-c", c["name"], "--tail=40", check=False))
    return "\n".join(out)


def deploy(engine: Engine) -> float:
    """Prerequisites, then `pulumi up` with full await. Returns the seconds the up took."""
    for ns in (NAMESPACE, MONGO_NAMESPACE):
        engine.kubectl("create", "namespace", ns)
    subprocess.run([str(engine.kubectl_bin), "apply", "--server-side", "-f", str(HERE / "mongodb-standin.yaml")],
                   env=engine.env, check=True, capture_output=True, text=True, timeout=60)
    engine.kubectl("rollout", "status", "-n", MONGO_NAMESPACE, "deployment/mongodb", "--timeout=180s")
    engine.kubectl("create", "secret", "generic", "standin-mongodb", "-n", NAMESPACE,
                   f"--from-literal=connectionString=mongodb://mongodb.{MONGO_NAMESPACE}.svc:27017/")
    engine.new_stack(STACK, (HERE / "stack.yaml").read_text())
    start = time.monotonic()
    pulumi(engine, "up", "--yes", "--skip-preview")
    return time.monotonic() - start
