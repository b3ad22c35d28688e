"""The CRD validation harness itself (`tests/crds.py`): it accepts good manifests and rejects each kind
of bad one, for every schema construct it converts and every CEL rule it implements."""

from __future__ import annotations

import base64
import copy
import hashlib
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from tests import crds
from tests.crds import RULES, UnknownRule, load, rule_key, to_json_schema, validate

# ------------------------------------------------------------------------------------------------
# Good manifests
# ------------------------------------------------------------------------------------------------

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


def route(**spec: Any) -> dict[str, Any]:
    """A valid edge Route; `spec` keys replace (None removes) top-level spec fields."""
    manifest = {
        "apiVersion": "route.openshift.io/v1",
        "kind": "Route",
        "metadata": {"name": "clearml-app", "namespace": "clearml", "labels": {"app.kubernetes.io/part-of": "clearml"},
                     "annotations": {"haproxy.router.openshift.io/timeout": "60s"}},
        "spec": {
            "host": "clearml-app.apps.example.com",
            "to": {"kind": "Service", "name": "clearml-webserver", "weight": 100},
            "port": {"targetPort": "http"},
            "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect",
                    "externalCertificate": {"name": "clearml-app-tls"}},
            "wildcardPolicy": "None",
        },
    }
    for key, value in spec.items():
        if value is None:
            manifest["spec"].pop(key, None)
        else:
            manifest["spec"][key] = value
    return manifest


def tls(**fields: Any) -> dict[str, Any]:
    return {"termination": "edge", **fields}


def certificate(**spec: Any) -> dict[str, Any]:
    manifest = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "clearml-elastic-tls", "namespace": "clearml"},
        "spec": {
            "secretName": "clearml-elastic-tls",
            "issuerRef": {"name": "clearml-ca", "kind": "Issuer", "group": "cert-manager.io"},
            "dnsNames": ["clearml-elastic", "clearml-elastic.clearml.svc"],
            "duration": "2160h", "renewBefore": "720h",
            "usages": ["server auth", "digital signature", "key encipherment"],
            "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            "secretTemplate": {"labels": {"app.kubernetes.io/part-of": "clearml"}},
        },
    }
    manifest["spec"].update(spec)
    return manifest


def issuer(spec: dict[str, Any], kind: str = "Issuer") -> dict[str, Any]:
    metadata = {"name": "clearml-ca"} | ({"namespace": "clearml"} if kind == "Issuer" else {})
    return {"apiVersion": "cert-manager.io/v1", "kind": kind, "metadata": metadata, "spec": spec}


ACME = {
    "server": "https://acme-v02.api.letsencrypt.org/directory",
    "email": "ops@example.com",
    "privateKeySecretRef": {"name": "acme-account"},
    "solvers": [{"http01": {"ingress": {}}}],
}
VENAFI_CLOUD = {"apiTokenSecretRef": {"name": "venafi", "key": "token"}}
VENAFI_TPP = {"url": "https://tpp.example.com/vedsdk", "credentialsRef": {"name": "tpp"}}

GOOD = {
    "route edge, external certificate": route(),
    "route edge, router's certificate, no tls policy": route(tls=tls()),
    "route reencrypt with destination CA": route(tls=tls(termination="reencrypt", destinationCACertificate=PEM,
                                                         externalCertificate={"name": "x"})),
    "route passthrough": route(tls={"termination": "passthrough", "insecureEdgeTerminationPolicy": "Redirect"}),
    "route inline certificate": route(tls=tls(certificate=PEM, key="KEY", caCertificate=PEM)),
    "route without tls, numeric port, path": route(tls=None, port={"targetPort": 8080}, path="/clearml"),
    "route without to.kind (defaulted)": route(to={"name": "clearml-webserver"}),
    "route with header actions": route(httpHeaders={"actions": {
        "request": [{"name": "X-Forwarded-Host", "action": {"type": "Set", "set": {"value": "%[req.hdr(host),lower]"}}},
                    {"name": "X-Debug", "action": {"type": "Delete"}}],
        "response": [{"name": "X-Frame-Options", "action": {"type": "Set", "set": {"value": "SAMEORIGIN"}}},
                     {"name": "X-Cert", "action": {"type": "Set", "set": {"value": "%{+Q}[ssl_c_der,base64]"}}}],
    }}),
    "route wildcard with host": route(wildcardPolicy="Subdomain"),
    "route with a null field (pruned)": route(path=None) | {"spec": route()["spec"] | {"subdomain": None}},
    "certificate": certificate(),
    "CA certificate": certificate(isCA=True, commonName="clearml-ca", dnsNames=None,
                                  issuerRef={"name": "selfsigned", "kind": "ClusterIssuer"}),
    "issuer ca": issuer({"ca": {"secretName": "clearml-ca"}}),
    "issuer selfSigned": issuer({"selfSigned": {}}),
    "issuer acme with a CA bundle": issuer({"acme": ACME | {"caBundle": base64.b64encode(PEM.encode()).decode()}}),
    "issuer acme with a webhook solver (free-form config)": issuer({"acme": ACME | {"solvers": [{"dns01": {"webhook": {
        "groupName": "acme.example.com", "solverName": "example",
        "config": {"anything": {"nested": [1, "two", None]}, "apiKeySecretRef": {"name": "k"}}}}}]}}),
    "issuer venafi cloud": issuer({"venafi": {"zone": "z", "cloud": VENAFI_CLOUD}}),
    "clusterissuer selfSigned": issuer({"selfSigned": {}}, "ClusterIssuer"),
    "clusterissuer acme": issuer({"acme": ACME}, "ClusterIssuer"),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_good_manifests_validate(name):
    assert validate(GOOD[name]) == []


def test_validate_does_not_modify_its_argument():
    manifest = route(to={"name": "clearml-webserver"})
    before = copy.deepcopy(manifest)
    assert validate(manifest) == [] and manifest == before


def test_numbers_from_pulumi_mocks_are_integers():
    """Pulumi's mocks hand numbers over as floats (8080.0); JSON has one number type."""
    assert validate(route(port={"targetPort": 8080.0}, to={"name": "w", "weight": 100.0})) == []
    assert validate(route(to={"name": "w", "weight": 1.5})) != []


# ------------------------------------------------------------------------------------------------
# Bad manifests: each schema construct
# ------------------------------------------------------------------------------------------------


def _with(manifest: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `manifest` with the dotted `path` set to `value` (or removed when value is ...)."""
    out = copy.deepcopy(manifest)
    *parents, last = path.split(".")
    node = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is ...:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


BAD = {
    # required
    "route without to": (_with(route(), "spec.to", ...), r"spec: 'to' is a required property"),
    "route without spec": (_with(route(), "spec", ...), r"<root>: 'spec' is a required property"),
    "route to without name": (_with(route(), "spec.to.name", ...), r"spec.to: 'name' is a required property"),
    "route tls without termination": (route(tls={"insecureEdgeTerminationPolicy": "Redirect"}),
                                      r"spec.tls: 'termination' is a required property"),
    "certificate without secretName": (_with(certificate(), "spec.secretName", ...),
                                       r"spec: 'secretName' is a required property"),
    "certificate issuerRef without name": (certificate(issuerRef={"kind": "Issuer"}),
                                           r"spec.issuerRef: 'name' is a required property"),
    "issuer ca without secretName": (issuer({"ca": {}}), r"spec.ca: 'secretName' is a required property"),
    "clusterissuer acme without server": (issuer({"acme": {"privateKeySecretRef": {"name": "a"}}}, "ClusterIssuer"),
                                          r"spec.acme: 'server' is a required property"),
    # type
    "route host not a string": (route(host=123), r"spec.host: 123 is not of type 'string'"),
    "route weight not an integer": (_with(route(), "spec.to.weight", "100"), r"spec.to.weight: '100' is not of type 'integer'"),
    "certificate isCA not a boolean": (certificate(isCA="yes"), r"spec.isCA: 'yes' is not of type 'boolean'"),
    "certificate dnsNames not a list": (certificate(dnsNames="a.example.com"), r"spec.dnsNames: 'a.example.com' is not of type 'array'"),
    # enum
    "route termination unknown": (route(tls=tls(termination="none")), r"spec.tls.termination: 'none' is not one of"),
    "route insecure policy unknown": (route(tls=tls(insecureEdgeTerminationPolicy="Deny")),
                                      r"spec.tls.insecureEdgeTerminationPolicy: 'Deny' is not one of"),
    "route to a Pod": (_with(route(), "spec.to.kind", "Pod"), r"spec.to.kind: 'Pod' is not one of"),
    "route wildcard policy unknown": (route(wildcardPolicy="All"), r"spec.wildcardPolicy: 'All' is not one of"),
    "certificate key algorithm unknown": (certificate(privateKey={"algorithm": "DSA"}),
                                          r"spec.privateKey.algorithm: 'DSA' is not one of"),
    "certificate usage misspelt": (certificate(usages=["server-auth"]), r"spec.usages\[0\]: 'server-auth' is not one of"),
    # pattern, maxLength
    "route host with an underscore": (route(host="clearml_app.example.com"), r"spec.host: 'clearml_app.example.com' does not match"),
    "route host too long": (route(host="a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60 + ".example.com"),
                            r"spec.host: .* is too long"),
    "route path without a slash": (route(path="clearml"), r"spec.path: 'clearml' does not match '\^/'"),
    # minimum, maximum, maxItems
    "route weight above 256": (_with(route(), "spec.to.weight", 257), r"spec.to.weight: 257 is greater than the maximum of 256"),
    "route weight negative": (_with(route(), "spec.to.weight", -1), r"spec.to.weight: -1 is less than the minimum of 0"),
    "route with 4 alternate backends": (route(alternateBackends=[{"kind": "Service", "name": f"s{i}"} for i in range(4)]),
                                        r"spec.alternateBackends: .* is too long"),
    # unknown fields (closed objects)
    "route tls field misspelt": (route(tls=tls(insecureEdgeTermination="Redirect")),
                                 r"spec.tls: Additional properties are not allowed \('insecureEdgeTermination' was unexpected\)"),
    "certificate field misspelt": (certificate(dnsName=["a"]), r"spec: Additional properties are not allowed \('dnsName' was unexpected\)"),
    "unknown top-level field": (route() | {"data": {}}, r"<root>: Additional properties are not allowed \('data' was unexpected\)"),
    "issuer acme webhook: unknown field next to the free-form config": (
        issuer({"acme": ACME | {"solvers": [{"dns01": {"webhook": {"groupName": "g", "solverName": "s", "config": {},
                                                                   "settings": {}}}}]}}),
        r"spec.acme.solvers\[0\].dns01.webhook: Additional properties are not allowed \('settings' was unexpected\)"),
    # x-kubernetes-int-or-string
    "route targetPort a list": (route(port={"targetPort": ["http"]}), r"spec.port.targetPort: \['http'\] is not of type 'integer', 'string'"),
    "route targetPort a boolean": (route(port={"targetPort": True}), r"spec.port.targetPort: True is not of type 'integer', 'string'"),
    "route targetPort 0": (route(port={"targetPort": 0}), r"spec.port.targetPort: targetPort must not be 0"),
    "route targetPort empty": (route(port={"targetPort": ""}), r"spec.port.targetPort: targetPort must not be empty"),
    "route port without targetPort": (route(port={}), r"spec.port: 'targetPort' is a required property"),
    # allOf/anyOf/not rules of the Route CRD
    "route passthrough with a path": (route(path="/x", tls={"termination": "passthrough"}),
                                      r"spec: passthrough termination does not support paths"),
    "route passthrough with a key": (route(tls={"termination": "passthrough", "key": "KEY"}),
                                     r"spec.tls: passthrough termination does not support certificate, key"),
    "route passthrough with a certificate": (route(tls={"termination": "passthrough", "certificate": PEM}),
                                             r"spec.tls: passthrough termination does not support"),
    "route passthrough with a CA certificate": (route(tls={"termination": "passthrough", "caCertificate": PEM}),
                                                r"spec.tls: passthrough termination does not support"),
    "route passthrough with a destination CA": (route(tls={"termination": "passthrough", "destinationCACertificate": PEM}),
                                                r"spec.tls: passthrough termination does not support"),
    "route edge with a destination CA": (route(tls=tls(destinationCACertificate=PEM)),
                                         r"spec.tls: edge termination does not support destinationCACertificate"),
    "route wildcard without host": (route(host=None, wildcardPolicy="Subdomain"), r"spec: wildcardPolicy Subdomain needs a host"),
    # formats
    "issuer acme CA bundle not base64": (issuer({"acme": ACME | {"caBundle": "not base64!"}}),
                                         r"spec.acme.caBundle: 'not base64!' is not a 'byte'"),
    "certificate status time not a date-time": (certificate() | {"status": {"notAfter": "next year"}},
                                                r"status.notAfter: 'next year' is not a 'date-time'"),
    # metadata
    "route name with capitals": (_with(route(), "metadata.name", "ClearML-App"), r"metadata.name: 'ClearML-App' is not a DNS-1123 subdomain"),
    "route name too long": (_with(route(), "metadata.name", "a" * 254), r"metadata.name: 'a+' is not a DNS-1123 subdomain"),
    "route without a name": (_with(route(), "metadata.name", ...), r"metadata.name: required"),
    "route without a namespace": (_with(route(), "metadata.namespace", ...),
                                  r"metadata.namespace: required for the namespaced kind Route"),
    "certificate namespace not a label": (_with(certificate(), "metadata.namespace", "Clear.ML"),
                                          r"metadata.namespace: 'Clear.ML' is not a DNS-1123 label"),
    "clusterissuer with a namespace": (_with(issuer({"selfSigned": {}}, "ClusterIssuer"), "metadata.namespace", "clearml"),
                                       r"metadata.namespace: not allowed on the cluster-scoped kind ClusterIssuer"),
    "route label value not a string": (_with(route(), "metadata.labels.tier", 1), r"metadata.labels: must map strings to strings"),
    "issuer without metadata": (_with(issuer({"selfSigned": {}}), "metadata", ...), r"metadata: required object is missing"),
    # versions
    "certificate of an unserved version": (certificate() | {"apiVersion": "cert-manager.io/v1alpha2"},
                                           r"apiVersion: cert-manager.io/v1alpha2 is not served by the Certificate CRD"),
}

CEL_BAD = {
    # Route spec
    "passthrough with header actions": (
        route(tls={"termination": "passthrough"}, httpHeaders={"actions": {"request": [{"name": "X-A", "action": {"type": "Delete"}}]}}),
        r"spec: header actions are not permitted when tls termination is passthrough."),
    # Route spec.tls
    "passthrough with insecure Allow": (route(tls={"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"}),
                                        r"spec.tls: cannot have both spec.tls.termination: passthrough and spec.tls.insecureEdgeTerminationPolicy: Allow"),
    "certificate and external certificate": (route(tls=tls(certificate=PEM, externalCertificate={"name": "x"})),
                                             r"spec.tls: cannot have both spec.tls.certificate and spec.tls.externalCertificate"),
    # Route spec.httpHeaders.actions.*[].action
    "Set without a value": (route(httpHeaders={"actions": {"request": [{"name": "X-A", "action": {"type": "Set"}}]}}),
                            r"spec.httpHeaders.actions.request\[0\].action: set is required when type is Set, and forbidden otherwise"),
    "Delete with a value": (route(httpHeaders={"actions": {"response": [{"name": "X-A", "action": {"type": "Delete", "set": {"value": "v"}}}]}}),
                            r"spec.httpHeaders.actions.response\[0\].action: set is required when type is Set, and forbidden otherwise"),
}
for _header in ("Strict-Transport-Security", "PROXY", "Cookie", "set-cookie"):
    for _direction in ("request", "response"):
        CEL_BAD[f"{_direction} header {_header}"] = (
            route(httpHeaders={"actions": {_direction: [{"name": _header, "action": {"type": "Delete"}}]}}),
            rf"spec.httpHeaders.actions.{_direction}\[0\].name: {_header.lower()} header may not be modified via header actions")
for _direction, _value in (("request", "%[req.hdr(host),upper]"), ("request", "%[res.hdr(x)]"),
                           ("response", "%[req.hdr(host)]"), ("response", "bad\x01value"), ("request", "%")):
    CEL_BAD[f"{_direction} header value {_value!r}"] = (
        route(httpHeaders={"actions": {_direction: [{"name": "X-A", "action": {"type": "Set", "set": {"value": _value}}}]}}),
        rf"spec.httpHeaders.actions.{_direction}: Either the header value provided is not in correct format")
# Issuer/ClusterIssuer spec.venafi
CEL_BAD["venafi with two backends"] = (issuer({"venafi": {"zone": "z", "cloud": VENAFI_CLOUD, "tpp": VENAFI_TPP}}),
                                       r"spec.venafi: exactly one of tpp, cloud, or ngts must be configured")
CEL_BAD["clusterissuer venafi with none"] = (issuer({"venafi": {"zone": "z"}}, "ClusterIssuer"),
                                             r"spec.venafi: exactly one of tpp, cloud, or ngts must be configured")


@pytest.mark.parametrize("name", list(BAD) + list(CEL_BAD))
def test_bad_manifests_are_rejected(name):
    manifest, expected = (BAD | CEL_BAD)[name]
    errors = validate(manifest)
    assert any(re.search(expected, e) for e in errors), f"expected /{expected}/ in {errors}"


def test_every_implemented_rule_rejects_at_least_one_bad_manifest():
    """Each predicate in RULES is used by a CRD and is the reason of at least one rejection above."""
    used = {rule_key(r["rule"]) for group, kind in crds.CRD_FILES
            for schema in load(group, kind).schemas.values() for _, r in crds._rules(schema)}
    assert set(RULES) == used, "a predicate no CRD uses (or a rule without one)"
    messages = {rule_key(r["rule"]): r["message"] for group, kind in crds.CRD_FILES
                for schema in load(group, kind).schemas.values() for _, r in crds._rules(schema)}
    rejected = [e for manifest, _ in CEL_BAD.values() for e in validate(manifest)]
    for text, message in messages.items():
        assert any(message[:40] in e for e in rejected), f"no bad manifest trips {text!r}"


def test_errors_are_reported_together():
    manifest = route(path="/x", host="Bad_Host", tls={"termination": "passthrough", "insecureEdgeTerminationPolicy": "Allow"})
    manifest["metadata"]["name"] = "Bad"
    errors = validate(manifest)
    assert len(errors) == 4, errors


# ------------------------------------------------------------------------------------------------
# Loading and conversion
# ------------------------------------------------------------------------------------------------


def test_unknown_kind_or_manifest_raises():
    with pytest.raises(ValueError, match="no CRD here for CertificateRequest"):
        validate({"apiVersion": "cert-manager.io/v1", "kind": "CertificateRequest", "metadata": {"name": "x"}})
    with pytest.raises(ValueError, match="not a custom resource manifest"):
        validate({"apiVersion": "v1", "kind": "Secret"})


def test_an_unknown_cel_rule_fails_loudly(monkeypatch):
    text = "!(has(self.certificate) && has(self.externalCertificate))"
    monkeypatch.delitem(RULES, text)
    load.cache_clear()
    crds._validator.cache_clear()
    try:
        with pytest.raises(UnknownRule, match="routes.crd.yaml v1/properties/spec/properties/tls"):
            validate(route())
        # Also when a schema reaches the evaluator without going through load() (belt and braces).
        node = {"x-kubernetes-validations": [{"rule": text, "message": "m"}]}
        with pytest.raises(UnknownRule):
            list(crds._cel(node, {"certificate": "x"}, ["spec", "tls"]))
    finally:
        monkeypatch.undo()
        load.cache_clear()
        crds._validator.cache_clear()
    assert validate(route()) == []


def test_a_rule_that_cannot_be_evaluated_is_an_error():
    """CEL reports `no such key` as a failure; so does the harness (spec.tls.termination is required)."""
    errors = validate(route(tls={"insecureEdgeTerminationPolicy": "None"}, httpHeaders={"actions": {}}))
    assert any("could not be evaluated" in e for e in errors), errors


def test_every_crd_converts_to_a_valid_json_schema():
    for group, kind in crds.CRD_FILES:
        crd = load(group, kind)
        assert crd.schemas, kind
        for version in crd.schemas:
            Draft202012Validator.check_schema(to_json_schema(crd.schemas[version]))
    assert load("cert-manager.io", "ClusterIssuer").namespaced is False
    assert load("route.openshift.io", "Route").namespaced is True


def test_conversion_of_kubernetes_extensions():
    schema = to_json_schema({
        "type": "object",
        "properties": {
            "port": {"x-kubernetes-int-or-string": True, "anyOf": None},
            "note": {"type": "string", "nullable": True, "enum": ["a", "b"]},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                     "properties": {"known": {"type": "string"}}},
            "map": {"type": "object", "additionalProperties": {"type": "string"}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}},
                     "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["a"]},
            "either": {"type": "object", "properties": {"a": {"type": "string"}},
                       "anyOf": [{"properties": {"a": {"maxLength": 0}}}, {"required": ["a"]}]},
        },
        "x-kubernetes-validations": [{"rule": "true"}],
    })
    assert schema["properties"]["port"] == {"type": ["integer", "string"]}
    assert schema["properties"]["note"] == {"type": ["null", "string"], "enum": ["a", "b", None]}
    assert "additionalProperties" not in schema["properties"]["free"]
    assert schema["properties"]["map"]["additionalProperties"] == {"type": "string"}
    assert schema["properties"]["list"]["items"]["additionalProperties"] is False
    # Inside anyOf, `properties` constrain values only: the branch does not close the object.
    assert "additionalProperties" not in schema["properties"]["either"]["anyOf"][0]
    assert schema["additionalProperties"] is False
    assert not any(k.startswith("x-kubernetes") for k in repr(schema).split("'"))
    validator = Draft202012Validator(schema)
    assert validator.is_valid({"port": 1, "note": None, "free": {"x": 1}, "map": {"k": "v"}, "list": [{"a": "x"}],
                               "either": {"a": "x"}})
    assert validator.is_valid({"port": "http"})
    for bad in ({"port": 1.5}, {"note": "c"}, {"map": {"k": 1}}, {"list": [{"b": 1}]}, {"other": 1}):
        assert not validator.is_valid(bad), bad


# ------------------------------------------------------------------------------------------------
# The data files
# ------------------------------------------------------------------------------------------------


def test_crd_files_are_the_upstream_bytes_listed_in_sources():
    sources = (crds.CRD_DIR / "SOURCES.md").read_text()
    rows = dict(re.findall(r"^\| `([^`]+)` \|.*\| ([0-9a-f]{64}) \|$", sources, re.M))
    on_disk = {p.name for p in crds.CRD_DIR.glob("*.yaml")}
    assert set(rows) == on_disk == set(crds.CRD_FILES.values())
    for name, digest in rows.items():
        assert hashlib.sha256((crds.CRD_DIR / name).read_bytes()).hexdigest() == digest, f"{name} differs from upstream"
    for commit in re.findall(r"@ ([0-9a-f]+)", sources):
        assert len(commit) == 40, commit
