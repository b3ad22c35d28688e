"""The unit tests' SCC admission emulation (admission/) against OpenShift's own plugin, pod by pod.

The unit suite judges every pod template with `admission.admit`, a re-implementation that runs in
milliseconds without a cluster. This test keeps it honest: every pod template of every variant the
unit tests check (tests/test_pod_security.py VARIANTS), and every bad pod of the unit tests'
rejection table (tests/test_admission.py SCC_REJECTS), is created with a server-side dry run in a
namespace the SCC webhook annotated, as the ReplicaSet controller's service account (who creates a
Deployment's pods), so OpenShift's `sccadmission` plugin decides. The verdict, the SCC and every
field the plugin assigns (runAsUser, fsGroup, SELinux level, seccomp, capabilities, privilege
escalation) must equal what the emulation computes for the same namespace.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest

from admission import Namespace, admit, load_scc
from tests.conftest import deploy, pod_templates, run_program
from tests.engine.conftest import Engine
from tests.test_admission import SCC_REJECTS, _set, good_pod
from tests.test_pod_security import VARIANTS

NAMESPACE = "scc-crosscheck"
CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


@pytest.fixture(scope="module")
def namespace(engine: Engine) -> Namespace:
    engine.kubectl("create", "namespace", NAMESPACE)
    annotations = json.loads(engine.kubectl("get", "namespace", NAMESPACE, "-o", "json"))["metadata"]["annotations"]
    return Namespace(uid_range=annotations["openshift.io/sa.scc.uid-range"],
                     supplemental_groups=annotations["openshift.io/sa.scc.supplemental-groups"],
                     mcs=annotations["openshift.io/sa.scc.mcs"])


def _real(engine: Engine, spec: dict, annotations: dict[str, str]) -> tuple[dict | None, str]:
    """OpenShift's verdict: (the admitted pod, "") or (None, the refusal)."""
    account = spec.get("serviceAccountName") or "default"
    # A StatefulSet's controller adds a claim volume for each volumeClaimTemplate to its pods.
    volumes = spec.setdefault("volumes", [])
    declared = {v["name"] for v in volumes}
    for c in (spec.get("initContainers") or []) + spec["containers"]:
        for mount in c.get("volumeMounts") or []:
            if mount["name"] not in declared:
                volumes.append({"name": mount["name"], "persistentVolumeClaim": {"claimName": f"{mount['name']}-0"}})
                declared.add(mount["name"])
    engine.kubectl("create", "serviceaccount", account, "-n", NAMESPACE, check=False)
    scc = annotations.get("openshift.io/required-scc")
    if scc:  # the program's SccGrant: a RoleBinding to system:openshift:scc:<scc> for the tier's account
        engine.kubectl("create", "rolebinding", f"{account}-scc-{scc}", "-n", NAMESPACE,
                       f"--clusterrole=system:openshift:scc:{scc}", f"--serviceaccount={NAMESPACE}:{account}",
                       check=False)
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"generateName": "crosscheck-", "namespace": NAMESPACE, "annotations": annotations},
           "spec": spec}
    result = subprocess.run([str(engine.kubectl_bin), "create", "-f", "-", "--dry-run=server", "-o", "json",
                             f"--as={CONTROLLER}"], input=json.dumps(pod), env=engine.env,
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return None, result.stderr
    return json.loads(result.stdout), ""


SECURITY_FIELDS = ("runAsUser", "fsGroup", "seLinuxOptions", "seccompProfile", "capabilities",
                   "allowPrivilegeEscalation", "runAsNonRoot", "privileged", "readOnlyRootFilesystem")


def _assigned(spec: dict) -> dict:
    """The security fields of the pod and of each container, keyed by where they are."""
    out = {"pod": {k: v for k, v in (spec.get("securityContext") or {}).items() if k in SECURITY_FIELDS}}
    for kind in ("initContainers", "containers"):
        for c in spec.get(kind) or []:
            out[f"{kind}/{c['name']}"] = {k: v for k, v in (c.get("securityContext") or {}).items()
                                          if k in SECURITY_FIELDS}
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_pod_template_gets_the_same_verdict_and_fields(engine: Engine, namespace: Namespace, mocks, variant):
    deploy(lambda: run_program(VARIANTS[variant]()))
    templates = pod_templates(mocks.resources)
    assert len(templates) >= 3
    for name, template in templates:
        annotations = template["_annotations"]
        spec = {k: v for k, v in copy.deepcopy(template).items() if k != "_annotations"}
        scc = annotations.get("openshift.io/required-scc") or "restricted-v2"
        emulated, errors = admit(spec, load_scc(scc), namespace)
        real, refusal = _real(engine, copy.deepcopy(spec), annotations)
        assert errors == [] and real is not None, f"{variant} {name}: emulation {errors}, OpenShift: {refusal}"
        assert real["metadata"]["annotations"]["openshift.io/scc"] == scc, name
        real_fields, emulated_fields = _assigned(real["spec"]), _assigned(emulated)
        assert real_fields == emulated_fields, (
            f"{variant} {name}:\nOpenShift: {json.dumps(real_fields, sort_keys=True)}\n"
            f"emulation: {json.dumps(emulated_fields, sort_keys=True)}")


@pytest.mark.parametrize("path,value,message", SCC_REJECTS, ids=[f"{p}={v}" for p, v, _ in SCC_REJECTS])
def test_every_bad_pod_of_the_unit_tests_is_refused_by_openshift_too(engine: Engine, namespace: Namespace,
                                                                    path, value, message):
    pod = _set(path, value)
    # The unit table is written for a namespace with MCS s0:c26,c15 and UIDs 1000680000+: re-aim the
    # values that name that namespace at this one, so the same rule is what refuses them.
    if value == 1000680001:
        pod["securityContext"]["fsGroup"] = namespace.fs_group + 1
    _, errors = admit(pod, load_scc("restricted-v2"), namespace)
    real, refusal = _real(engine, pod, {})
    assert errors, f"the emulation admitted {path}={value}"
    assert real is None or real["metadata"]["annotations"].get("openshift.io/scc") != "restricted-v2", (
        f"OpenShift admitted {path}={value} under restricted-v2")
    assert "unable to validate against any security context constraint" in refusal, refusal


def test_the_good_pod_is_admitted_by_both(engine: Engine, namespace: Namespace):
    emulated, errors = admit(good_pod(), load_scc("restricted-v2"), namespace)
    real, refusal = _real(engine, good_pod(), {})
    assert errors == [] and real is not None, refusal
    assert _assigned(real["spec"]) == _assigned(emulated)
