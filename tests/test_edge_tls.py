"""Routes/Ingress, cert-manager certificates and issuers, Elasticsearch TLS, SCC grants, outputs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pulumi
import pytest

from admission import Namespace, admit, load_scc
from policy.tls_verification import TLS_VERIFICATION_OFF
from settings import PROJECT
from tests.conftest import (
    MOCK_CA,
    ROOT,
    STACKS,
    deploy,
    deploy_config,
    deploy_program,
    env_of,
    pod_templates,
    run_program,
    stack_config,
    unwrap,
    walk,
)

P = PROJECT


def _config(**sections) -> dict[str, str]:
    config = {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"})}
    config.update({f"{P}:{key}": json.dumps(value) for key, value in sections.items()})
    return config


def _run(mocks, config):
    deploy_config(mocks, config)


def _routes(mocks) -> dict[str, dict]:
    return {unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs) for r in mocks.of_kind("Route")}


# ---- Routes ---------------------------------------------------------------------------------------


def test_dev_routes_with_external_certificates(mocks):
    _run(mocks, stack_config("dev"))
    routes = _routes(mocks)
    assert set(routes) == {"clearml-app", "clearml-api", "clearml-files"}
    targets = {"clearml-app": "clearml-webserver", "clearml-api": "clearml-apiserver", "clearml-files": "clearml-fileserver"}
    for name, route in routes.items():
        spec = route["spec"]
        assert spec["to"] == {"kind": "Service", "name": targets[name], "weight": 100}
        assert spec["port"] == {"targetPort": "http"}
        assert spec["host"] == f"clearml-dev-{name.split('-')[1]}.apps.dev.example.com"
        assert spec["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                               "externalCertificate": {"name": f"{name}-tls"}}
        annotations = route["metadata"]["annotations"]
        assert annotations["haproxy.router.openshift.io/hsts_header"] == "max-age=31536000;includeSubDomains"
        assert annotations["haproxy.router.openshift.io/timeout"] == ("600s" if name == "clearml-files" else "60s")
        cert = mocks.manifest("Certificate", f"{name}-tls")
        assert cert["spec"]["dnsNames"] == [spec["host"]] and cert["spec"]["secretName"] == f"{name}-tls"
        assert cert["spec"]["issuerRef"] == {"name": "clearml-ca", "kind": "Issuer", "group": "cert-manager.io"}
        assert cert["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"


def test_router_can_read_exactly_the_certificate_secrets_before_routes_exist(mocks):
    _run(mocks, stack_config("dev"))
    role = mocks.manifest("Role", "clearml-router-certificates")
    assert role["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch"],
                              "resourceNames": ["clearml-app-tls", "clearml-api-tls", "clearml-files-tls"]}]
    binding = mocks.manifest("RoleBinding", "clearml-router-certificates")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "router", "namespace": "openshift-ingress"}]
    assert binding["roleRef"]["kind"] == "Role" and binding["roleRef"]["name"] == "clearml-router-certificates"
    for route in mocks.of_kind("Route"):
        deps = " ".join(route.dependencies)
        name = unwrap(route.inputs)["metadata"]["name"]
        assert "Role::clearml-edge-router-certificates" in deps
        assert "RoleBinding::clearml-edge-router-certificates-binding" in deps
        assert f"Certificate::{route.name.removesuffix('-route')}-tls" in deps, (name, deps)


def test_cert_manager_annotations_mode(mocks):
    _run(mocks, _config(tls={"routeCertificates": "cert-manager-annotations",
                             "routeIssuer": {"name": "letsencrypt", "kind": "ClusterIssuer"}}))
    for route in mocks.of_kind("Route"):
        manifest = unwrap(route.inputs)
        annotations = manifest["metadata"]["annotations"]
        assert annotations["cert-manager.io/issuer-name"] == "letsencrypt"
        assert annotations["cert-manager.io/issuer-kind"] == "ClusterIssuer"
        assert annotations["cert-manager.io/issuer-group"] == "cert-manager.io"
        assert manifest["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
        # The openshift-routes controller owns these two fields; the program never fights it.
        assert set(route.ignore_changes) == {"spec.tls.certificate", "spec.tls.key"}
    route_certs = [c for c in mocks.of_kind("Certificate") if "route" in c.name or "edge" in c.name]
    assert route_certs == [] and mocks.of_kind("Role") == []


def test_router_default_certificates(mocks):
    _run(mocks, _config(tls={"routeCertificates": "router-default"}))
    for route in _routes(mocks).values():
        assert route["spec"]["tls"] == {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"}
        assert not any(k.startswith("cert-manager.io/") for k in route["metadata"]["annotations"])


def test_allowlist_path_and_no_hsts(mocks):
    _run(mocks, _config(edge={"ipAllowlist": ["10.0.0.0/8", "192.0.2.7"], "hsts": None, "path": "/"}))
    route = _routes(mocks)["clearml-api"]
    annotations = route["metadata"]["annotations"]
    assert annotations["haproxy.router.openshift.io/ip_allowlist"] == "10.0.0.0/8 192.0.2.7"
    assert annotations["haproxy.router.openshift.io/ip_whitelist"] == "10.0.0.0/8 192.0.2.7"
    assert "haproxy.router.openshift.io/hsts_header" not in annotations
    assert route["spec"]["path"] == "/"


def test_prod_reencrypts_through_the_web_server(mocks):
    _run(mocks, stack_config("prod"))
    for route in _routes(mocks).values():
        assert route["spec"]["to"]["name"] == "clearml-webserver" and route["spec"]["port"] == {"targetPort": "https"}
        assert route["spec"]["tls"]["termination"] == "reencrypt"
        assert route["spec"]["tls"]["destinationCACertificate"] == MOCK_CA
        assert route["metadata"]["annotations"]["haproxy.router.openshift.io/timeout"] in ("120s", "600s")
    cert = mocks.manifest("Certificate", "clearml-app-tls")
    assert cert["spec"]["issuerRef"] == {"name": "letsencrypt-prod", "kind": "ClusterIssuer", "group": "cert-manager.io"}
    web_cert = mocks.manifest("Certificate", "clearml-webserver-tls")
    assert "clearml-webserver.clearml.svc" in web_cert["spec"]["dnsNames"]
    assert web_cert["spec"]["issuerRef"]["name"] == "clearml-ca"
    conf = mocks.manifest("ConfigMap", "clearml-webserver")["data"]["nginx.conf"]
    for host in ("clearml-app", "clearml-api", "clearml-files"):
        assert f"server_name {host}.apps.prod.example.com;" in conf
    assert conf.count("listen 8443 ssl") == 3
    web = mocks.manifest("Deployment", "clearml-webserver")["spec"]["template"]["spec"]
    assert {"name": "https", "containerPort": 8443, "protocol": "TCP"} in web["containers"][0]["ports"]
    service_ports = {p["name"] for p in mocks.manifest("Service", "clearml-webserver")["spec"]["ports"]}
    assert service_ports == {"http", "https"}


def test_ingress_mode(mocks):
    _run(mocks, _config(edge={"mode": "ingress", "ingressClassName": "nginx"},
                        tls={"routeCertificates": "cert-manager-annotations",
                             "routeIssuer": {"name": "letsencrypt", "kind": "ClusterIssuer"}}))
    assert mocks.of_kind("Route") == []
    ingresses = {unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs) for r in mocks.of_kind("Ingress")}
    assert set(ingresses) == {"clearml-app", "clearml-api", "clearml-files"}
    api = ingresses["clearml-api"]
    assert api["spec"]["ingressClassName"] == "nginx"
    assert api["spec"]["tls"] == [{"hosts": ["clearml-api.apps.example.com"], "secretName": "clearml-api-tls"}]
    assert api["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    backend = api["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "clearml-apiserver", "port": {"name": "http"}}


# ---- the in-cluster CA and other issuers ---------------------------------------------------------------


def test_in_cluster_ca_bootstrap(mocks):
    _run(mocks, stack_config("dev"))
    selfsigned = mocks.manifest("Issuer", "clearml-ca-selfsigned")
    assert selfsigned["spec"] == {"selfSigned": {}}
    root = mocks.manifest("Certificate", "clearml-ca")["spec"]
    assert root["isCA"] is True and root["secretName"] == "clearml-ca" and root["duration"] == "87600h"
    assert root["issuerRef"]["name"] == "clearml-ca-selfsigned" and root["commonName"]
    assert root["privateKey"] == {"algorithm": "ECDSA", "rotationPolicy": "Always"}
    assert mocks.manifest("Issuer", "clearml-ca")["spec"] == {"ca": {"secretName": "clearml-ca"}}
    assert mocks.of_kind("ClusterIssuer") == []


def test_given_issuers_skip_the_bootstrap(mocks):
    _run(mocks, _config(tls={"internalIssuer": {"name": "corp-ca", "kind": "ClusterIssuer"},
                             "routeIssuer": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                             "duration": "720h", "renewBefore": "240h",
                             "privateKey": {"algorithm": "RSA", "size": 4096}}))
    assert mocks.of_kind("Issuer") == []
    es = mocks.manifest("Certificate", "clearml-elastic-tls")["spec"]
    assert es["issuerRef"]["name"] == "corp-ca" and es["duration"] == "720h" and es["renewBefore"] == "240h"
    assert es["privateKey"] == {"algorithm": "RSA", "rotationPolicy": "Always", "size": 4096}


def test_outputs(mocks):
    program = deploy_program(mocks, stack_config("dev"))
    server = program["server"]
    loop = asyncio.get_event_loop()
    assert server.urls == {"app": "https://clearml-dev-app.apps.dev.example.com",
                           "api": "https://clearml-dev-api.apps.dev.example.com",
                           "files": "https://clearml-dev-files.apps.dev.example.com"}
    assert server.namespace == "clearml-dev"
    for secret in (server.admin_password, server.tests_key, server.tests_secret):
        assert loop.run_until_complete(secret.is_secret())
    assert loop.run_until_complete(server.ca_certificate.future()) == MOCK_CA


# ---- Elasticsearch TLS --------------------------------------------------------------------------------


def test_elasticsearch_security_and_tls(mocks):
    _run(mocks, stack_config("dev"))
    sts = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]
    main = sts["containers"][0]
    env = env_of(main)
    assert env["xpack.security.enabled"] == "true" and env["xpack.security.http.ssl.enabled"] == "true"
    assert env["xpack.security.http.ssl.certificate_authorities"] == "certs/ca.crt"
    # The password is a file only the pod's user may read (Elastic's entrypoint wants 0400 or 0600),
    # copied from the Secret by an init container, never in the environment.
    assert "ELASTIC_PASSWORD" not in env and env["ELASTIC_PASSWORD_FILE"] == "/etc/elasticsearch-password/password"
    volumes = {v["name"]: v for v in sts["volumes"]}
    assert volumes["password-source"]["secret"]["items"] == [{"key": "password", "path": "password"}]
    assert volumes["password"]["emptyDir"]["medium"] == "Memory"
    install = next(c for c in sts["initContainers"] if c["name"] == "install-password")
    assert install["command"][-1] == "install -m 0600 /password-source/password /password/password"
    assert {"name": "password", "mountPath": "/etc/elasticsearch-password", "readOnly": True} in main["volumeMounts"]
    assert "xpack.security.transport.ssl.enabled" not in env
    assert {"name": "certs", "mountPath": "/usr/share/elasticsearch/config/certs", "readOnly": True} in main["volumeMounts"]
    probe = " ".join(main["readinessProbe"]["exec"]["command"])
    assert "--cacert /usr/share/elasticsearch/config/certs/ca.crt" in probe
    assert "--resolve clearml-elastic:9200:127.0.0.1" in probe and "https://clearml-elastic:9200/" in probe
    assert "--config -" in probe and '"$(cat /etc/elasticsearch-password/password)"' in probe  # on stdin, not argv
    cert = mocks.manifest("Certificate", "clearml-elastic-tls")["spec"]
    assert {"clearml-elastic", "clearml-elastic.clearml-dev.svc", "*.clearml-elastic-headless.clearml-dev.svc"} <= set(cert["dnsNames"])
    assert "client auth" in cert["usages"] and "server auth" in cert["usages"]


def test_elasticsearch_cluster_encrypts_transport(mocks):
    _run(mocks, stack_config("prod"))
    env = env_of(mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]["containers"][0])
    assert env["xpack.security.transport.ssl.enabled"] == "true"
    assert env["xpack.security.transport.ssl.verification_mode"] == "certificate"


def test_clearml_trusts_only_the_mounted_ca(mocks):
    _run(mocks, stack_config("dev"))
    for name in ("clearml-apiserver", "clearml-async-delete"):
        spec = mocks.manifest("Deployment", name)["spec"]["template"]["spec"]
        volume = next(v for v in spec["volumes"] if v["name"] == "elastic-ca")
        assert volume["secret"] == {"secretName": "clearml-elastic-tls", "defaultMode": 0o444,
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}]}  # never the private key
        env = env_of(spec["containers"][0])
        assert env["CLEARML__HOSTS__ELASTIC__EVENTS__ARGS__VERIFY_CERTS"] == "true"


def test_external_elasticsearch_with_its_own_ca(mocks):
    _run(mocks, _config(elasticsearch={"external": {"hosts": [{"host": "es.example.com"}], "ca": {"name": "es-ca", "key": "ca.pem"}}}))
    spec = mocks.manifest("Deployment", "clearml-apiserver")["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "elastic-ca")
    assert volume["secret"]["items"] == [{"key": "ca.pem", "path": "ca.crt"}]


# One definition, shared with the policy pack's tls-verification-on rule (policy/tls_verification.py).
FORBIDDEN = TLS_VERIFICATION_OFF


def test_tls_verification_is_never_switched_off(mocks):
    _run(mocks, stack_config("prod"))
    rendered = json.dumps([unwrap(r.inputs) for r in mocks.resources])
    # The project's own files (not the git-ignored build/ and rendered/ outputs, nor the virtualenv).
    skipped = {".git", "venv", "build", "rendered", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
    files = [p for p in walk(ROOT, prune=lambda parts: bool(skipped & set(parts)))  # rglob, minus venv/'s 20,000 paths
             if p.is_file() and not skipped & set(p.relative_to(ROOT).parts)
             and p.suffix in {".py", ".yaml", ".yml", ".sh", ".env", ".json", ".conf", ""} and p != Path(__file__)]
    for text, where in [(rendered, "rendered manifests")] + [(p.read_text(errors="ignore"), str(p)) for p in files]:
        for pattern in FORBIDDEN:
            assert not pattern.search(text), f"{where} turns TLS verification off: {pattern.pattern}"


# ---- SCC grants ----------------------------------------------------------------------------------------

# The system:openshift:scc:* ClusterRoles on OpenShift 4.11 (cluster-kube-apiserver-operator release-4.11).
CLUSTER_ROLES_4_11 = {f"system:openshift:scc:{n}" for n in (
    "anyuid", "hostaccess", "hostmount-anyuid", "hostnetwork", "hostnetwork-v2", "nonroot", "nonroot-v2",
    "privileged", "restricted", "restricted-v2")}


@pytest.mark.parametrize("stack", STACKS)
def test_no_scc_grant_by_default(mocks, stack):
    _run(mocks, stack_config(stack))
    for binding in mocks.of_kind("RoleBinding"):
        assert not unwrap(binding.inputs)["roleRef"]["name"].startswith("system:openshift:scc:")
    for _name, spec in pod_templates(mocks.resources):
        assert "openshift.io/required-scc" not in json.dumps(spec)


def test_grants_bind_one_service_account_and_pin_the_scc(mocks, monkeypatch):
    warnings = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, resource=None, *a, **k: warnings.append(msg))
    # Runs the program itself (not the cached run): the warning is a side effect of running it.
    config = _config(scc={"grants": {"elasticsearch": "nonroot-v2", "redis": "anyuid"}, "acknowledge": ["anyuid"],
                          "identities": {"elasticsearch": {"runAsUser": 1000}}})
    deploy(lambda: run_program(config))
    bindings = {unwrap(b.inputs)["metadata"]["name"]: unwrap(b.inputs) for b in mocks.of_kind("RoleBinding")
                if unwrap(b.inputs)["roleRef"]["name"].startswith("system:openshift:scc:")}
    assert set(bindings) == {"clearml-elastic-scc-nonroot-v2", "clearml-redis-scc-anyuid"}
    es = bindings["clearml-elastic-scc-nonroot-v2"]
    assert es["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "system:openshift:scc:nonroot-v2"}
    assert es["subjects"] == [{"kind": "ServiceAccount", "name": "clearml-elastic", "namespace": "clearml"}]
    for binding in bindings.values():
        assert binding["roleRef"]["name"] in CLUSTER_ROLES_4_11
    sts = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]
    assert sts["metadata"]["annotations"]["openshift.io/required-scc"] == "nonroot-v2"
    _, errors = admit(sts["spec"], load_scc("nonroot-v2"), Namespace())
    assert errors == []
    assert any("redis is granted the SCC anyuid" in w for w in warnings)
    assert not any("elasticsearch" in w for w in warnings)


def test_every_rolebinding_references_an_existing_role(mocks):
    _run(mocks, _config(scc={"grants": {"apiserver": "nonroot-v2"}, "identities": {"apiserver": {"runAsUser": 1000}}}))
    roles = {unwrap(r.inputs)["metadata"]["name"] for r in mocks.of_kind("Role")}
    for binding in mocks.of_kind("RoleBinding"):
        ref = unwrap(binding.inputs)["roleRef"]
        assert ref["name"] in (CLUSTER_ROLES_4_11 if ref["kind"] == "ClusterRole" else roles), ref


# ---- every custom resource the program can produce validates against its CRD ----------------------------

CRD_CONFIGS = {
    "dev": lambda: stack_config("dev"),
    "prod": lambda: stack_config("prod"),
    "annotations": lambda: _config(tls={"routeCertificates": "cert-manager-annotations"}),
    "router-default": lambda: _config(tls={"routeCertificates": "router-default"}),
    "acme-and-corporate": lambda: _config(tls={"routeIssuer": {"name": "letsencrypt", "kind": "ClusterIssuer"},
                                               "internalIssuer": {"name": "corp", "kind": "Issuer"}}),
    "path-allow-allowlist": lambda: _config(edge={"path": "/", "insecureEdgeTerminationPolicy": "Allow",
                                                  "ipAllowlist": ["10.0.0.0/8"]}),
    "rsa-keys": lambda: _config(tls={"privateKey": {"algorithm": "RSA", "size": 3072, "rotationPolicy": "Never"}}),
    "reencrypt-given-ca": lambda: _config(edge={"termination": "reencrypt",
                                                "destinationCaCertificate": "-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n"}),
    "agent": lambda: _config(agent={"enabled": True}),
}


@pytest.mark.parametrize("variant", sorted(CRD_CONFIGS))
def test_custom_resources_validate_against_their_crds(mocks, variant):
    from tests.crds import validate

    _run(mocks, CRD_CONFIGS[variant]())
    checked = 0
    for r in mocks.resources:
        if r.typ.startswith("kubernetes:") and r.kind in {"Route", "Certificate", "Issuer", "ClusterIssuer"} and not r.read:
            assert validate(unwrap(r.inputs)) == [], f"{r.kind} {r.name}"
            checked += 1
    assert checked >= 4
