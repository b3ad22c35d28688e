"""SCC grants that run: a tier granted nonroot-v2 runs the UID chosen with a matching fsGroup, a tier
granted anyuid runs the image's own user (or the identity given), everything else stays restricted-v2.
The real SCC plugin admits and starts such pods in tests/engine/test_scc_grants_local.py."""

from __future__ import annotations

import json
from typing import Any

import pytest

from admission import Namespace, admit, check_restricted, load_scc
from policy.policies import check_pod_security_restricted, check_scc_admission
from settings import PROJECT, ConfigError, settings_from_config
from tests.conftest import containers, deploy_config, pod_templates, unwrap

P = PROJECT


def _config(**scc: Any) -> dict[str, str]:
    return {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"}), f"{P}:scc": json.dumps(scc)}


def _templates(mocks, config) -> dict[str, dict[str, Any]]:
    deploy_config(mocks, config)
    return dict(pod_templates(mocks.resources))


def test_nonroot_v2_runs_the_chosen_uid_with_its_fsgroup(mocks):
    templates = _templates(mocks, _config(grants={"redis": "nonroot-v2", "elasticsearch": "nonroot-v2"},
                                          identities={"redis": {"runAsUser": 999},
                                                      "elasticsearch": {"runAsUser": 1000, "runAsGroup": 0, "fsGroup": 0}}))
    redis, elastic = templates["StatefulSet/clearml-redis"], templates["StatefulSet/clearml-elastic"]
    assert {k: v for k, v in redis["securityContext"].items() if k != "seccompProfile"} == {
        "runAsNonRoot": True, "runAsUser": 999, "fsGroup": 999}  # fsGroup defaults to the UID: the volume is writable
    assert elastic["securityContext"]["runAsGroup"] == 0 and elastic["securityContext"]["fsGroup"] == 0
    for spec in (redis, elastic):
        assert spec["_annotations"]["openshift.io/required-scc"] == "nonroot-v2"
        for c in containers(spec):
            assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]} and c["securityContext"]["runAsNonRoot"]
        mutated, errors = admit(spec, load_scc("nonroot-v2"), Namespace())
        assert errors == [], errors
        assert check_restricted(spec) == []  # a fixed non-root UID is still Pod Security restricted
        # restricted-v2 would refuse the fixed UID: the pin is what lets it through.
        assert admit(spec, load_scc("restricted-v2"), Namespace())[1]
    # The other tiers keep the restricted-v2 shape, with no identity.
    api = templates["Deployment/clearml-apiserver"]
    assert api["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert "openshift.io/required-scc" not in api["_annotations"]


def test_anyuid_runs_the_image_user(mocks):
    templates = _templates(mocks, _config(grants={"webserver": "anyuid"}, acknowledge=["anyuid"]))
    web = templates["Deployment/clearml-webserver"]
    # No runAsNonRoot, no UID, and no seccomp profile: anyuid allows none (OpenShift refuses one).
    assert not web.get("securityContext")
    for c in containers(web):
        sc = c["securityContext"]
        assert "runAsNonRoot" not in sc and "seccompProfile" not in sc, c["name"]
        assert sc["capabilities"] == {"drop": ["MKNOD", "NET_RAW"]}, c["name"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    mutated, errors = admit(web, load_scc("anyuid"), Namespace())
    assert errors == [] and "runAsUser" not in mutated["securityContext"]  # anyuid assigns no UID: the image's
    # With a seccomp profile, as the builder made it before, OpenShift refuses the pod.
    with_seccomp = {**web, "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}
    assert any("seccomp may not be set" in e for e in admit(with_seccomp, load_scc("anyuid"), Namespace())[1])
    # Not Pod Security restricted, by design; the policy pack leaves that to the acknowledged grant.
    assert check_restricted(web)
    deployment = next(unwrap(r.inputs) for r in mocks.of_kind("Deployment")
                      if unwrap(r.inputs)["metadata"]["name"] == "clearml-webserver")
    assert check_pod_security_restricted(deployment) == [] and check_scc_admission(deployment) == []


def test_anyuid_with_an_identity_runs_it(mocks):
    templates = _templates(mocks, _config(grants={"fileserver": "anyuid"}, acknowledge=["anyuid"],
                                          identities={"fileserver": {"runAsUser": 1000, "fsGroup": 1000}}))
    files = templates["Deployment/clearml-fileserver"]
    assert files["securityContext"]["runAsUser"] == 1000 and files["securityContext"]["runAsNonRoot"] is True
    assert all(c["securityContext"]["capabilities"] == {"drop": ["ALL"]} for c in containers(files))
    assert admit(files, load_scc("anyuid"), Namespace())[1] == []


@pytest.mark.parametrize("scc,key,message", [
    ({"grants": {"redis": "nonroot-v2"}}, "scc.identities.redis.runAsUser", "runs the UID you choose: set it"),
    ({"grants": {"redis": "nonroot-v2"}, "identities": {"redis": {"fsGroup": 5}}}, "scc.identities.redis.runAsUser",
     "Redis 999"),
    ({"identities": {"redis": {"runAsUser": 999}}}, "scc.identities.redis", "runs under restricted-v2"),
    ({"grants": {"redis": "hostnetwork-v2"}, "acknowledge": ["hostnetwork-v2"], "identities": {"redis": {"runAsUser": 9}}},
     "scc.identities.redis", "identities apply to tiers granted nonroot-v2 or anyuid"),
    ({"grants": {"redis": "nonroot-v2"}, "identities": {"redis": {"runAsUser": 0}}}, "scc.identities.redis.runAsUser",
     "greater than or equal to 1"),
])
def test_bad_identities(scc, key, message):
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(**scc))
    assert any(p.startswith(f"{P}:{key}") and message in p for p in err.value.problems), err.value.problems
