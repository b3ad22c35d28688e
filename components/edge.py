"""`Edge`: how ClearML's three hosts (app, api, files) reach their Services: Routes or Ingresses.

With `edge` termination each host goes to its own tier's plain-HTTP port. With `reencrypt` all
three go to the web server's TLS port, where nginx serves the app and proxies the api and files
hosts by name, with a cert-manager certificate the router verifies (`destinationCACertificate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from settings.models import EdgeSettings, TlsSettings

from . import workload as w
from .ingress import Ingress, IngressArgs
from .route import Route, RouteArgs

ROUTER_NAMESPACE, ROUTER_SERVICE_ACCOUNT = "openshift-ingress", "router"


@dataclass(frozen=True)
class EdgeArgs:
    namespace: str
    edge: EdgeSettings
    tls: TlsSettings
    hosts: dict[str, str]  # app/api/files -> host name
    backends: dict[str, tuple[pulumi.Input[str], str]]  # app/api/files -> (Service, port name)
    issuer: dict[str, str] | None  # issuer of the public certificates
    destination_ca: pulumi.Input[str] | None = None


class Edge(pulumi.ComponentResource):
    """Outputs: `urls` (app/api/files)."""

    urls: dict[str, str]

    def __init__(self, name: str, args: EdgeArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:edge:Edge", name, None, opts)
        edge, tls = args.edge, args.tls
        timeouts = {"app": edge.timeout, "api": edge.timeout, "files": edge.files_timeout}
        names = {key: f"clearml-{key}" for key in args.hosts}
        router_access: tuple[pulumi.Resource, ...] = ()
        if edge.mode == "route" and tls.route_certificates == "external-certificate":
            router_access = self._router_secret_access(name, args.namespace, [f"{n}-tls" for n in names.values()])

        self.urls = {}
        for key, host in args.hosts.items():
            service, port = args.backends[key]
            exposed: Route | Ingress
            if edge.mode == "route":
                exposed = Route(f"{name}-{key}", RouteArgs(
                    namespace=args.namespace, route_name=names[key], host=host, service=service, target_port=port,
                    edge=edge, tls=tls, timeout=timeouts[key], issuer=args.issuer,
                    destination_ca=args.destination_ca, depends_on=router_access,
                ), opts=pulumi.ResourceOptions(parent=self))
            else:
                exposed = Ingress(f"{name}-{key}", IngressArgs(
                    namespace=args.namespace, ingress_name=names[key], host=host, service=service, target_port=port,
                    edge=edge, tls=tls, timeout=timeouts[key], issuer=args.issuer,
                ), opts=pulumi.ResourceOptions(parent=self))
            self.urls[key] = exposed.url
        self.register_outputs({"urls": self.urls})

    def _router_secret_access(self, name: str, namespace: str, secrets: list[str]) -> tuple[pulumi.Resource, ...]:
        """Lets `openshift-ingress/router` get, list and watch exactly the certificate Secrets, which
        OpenShift checks before it accepts a Route with `spec.tls.externalCertificate`."""
        child = pulumi.ResourceOptions(parent=self)
        role = k8s.rbac.v1.Role(
            f"{name}-router-certificates",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="clearml-router-certificates", namespace=namespace,
                                                labels=w.labels("edge")),
            rules=[k8s.rbac.v1.PolicyRuleArgs(api_groups=[""], resources=["secrets"], resource_names=secrets,
                                              verbs=["get", "list", "watch"])],
            opts=child,
        )
        binding = k8s.rbac.v1.RoleBinding(
            f"{name}-router-certificates-binding",
            metadata=k8s.meta.v1.ObjectMetaArgs(name="clearml-router-certificates", namespace=namespace,
                                                labels=w.labels("edge")),
            role_ref=k8s.rbac.v1.RoleRefArgs(api_group="rbac.authorization.k8s.io", kind="Role",
                                              name="clearml-router-certificates"),
            subjects=[k8s.rbac.v1.SubjectArgs(kind="ServiceAccount", name=ROUTER_SERVICE_ACCOUNT,
                                              namespace=ROUTER_NAMESPACE)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
        )
        return role, binding
