"""`Route`: one OpenShift Route (route.openshift.io/v1) for one public host, with its TLS.

Certificates, by `tls.routeCertificates`:
* `external-certificate`: a cert-manager Certificate for the host; the Route points at its Secret
  with `spec.tls.externalCertificate` (GA in OpenShift 4.19). The router's ServiceAccount must be
  able to read the Secret (the `Edge` component creates that Role/RoleBinding) and the Secret must
  exist before the Route (the Certificate is awaited until Ready).
* `cert-manager-annotations`: the `cert-manager.io/issuer-*` annotations read by cert-manager's
  openshift-routes controller, which writes `spec.tls.certificate`/`key` itself. The program never
  sets those two fields and ignores their changes, so it does not fight the controller.
* `router-default`: the router's default (wildcard) certificate.
Annotations and field rules: openshift/router haproxy-config.template, openshift/api route/v1.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import EdgeSettings, TlsSettings

from . import workload as w
from .certificate import host_certificate, issuer_for
from .edge_plan import reencrypts


@dataclass(frozen=True)
class RouteArgs:
    namespace: str
    route_name: str  # metadata.name, e.g. clearml-app
    host: str
    service: pulumi.Input[str]
    target_port: str
    edge: EdgeSettings
    tls: TlsSettings
    timeout: str
    issuer: dict[str, str] | None  # for certificates issued by cert-manager
    destination_ca: pulumi.Input[str] | None = None  # reencrypt only
    depends_on: tuple[pulumi.Resource, ...] = ()  # e.g. the router's access to the certificate Secret


def router_annotations(edge: EdgeSettings, timeout: str) -> dict[str, str]:
    annotations = {"haproxy.router.openshift.io/timeout": timeout}
    if edge.hsts:
        annotations["haproxy.router.openshift.io/hsts_header"] = edge.hsts
    if edge.ip_allowlist:
        allowlist = " ".join(edge.ip_allowlist)
        # ip_allowlist since OpenShift 4.18; older routers only read the old name (same value).
        annotations["haproxy.router.openshift.io/ip_allowlist"] = allowlist
        annotations["haproxy.router.openshift.io/ip_whitelist"] = allowlist
    return annotations


def certificate_annotations(issuer: dict[str, str], tls: TlsSettings) -> dict[str, str]:
    """The annotations cert-manager's openshift-routes controller reads (constants of cert-manager v1)."""
    annotations = {
        "cert-manager.io/issuer-name": issuer["name"],
        "cert-manager.io/issuer-kind": issuer["kind"],
        "cert-manager.io/issuer-group": issuer["group"],
        "cert-manager.io/duration": tls.duration,
        "cert-manager.io/renew-before": tls.renew_before,
        "cert-manager.io/private-key-algorithm": tls.private_key.algorithm,
        "cert-manager.io/private-key-rotation-policy": tls.private_key.rotation_policy,
    }
    if tls.private_key.size:
        annotations["cert-manager.io/private-key-size"] = str(tls.private_key.size)
    return annotations


class Route(pulumi.ComponentResource):
    """Outputs: `host`, `url`, `certificate_secret` (None unless `external-certificate`)."""

    host: str
    url: str
    certificate_secret: str | None

    def __init__(self, name: str, args: RouteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:route:Route", name, None, opts)
        edge, mode = args.edge, args.tls.route_certificates
        annotations = router_annotations(edge, args.timeout)
        tls: dict = {"termination": edge.termination, "insecureEdgeTerminationPolicy": edge.insecure_edge_termination_policy}
        if reencrypts(edge):
            tls["destinationCACertificate"] = args.destination_ca
        depends_on = list(args.depends_on)
        ignore_changes: list[str] = []
        self.certificate_secret = None
        if mode == "external-certificate":
            self.certificate_secret = f"{args.route_name}-tls"
            certificate = host_certificate(f"{name}-tls", args.namespace, self.certificate_secret, args.host,
                                           issuer_for(mode, args.issuer), args.tls, parent=self)
            tls["externalCertificate"] = {"name": self.certificate_secret}
            depends_on.append(certificate)
        elif mode == "cert-manager-annotations":
            annotations.update(certificate_annotations(issuer_for(mode, args.issuer), args.tls))
            ignore_changes = ["spec.tls.certificate", "spec.tls.key"]

        spec: dict = {
            "host": args.host,
            "to": {"kind": "Service", "name": args.service, "weight": 100},
            "port": {"targetPort": args.target_port},
            "tls": tls,
            "wildcardPolicy": "None",
        }
        if edge.path:
            spec["path"] = edge.path
        k8s.apiextensions.CustomResource(
            f"{name}-route",
            api_version="route.openshift.io/v1",
            kind="Route",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.route_name, namespace=args.namespace,
                                                labels=w.labels("edge"), annotations=annotations),
            spec=spec,
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, ignore_changes=ignore_changes),
        )
        self.host = args.host
        self.url = f"https://{args.host}{edge.path or ''}"
        self.register_outputs({"host": self.host, "url": self.url})
