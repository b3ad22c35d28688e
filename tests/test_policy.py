"""The CrossGuard policy pack (policy/): each rule on good and bad manifests, every manifest the
program produces passes every rule, the pack lists every rule as mandatory, and the pack starts.

The rules are called directly (`check_*` of each module of policy/rules/) and through the wrapped
ResourceValidationPolicies (`violations`, with the props behind pulumi_policy's unknown-checking
proxy, as the analyzer passes them). No PolicyPack is constructed in this process: that starts a
gRPC server (test_the_pack_starts runs one in a subprocess).

Strings that switch TLS verification off are written with a `~` inside (removed by `_x`), so this
file does not trip tests/test_edge_tls.py's scan of the repository for exactly those strings.
"""

from __future__ import annotations

import copy
import json
import os
import runpy
import subprocess
import sys
from typing import Any

import pulumi_policy
import pytest
import yaml
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy

from policy import policies
from policy.policies import (
    CHECKS,
    POLICIES,
    check_edge_tls,
    check_no_literal_secrets,
    check_pinned_images,
    check_pod_security_restricted,
    check_resources_and_probes,
    check_scc_admission,
    check_scc_grants,
    check_tls_verification,
    violations,
)
from policy.rules import RULES
from policy.tls_verification import tls_verification_off
from program import sdk
from settings import PROJECT
from tests.conftest import ROOT, STACKS, deploy, deploy_config, run_program, stack_config, unwrap

P = PROJECT
UNKNOWN = sdk.unknown_values()["string"]
UNKNOWN_OBJECT = sdk.unknown_values()["object"]
ACK_ANYUID = {"scc-grants": {"acknowledge": ["anyuid"]}}


def _x(text: str) -> str:
    return text.replace("~", "")


# ---- manifests ----------------------------------------------------------------------------------------


def _container(name: str = "app", **extra: Any) -> dict[str, Any]:
    container = {
        "name": name,
        "image": "docker.io/clearml/server:2.4.0",
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "privileged": False,
                            "runAsNonRoot": True, "readOnlyRootFilesystem": True,
                            "seccompProfile": {"type": "RuntimeDefault"}},
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
        "readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
        "livenessProbe": {"tcpSocket": {"port": 8080}},
    }
    container.update(extra)
    return container


def _pod_spec(**extra: Any) -> dict[str, Any]:
    spec = {"securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [_container()], "volumes": [{"name": "tmp", "emptyDir": {}}]}
    spec.update(extra)
    return spec


def deployment(annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "clearml"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}, "annotations": annotations or {}},
                                  "spec": _pod_spec(**spec)}}}


def job(**spec: Any) -> dict[str, Any]:
    pod = _pod_spec(restartPolicy="Never", **spec)
    for c in pod["containers"]:
        c.pop("readinessProbe"), c.pop("livenessProbe")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "init"},
            "spec": {"template": {"metadata": {}, "spec": pod}}}


def cronjob(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "nightly"},
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job(**spec)["spec"]}}}


def with_container(manifest: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy with the first container changed (None removes a field)."""
    out = copy.deepcopy(manifest)
    container = out["spec"]["template"]["spec"]["containers"][0]
    for key, value in changes.items():
        if value is None:
            container.pop(key, None)
        else:
            container[key] = value
    return out


def with_security(manifest: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(manifest)
    out["spec"]["template"]["spec"]["containers"][0]["securityContext"].update(changes)
    return out


def configmap(**data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "conf"}, "data": data}


def binding(scc: str, kind: str = "RoleBinding") -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": {"name": f"grant-{scc}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"system:openshift:scc:{scc}"},
            "subjects": [{"kind": "ServiceAccount", "name": "app", "namespace": "clearml"}]}


def route(tls: dict[str, Any] | None) -> dict[str, Any]:
    spec = {"host": "app.example.com", "to": {"kind": "Service", "name": "web"}}
    if tls is not None:
        spec["tls"] = tls
    return {"apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "app"}, "spec": spec}


def ingress(hosts: list[str], tls: list[dict[str, Any]] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": h} if h else {} for h in hosts]}
    if tls is not None:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "app"}, "spec": spec}


def env(*pairs: tuple[str, Any]) -> list[dict[str, Any]]:
    return [{"name": n, "value": v} if not isinstance(v, dict) else {"name": n, "valueFrom": v} for n, v in pairs]


SECRET_REF = {"secretKeyRef": {"name": "clearml-credentials", "key": "k"}}
TYPES = {"Deployment": "kubernetes:apps/v1:Deployment", "Job": "kubernetes:batch/v1:Job",
         "CronJob": "kubernetes:batch/v1:CronJob", "ConfigMap": "kubernetes:core/v1:ConfigMap",
         "RoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
         "ClusterRoleBinding": "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
         "Role": "kubernetes:rbac.authorization.k8s.io/v1:Role", "Route": "kubernetes:route.openshift.io/v1:Route",
         "Ingress": "kubernetes:networking.k8s.io/v1:Ingress", "Pod": "kubernetes:core/v1:Pod"}


def rules_violated(manifest: dict[str, Any], config: dict | None = None) -> set[str]:
    return set(violations(TYPES[manifest["kind"]], manifest, config))


# ---- the good manifests pass every rule ---------------------------------------------------------------


@pytest.mark.parametrize("manifest", [
    deployment(), job(), cronjob(), configmap(**{"nginx.conf": "server { listen 8080; }"}),
    route({"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}),
    ingress(["app.example.com"], [{"hosts": ["app.example.com"], "secretName": "app-tls"}]),
    binding("nonroot-v2"),
], ids=lambda m: m["kind"])
def test_good_manifests_pass_every_rule(manifest):
    assert violations(TYPES[manifest["kind"]], manifest) == {}


# ---- rule 1: restricted-v2 admission --------------------------------------------------------------------


@pytest.mark.parametrize(("manifest", "expected"), [
    (with_security(deployment(), runAsUser=0), "runAsUser: Invalid value: 0"),
    (with_security(deployment(), runAsUser=1000), "must be in the ranges: [1000680000, 1000689999]"),
    (deployment(securityContext={"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 1001}),
     "fsGroup: 1001 is not an allowed group"),
    (deployment(volumes=[{"name": "host", "hostPath": {"path": "/var/run"}}]), "hostPath volumes are not allowed"),
    (deployment(hostNetwork=True), "Host Network is not allowed"),
    (with_security(deployment(), privileged=True), "Privileged containers are not allowed"),
    (with_security(deployment(), capabilities={"drop": ["ALL"], "add": ["NET_ADMIN"]}), "NET_ADMIN"),
    (deployment(initContainers=[{**_container("seed"), "securityContext": {"runAsUser": 0}}]), "initContainers[0]"),
    (cronjob(securityContext={"fsGroup": 0}), "fsGroup: 0 is not an allowed group"),
    (deployment({"openshift.io/required-scc": "privileged"}), "cannot judge"),
])
def test_restricted_v2_admission_refuses(manifest, expected):
    errors = check_scc_admission(manifest)
    assert errors and any(expected in e for e in errors), errors
    assert "restricted-v2-admission" in rules_violated(manifest)


def test_admission_uses_the_pinned_scc():
    as_uid_1000 = with_security(deployment({"openshift.io/required-scc": "nonroot-v2"}), runAsUser=1000)
    assert check_scc_admission(as_uid_1000) == []
    as_root = with_security(deployment({"openshift.io/required-scc": "nonroot-v2"}), runAsUser=0, runAsNonRoot=False)
    assert any("not admitted under nonroot-v2" in e for e in check_scc_admission(as_root))
    as_root_anyuid = with_security(deployment({"openshift.io/required-scc": "anyuid"}), runAsUser=0, runAsNonRoot=False)
    # anyuid allows no seccomp profile: OpenShift refuses one (seen with its own plugin).
    assert any("seccomp may not be set" in e for e in check_scc_admission(as_root_anyuid))
    pod = as_root_anyuid["spec"]["template"]["spec"]
    pod["securityContext"].pop("seccompProfile", None)
    for c in pod["containers"]:
        c["securityContext"].pop("seccompProfile", None)
    assert check_scc_admission(as_root_anyuid) == []


# ---- rule 2: Pod Security restricted --------------------------------------------------------------------


@pytest.mark.parametrize(("field", "expected"), [
    ("allowPrivilegeEscalation", "allowPrivilegeEscalation"),  # SCC admission would fill it in; PSa does not
    ("capabilities", "capabilities"),
    ("runAsNonRoot", "runAsNonRoot"),
])
def test_pod_security_restricted_refuses(field, expected):
    manifest = copy.deepcopy(deployment())
    del manifest["spec"]["template"]["spec"]["containers"][0]["securityContext"][field]
    manifest["spec"]["template"]["spec"]["securityContext"].pop("runAsNonRoot")
    errors = check_pod_security_restricted(manifest)
    assert any(expected in e for e in errors), errors
    assert "pod-security-restricted" in rules_violated(manifest)


def test_pod_security_restricted_checks_seccomp_and_init_containers():
    no_seccomp = deployment(securityContext={"runAsNonRoot": True})
    no_seccomp["spec"]["template"]["spec"]["containers"][0]["securityContext"].pop("seccompProfile")
    assert any("seccomp" in e for e in check_pod_security_restricted(no_seccomp))
    init = deployment(initContainers=[_container("seed", securityContext={"privileged": False})])
    assert any("initContainers" in e for e in check_pod_security_restricted(init))


# ---- rule 3: SCC grants -----------------------------------------------------------------------------------


def test_scc_grants():
    assert check_scc_grants(binding("nonroot-v2")) == []
    assert check_scc_grants(binding("restricted-v2")) == []
    unacknowledged = check_scc_grants(binding("anyuid"))
    assert unacknowledged and "anyuid" in unacknowledged[0] and "--policy-pack-config" in unacknowledged[0]
    assert check_scc_grants(binding("anyuid"), ["anyuid"]) == []
    assert check_scc_grants(binding("privileged", "ClusterRoleBinding"), ["anyuid"]) != []
    assert "not a built-in SCC" in check_scc_grants(binding("my-custom-scc"))[0]
    assert "not a built-in SCC" in check_scc_grants(binding("my-custom-scc"), ["anyuid"])[0]
    # Through the policy: the acknowledgement comes from the pack's config.
    assert rules_violated(binding("anyuid")) == {"scc-grants"}
    assert rules_violated(binding("anyuid"), ACK_ANYUID) == set()
    assert rules_violated(binding("hostaccess"), ACK_ANYUID) == {"scc-grants"}


def test_roles_that_allow_use_of_sccs():
    def role(rule):
        return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}, "rules": [rule]}

    use = {"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"], "verbs": ["use"]}
    assert "every SCC" in check_scc_grants(role(use))[0]
    assert "privileged" in check_scc_grants(role({**use, "resourceNames": ["privileged"]}))[0]
    assert check_scc_grants(role({**use, "resourceNames": ["nonroot-v2"]})) == []
    assert check_scc_grants(role({**use, "resourceNames": ["anyuid"]}), ["anyuid"]) == []
    assert check_scc_grants(role({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]})) == []
    assert rules_violated(role({"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]})) == {"scc-grants"}


# ---- rule 4: TLS on Routes and Ingresses --------------------------------------------------------------------


@pytest.mark.parametrize(("manifest", "expected"), [
    (route(None), "no spec.tls"),
    (route({"termination": "none"}), "termination"),
    (route({"termination": "edge", "insecureEdgeTerminationPolicy": "Allow"}), "plain HTTP"),
    (ingress(["app.example.com"], None), "no spec.tls"),
    (ingress(["app.example.com", "api.example.com"], [{"hosts": ["app.example.com"]}]), "api.example.com"),
    (ingress(["app.example.com", ""], [{"hosts": ["app.example.com"]}]), "no host"),
    (ingress(["a.b.example.com"], [{"hosts": ["*.example.com"]}]), "a.b.example.com"),
])
def test_edge_tls_refuses(manifest, expected):
    errors = check_edge_tls(manifest)
    assert any(expected in e for e in errors), errors
    assert rules_violated(manifest) == {"edge-tls"}


def test_edge_tls_accepts():
    for tls in ({"termination": "edge"}, {"termination": "reencrypt", "insecureEdgeTerminationPolicy": "Redirect"},
                {"termination": "passthrough", "insecureEdgeTerminationPolicy": "None"}):
        assert check_edge_tls(route(tls)) == []
    assert check_edge_tls(ingress(["a.example.com", "b.example.com"], [{"hosts": ["*.example.com"]}])) == []
    assert check_edge_tls(ingress(["a.example.com", ""], [{"secretName": "default"}])) == []


# ---- rule 5: no literal secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("DB_PASSWORD", "hunter2"),
    ("CLEARML__secure__credentials__apiserver__user_key", "EGRTCO8JMSIGI6S39GTP43NFWXDQOW"),
    ("CLEARML__secure__credentials__apiserver__user_secret", "s3cr3t-value"),
    ("CLEARML__secure__http__session_secret__apiserver", "abcdef"),
    ("REDISCLI_AUTH", "hunter2"),
    ("GITHUB_TOKEN", "ghp_abc123"),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
    ("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", "mongodb://db:27017/backend"),
    # Not secret-named, but the value embeds a credential.
    ("CLEARML__HOSTS__MONGO__BACKEND__HOST", "mongodb://admin:hunter2@clearml-mongodb:27017/backend"),
    ("JAVA_OPTS", "-Djavax.net.ssl.trustStorePassword=changeit"),
])
def test_literal_secret_env_is_refused(name, value):
    manifest = with_container(deployment(), env=env((name, value)))
    errors = check_no_literal_secrets(manifest)
    assert errors and name in errors[0], errors
    assert rules_violated(manifest) == {"no-literal-secrets"}
    from_secret = with_container(deployment(), env=env((name, SECRET_REF)))
    assert check_no_literal_secrets(from_secret) == []


@pytest.mark.parametrize(("name", "value"), [
    ("CLEARML__HOSTS__ELASTIC__EVENTS__HOSTS", '[{"host":"clearml-elastic","port":9200,"scheme":"https"}]'),
    ("CLEARML__HOSTS__MONGO__BACKEND__HOST", "mongodb://clearml-mongodb:27017/backend"),
    ("CLEARML__apiserver__auth__fixed_users__enabled", "true"),
    ("CLEARML__secure__credentials__k8s_agent__role", "user"),
    ("xpack.security.http.ssl.key", "certs/tls.key"),
    ("PASSWORD_FILE", "/run/secrets/password"),
    ("PWD", "/tmp"),
    ("TOKEN_TTL", "3600"),
    ("SSH_PUBLIC_KEY", "ssh-ed25519 AAAAC3Nza"),
    ("MONGO_INITDB_ROOT_USERNAME", "admin"),
])
def test_ordinary_env_is_accepted(name, value):
    assert check_no_literal_secrets(with_container(deployment(), env=env((name, value)))) == []


@pytest.mark.parametrize(("key", "text", "expected"), [
    ("redis.conf", "port 6379\nrequirepass hunter2\n", "Redis password"),
    ("app.ini", "[db]\npassword=hunter2\n", "literal credential"),
    ("settings.json", '{"api": {"token": "abc123"}}', "literal credential"),
    ("tls.key", "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n", "private key"),
    ("mongo.env", "MONGO_URL=mongodb://user:pass@clearml-mongodb:27017/admin\n", "credentials in a URL"),
    ("DB_PASSWORD", "hunter2", "secret-named"),
    ("template.yaml", json.dumps({"spec": {"containers": [{"name": "task", "env": env(("CLEARML_API_SECRET_KEY", "abc"))}]}}),
     "CLEARML_API_SECRET_KEY"),
])
def test_secrets_in_configmaps_are_refused(key, text, expected):
    errors = check_no_literal_secrets(configmap(**{key: text}))
    assert errors and any(expected in e for e in errors), errors
    assert rules_violated(configmap(**{key: text})) == {"no-literal-secrets"}


def test_configmaps_that_only_refer_to_secrets_are_accepted():
    launcher = ('import os\npassword = os.environ["PASSWORD"]\ntoken = read_token()\n'
                'uri = "mongodb://" + host + "/admin"\nauth = (user, conf.password)\n'
                'def login(user: str, password: str, token: bytes = b"") -> None: ...\n')
    assert check_no_literal_secrets(configmap(**{"launcher.py": launcher})) == []
    assert check_no_literal_secrets(configmap(**{"app.ini": "password = ${DB_PASSWORD}\ntoken:\n"})) == []
    cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert check_no_literal_secrets(configmap(**{"ca.crt": cert, "nginx.conf": "server_tokens off;"})) == []


def test_secrets_on_command_lines_are_refused():
    manifest = with_container(deployment(), command=["redis-server"], args=["--require" + "pass", "hunter2"])
    assert any("Redis password" in e for e in check_no_literal_secrets(manifest))
    manifest = with_container(deployment(), args=["--password=hunter2"])
    assert check_no_literal_secrets(manifest) != []
    manifest = with_container(deployment(), args=["--password=$(DB_PASSWORD)"])
    assert check_no_literal_secrets(manifest) == []


# ---- rule 6: TLS verification stays on ----------------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [
    ("PYTHONHTTPS~VERIFY", "0"),
    ("NODE_TLS_REJECT_~UNAUTHORIZED", "0"),
    ("CLEARML_API_HOST_~VERIFY_CERT", "false"),
    ("CLEARML__HOSTS__ELASTIC__EVENTS__ARGS__VERIFY_~CERTS", "false"),
    ("GIT_SSL_~NO_VERIFY", "1"),
    ("CURL_CA_BUNDLE", ""),
    ("ELASTIC_INSECURE", "true"),
    ("xpack.security.transport.ssl.~verification_mode", "none"),
])
def test_env_that_switches_verification_off_is_refused(name, value):
    manifest = with_container(deployment(), env=env((_x(name), value)))
    errors = check_tls_verification(manifest)
    assert errors and "TLS verification off" in errors[0], errors
    assert rules_violated(manifest) == {"tls-verification-on"}


@pytest.mark.parametrize(("name", "value"), [
    ("PYTHONHTTPS~VERIFY", "1"), ("CLEARML__HOSTS__ELASTIC__EVENTS__ARGS__VERIFY_CERTS", "true"),
    ("xpack.security.transport.ssl.verification_mode", "certificate"), ("CURL_CA_BUNDLE", "/etc/ssl/ca.pem"),
])
def test_env_that_keeps_verification_on_is_accepted(name, value):
    assert check_tls_verification(with_container(deployment(), env=env((_x(name), value)))) == []


def test_command_lines_probes_and_configmaps_that_switch_verification_off_are_refused():
    insecure = with_container(deployment(), command=["sh", "-c", _x("cu~rl -k https://clearml-elastic:9200")])
    assert check_tls_verification(insecure) != []
    probe = with_container(deployment(), livenessProbe={"exec": {"command": ["curl", _x("--~insecure"), "https://localhost"]}})
    assert any("command line" in e for e in check_tls_verification(probe))
    for text in ("hosts { elastic { args { verify_~certs: false } } }", "[http]\n  ssl~Verify = false\n",
                 "ctx = ssl._create_~unverified_context()", "clusters:\n- cluster:\n    insecure-skip-~tls-verify: true\n",
                 "location / { proxy_ssl_~verify off; }"):
        assert check_tls_verification(configmap(conf=_x(text))) != [], text
    assert check_tls_verification(configmap(conf="verify_certs: true\n")) == []


# ---- rule 7: requests, limits and probes --------------------------------------------------------------------


def test_resources_and_probes():
    no_memory_limit = with_container(deployment(), resources={"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1"}})
    assert check_resources_and_probes(no_memory_limit) == ["Deployment web: containers[0] app: no limits.memory"]
    no_resources = with_container(deployment(), resources=None)
    assert len(check_resources_and_probes(no_resources)) == 2
    no_readiness = with_container(deployment(), readinessProbe=None)
    assert "no readinessProbe" in check_resources_and_probes(no_readiness)[0]
    assert rules_violated(no_readiness) == {"resources-and-probes"}
    # Init containers and Jobs: resources only. Sidecars (restartPolicy Always) keep running: probes.
    init = _container("seed", readinessProbe=None, livenessProbe=None)
    del init["readinessProbe"], init["livenessProbe"]
    assert check_resources_and_probes(deployment(initContainers=[init])) == []
    assert check_resources_and_probes(deployment(initContainers=[{**init, "restartPolicy": "Always"}])) != []
    init_without_limits = {**init, "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}
    assert "initContainers[0] seed: no limits" in check_resources_and_probes(deployment(initContainers=[init_without_limits]))[0]
    assert check_resources_and_probes(job()) == [] and check_resources_and_probes(cronjob()) == []
    job_without_requests = job()
    del job_without_requests["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
    assert check_resources_and_probes(job_without_requests) != []
    bare_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": job()["spec"]["template"]["spec"]}
    bare_pod["spec"]["restartPolicy"] = "Always"
    assert "no readinessProbe" in check_resources_and_probes(bare_pod)[0]


# ---- rule 8: pinned images -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "pinned"), [
    ("docker.io/clearml/server:2.4.0", True),
    ("docker.io/clearml/server", False),
    ("docker.io/clearml/server:latest", False),
    ("registry.example.com:5000/clearml/server", False),
    ("registry.example.com:5000/clearml/server:2.4.0", True),
    ("docker.io/library/redis@sha256:" + "a" * 64, True),
    ("docker.io/library/redis:latest@sha256:" + "b" * 64, True),
    ("docker.io/library/redis@sha256:short", False),
])
def test_pinned_images(image, pinned):
    assert (check_pinned_images(with_container(deployment(), image=image)) == []) == pinned
    init = deployment(initContainers=[_container("seed", image=image)])
    assert (check_pinned_images(init) == []) == pinned
    if not pinned:
        assert rules_violated(init) == {"pinned-images"}


# ---- unknown values (preview) -------------------------------------------------------------------------------


def test_unknown_values_are_not_judged():
    assert violations(TYPES["Deployment"], with_container(deployment(), image=UNKNOWN)) == {}
    assert violations(TYPES["Deployment"], with_container(deployment(), env=env(("DB_PASSWORD", UNKNOWN)))) == {}
    assert violations(TYPES["Deployment"], with_container(deployment(), securityContext=UNKNOWN_OBJECT,
                                                          resources=UNKNOWN_OBJECT)) == {}
    assert violations(TYPES["Route"], route(UNKNOWN_OBJECT)) == {}
    assert violations(TYPES["Ingress"], ingress(["a.example.com"], [{"hosts": sdk.unknown_values()["array"]}])) == {}
    assert violations(TYPES["ConfigMap"], configmap(conf=UNKNOWN)) == {}
    assert violations(TYPES["Deployment"], {**deployment(), "spec": UNKNOWN_OBJECT}) == {}
    assert violations(TYPES["Deployment"], deployment({"openshift.io/required-scc": UNKNOWN})) == {}


def test_what_is_known_is_still_judged():
    # An unknown env value does not decide admission: the root UID is still refused.
    manifest = with_security(with_container(deployment(), env=env(("X", UNKNOWN))), runAsUser=0)
    assert "restricted-v2-admission" in rules_violated(manifest)
    assert "pinned-images" in rules_violated(with_container(deployment(), image="nginx", env=env(("X", UNKNOWN))))


def test_only_kubernetes_objects_are_judged():
    assert violations("random:index/randomPassword:RandomPassword", {"length": 32}) == {}
    no_resources = with_container(deployment(), resources=None)
    assert violations("kubernetes:apps/v1:DeploymentPatch", no_resources) == {}
    assert violations("kubernetes:apps/v1:Deployment", no_resources) != {}
    # kind and apiVersion come from the type token when the props lack them.
    bare = {k: v for k, v in with_container(deployment(), image="nginx").items() if k not in ("kind", "apiVersion")}
    assert set(violations("kubernetes:apps/v1:Deployment", bare)) == {"pinned-images"}


# ---- the program's own manifests pass every rule --------------------------------------------------------------


def _variant(name: str) -> dict[str, str]:
    if name in STACKS:
        return stack_config(name)
    config = stack_config("dev")
    if name == "dev+agent":
        config[f"{P}:agent"] = json.dumps({"enabled": True})
    elif name == "dev+ingress":
        config[f"{P}:edge"] = json.dumps({"mode": "ingress"})
    elif name == "dev+velero":
        config[f"{P}:backup"] = json.dumps({"enabled": True, "mechanism": "velero"})
    return config


@pytest.mark.parametrize("variant", [*STACKS, "dev+agent", "dev+ingress", "dev+velero"])
def test_every_manifest_of_the_program_passes_every_rule(mocks, variant):
    deploy_config(mocks, _variant(variant))
    judged = [r for r in mocks.resources if not r.read]
    kinds = {r.kind for r in judged if r.typ.startswith("kubernetes:")}
    assert {"Deployment", "StatefulSet", "ConfigMap", "Secret"} <= kinds
    assert kinds & {"Route", "Ingress"}
    found = {f"{r.typ} {r.name}": violations(r.typ, unwrap(r.inputs)) for r in judged}
    assert {k: v for k, v in found.items() if v} == {}


def test_an_acknowledged_anyuid_grant_passes_only_with_the_matching_policy_config(mocks, monkeypatch):
    monkeypatch.setattr("pulumi.log.warn", lambda *a, **k: None)
    config = stack_config("dev")
    config[f"{P}:scc"] = json.dumps({"grants": {"redis": "anyuid", "elasticsearch": "nonroot-v2"}, "acknowledge": ["anyuid"],
                                     "identities": {"elasticsearch": {"runAsUser": 1000}}})
    deploy(lambda: run_program(config))
    judged = [r for r in mocks.resources if not r.read]

    def refused(config=None):
        found = {r.name: violations(r.typ, unwrap(r.inputs), config) for r in judged}
        return {name: set(v) for name, v in found.items() if v}

    assert refused() == {"clearml-redis-scc-anyuid-rolebinding": {"scc-grants"}}
    assert refused(ACK_ANYUID) == {}
    assert refused({"scc-grants": {"acknowledge": ["privileged"]}}) == {"clearml-redis-scc-anyuid-rolebinding": {"scc-grants"}}


# ---- the pack ---------------------------------------------------------------------------------------------------


def test_the_pack_lists_every_rule_as_mandatory(monkeypatch):
    packs = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kwargs: packs.append(kwargs))
    runpy.run_path(str(ROOT / "policy" / "__main__.py"), run_name="__main__")
    assert len(packs) == 1
    pack = packs[0]
    assert pack["name"] == P
    assert pack["enforcement_level"] == EnforcementLevel.MANDATORY
    defined = [v for v in vars(policies).values() if isinstance(v, ResourceValidationPolicy)] + POLICIES
    assert {id(p) for p in pack["policies"]} == {id(p) for p in defined}
    assert [p.name for p in pack["policies"]] == list(CHECKS)
    assert all(p.enforcement_level == EnforcementLevel.MANDATORY for p in pack["policies"])
    assert all(p.description for p in pack["policies"])
    # Every module of policy/rules/ is one of the pack's rules and declares its own policy.
    modules = {p.stem for p in (ROOT / "policy" / "rules").glob("*.py") if p.stem != "__init__"}
    assert modules == {rule.__name__.rsplit(".", 1)[1] for rule in RULES}
    assert len(CHECKS) == len(RULES) == 8
    for rule in RULES:
        assert rule.NAME and rule.DESCRIPTION and callable(rule.check), rule.__name__
        assert CHECKS[rule.NAME] is rule.check
    schema = next(p for p in POLICIES if p.name == "scc-grants").config_schema
    assert schema.properties["acknowledge"]["items"]["enum"] == ["hostnetwork-v2", "hostnetwork", "hostmount-anyuid",
                                                                 "hostaccess", "anyuid", "privileged"]
    spec = yaml.safe_load((ROOT / "policy" / "PulumiPolicy.yaml").read_text())
    assert spec["runtime"]["name"] == "python" and spec["version"]


def test_host_python_passes_everything_else_through():
    out = subprocess.run([str(ROOT / "policy" / "host-python"), "-c", "import sys; print(sys.argv[1:])", "a", ""],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['a', '']"


def test_the_pack_starts(tmp_path):
    """What the language host's RunPlugin runs (see policy/host-python): the pack announces a port."""
    env = {**os.environ, "PATH": f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"}
    proc = subprocess.Popen([str(ROOT / "policy" / "host-python"), "", "127.0.0.1:1"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.isdigit(), proc.stderr.read() if proc.poll() is not None else port
    finally:
        proc.kill()
        proc.wait(timeout=30)


# ---- the shared TLS patterns ------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "verify_~certs: false", '"name": "PYTHONHTTPS~VERIFY", "value": "0"', "NODE_TLS_REJECT_~UNAUTHORIZED=0",
    '"name": "NODE_TLS_REJECT_~UNAUTHORIZED", "value": "0"', "GIT_SSL_~NO_VERIFY=true",
    "git config --global http.ssl~Verify false", "cu~rl -k https://x", "kubectl --insecure-skip-~tls-verify get pods",
    "ctx.verify_mode = ssl.CERT_~NONE", "requests.get(url, verify=~False)", "api { verify_~certificate: false }",
    "wget --no-check-~certificate https://x", "pip install --trusted-~host pypi.example.com x",
    "mongodb://h/?tlsAllow~InvalidCertificates=true", "skopeo copy --src-~tls-verify=false a b", "ctx.check_~hostname = False",
])
def test_tls_patterns_catch(text):
    assert tls_verification_off(_x(text))


@pytest.mark.parametrize("text", [
    "PYTHONHTTPS~VERIFY=1", "verify_certs: true", "kubectl --insecure-skip-~tls-verify=false get x",
    "verification_mode: certificate", "curl -fsS https://x", "proxy_ssl_verify on;", "sslVerify = true",
    "skopeo copy --src-tls-verify=true a b", "server_tokens off;",
])
def test_tls_patterns_leave_alone(text):
    assert tls_verification_off(_x(text)) == []
