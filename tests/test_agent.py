"""The Kubernetes agent (k8s glue): its pod and the task-pod template pass restricted-v2, least-privilege
RBAC, paths under /tmp, credentials from the generated Secret, and the launcher really starts the glue."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import agent as agent_module
from components.agent import Agent, AgentArgs
from components.context import TierContext
from components.credentials import K8S_AGENT_KEY, K8S_AGENT_SECRET, Credentials, CredentialsArgs
from settings.models import AgentSettings, Image, ImageSettings, SccProfile
from tests.conftest import assert_restricted_v2, containers, deploy, env_of, unwrap

NS = "ml"
SETTINGS = AgentSettings(
    enabled=True, queue="gpu-queue", max_pods=7,
    task_image=Image(repository="quay.io/example/trainer", tag="2025.1"),
    task_resources={"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}},
)
URLS = {"app": "https://ml-app.apps.example.com", "files": "https://ml-files.apps.example.com"}


def _deploy(mocks, scc: SccProfile | None = None) -> dict[str, Any]:
    def build():
        credentials = Credentials("clearml-credentials", CredentialsArgs(namespace=NS, k8s_agent=True))
        return Agent("clearml-agent", AgentArgs(
            context=TierContext(namespace=NS, images=ImageSettings(), grants={"agent": scc} if scc else {}),
            settings=SETTINGS, credentials_secret=credentials.secret_name,
            apiserver_url="http://clearml-apiserver:8008", public_urls=URLS))

    component = deploy(build)
    deployment = mocks.manifest("Deployment", "clearml-agent")
    data = mocks.manifest("ConfigMap", "clearml-agent")["data"]
    return {"component": component, "deployment": deployment, "glue": deployment["spec"]["template"]["spec"],
            "data": data, "task": yaml.safe_load(data["template.yaml"])}


@pytest.fixture
def agent(mocks) -> dict[str, Any]:
    return _deploy(mocks)


def _pods(agent) -> list[tuple[str, dict[str, Any]]]:
    return [("glue", agent["glue"]), ("task", agent["task"]["spec"])]


# ---- admission ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scc_name", ["restricted-v2", "restricted-v2-release-4.16"])
@pytest.mark.parametrize("start", [1_000_680_000, 1_890_000_000])
def test_glue_and_task_pods_pass_restricted_v2(agent, scc_name, start):
    assert_restricted_v2(list(_pods(agent)), scc_name, start)


def test_both_pods_use_the_shared_security_builder(agent):
    forbidden = {"runAsUser", "runAsGroup", "fsGroup", "seLinuxOptions", "sysctls", "hostPath", "hostNetwork"}
    for name, spec in _pods(agent):
        assert spec["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}, name
        assert spec["enableServiceLinks"] is False, name
        for container in containers(spec):
            sc = container["securityContext"]
            assert sc == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                          "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                          "seccompProfile": {"type": "RuntimeDefault"}}, (name, container["name"])
        assert not forbidden & set(json.dumps(spec).replace('"', " ").split()), name


def test_task_pods_are_pinned_to_restricted_v2_even_when_the_glue_is_granted_more(mocks):
    agent = _deploy(mocks, scc=SccProfile("nonroot-v2", run_as_user=1000, fs_group=1000))
    annotations = agent["deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert annotations["openshift.io/required-scc"] == "nonroot-v2"
    assert agent["glue"]["securityContext"]["runAsUser"] == 1000
    assert agent["task"]["metadata"]["annotations"] == {"openshift.io/required-scc": "restricted-v2"}
    assert "runAsUser" not in agent["task"]["spec"]["securityContext"]


# ---- RBAC and tokens -------------------------------------------------------------------------------


def test_rbac_is_pods_in_the_namespace_only(agent, mocks):
    role = mocks.manifest("Role", "clearml-agent")
    assert role["metadata"]["namespace"] == NS
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods"],
                              "verbs": ["get", "list", "watch", "create", "patch", "delete"]}]
    binding = mocks.manifest("RoleBinding", "clearml-agent")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "clearml-agent"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "clearml-agent", "namespace": NS}]
    # The glue never lists namespaces: nothing cluster-scoped.
    assert not mocks.of_kind("ClusterRole") and not mocks.of_kind("ClusterRoleBinding")


def test_only_the_glue_pod_gets_a_token(agent, mocks):
    assert agent["glue"]["serviceAccountName"] == "clearml-agent"
    assert agent["glue"]["automountServiceAccountToken"] is True
    task = agent["task"]["spec"]
    assert task["serviceAccountName"] == "clearml-agent-task" and task["automountServiceAccountToken"] is False
    for name in ("clearml-agent", "clearml-agent-task"):
        assert mocks.manifest("ServiceAccount", name)["automountServiceAccountToken"] is False
    bound = [s["name"] for b in mocks.of_kind("RoleBinding") for s in unwrap(b.inputs)["subjects"]]
    assert "clearml-agent-task" not in bound


# ---- the glue pod ----------------------------------------------------------------------------------------


def _glue(agent) -> dict[str, Any]:
    return agent["glue"]["containers"][0]


def test_glue_runs_the_launcher_without_root_paths_or_pip(agent):
    main = _glue(agent)
    assert main["command"] == [
        "python3", "/etc/clearml-agent/launcher.py", "--queue", "gpu-queue", "--max-pods", "7", "--namespace", NS,
        "--template-yaml", "/etc/clearml-agent/template.yaml", "--heartbeat", "/tmp/clearml-agent.heartbeat"]
    assert "/root" not in json.dumps(agent["glue"]), "a random UID cannot read /root"
    for container in containers(agent["glue"]):
        if container["image"] == SETTINGS.image.ref:
            assert container["workingDir"] == "/tmp", "the image's WORKDIR /root is not accessible"
    env = env_of(main)
    assert env["CLEARML_AGENT_NO_UPDATE"] == "1"
    assert "pip" not in agent["data"]["launcher.py"] and "/root" not in agent["data"]["launcher.py"]
    assert env["HOME"] == "/tmp" and env["TMPDIR"] == "/tmp"
    assert env["CLEARML_K8S_GLUE_START_AGENT_SCRIPT_PATH"] == "/tmp/__start_agent__.sh"
    assert {"name": "tmp", "mountPath": "/tmp", "readOnly": False} in main["volumeMounts"]
    assert agent["deployment"]["spec"]["replicas"] == 1
    assert agent["deployment"]["spec"]["strategy"] == {"type": "Recreate"}


def test_glue_wiring(agent):
    env = env_of(_glue(agent))
    assert env["CLEARML_API_HOST"] == "http://clearml-apiserver:8008"
    assert env["CLEARML_WEB_HOST"] == URLS["app"] and env["CLEARML_FILES_HOST"] == URLS["files"]
    assert env["CLEARML_DOCKER_IMAGE"] == "quay.io/example/trainer:2025.1"
    assert env["CLEARML_WORKER_ID"] == "clearml-agent"
    assert _glue(agent)["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"},
                                         "limits": {"cpu": "1", "memory": "1Gi"}}
    assert _glue(agent)["image"] == "docker.io/allegroai/clearml-agent-k8s-base:1.24-21"


def test_kubectl_comes_from_an_init_container_onto_path(agent):
    inits = {c["name"]: c for c in agent["glue"]["initContainers"]}
    copy = inits["kubectl"]
    assert copy["image"].startswith("registry.k8s.io/kubectl:v1.")
    assert copy["command"] == ["cp", "/bin/kubectl", "/opt/kubectl/kubectl"]
    assert {"name": "kubectl", "mountPath": "/opt/kubectl", "readOnly": False} in copy["volumeMounts"]
    main = _glue(agent)
    assert {"name": "kubectl", "mountPath": "/opt/kubectl", "readOnly": True} in main["volumeMounts"]
    assert env_of(main)["PATH"].split(":")[0] == "/opt/kubectl"
    assert {v["name"]: v for v in agent["glue"]["volumes"]}["kubectl"]["emptyDir"]


def test_glue_waits_for_the_apiserver(agent):
    wait = {c["name"]: c for c in agent["glue"]["initContainers"]}["wait-for-apiserver"]
    assert wait["command"][:2] == ["python3", "-c"] and wait["command"][-1] == "clearml-apiserver:8008"


def test_exec_probes_read_the_heartbeat(agent, tmp_path):
    main = _glue(agent)
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        command = main[kind]["exec"]["command"]
        assert command[:2] == ["python3", "-c"] and command[3] == "/tmp/clearml-agent.heartbeat", kind
    check = main["livenessProbe"]["exec"]["command"]
    beat = tmp_path / "beat"

    def run() -> int:
        return subprocess.run([sys.executable, "-c", check[2], str(beat), check[4]]).returncode

    assert run() == 1  # no heartbeat yet
    beat.touch()
    assert run() == 0
    os.utime(beat, (time.time() - 3600, time.time() - 3600))
    assert run() == 1  # stale: the scheduling loop is stuck or kubectl fails


def test_a_template_change_restarts_the_glue(agent):
    annotation = agent["deployment"]["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    data = agent["data"]
    assert annotation == hashlib.sha256((data["template.yaml"] + data["launcher.py"]).encode()).hexdigest()


# ---- the task-pod template -----------------------------------------------------------------------------


def test_task_template(agent):
    task = agent["task"]
    assert task["apiVersion"] == "v1" and task["kind"] == "Pod" and task["metadata"]["namespace"] == NS
    labels = task["metadata"]["labels"]
    assert labels.items() >= {"app.kubernetes.io/name": "clearml-task", "app.kubernetes.io/component": "task",
                              "app.kubernetes.io/part-of": "clearml"}.items()
    spec = task["spec"]
    assert spec["restartPolicy"] == "Never" and spec["enableServiceLinks"] is False
    main = spec["containers"][0]
    assert main["image"] == "quay.io/example/trainer:2025.1"
    assert main["resources"] == {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "4", "memory": "8Gi"}}
    env = env_of(main)
    assert env["HOME"] == "/tmp" and env["CLEARML_AGENT_SKIP_CONTAINER_APT"] == "1"
    assert env["CLEARML_API_HOST"] == "http://clearml-apiserver:8008" and env["CLEARML_FILES_HOST"] == URLS["files"]
    assert main["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp", "readOnly": False}]
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "20Gi"}}]


def test_credentials_come_from_the_generated_secret(agent, mocks):
    generated = unwrap(mocks.one("Secret", "clearml-credentials").inputs)["stringData"]
    assert {K8S_AGENT_KEY, K8S_AGENT_SECRET} <= set(generated)
    for main in (_glue(agent), agent["task"]["spec"]["containers"][0]):
        env = env_of(main)
        assert env["CLEARML_API_ACCESS_KEY"] == ("secret", "clearml-credentials", K8S_AGENT_KEY)
        assert env["CLEARML_API_SECRET_KEY"] == ("secret", "clearml-credentials", K8S_AGENT_SECRET)


def test_the_agent_pair_exists_only_when_asked_for(mocks):
    deploy(lambda: Credentials("clearml-credentials", CredentialsArgs(namespace=NS)))
    generated = unwrap(mocks.one("Secret", "clearml-credentials").inputs)["stringData"]
    assert not {K8S_AGENT_KEY, K8S_AGENT_SECRET} & set(generated)


def test_no_generated_value_outside_the_secret(agent, mocks):
    generated = [r.outputs["result"] for r in mocks.resources if r.typ.startswith("random:")]
    for r in mocks.resources:
        if r.kind == "Secret" or r.typ.startswith("random:"):
            continue
        text = json.dumps(unwrap(r.inputs))
        assert not [v for v in generated if v[:16] in text], f"a generated credential leaks into {r.typ} {r.name}"


def test_apiserver_creates_the_agent_user_with_a_role(mocks):
    deploy(lambda: Credentials("clearml-credentials", CredentialsArgs(namespace=NS, k8s_agent=True)))
    data = mocks.manifest("Secret", "clearml-credentials")["stringData"]
    entry = json.loads(data["apiserver.secure.conf"])["credentials"]["k8s_agent"]
    assert (entry["role"], entry["display_name"]) == ("user", "Kubernetes Agent")
    assert (entry["user_key"], entry["user_secret"]) == (data[K8S_AGENT_KEY], data[K8S_AGENT_SECRET])


# ---- component --------------------------------------------------------------------------------------


def test_outputs_and_children(agent, mocks):
    component = agent["component"]
    assert component.queues == ["gpu-queue"]
    for r in mocks.resources:
        if r.typ.startswith("kubernetes:") and not r.name.startswith("clearml-credentials"):
            assert r.parent.endswith("clearml:agent:Agent::clearml-agent"), r.name
            assert r.name.startswith("clearml-agent"), r.name

    async def values():
        return await component.service_account.future(), [await m.future() for m in component.template_config_maps]

    assert asyncio.get_event_loop().run_until_complete(values()) == ("clearml-agent", ["clearml-agent"])


# ---- the launcher against a stand-in clearml_agent package -----------------------------------------------

FAKE_GLUE = textwrap.dedent('''
    import json, os

    class K8sIntegration(object):
        def __init__(self, **kwargs):
            self.kwargs = kwargs

        def _get_used_pods(self):
            return int(os.environ.get("FAKE_PODS", "0")), set()

        def k8s_daemon(self, queue, **kwargs):
            self._get_used_pods()
            with open(os.environ["FAKE_RECORD"], "w") as f:
                json.dump({"init": self.kwargs, "queue": queue, "daemon": kwargs}, f)
''')


@pytest.fixture
def fake_agent(tmp_path) -> Path:
    package = tmp_path / "site" / "clearml_agent" / "glue"
    package.mkdir(parents=True)
    (package.parent / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "k8s.py").write_text(FAKE_GLUE)
    (tmp_path / "bin").mkdir()
    kubectl = tmp_path / "bin" / "kubectl"
    kubectl.write_text("#!/bin/sh\nexit 0\n")
    kubectl.chmod(0o755)
    return tmp_path


def _launch(agent, root: Path, path: str, pods: int = 0) -> subprocess.CompletedProcess:
    launcher = root / "launcher.py"
    launcher.write_text(agent["data"]["launcher.py"])
    argv = _glue(agent)["command"][2:]
    argv[argv.index("--heartbeat") + 1] = str(root / "heartbeat")
    env = {"PATH": path, "PYTHONPATH": str(root / "site"), "FAKE_RECORD": str(root / "record.json"),
           "FAKE_PODS": str(pods)}
    return subprocess.run([sys.executable, str(launcher), *argv], env=env, capture_output=True, text=True)


def test_launcher_starts_the_glue_from_the_installed_package(agent, fake_agent):
    result = _launch(agent, fake_agent, f"{fake_agent / 'bin'}:/usr/bin:/bin")
    assert result.returncode == 0, result.stderr
    record = json.loads((fake_agent / "record.json").read_text())
    assert record == {"init": {"template_yaml": "/etc/clearml-agent/template.yaml", "namespace": NS,
                               "max_pods_limit": 7},
                      "queue": "gpu-queue", "daemon": {"create_queue": True}}
    assert (fake_agent / "heartbeat").exists()


def test_launcher_beats_only_when_kubectl_worked(agent, fake_agent):
    assert _launch(agent, fake_agent, f"{fake_agent / 'bin'}:/usr/bin:/bin", pods=-1).returncode == 0
    assert not (fake_agent / "heartbeat").exists()


def test_launcher_stops_plainly_without_kubectl(agent, fake_agent):
    result = _launch(agent, fake_agent, "/nonexistent")
    assert result.returncode == 1 and "kubectl is not on PATH" in result.stderr


def test_launcher_is_python_3_6_syntax():
    """The pinned glue image is Ubuntu 18.04 with Python 3.6."""
    ast.parse(agent_module.LAUNCHER, feature_version=(3, 6))
    ast.parse(agent_module.HEARTBEAT_CHECK, feature_version=(3, 6))
