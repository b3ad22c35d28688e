"""The admission checks themselves: a compliant pod passes, and every rule rejects its bad pod."""

from __future__ import annotations

import copy

import pytest

from admission import Namespace, admit, check_restricted, load_scc

RESTRICTED_V2 = load_scc("restricted-v2")
NS = Namespace(uid_range="1000680000/10000", supplemental_groups="1000680000/10000", mcs="s0:c26,c15")


def good_pod() -> dict:
    container = {
        "name": "app",
        "image": "example/app:1",
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [dict(copy.deepcopy(container), name="init")],
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "data", "persistentVolumeClaim": {"claimName": "x"}}],
    }


def test_good_pod_is_admitted_and_gets_namespace_values():
    mutated, errors = admit(good_pod(), RESTRICTED_V2, NS)
    assert errors == []
    assert mutated["securityContext"]["fsGroup"] == 1000680000
    assert mutated["securityContext"]["seLinuxOptions"] == {"level": "s0:c26,c15"}
    for c in mutated["initContainers"] + mutated["containers"]:
        assert 1000680000 <= c["securityContext"]["runAsUser"] <= 1000689999
    assert check_restricted(good_pod()) == []


def _set(path: str, value):
    pod = good_pod()
    target = pod
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value
    return pod


SCC_REJECTS = [
    ("containers.0.securityContext.runAsUser", 1000, "must be in the ranges"),
    ("initContainers.0.securityContext.runAsUser", 0, "must be in the ranges"),
    ("securityContext.runAsUser", 1001, "must be in the ranges"),
    ("securityContext.fsGroup", 1001, "is not an allowed group"),
    ("securityContext.fsGroup", 1000680001, "is not an allowed group"),
    ("containers.0.securityContext.privileged", True, "Privileged containers are not allowed"),
    ("containers.0.securityContext.allowPrivilegeEscalation", True, "privilege escalation"),
    ("containers.0.securityContext.capabilities", {"add": ["CHOWN"], "drop": ["ALL"]}, "may not be added"),
    ("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}, "not an allowed seccomp profile"),
    ("securityContext.seccompProfile", {"type": "Localhost", "localhostProfile": "x.json"}, "not an allowed seccomp profile"),
    ("securityContext.seLinuxOptions", {"type": "spc_t"}, "does not match required type"),
    ("containers.0.securityContext.seLinuxOptions", {"level": "s0:c1,c2"}, "must be s0:c26,c15"),
    ("hostNetwork", True, "Host Network is not allowed"),
    ("hostPID", True, "Host PID is not allowed"),
    ("containers.0.ports", [{"containerPort": 80, "hostPort": 80}], "Host ports are not allowed"),
    ("volumes", [{"name": "h", "hostPath": {"path": "/"}}], "hostPath volumes are not allowed"),
    ("volumes", [{"name": "n", "nfs": {"server": "x", "path": "/"}}], "nfs volumes are not allowed"),
    ("securityContext.sysctls", [{"name": "vm.max_map_count", "value": "262144"}], "unsafe sysctl"),
]


@pytest.mark.parametrize("path,value,message", SCC_REJECTS, ids=[f"{p}={v}" for p, v, _ in SCC_REJECTS])
def test_restricted_v2_rejects(path, value, message):
    _, errors = admit(_set(path, value), RESTRICTED_V2, NS)
    assert any(message in e for e in errors), errors


def test_in_range_uid_and_the_namespace_fsgroup_are_accepted():
    pod = _set("securityContext.fsGroup", 1000680000)
    pod["containers"][0]["securityContext"]["runAsUser"] = 1000685000
    assert admit(pod, RESTRICTED_V2, NS)[1] == []


def test_release_416_has_no_image_volumes():
    pod = _set("volumes", [{"name": "i", "image": {"reference": "x"}}])
    assert admit(pod, RESTRICTED_V2, NS)[1] == []
    assert any("image volumes" in e for e in admit(pod, load_scc("restricted-v2-release-4.16"), NS)[1])


def test_nonroot_v2_accepts_fixed_uid_but_not_root():
    nonroot = load_scc("nonroot-v2")
    assert admit(_set("containers.0.securityContext.runAsUser", 1000), nonroot, NS)[1] == []
    assert admit(_set("containers.0.securityContext.runAsUser", 0), nonroot, NS)[1]


PSA_REJECTS = [
    ("containers.0.securityContext.allowPrivilegeEscalation", None, "allowPrivilegeEscalation != false"),
    ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}, "must drop ALL"),
    ("containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}, "adds SYS_ADMIN"),
    ("securityContext.runAsNonRoot", None, "runAsNonRoot != true"),
    ("containers.0.securityContext.runAsUser", 0, "runAsUser=0"),
    ("securityContext.seccompProfile", None, "seccompProfile"),
    ("containers.0.securityContext.seccompProfile", {"type": "Unconfined"}, "Unconfined"),
    ("volumes", [{"name": "h", "hostPath": {"path": "/"}}], "hostPath"),
    ("volumes", [{"name": "g", "gitRepo": {"repository": "x"}}], "restricted volume types"),
    ("containers.0.securityContext.privileged", True, "privileged"),
    ("containers.0.securityContext.procMount", "Unmasked", "procMount"),
    ("securityContext.seLinuxOptions", {"user": "system_u"}, "sets user"),
    ("hostIPC", True, "host namespaces"),
]


@pytest.mark.parametrize("path,value,message", PSA_REJECTS, ids=[f"{p}={v}" for p, v, _ in PSA_REJECTS])
def test_pod_security_restricted_rejects(path, value, message):
    pod = _set(path, value)
    if value is None:  # "unset" rather than null
        target = pod
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]
        if path.startswith("securityContext."):
            for c in pod["containers"] + pod["initContainers"]:
                c["securityContext"].pop(last, None)
    errors = check_restricted(pod)
    assert any(message in e for e in errors), errors
