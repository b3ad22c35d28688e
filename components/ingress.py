"""`Ingress`: one networking.k8s.io/v1 Ingress for one public host, for clusters without Routes.

TLS: `external-certificate` issues a Certificate whose Secret the Ingress names;
`cert-manager-annotations` uses cert-manager's ingress-shim annotations (it creates the Secret);
`router-default` leaves the certificate to the ingress controller. On OpenShift, the router turns
an Ingress into a Route and honours `route.openshift.io/termination` and the haproxy annotations.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import EdgeSettings, TlsSettings

from . import workload as w
from .certificate import host_certificate, issuer_for
from .route import router_annotations


@dataclass(frozen=True)
class IngressArgs:
    namespace: str
    ingress_name: str
    host: str
    service: pulumi.Input[str]
    target_port: str
    edge: EdgeSettings
    tls: TlsSettings
    timeout: str
    issuer: dict[str, str] | None


class Ingress(pulumi.ComponentResource):
    """Outputs: `host`, `url`, `certificate_secret`."""

    host: str
    url: str
    certificate_secret: str | None

    def __init__(self, name: str, args: IngressArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:ingress:Ingress", name, None, opts)
        mode = args.tls.route_certificates
        annotations = router_annotations(args.edge, args.timeout)
        annotations["route.openshift.io/termination"] = "edge"
        depends_on: list[pulumi.Resource] = []
        self.certificate_secret = None
        if mode == "external-certificate":
            self.certificate_secret = f"{args.ingress_name}-tls"
            depends_on.append(host_certificate(f"{name}-tls", args.namespace, self.certificate_secret, args.host,
                                               issuer_for(mode, args.issuer), args.tls, parent=self))
        elif mode == "cert-manager-annotations":
            self.certificate_secret = f"{args.ingress_name}-tls"
            issuer = issuer_for(mode, args.issuer)
            key = "cert-manager.io/cluster-issuer" if issuer["kind"] == "ClusterIssuer" else "cert-manager.io/issuer"
            annotations[key] = issuer["name"]
            annotations["cert-manager.io/duration"] = args.tls.duration
            annotations["cert-manager.io/renew-before"] = args.tls.renew_before
        tls_entry = k8s.networking.v1.IngressTLSArgs(hosts=[args.host], secret_name=self.certificate_secret)
        k8s.networking.v1.Ingress(
            f"{name}-ingress",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=args.ingress_name, namespace=args.namespace,
                                                labels=w.labels("edge"), annotations=annotations),
            spec=k8s.networking.v1.IngressSpecArgs(
                ingress_class_name=args.edge.ingress_class_name,
                tls=[tls_entry],
                rules=[k8s.networking.v1.IngressRuleArgs(
                    host=args.host,
                    http=k8s.networking.v1.HTTPIngressRuleValueArgs(paths=[k8s.networking.v1.HTTPIngressPathArgs(
                        path=args.edge.path or "/",
                        path_type="Prefix",
                        backend=k8s.networking.v1.IngressBackendArgs(service=k8s.networking.v1.IngressServiceBackendArgs(
                            name=args.service, port=k8s.networking.v1.ServiceBackendPortArgs(name=args.target_port))),
                    )]),
                )],
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
        self.host = args.host
        self.url = f"https://{args.host}{args.edge.path or ''}"
        self.register_outputs({"host": self.host, "url": self.url})
