"""The Kubernetes agent, end to end, in a second stack on the local cluster (real pods, real glue).

The dev stack with the local overlay (as `make up` deploys it), plus the agent, in its own namespace
with its own MongoDB stand-in, deployed with full await: the glue pod starts and registers on its
queue; a task enqueued with the `clearml` SDK makes the glue start a task pod, which OpenShift's own
SCC plugin admits under restricted-v2 with a UID from the namespace's range, and which runs the task
(a script that only prints) to completion, its output reported back to the server.

The images are stand-ins (README, "Stand-ins"): clearml-agent from PyPI on Debian for the glue and
the task pods, kubectl from the toolchain. Task pods cannot reach PyPI here, so the task asks, in
its container arguments, for what air-gapped clusters ask for: no agent update and no Python
environment install (CLEARML_AGENT_NO_UPDATE, CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL,
CLEARML_AGENT_SKIP_PIP_VENV_INSTALL), as ClearML documents for images with everything preinstalled.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import pytest

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import CONFIG, SecondStack, standin_image

STACK = "e2e-agent"
NAMESPACE = "clearml-e2e-agent"
QUEUE = "k8s"


@pytest.fixture(scope="module")
def agent_stack(engine: Engine):
    """The second stack: prerequisites as scripts/local_stack.py makes them, then `up` with full await."""
    stack = SecondStack(engine, STACK, NAMESPACE)
    stack.prepare()
    agent_image = standin_image("clearml-agent")
    config = stack.config(
        elasticsearch={**CONFIG["clearml-openshift:elasticsearch"], "resources": {
            "requests": {"cpu": "50m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1536Mi"}}},
        agent={
            "enabled": True, "queue": QUEUE, "maxPods": 1,
            "image": agent_image, "taskImage": agent_image, "kubectlImage": standin_image("kubectl"),
            "resources": {"requests": {"cpu": "20m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "taskResources": {"requests": {"cpu": "20m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        })
    stack.write(config, new=True)
    try:  # a failed `up` is destroyed too, not left running beside the tests that follow
        stack.pulumi("up", "--yes", "--skip-preview")
        outputs = json.loads(stack.pulumi("stack", "output", "--json", "--show-secrets").stdout)
        ip = engine.kubectl("get", "service", "clearml-apiserver", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}")
        yield {"api": f"http://{ip}:8008", "keys": (outputs["testsAccessKey"], outputs["testsSecretKey"]),
               "task_image": f"{agent_image['repository']}:{agent_image['tag']}"}
    finally:
        stack.destroy()


SDK_SCRIPT = r"""
import json, pathlib, sys, tempfile, time
from clearml import Task
from clearml.backend_api.session.client import APIClient
queue, image, marker = sys.argv[1:4]
client = APIClient()
# The glue registers as a worker on its queue.
deadline = time.time() + 180
while time.time() < deadline:
    ids = [q.id for q in client.queues.get_all(name=queue) if q.name == queue]  # `name` is a pattern
    workers = [w for w in client.workers.get_all() if set(ids) & {entry.id for entry in (w.queues or [])}]
    if workers:
        break
    time.sleep(3)
registered = [w.id for w in workers]
script = pathlib.Path(tempfile.mkdtemp()) / "hello.py"
script.write_text(f"print({marker!r})\n")
task = Task.create(project_name="e2e-agent", task_name="hello", script=str(script), add_task_init_call=False,
                   docker=image, docker_args="-e CLEARML_AGENT_NO_UPDATE=1 -e CLEARML_AGENT_SKIP_PYTHON_ENV_INSTALL=1 "
                                             "-e CLEARML_AGENT_SKIP_PIP_VENV_INSTALL=/usr/bin/python3")
Task.enqueue(task, queue_name=queue)
enqueued = time.time()
deadline = enqueued + 600
while time.time() < deadline and task.get_status() not in ("completed", "failed", "stopped"):
    time.sleep(3)
status = task.get_status()
log = "\n".join(e.get("msg", "") for e in client.events.get_task_log(task=task.id, order="asc", batch_size=500).events)
print(json.dumps({"registered": registered, "task_id": task.id, "status": status, "log": log[-20000:],
                  "seconds": round(time.time() - enqueued, 1)}))
"""


@pytest.fixture(scope="module")
def task_run(engine: Engine, agent_stack):
    """Enqueue a task with the SDK while recording every task pod the glue creates."""
    marker = f"hello from a task pod {time.time_ns()}"
    env = {**os.environ, "HOME": tempfile.mkdtemp(prefix="clearml-sdk-"), "CLEARML_API_HOST": agent_stack["api"],
           "CLEARML_API_ACCESS_KEY": agent_stack["keys"][0], "CLEARML_API_SECRET_KEY": agent_stack["keys"][1]}
    sdk = subprocess.Popen([sys.executable, "-c", SDK_SCRIPT, QUEUE, agent_stack["task_image"], marker], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pods: dict[str, dict] = {}
    while sdk.poll() is None:
        for pod in engine.objects(NAMESPACE, "pods"):
            if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "task":
                pods[pod["metadata"]["name"]] = pod
        time.sleep(2)
    stdout, stderr = sdk.communicate()
    assert sdk.returncode == 0, stderr[-4000:]
    result = json.loads(stdout.strip().splitlines()[-1])
    # Measured, not enforced: enqueue to the task's final status (pod start, run, report), for BENCHMARKS.md.
    engine.timings.setdefault("e2e-agent: task enqueued to finished (s)", []).append(result["seconds"])
    return {**result, "marker": marker, "pods": pods, "stderr": stderr}


def _glue_logs(engine: Engine) -> str:
    return engine.kubectl("logs", "-n", NAMESPACE, "deployment/clearml-agent", "--tail=60", check=False)


def test_the_glue_registers_on_its_queue(engine: Engine, task_run):
    assert task_run["registered"], f"no worker on queue {QUEUE}\n{_glue_logs(engine)}"


def test_the_task_pod_is_admitted_as_restricted_v2_with_a_namespace_uid(engine: Engine, task_run):
    assert task_run["pods"], f"the glue created no task pod\n{_glue_logs(engine)}"
    ns = json.loads(engine.kubectl("get", "namespace", NAMESPACE, "-o", "json"))
    start, size = (int(x) for x in ns["metadata"]["annotations"]["openshift.io/sa.scc.uid-range"].split("/"))
    for name, pod in task_run["pods"].items():
        assert pod["metadata"]["annotations"]["openshift.io/scc"] == "restricted-v2", name
        for container in pod["spec"].get("initContainers", []) + pod["spec"]["containers"]:
            assert start <= container["securityContext"]["runAsUser"] < start + size, (name, container["name"])
        assert not pod["spec"].get("automountServiceAccountToken", True), "task pods get no token"


def test_the_task_runs_to_completion_and_reports_its_output(engine: Engine, task_run):
    assert task_run["status"] == "completed", (
        f"task {task_run['task_id']}: {task_run['status']}\n{task_run['log'][-6000:]}\n{_glue_logs(engine)}")
    assert task_run["marker"] in task_run["log"], task_run["log"][-6000:]
