"""What every rule of the policy pack reads: the manifest of a resource, its pod templates, and the
values Pulumi does not know yet.

Unknown values (`pulumi preview` before the values they depend on exist) reach a policy pack as
sentinel strings. A rule that meets one where it needs a value cannot judge that part and reports
nothing for it; `up` analyses the same resources again with every value known.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from admission.scc import CONTAINER_LISTS
from program import sdk

Manifest = dict[str, Any]

# ---- values Pulumi does not know yet ---------------------------------------------------------------

UNKNOWNS = frozenset(sdk.unknown_values().values())


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWNS


def has_unknown(value: Any) -> bool:
    if is_unknown(value):
        return True
    if isinstance(value, dict):
        return any(has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(has_unknown(v) for v in value)
    return False


def plain(value: Any) -> Any:
    """`args.props` as plain dicts and lists, unknowns kept as their sentinel strings.

    pulumi_policy wraps the props in proxies that raise `UnknownValueError` on an unknown value,
    which would skip the whole policy for the resource with an advisory "can't run during preview";
    the rules here rather judge everything that is known."""
    proxied_dict = isinstance(value, Mapping) and not isinstance(value, dict)
    proxied_list = isinstance(value, Sequence) and not isinstance(value, (list, tuple, str, bytes))
    if proxied_dict or proxied_list:
        value = value["__target"]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def describe(manifest: Manifest) -> str:
    name = as_dict(manifest.get("metadata")).get("name")
    return f"{manifest.get('kind', '?')} {name if isinstance(name, str) and not is_unknown(name) else '<unnamed>'}"


# ---- which resources are Kubernetes objects --------------------------------------------------------

# kubernetes:<group>/<version>:<Kind>; `core` is the legacy group. Patch resources carry a partial
# object (fields they leave out are not "missing"), Lists are collections: neither is judged.
_K8S_TYPE = re.compile(r"^kubernetes:(?P<group>[A-Za-z0-9.\-]+)/(?P<version>[A-Za-z0-9]+):(?P<kind>[A-Za-z0-9]+)$")


def kubernetes_manifest(resource_type: str, props: Any) -> Manifest | None:
    """The manifest of a Kubernetes object resource (apiVersion and kind filled in from the type
    token when absent), or None for anything else."""
    match = _K8S_TYPE.match(resource_type)
    if not match or match["kind"].endswith(("Patch", "List")):
        return None
    manifest = plain(props)
    if not isinstance(manifest, dict):
        return None
    group = "" if match["group"] == "core" else match["group"]
    manifest.setdefault("apiVersion", f"{group}/{match['version']}" if group else match["version"])
    manifest.setdefault("kind", match["kind"])
    return manifest


# ---- pod templates ------------------------------------------------------------------------------------

LONG_RUNNING_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController")
RUN_TO_COMPLETION_KINDS = ("Job", "CronJob")
WORKLOAD_KINDS = (*LONG_RUNNING_KINDS, *RUN_TO_COMPLETION_KINDS, "Pod", "PodTemplate")


class PodTemplate:
    """One pod a workload would create: its spec, the template's annotations, and whether its
    regular containers are meant to keep running (they then need probes)."""

    def __init__(self, where: str, spec: Any, annotations: Any, long_running: bool) -> None:
        self.where = where
        self.spec = spec
        self.annotations = annotations
        self.long_running = long_running

    @property
    def known(self) -> bool:
        return isinstance(self.spec, dict)

    def containers(self) -> list[tuple[str, dict[str, Any], bool]]:
        """(`initContainers[0] name`, container, long-running) for every container whose entry is known.
        Init containers with `restartPolicy: Always` are sidecars: they keep running too."""
        out = []
        for field in CONTAINER_LISTS:
            for index, container in enumerate(as_list(as_dict(self.spec).get(field))):
                if not isinstance(container, dict):
                    continue
                name = container.get("name")
                label = f"{field}[{index}]" + (f" {name}" if isinstance(name, str) and not is_unknown(name) else "")
                if field == "containers":
                    running = self.long_running
                elif field == "initContainers":
                    running = container.get("restartPolicy") == "Always"
                else:
                    running = False
                out.append((label, container, running))
        return out


def pod_templates(manifest: Manifest) -> list[PodTemplate]:
    kind = manifest.get("kind")
    if kind not in WORKLOAD_KINDS:
        return []
    where = describe(manifest)
    spec = manifest.get("spec")
    if kind == "Pod":
        restart = as_dict(spec).get("restartPolicy", "Always")
        return [PodTemplate(where, spec, as_dict(manifest.get("metadata")).get("annotations"), restart == "Always")]
    if kind == "PodTemplate":
        template = manifest.get("template")
        return [PodTemplate(where, as_dict(template).get("spec") if isinstance(template, dict) else template,
                            as_dict(as_dict(template).get("metadata")).get("annotations"), False)]
    if kind == "CronJob":
        job = as_dict(spec).get("jobTemplate")
        spec = as_dict(job).get("spec") if isinstance(job, dict) else job
    template = as_dict(spec).get("template") if isinstance(spec, dict) else spec
    return [PodTemplate(where, as_dict(template).get("spec") if isinstance(template, dict) else template,
                        as_dict(as_dict(template).get("metadata")).get("annotations"), kind in LONG_RUNNING_KINDS)]



# ---- what several rules read ---------------------------------------------------------------------------


def env_values(container: dict[str, Any]) -> list[tuple[str, Any]]:
    """(name, literal value) of every env entry that has a literal `value`."""
    out = []
    for item in as_list(container.get("env")):
        if isinstance(item, dict) and "value" in item and isinstance(item.get("name"), str):
            out.append((item["name"], item["value"]))
    return out


def command_lines(container: dict[str, Any]) -> list[str]:
    """Every command the container runs: command + args, probe and lifecycle exec commands."""
    lines = []
    main = [s for s in as_list(container.get("command")) + as_list(container.get("args")) if isinstance(s, str)]
    if main:
        lines.append(" ".join(main))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            exec_ = value.get("exec")
            if isinstance(exec_, dict):
                command = [s for s in as_list(exec_.get("command")) if isinstance(s, str)]
                if command:
                    lines.append(" ".join(command))
            for key, item in value.items():
                if key != "exec":
                    walk(item)

    for field in ("livenessProbe", "readinessProbe", "startupProbe", "lifecycle"):
        walk(container.get(field))
    return [line for line in lines if not is_unknown(line)]


def configmap_entries(manifest: Manifest) -> list[tuple[str, str]]:
    entries = []
    for key, value in as_dict(manifest.get("data")).items():
        if isinstance(value, str) and not is_unknown(value):
            entries.append((key, value))
    for key, value in as_dict(manifest.get("binaryData")).items():
        if isinstance(value, str) and not is_unknown(value):
            try:
                entries.append((key, base64.b64decode(value).decode()))
            except (ValueError, UnicodeDecodeError):
                continue
    return entries


def embedded_pods(text: str) -> list[dict[str, Any]]:
    """Pod templates kept as text in a ConfigMap (e.g. the agent's task-pod template.yaml)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    if isinstance(doc, dict) and isinstance(as_dict(doc.get("spec")).get("containers"), list):
        return [doc["spec"]]
    return []


# Where an unknown value changes what admission decides. Anywhere else (env values, commands,
# labels, ...) it is replaced by a placeholder and the rest of the pod is judged.
ADMISSION_FIELDS = frozenset({
    "securityContext", "volumes", "hostNetwork", "hostPID", "hostIPC", "hostUsers", "ports", "os",
})


def admission_view(spec: dict[str, Any]) -> dict[str, Any] | None:
    """`spec` with irrelevant unknowns replaced, or None when an unknown decides admission."""
    undecidable = False

    def walk(value: Any, path: tuple[Any, ...]) -> Any:
        nonlocal undecidable
        if is_unknown(value):
            parent = path[-2] if len(path) >= 2 else None
            if not path or any(p in ADMISSION_FIELDS for p in path) or path[-1] in CONTAINER_LISTS \
                    or parent in CONTAINER_LISTS:
                undecidable = True
            return "unknown-during-preview"
        if isinstance(value, dict):
            return {k: walk(v, (*path, k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    view = walk(spec, ())
    return None if undecidable else view
