"""cert-manager (cert-manager.io/v1): `Certificate` and the in-cluster `CertificateAuthority`.

Every certificate is issued by cert-manager; the program never holds a private key. Secrets that
cert-manager writes carry `tls.crt`, `tls.key` and `ca.crt` (the issuing CA), which is what the
pods that verify TLS (ClearML -> Elasticsearch, router -> web server) mount.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import IssuerRef, TlsSettings

from . import workload as w

API_VERSION = "cert-manager.io/v1"
SERVER_USAGES = ("server auth", "digital signature", "key encipherment")


def issuer_ref(ref: IssuerRef) -> dict[str, str]:
    return {"name": ref.name, "kind": ref.kind, "group": ref.group}


def chosen_issuer(given: IssuerRef | None, ca: CertificateAuthority | None) -> dict[str, str]:
    """The issuer the stack names, else the in-cluster CA's (TlsSettings.bootstraps_ca creates it exactly then)."""
    if given is not None:
        return issuer_ref(given)
    if ca is None:
        raise AssertionError("no issuer is given and no in-cluster CA was created")
    return ca.issuer


def issuer_for(mode: str, issuer: dict[str, str] | None) -> dict[str, str]:
    """The issuer a route-certificate mode other than router-default signs with (the server always gives one then)."""
    if issuer is None:
        raise AssertionError(f"tls.routeCertificates {mode} needs an issuer, and none was given")
    return issuer


def service_dns_names(service: str, namespace: str) -> list[str]:
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


@dataclass(frozen=True)
class CertificateArgs:
    namespace: str
    secret_name: str
    issuer: dict[str, str]
    tls: TlsSettings
    dns_names: Sequence[str] = ()
    common_name: str | None = None
    usages: Sequence[str] = SERVER_USAGES
    is_ca: bool = False
    duration: str | None = None  # overrides tls.duration (the CA's own lifetime)
    component: str = "tls"


class Certificate(pulumi.ComponentResource):
    """A cert-manager Certificate. Pulumi waits until it is Ready (`pulumi.com/waitFor`), so anything
    that depends on it finds its Secret. Outputs: `secret_name`, `resource` (the custom resource)."""

    secret_name: str
    resource: k8s.apiextensions.CustomResource

    def __init__(self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:certificate:Certificate", name, None, opts)
        key = args.tls.private_key
        private_key: dict[str, str | int] = {"algorithm": key.algorithm, "rotationPolicy": key.rotation_policy}
        if key.size:
            private_key["size"] = key.size
        spec: dict = {
            "secretName": args.secret_name,
            "issuerRef": dict(args.issuer),
            "duration": args.duration or args.tls.duration,
            "privateKey": private_key,
            "usages": list(args.usages),
            "secretTemplate": {"labels": w.labels(args.component)},
        }
        if args.duration is None:
            spec["renewBefore"] = args.tls.renew_before
        if args.dns_names:
            spec["dnsNames"] = list(args.dns_names)
        if args.common_name:
            spec["commonName"] = args.common_name
            spec["subject"] = {"organizations": ["clearml-openshift"]}
        if args.is_ca:
            spec["isCA"] = True
        self.resource = k8s.apiextensions.CustomResource(
            f"{name}-certificate",
            api_version=API_VERSION,
            kind="Certificate",
            # Named like the Secret it writes.
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=args.secret_name, namespace=args.namespace, labels=w.labels(args.component),
                annotations={"pulumi.com/waitFor": "condition=Ready"},
            ),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_name = args.secret_name
        self.register_outputs({"secret_name": self.secret_name})


def host_certificate(name: str, namespace: str, secret_name: str, host: str, issuer: dict[str, str],
                     tls: TlsSettings, parent: pulumi.Resource) -> Certificate:
    """The certificate of one public host (a Route's or an Ingress's), in Secret `secret_name`."""
    return Certificate(name, CertificateArgs(namespace=namespace, secret_name=secret_name, issuer=issuer, tls=tls,
                                             dns_names=[host], component="edge"),
                       opts=pulumi.ResourceOptions(parent=parent))


@dataclass(frozen=True)
class CertificateAuthorityArgs:
    namespace: str
    tls: TlsSettings


class CertificateAuthority(pulumi.ComponentResource):
    """An in-cluster CA: a self-signed Issuer signs a CA Certificate, which backs a CA Issuer
    (cert-manager docs, "Bootstrapping CA Issuers"). All namespaced: nothing cluster-wide.

    Outputs: `issuer` (issuerRef of the CA Issuer), `secret_name` (its Secret, key `ca.crt`), and
    `ca_certificate`: the CA's PEM, read back from the cluster once issued when
    `tls.exportCaCertificate` is set (None otherwise; unknown in the first preview).
    """

    issuer: dict[str, str]
    secret_name: str
    ca_certificate: pulumi.Output[str] | None

    def __init__(self, name: str, args: CertificateAuthorityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:certificate:CertificateAuthority", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bootstrap = k8s.apiextensions.CustomResource(
            f"{name}-selfsigned",
            api_version=API_VERSION,
            kind="Issuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=f"{name}-selfsigned", namespace=args.namespace,
                                                labels=w.labels("tls")),
            spec={"selfSigned": {}},
            opts=child,
        )
        self.secret_name = name
        ca = Certificate(
            f"{name}-root",
            CertificateArgs(
                namespace=args.namespace, secret_name=name, tls=args.tls, is_ca=True,
                common_name=f"clearml-openshift CA ({args.namespace})", duration=args.tls.ca_duration,
                usages=("cert sign", "crl sign", "digital signature"),
                issuer={"name": f"{name}-selfsigned", "kind": "Issuer", "group": "cert-manager.io"},
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[bootstrap]),
        )
        ca_issuer = k8s.apiextensions.CustomResource(
            f"{name}-issuer",
            api_version=API_VERSION,
            kind="Issuer",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=w.labels("tls")),
            spec={"ca": {"secretName": name}},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[ca]),
        )
        self.issuer = {"name": name, "kind": "Issuer", "group": "cert-manager.io"}
        self.ca_certificate = None
        if args.tls.export_ca_certificate:
            # The Secret is read only once the CA Certificate exists (its id is unknown before the
            # first `up`, so the first preview skips the read instead of failing).
            secret_id = pulumi.Output.all(ca.resource.id, ca_issuer.id).apply(lambda _: f"{args.namespace}/{name}")
            ca_secret = k8s.core.v1.Secret.get(f"{name}-read", secret_id, opts=child)
            self.ca_certificate = ca_secret.data.apply(lambda data: base64.b64decode(data["ca.crt"]).decode())
        self.register_outputs({"issuer": self.issuer, "secret_name": self.secret_name})
