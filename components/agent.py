"""The optional ClearML Kubernetes agent: clearml-agent's k8s glue, and the template of its task pods.

The glue pulls tasks from one queue and starts one pod per task with `kubectl apply` (clearml-agent
`clearml_agent/glue/k8s.py`, read at commit 47d35ef and at 76c533a, the source of the pinned image's
era). Its image, `allegroai/clearml-agent-k8s-base`, is built for root (`docker/k8s-glue/glue-build-aws/
Dockerfile`: `WORKDIR /root`, everything copied into `/root`; `build-resources/entrypoint.sh` pip-installs
clearml-agent at every start and appends the credentials to `~/clearml.conf`; `setup_aws.sh` puts kubectl in
`$HOME/bin`, i.e. `/root/bin`). Under restricted-v2 the process is a random UID for which `/root` is
unreadable, so none of that is used:

* the glue runs from a launcher of this program (`LAUNCHER`, in a ConfigMap) that imports `K8sIntegration`
  from the clearml_agent package the image installed system-wide: no `/root`, no pip, working directory
  and `HOME` in `/tmp`, credentials only from the environment (the image's entrypoint would also have
  copied them, via `~/clearml.conf`, into every task pod's command line);
* kubectl, a static binary, is copied by an init container from the official kubectl image into an
  emptyDir mounted read-only on `PATH`;
* the glue is the one pod that gets a ServiceAccount token, and its Role allows exactly the pod calls the
  glue makes in its own namespace (see `POD_VERBS`).

Task pods are built with the same shared builders as every other pod and shipped as `template.yaml`
(JSON, which is YAML): restricted-v2 security contexts, a read-only root filesystem with everything
written under `/tmp` (`HOME`), no token, their own ServiceAccount, and pinned to restricted-v2.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from program import sdk
from settings.blocks import Image, ResourceAmounts, Resources
from settings.models import AgentQueue, AgentSettings

from . import clearml_env as ce
from . import clearml_image as ci
from . import credentials as c
from . import runtime, tiers
from . import workload as w
from .context import TierContext

COMPONENT = tiers.AGENT
TASK_COMPONENT = tiers.AGENT_TASK  # labels app.kubernetes.io/name=clearml-task, component=task
CONFIG_DIR = "/etc/clearml-agent"  # launcher.py and template.yaml (absent in the image)
KUBECTL_DIR = "/opt/kubectl"  # emptyDir filled by the init container (absent in the image)
HEARTBEAT = "/tmp/clearml-agent.heartbeat"
# Read by the glue (clearml_agent/glue/definitions.py ENV_START_AGENT_SCRIPT_PATH, default
# `~/__start_agent__.sh`): where each task pod writes the script it runs.
START_SCRIPT = "/tmp/__start_agent__.sh"
RESTRICTED = "restricted-v2"
# Read in the task pod by the script the glue generates (clearml_agent/glue/k8s.py CONTAINER_BASH_SCRIPT,
# clearml-agent >= 1.9.0): skips its apt-get lines, which need root. Older glues run them; they fail harmlessly.
SKIP_APT = "CLEARML_AGENT_SKIP_CONTAINER_APT"

# registry.k8s.io/kubectl (Kubernetes >= 1.28; debian-base with coreutils since kubernetes/kubernetes#119592).
KUBECTL_IMAGE = Image(repository="registry.k8s.io/kubectl", tag="v1.32.0")
KUBECTL_COPY_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="10m", memory="32Mi"), limits=ResourceAmounts(cpu="100m", memory="128Mi")
)

# Everything the glue does to the cluster is one of these kubectl calls on pods in its own namespace
# (k8s.py, pending_pods_daemon.py; `kubectl ... -n <namespace>` with the template's namespace):
POD_VERBS = [
    "get",     # `kubectl apply` reads the pod before creating or patching it
    "list",    # `kubectl get pods -l <agent label>`: counting (agent.maxPods), pending and finished task pods
    "watch",   # `kubectl delete` waits for the deletion to finish
    "create",  # `kubectl apply` of a new task pod
    "patch",   # `kubectl apply` over an existing pod of the same task (re-enqueued)
    "delete",  # completed/failed pods, and pods of aborted tasks
]
# Left out of the chart's Role (clearml-agent chart templates/agentk8sglue-rbac.yaml): secrets, services and
# events (the glue never calls kubectl on them), namespaces/list (never called; the namespace comes from the
# template, so no ClusterRole is needed) and batch jobs (only with CLEARML_K8S_GLUE_KIND=job).

# Runs the glue from the installed package. Python 3.6 compatible: the pinned image is Ubuntu 18.04.
LAUNCHER = runtime.read("agent_launcher.py")

# Exit 0 while the heartbeat is younger than argv[2] seconds (missing file: exit 1).
HEARTBEAT_CHECK = "import os,sys,time; sys.exit(time.time() - os.stat(sys.argv[1]).st_mtime > float(sys.argv[2]))"

@dataclass(frozen=True)
class AgentArgs:
    context: TierContext  # namespace, images, features, storage defaults, SCC grants
    settings: AgentSettings
    credentials_secret: pulumi.Input[str]  # the `clearml-credentials` Secret, generated with `k8s_agent=True`
    apiserver_url: str  # in-cluster API server URL (ApiServer.url)
    public_urls: Mapping[str, pulumi.Input[str]]  # "app" and "files": what tasks print and store in artifact URLs
    kubectl_image: Image = KUBECTL_IMAGE
    credentials_digest: pulumi.Input[str] | None = None  # Credentials.digests["agent"]: the glue rolls with its keys


def _plain(value: Any) -> Any:
    """A Kubernetes input type from the shared builders as the JSON the API server takes (unset fields left out).

    Uses the SDK's own input-type translation (program/sdk.py; tests/test_agent.py parses the
    result), so task pods get exactly what `workload` builds for every other pod.
    """
    value = sdk.input_type_to_dict(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def access_env(secret: pulumi.Input[str]) -> list[k8s.core.v1.EnvVarArgs]:
    """The agent's key and secret, from the generated credentials Secret."""
    return [w.secret_env("CLEARML_API_ACCESS_KEY", secret, c.K8S_AGENT_KEY),
            w.secret_env("CLEARML_API_SECRET_KEY", secret, c.K8S_AGENT_SECRET)]


def _host_port(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class Agent(pulumi.ComponentResource):
    """One glue per queue (the agent's own queue: `<name>`; each of `queues`: `<name>-<queue slug>`), sharing
    one ServiceAccount and Role. Outputs: `service_account` (the glues'), `queues`, `template_config_maps`
    (each holds one queue's `template.yaml`)."""

    service_account: pulumi.Output[str]
    queues: list[str]
    template_config_maps: list[pulumi.Output[str]]

    def __init__(self, name: str, args: AgentArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:agent:Agent", name, None, opts)
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec, ns = args.settings, ctx.namespace

        self.template_config_maps: list[pulumi.Output[str]] = []
        account = w.service_account(name, ns, COMPONENT, child, scc=ctx.scc("agent"))
        task_account = w.service_account(f"{name}-task", ns, TASK_COMPONENT, child)
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=w.labels(COMPONENT)),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["pods"], verbs=POD_VERBS)],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{name}-rolebinding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=w.labels(COMPONENT)),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role",
                                              name=role.metadata.name),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=account.metadata.name, namespace=ns)],
            opts=child,
        )

        for suffix, queue in spec.all_queues:
            self._glue(name if suffix is None else f"{name}-{suffix}", queue, args, account.metadata.name,
                       task_account.metadata.name)

        self.service_account = account.metadata.name
        self.queues = [queue.name for _, queue in spec.all_queues]
        self.register_outputs({"service_account": self.service_account, "queues": self.queues,
                               "template_config_maps": self.template_config_maps})

    def _glue(self, name: str, queue: AgentQueue, args: AgentArgs, account: pulumi.Output[str],
              task_account: pulumi.Output[str]) -> None:
        """One glue Deployment (`name`) serving `queue`, with its task-pod template in a ConfigMap."""
        ctx = args.context
        child = pulumi.ResourceOptions(parent=self)
        spec, ns, pull = args.settings, ctx.namespace, ctx.images.pull_policy

        def task_template(secret: str, task_account_name: str, app_url: str, files_url: str) -> str:
            main = w.container(
                name="task",  # the glue renames it after the pod and sets image, command and args
                image=queue.task_image.ref,
                pull_policy=pull,
                resources_spec=queue.task_resources,
                read_only_root_filesystem=True,
                env_vars=w.env({
                    "HOME": "/tmp",  # ~/clearml.conf, ~/.clearml (venvs, caches), pip --user installs
                    "PYTHONUNBUFFERED": "1",
                    SKIP_APT: "1",  # apt-get needs root
                    "CLEARML_API_HOST": args.apiserver_url,
                    "CLEARML_WEB_HOST": app_url,
                    "CLEARML_FILES_HOST": files_url,
                }) + access_env(secret),
                mounts=[w.mount("tmp", "/tmp")],
                working_dir="/tmp",
            )
            pod = _plain(w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=queue.task_scheduling,
                component=TASK_COMPONENT,
                service_account=task_account_name,
                containers=[main],
                volumes=[w.empty_dir("tmp", queue.task_tmp_size)],
                restart_policy="Never",
                runtime_class=queue.runtime_class_name,
                # Admitted under restricted-v2 only, even if the glue's account is granted more.
                required_scc=RESTRICTED,
            ))
            labels = {**pod["metadata"]["labels"], "app.kubernetes.io/managed-by": "clearml-agent"}
            return json.dumps({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"namespace": ns, "labels": labels, "annotations": pod["metadata"]["annotations"]},
                "spec": pod["spec"],
            }, indent=2, sort_keys=True) + "\n"

        template_text = pulumi.Output.all(
            args.credentials_secret, task_account, args.public_urls["app"], args.public_urls["files"]
        ).apply(lambda values: task_template(*values))
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=ns, labels=w.labels(COMPONENT)),
            data={"template.yaml": template_text, "launcher.py": LAUNCHER},
            opts=child,
        )
        # The glue reads both files once, at start: a change must restart it.
        checksum = template_text.apply(lambda text: hashlib.sha256((text + LAUNCHER).encode()).hexdigest())

        copy_kubectl = w.container(
            name="kubectl",
            image=args.kubectl_image.ref,
            pull_policy=pull,
            resources_spec=KUBECTL_COPY_RESOURCES,
            read_only_root_filesystem=True,
            command=["cp", "/bin/kubectl", f"{KUBECTL_DIR}/kubectl"],
            mounts=[w.mount("kubectl", KUBECTL_DIR)],
        )
        # The image's WORKDIR is /root: a random UID cannot even start a process there.
        wait = ci.wait_init_container(spec.image, pull, ce.wait_command(_host_port(args.apiserver_url)), [],
                                      name="wait-for-apiserver", working_dir="/tmp")
        def heartbeat_probe(max_age: int, **timing: int) -> k8s.core.v1.ProbeArgs:
            return w.exec_probe(["python3", "-c", HEARTBEAT_CHECK, HEARTBEAT, str(max_age)], timeout=10, **timing)

        glue = w.container(
            name="k8s-glue",
            image=spec.image.ref,
            pull_policy=pull,
            resources_spec=spec.resources,
            read_only_root_filesystem=True,
            command=["python3", f"{CONFIG_DIR}/launcher.py", "--queue", queue.name, "--max-pods", str(queue.max_pods),
                     "--namespace", ns, "--template-yaml", f"{CONFIG_DIR}/template.yaml", "--heartbeat", HEARTBEAT],
            env_vars=w.env({
                "HOME": "/tmp",  # kubectl's cache, clearml_agent's ~/.clearml
                "TMPDIR": "/tmp",  # the task pod manifests the glue writes for kubectl apply
                "PATH": f"{KUBECTL_DIR}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "CLEARML_AGENT_NO_UPDATE": "1",  # never pip-install at start (also if the image entrypoint is used)
                "CLEARML_API_HOST": args.apiserver_url,
                "CLEARML_WEB_HOST": args.public_urls["app"],
                "CLEARML_FILES_HOST": args.public_urls["files"],
                # Fixed: the glue finds its task pods by a label derived from the worker id.
                "CLEARML_WORKER_ID": name,
                "CLEARML_DOCKER_IMAGE": queue.task_image.ref,  # tasks that name no container image
                "CLEARML_K8S_GLUE_START_AGENT_SCRIPT_PATH": START_SCRIPT,
            }) + access_env(args.credentials_secret),
            mounts=[w.mount("config", CONFIG_DIR, read_only=True), w.mount("kubectl", KUBECTL_DIR, read_only=True),
                    w.mount("tmp", "/tmp")],
            working_dir="/tmp",
            # No port to probe: the heartbeat proves the scheduling loop is running and kubectl works.
            startup=heartbeat_probe(600, period=10, failures=60),
            readiness=heartbeat_probe(120, period=30, failures=2),
            liveness=heartbeat_probe(300, period=60, failures=3),
        )
        w.deployment(
            f"{name}-deployment", name=name, namespace=ns, component=COMPONENT, replicas=1, opts=child,
            single_writer=True,  # two glues would schedule the same queue against one max-pods count
            template=w.pod_template(
                pull_secrets=ctx.images.pull_secrets,
                scheduling=args.settings.scheduling,
                required_scc=ctx.scc("agent"),
                component=COMPONENT,
                service_account=account,
                automount_token=True,  # kubectl talks to the Kubernetes API as this account
                containers=[glue],
                init_containers=[copy_kubectl, wait],
                volumes=[
                    k8s.core.v1.VolumeArgs(name="config", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                        name=config.metadata.name, default_mode=0o444)),
                    w.empty_dir("kubectl", "256Mi"),
                    w.empty_dir("tmp", "1Gi"),
                ],
                annotations={"checksum/config": checksum},
                credentials=[args.credentials_digest] if args.credentials_digest is not None else [],
            ),
        )
        self.template_config_maps.append(config.metadata.name)
