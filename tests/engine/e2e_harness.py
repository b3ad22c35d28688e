"""The end-to-end deployment shared by the e2e test modules (fixture `deployed` in conftest.py).

It is exactly what `make up` does without a kubeconfig: `scripts/pulumi.sh up dev` on the local
cluster (the engine fixture's, found through CLEARML_OPENSHIFT_LOCAL), which lays local/overlay.yaml
over Pulumi.dev.yaml, deploys the MongoDB stand-in, runs `pulumi up` with the policy pack and full
await (no skipAwait anywhere), then forwards the web app, API and file server to loopback and
prints how to log in. Every later Pulumi command of the e2e tests goes through scripts/pulumi.sh too.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.engine.conftest import ROOT, Engine

sys.path.insert(0, str(ROOT / "scripts"))
import local_stack

STACK = "dev"
CONFIG = local_stack.local_config(ROOT, STACK)
NAMESPACE = CONFIG["clearml-openshift:namespace"]["name"]
MONGO_NAMESPACE = local_stack.MONGODB_NAMESPACE
UP_TIMEOUT = 1800


def local_dir(engine: Engine) -> Path:
    return Path(engine.env["CLEARML_OPENSHIFT_LOCAL"])


def local_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment as a user's shell without a kubeconfig: scripts/pulumi.sh picks
    the local cluster, its backend and the local overlay by itself (and awaits readiness)."""
    drop = ("KUBECONFIG", "PULUMI_BACKEND_URL", "CLEARML_OPENSHIFT_LOCAL_TARGET")
    return {k: v for k, v in engine.env.items() if k not in drop}


def full_await_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment without the no-await switch, for stacks they run themselves."""
    return {k: v for k, v in engine.env.items() if k != "CLEARML_OPENSHIFT_LOCAL_TARGET"}


def pulumi_sh(engine: Engine, command: str, *args: str, check: bool = True, timeout: int = UP_TIMEOUT):
    """`scripts/pulumi.sh COMMAND dev ARGS...`, timed into engine.timings."""
    start = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "pulumi.sh"), command, STACK, *args], cwd=ROOT,
                            env=local_env(engine), capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    engine.timings.setdefault(f"{STACK}: scripts/pulumi.sh {command} (local target)", []).append(round(seconds, 2))
    if check and result.returncode != 0:
        raise AssertionError(f"scripts/pulumi.sh {command} {STACK} {' '.join(args)} failed ({result.returncode}) "
                             f"after {seconds:.0f}s:\n{(result.stdout + result.stderr)[-6000:]}\n{diagnostics(engine)}")
    return result


def outputs(engine: Engine) -> dict:
    return json.loads(pulumi_sh(engine, "output", "--json", "--show-secrets", timeout=300).stdout)


def access(engine: Engine) -> dict:
    """What the last `up` wrote next to the project copy: the namespace and the loopback URLs."""
    return json.loads((local_dir(engine) / "project" / "access.json").read_text())


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


def deploy(engine: Engine) -> tuple[float, str]:
    """`make up`'s path: returns the seconds it took and what it printed on stdout."""
    start = time.monotonic()
    result = pulumi_sh(engine, "up")
    seconds = time.monotonic() - start
    # scripts/pulumi.sh reports `pulumi up` alone: from its start to every object ready (full await).
    up = re.search(r"^pulumi up: exit 0 after (\d+)s$", result.stderr, re.MULTILINE)
    if up:
        engine.timings.setdefault("e2e: pulumi up to all ready (s)", []).append(float(up.group(1)))
    return seconds, result.stdout


def api_login(api: str, key: str, secret: str) -> tuple[int, dict]:
    """auth.login with a key pair: (HTTP status, answer), through the loopback forward, which needs a
    moment to reconnect after the API server's pod was replaced."""
    request = urllib.request.Request(f"{api}/auth.login", data=b"{}", headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()})
    for attempt in range(40):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
        except OSError:
            if attempt == 39:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")
