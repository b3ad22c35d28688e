"""Kubernetes Pod Security Standards, `restricted` profile (latest), for one pod spec.

Follows k8s.io/pod-security-admission `policy/check_*.go`. Unlike SCC admission, Pod Security
admission never fills fields in: the pod spec as written must carry them. Returns the list of
violations (empty: allowed).
"""

from __future__ import annotations

from typing import Any

from .scc import CONTAINER_LISTS, SAFE_SYSCTLS

RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim", "projected", "secret",
}
ALLOWED_SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def check_restricted(pod_spec: dict[str, Any], annotations: dict[str, str] | None = None) -> list[str]:
    errors: list[str] = []
    psc = pod_spec.get("securityContext") or {}
    containers = [
        (f"{field}[{i}]", c) for field in CONTAINER_LISTS for i, c in enumerate(pod_spec.get(field) or [])
    ]

    # baseline
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod_spec.get(field):
            errors.append(f"host namespaces: {field}=true")
    if (psc.get("windowsOptions") or {}).get("hostProcess"):
        errors.append("hostProcess: pod")
    for name, c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            errors.append(f"privileged: {name}")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            errors.append(f"hostProcess: {name}")
        for port in c.get("ports") or []:
            if port.get("hostPort"):
                errors.append(f"hostPort: {name} uses {port['hostPort']}")
        if sc.get("procMount") not in (None, "Default"):
            errors.append(f"procMount: {name} uses {sc['procMount']}")
        _selinux(sc.get("seLinuxOptions"), name, errors)
        if (sc.get("appArmorProfile") or {}).get("type") == "Unconfined":
            errors.append(f"appArmorProfile: {name} is Unconfined")
        if _profile(sc) == "Unconfined":
            errors.append(f"seccompProfile: {name} is Unconfined")
    _selinux(psc.get("seLinuxOptions"), "pod", errors)
    if (psc.get("appArmorProfile") or {}).get("type") == "Unconfined":
        errors.append("appArmorProfile: pod is Unconfined")
    for key, value in (annotations or {}).items():
        if (key.startswith("container.apparmor.security.beta.kubernetes.io/") and value != "runtime/default"
                and not value.startswith("localhost/")):
            errors.append(f"appArmor annotation {key}={value}")
    for sysctl in psc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            errors.append(f"sysctls: {sysctl.get('name')} is not safe")
    for volume in pod_spec.get("volumes") or []:
        if "hostPath" in volume:
            errors.append(f"hostPath volume {volume.get('name')}")

    # restricted
    for volume in pod_spec.get("volumes") or []:
        kinds = [k for k in volume if k != "name"]
        if not any(k in RESTRICTED_VOLUMES for k in kinds):
            errors.append(f"restricted volume types: {volume.get('name')} uses {kinds}")

    pod_non_root = psc.get("runAsNonRoot")
    pod_profile = _profile(psc)
    if pod_profile not in (None, "RuntimeDefault", "Localhost"):
        errors.append(f"seccompProfile: pod uses {pod_profile}")
    if psc.get("runAsUser") == 0:
        errors.append("runAsUser: pod runs as 0")
    host_users_off = pod_spec.get("hostUsers") is False
    for name, c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"allowPrivilegeEscalation != false: {name}")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            errors.append(f"unrestricted capabilities: {name} must drop ALL")
        for cap in caps.get("add") or []:
            if cap != "NET_BIND_SERVICE":
                errors.append(f"unrestricted capabilities: {name} adds {cap}")
        if not host_users_off:
            non_root = sc.get("runAsNonRoot", pod_non_root)
            if non_root is not True:
                errors.append(f"runAsNonRoot != true: {name}")
            if sc.get("runAsUser") == 0:
                errors.append(f"runAsUser=0: {name}")
        profile = _profile(sc) or pod_profile
        if profile not in ("RuntimeDefault", "Localhost"):
            errors.append(f"seccompProfile: {name} must be RuntimeDefault or Localhost")
    return errors


def _profile(holder: dict[str, Any]) -> str | None:
    return (holder.get("seccompProfile") or {}).get("type")


def _selinux(options: dict[str, Any] | None, where: str, errors: list[str]) -> None:
    if not options:
        return
    if options.get("type", "") not in ALLOWED_SELINUX_TYPES:
        errors.append(f"seLinuxOptions: {where} type {options['type']}")
    for key in ("user", "role"):
        if options.get(key):
            errors.append(f"seLinuxOptions: {where} sets {key}")
