"""OpenShift SecurityContextConstraints admission of one pod, as the API server computes it.

Follows openshift/apiserver-library-go `pkg/securitycontextconstraints` (sccmatching/matcher.go,
provider.go, and the user/group/selinux/seccomp/capabilities/sysctl strategies):

1. the namespace's annotations give the UID range, the fsGroup (first GID of the block) and the
   MCS level (`openshift.io/sa.scc.uid-range`, `.../supplemental-groups`, `.../mcs`);
2. fields the pod leaves unset are filled in (mutation): runAsUser, fsGroup, seLinuxOptions,
   seccomp, capability drops, allowPrivilegeEscalation;
3. the result is validated; every violation is reported the way the admission error lists it.

`admit(pod_spec, scc, namespace)` returns `(mutated_spec, violations)`; the pod is admitted under
that SCC exactly when `violations` is empty. Pure functions over plain dicts (camelCase manifests).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

DATA = Path(__file__).with_name("data")

# k8s.io/kubernetes pkg/apis/core VolumeSource field -> SCC FSType name (apiserver-library-go util.GetVolumeFSType)
VOLUME_TYPES = {
    "awsElasticBlockStore": "awsElasticBlockStore", "azureDisk": "azureDisk", "azureFile": "azureFile",
    "cephfs": "cephFS", "cinder": "cinder", "configMap": "configMap", "csi": "csi", "downwardAPI": "downwardAPI",
    "emptyDir": "emptyDir", "ephemeral": "ephemeral", "fc": "fc", "flexVolume": "flexVolume", "flocker": "flocker",
    "gcePersistentDisk": "gcePersistentDisk", "gitRepo": "gitRepo", "glusterfs": "glusterfs", "hostPath": "hostPath",
    "image": "image", "iscsi": "iscsi", "nfs": "nfs", "persistentVolumeClaim": "persistentVolumeClaim",
    "photonPersistentDisk": "photonPersistentDisk", "portworxVolume": "portworxVolume", "projected": "projected",
    "quobyte": "quobyte", "rbd": "rbd", "scaleIO": "scaleIO", "secret": "secret", "storageos": "storageos",
    "vsphereVolume": "vsphereVolume",
}
# sysctl/mustmatchpatterns.go SafeSysctlAllowlist (+ kernel-gated ones)
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem",
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Namespace:
    """The SCC annotations OpenShift's cluster-policy-controller puts on every namespace."""

    uid_range: str = "1000680000/10000"
    supplemental_groups: str = "1000680000/10000"
    mcs: str = "s0:c26,c15"

    @property
    def uid_min_max(self) -> tuple[int, int]:
        start, size = (int(x) for x in self.uid_range.split("/"))
        return start, start + size - 1

    @property
    def fs_group(self) -> int:
        # getPreallocatedFSGroup: a single value, the first GID of the first block.
        return int(self.supplemental_groups.split(",")[0].split("/")[0])

    def annotations(self) -> dict[str, str]:
        return {
            "openshift.io/sa.scc.uid-range": self.uid_range,
            "openshift.io/sa.scc.supplemental-groups": self.supplemental_groups,
            "openshift.io/sa.scc.mcs": self.mcs,
        }


@cache
def load_scc(name: str) -> dict[str, Any]:
    """An SCC object shipped in admission/data (see SOURCES.md)."""
    return yaml.safe_load((DATA / f"{name}.yaml").read_text())


def _containers(spec: dict[str, Any]):
    for field in CONTAINER_LISTS:
        for index, container in enumerate(spec.get(field) or []):
            yield f"spec.{field}[{index}]", container


def _seccomp_profile(value: dict[str, Any] | None) -> str | None:
    if not value or not value.get("type"):
        return None
    kind = value["type"]
    if kind == "RuntimeDefault":
        return "runtime/default"
    if kind == "Localhost":
        return f"localhost/{value.get('localhostProfile', '')}"
    return kind.lower()  # Unconfined -> "unconfined"


def admit(pod_spec: dict[str, Any], scc: dict[str, Any], namespace: Namespace | None = None
          ) -> tuple[dict[str, Any], list[str]]:
    """Mutate and validate `pod_spec` against `scc` for a pod created in `namespace`."""
    ns = namespace or Namespace()
    spec = copy.deepcopy(pod_spec)
    errors: list[str] = []
    name = scc["metadata"]["name"]

    def reject(path: str, message: str) -> None:
        errors.append(f"provider {name}: {path}: {message}")

    uid_min, uid_max = ns.uid_min_max
    run_as_user = scc.get("runAsUser", {}).get("type")
    fs_group_type = scc.get("fsGroup", {}).get("type")
    selinux_type = scc.get("seLinuxContext", {}).get("type")
    allowed_seccomp = scc.get("seccompProfiles") or []
    allowed_caps = set(scc.get("allowedCapabilities") or [])
    required_drops = set(scc.get("requiredDropCapabilities") or [])
    allowed_volumes = set(scc.get("volumes") or [])
    psc = spec.setdefault("securityContext", {})

    # ---- pod level ---------------------------------------------------------------------------
    for field, allowed in (("hostNetwork", "allowHostNetwork"), ("hostPID", "allowHostPID"), ("hostIPC", "allowHostIPC")):
        if spec.get(field) and not scc.get(allowed):
            reject(f"spec.{field}", f"Host {field[4:]} is not allowed to be used")

    if fs_group_type == "MustRunAs":
        if "fsGroup" not in psc:
            psc["fsGroup"] = ns.fs_group
        elif psc["fsGroup"] != ns.fs_group:
            reject("spec.securityContext.fsGroup", f"{psc['fsGroup']} is not an allowed group")
    for group in psc.get("supplementalGroups") or []:
        if scc.get("supplementalGroups", {}).get("type") == "MustRunAs" and group != ns.fs_group:
            reject("spec.securityContext.supplementalGroups", f"{group} is not an allowed group")

    def check_selinux(path: str, options: dict[str, Any] | None, holder: dict[str, Any]) -> None:
        if selinux_type != "MustRunAs":
            return
        if options is None:
            holder["seLinuxOptions"] = {"level": ns.mcs}
            return
        for key in ("user", "role", "type"):
            if options.get(key):
                reject(f"{path}.seLinuxOptions.{key}", f"{options[key]} does not match required {key}")
        if options.get("level") and options["level"] != ns.mcs:
            reject(f"{path}.seLinuxOptions.level", f"must be {ns.mcs}")

    check_selinux("spec.securityContext", psc.get("seLinuxOptions"), psc)

    def check_seccomp(path: str, holder: dict[str, Any], default: bool) -> None:
        profile = _seccomp_profile(holder.get("seccompProfile"))
        if profile is None:
            if default and allowed_seccomp:
                holder["seccompProfile"] = {"type": "RuntimeDefault"}
            return
        if not allowed_seccomp:  # an SCC without seccompProfiles allows none (provider.go: "seccomp may not be set")
            reject(f"{path}.seccompProfile", "seccomp may not be set")
            return
        if allowed_seccomp and profile not in allowed_seccomp and not (
            profile == "docker/default" and "runtime/default" in allowed_seccomp
        ) and "*" not in allowed_seccomp:
            reject(f"{path}.seccompProfile", f"{profile} is not an allowed seccomp profile. Valid values are {allowed_seccomp}")

    check_seccomp("spec.securityContext", psc, default=True)

    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            reject("spec.securityContext.sysctls", f"unsafe sysctl {sysctl.get('name')!r} is not allowed")

    for index, volume in enumerate(spec.get("volumes") or []):
        kinds = [VOLUME_TYPES[k] for k in volume if k in VOLUME_TYPES]
        for kind in kinds:
            if kind not in allowed_volumes and "*" not in allowed_volumes:
                reject(f"spec.volumes[{index}]", f"{kind} volumes are not allowed to be used")

    pod_uid = psc.get("runAsUser")

    # ---- containers (init, regular, ephemeral) ------------------------------------------------
    for path, container in _containers(spec):
        sc = container.setdefault("securityContext", {})
        uid = sc.get("runAsUser", pod_uid)
        if run_as_user == "MustRunAsRange":
            if uid is None:
                sc["runAsUser"] = uid = uid_min
            elif not uid_min <= uid <= uid_max:
                reject(f"{path}.runAsUser", f"Invalid value: {uid}: must be in the ranges: [{uid_min}, {uid_max}]")
        elif run_as_user == "MustRunAsNonRoot":
            if uid == 0:
                reject(f"{path}.runAsUser", "running with the root UID is forbidden")
            non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            if uid is None and non_root is False:
                reject(f"{path}.runAsNonRoot", "must be true")
        if uid is not None and uid > 0 and sc.get("runAsNonRoot") is None:
            sc["runAsNonRoot"] = True

        if sc.get("privileged") and not scc.get("allowPrivilegedContainer"):
            reject(f"{path}.privileged", "Privileged containers are not allowed")
        if sc.get("allowPrivilegeEscalation") is None:
            sc["allowPrivilegeEscalation"] = bool(scc.get("allowPrivilegeEscalation")) and bool(
                scc.get("defaultAllowPrivilegeEscalation", True))
        elif sc["allowPrivilegeEscalation"] and not scc.get("allowPrivilegeEscalation"):
            reject(f"{path}.allowPrivilegeEscalation", "Allowing privilege escalation for containers is not allowed")

        caps = sc.setdefault("capabilities", {})
        for cap in caps.get("add") or []:
            if cap not in allowed_caps and "*" not in allowed_caps:
                reject(f"{path}.capabilities.add", f"capability {cap!r} may not be added")
        drops = set(caps.get("drop") or [])
        caps["drop"] = sorted(drops | required_drops)

        # The plugin reads the effective options (the container's, else the pod's), so a container
        # gets its own only when the pod has none (sccmatching provider.go, found by the engine
        # cross-check tests/engine/test_admission_crosscheck.py).
        check_selinux(path, sc.get("seLinuxOptions") or psc.get("seLinuxOptions"), sc)
        check_seccomp(path, sc, default=False)

        if scc.get("readOnlyRootFilesystem"):
            if sc.get("readOnlyRootFilesystem") is False:
                reject(f"{path}.readOnlyRootFilesystem", "must be set to true")
            sc["readOnlyRootFilesystem"] = True

        for port in container.get("ports") or []:
            if port.get("hostPort") and not scc.get("allowHostPorts"):
                reject(f"{path}.ports", f"Host ports are not allowed to be used: {port['hostPort']}")

    return spec, errors
