"""Several agent queues, each with a glue of its own and its own task pods (GPUs, a runtime class, node
selection, image, /tmp size), every task pod still restricted-v2."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

import preflight
from admission import Namespace, admit, check_restricted, load_scc
from preflight.cluster import api_path
from preflight.needs import needs
from settings import PROJECT, ConfigError, settings_from_config
from tests.conftest import containers, deploy_config, env_of
from tests.fake_cluster import FakeCluster

P = PROJECT
GPU_QUEUE = {
    "name": "gpu_a100", "maxPods": 2, "runtimeClassName": "nvidia", "taskTmpSize": "100Gi",
    "taskImage": {"repository": "nvcr.io/nvidia/pytorch", "tag": "25.01-py3"},
    "taskResources": {"extended": {"nvidia.com/gpu": 1}, "limits": {"memory": "32Gi"}},
    "taskScheduling": {"nodeSelector": {"nvidia.com/gpu.product": "A100-SXM4-80GB"},
                       "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
}
AGENT = {"enabled": True, "queue": "cpu", "taskResources": {"limits": {"cpu": "4"}},
         "queues": [GPU_QUEUE, {"name": "cpu-large", "maxPods": 8}]}


def _config(agent: dict[str, Any] = AGENT) -> dict[str, str]:
    return {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}), f"{P}:agent": json.dumps(agent)}


@pytest.fixture
def glues(mocks) -> dict[str, dict[str, Any]]:
    deploy_config(mocks, _config())
    out = {}
    for name in ("clearml-agent", "clearml-agent-gpu-a100", "clearml-agent-cpu-large"):
        deployment = mocks.manifest("Deployment", name)
        data = mocks.manifest("ConfigMap", name)["data"]
        glue = containers(deployment["spec"]["template"]["spec"], init=False)[0]
        out[name] = {"glue": glue, "env": env_of(glue), "task": yaml.safe_load(data["template.yaml"]),
                     "checksum": deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"]}
    return out


def _arg(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_one_glue_per_queue(glues):
    served = {name: (_arg(g["glue"]["command"], "--queue"), _arg(g["glue"]["command"], "--max-pods"))
              for name, g in glues.items()}
    assert served == {"clearml-agent": ("cpu", "4"), "clearml-agent-gpu-a100": ("gpu_a100", "2"),
                      "clearml-agent-cpu-large": ("cpu-large", "8")}
    # Each glue finds its own task pods by its worker id, and restarts when its own template changes.
    assert {g["env"]["CLEARML_WORKER_ID"] for g in glues.values()} == set(glues)
    assert glues["clearml-agent-gpu-a100"]["checksum"] != glues["clearml-agent"]["checksum"]


def test_the_gpu_queue_task_pods(glues):
    task = glues["clearml-agent-gpu-a100"]["task"]["spec"]
    [main] = task["containers"]
    assert main["image"] == "nvcr.io/nvidia/pytorch:25.01-py3"
    assert glues["clearml-agent-gpu-a100"]["env"]["CLEARML_DOCKER_IMAGE"] == "nvcr.io/nvidia/pytorch:25.01-py3"
    # Extended resources are requested and limited alike; the rest is the agent's, merged.
    assert main["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                                 "limits": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"}}
    assert task["runtimeClassName"] == "nvidia"
    assert task["nodeSelector"] == GPU_QUEUE["taskScheduling"]["nodeSelector"]
    assert task["tolerations"] == GPU_QUEUE["taskScheduling"]["tolerations"]
    assert [v["emptyDir"]["sizeLimit"] for v in task["volumes"] if v["name"] == "tmp"] == ["100Gi"]


def test_other_queues_inherit_the_agent_task_settings(glues):
    for name in ("clearml-agent", "clearml-agent-cpu-large"):
        task = glues[name]["task"]["spec"]
        [main] = task["containers"]
        assert main["image"] == "docker.io/library/python:3.11-slim-bookworm"
        assert main["resources"]["limits"] == {"cpu": "4", "memory": "4Gi"}
        assert "runtimeClassName" not in task and "nodeSelector" not in task
        assert [v["emptyDir"]["sizeLimit"] for v in task["volumes"] if v["name"] == "tmp"] == ["20Gi"]


@pytest.mark.parametrize("start", [1_000_680_000, 1_890_000_000])
def test_every_task_pod_is_restricted_v2(glues, start):
    namespace = Namespace(uid_range=f"{start}/10000", supplemental_groups=f"{start}/10000", mcs="s0:c27,c4")
    for name, g in glues.items():
        spec = g["task"]["spec"]
        _, errors = admit(spec, load_scc("restricted-v2"), namespace)
        assert errors == [] and check_restricted(spec) == [], (name, errors)
        assert g["task"]["metadata"]["annotations"]["openshift.io/required-scc"] == "restricted-v2"


@pytest.mark.parametrize("agent,key,message", [
    ({"queue": "gpu", "queues": [{"name": "gpu"}]}, "agent.queues.0.name", "served twice"),
    ({"queues": [{"name": "a"}, {"name": "a"}]}, "agent.queues.1.name", "served twice"),
    ({"queues": [{"name": "gpu.a"}, {"name": "gpu_a"}]}, "agent.queues.1.name", "clearml-agent-gpu-a, as gpu.a does"),
    ({"queues": [{"name": "gpu queue"}]}, "agent.queues[0].name", "not a queue name"),
    ({"queues": [{"name": "g", "taskResources": {"extended": {"cpu": 1}}}]}, "agent.queues[0].taskResources.extended",
     "not an extended resource name"),
    ({"taskResources": {"extended": {"example.kubernetes.io/x": 1}}}, "agent.taskResources.extended", "not kubernetes.io"),
    ({"taskResources": {"extended": {"nvidia.com/gpu": 0}}}, "agent.taskResources.extended.nvidia.com/gpu",
     "greater than or equal to 1"),
    ({"runtimeClassName": "Nvidia"}, "agent.runtimeClassName", "lower case"),
    ({"taskTmpSize": 20}, "agent.taskTmpSize", '"50Gi"'),
])
def test_bad_queues(agent, key, message):
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config({"enabled": True, **agent}))
    assert any(p.startswith(f"{P}:{key}") and message in p for p in err.value.problems), err.value.problems


def test_preflight_checks_runtime_classes():
    wanted = needs(settings_from_config(_config()))
    assert [(n.name, n.setting) for n in wanted.existing if n.kind == "RuntimeClass"] == [
        ("nvidia", f"{P}:agent.queues[0].runtimeClassName")]
    cluster = FakeCluster(objects={api_path("node.k8s.io", "v1", "runtimeclasses", "nvidia"): None})
    assert preflight.check(cluster, wanted).problems == [
        f"{P}:agent.queues[0].runtimeClassName: RuntimeClass nvidia does not exist: create it, or name one that exists"]
