"""NetworkPolicies: default-deny ingress for every pod of the namespace, then one allow policy per tier.

Each allow policy is named after the tier it protects and lists who may reach that tier's pods, and
on which port. Pods are selected with `workload.selector_labels(<component>)`, the same labels the
tiers' Deployments, StatefulSets and Jobs select on, so a policy follows the pods it was written for.

Who talks to whom (checked against the tier components and clearml-server's sources):

| destination | from | why |
|---|---|---|
| webserver | router | the app host |
| apiserver | router | the api host |
| apiserver | webserver | nginx proxies `/api` (`webserver.py`, `proxy_pass` to the apiserver) |
| apiserver | fileserver | the file server validates every request's token with `auth.validate_token` (clearml-server `fileserver/auth.py`; `CLEARML__hosts__api_server` in `fileserver.py`) |
| apiserver | agent, task pods | the glue and its task pods call the in-cluster API (`CLEARML_API_HOST` = `ApiServer.url` in `agent.py`) |
| fileserver | router | the files host |
| fileserver | webserver | nginx proxies `/files` |
| fileserver | async-delete | `jobs.async_urls_delete` GETs `/` at start and POSTs `delete_many` (`--fileserver-host`) |
| mongodb | apiserver | `CLEARML_MONGODB_SERVICE_CONNECTION_STRING` (`clearml_env.peer_env`) |
| mongodb | async-delete | reads and updates `UrlToDelete` documents (same connection string) |
| mongodb | mongodb | replica-set members replicate and elect over 27017 |
| mongodb | mongodb-setup Job | `rs.initiate`, reconfigs and the feature compatibility version: it connects to every member (`mongodb.py`) |
| mongodb | backup and restore Jobs | dump and restore ClearML's databases (`backup.py`, same connection string) |
| redis | apiserver | `CLEARML_REDIS_SERVICE_HOST` (`clearml_env.peer_env`) |
| redis | fileserver | token cache (`CLEARML_REDIS_SERVICE_HOST` in `fileserver.py`; clearml-server `fileserver/auth.py`) |
| redis | async-delete | its start-up wait and its readiness/liveness probes connect to every peer endpoint, Redis included (`async_delete.py`, `clearml_env.Peers.endpoints`) |
| elasticsearch | apiserver | `CLEARML__HOSTS__ELASTIC__*__HOSTS` (`clearml_env.peer_env`) |
| elasticsearch | async-delete | same as Redis: its wait and probes connect to every Elasticsearch endpoint |
| elasticsearch | backup and restore Jobs | snapshot and restore requests over 9200 (`backup.py`) |
| mongodb, redis, elasticsearch | their exporters | with monitoring on: the exporter of each in-cluster tier reads its metrics (`monitoring.py`) |
| each exporter | the monitoring namespaces | Prometheus of OpenShift's user-workload monitoring scrapes the metrics port (namespaces labelled `network.openshift.io/policy-group: monitoring`) |
| elasticsearch | elasticsearch | 9300 transport between nodes (discovery, replication), 9200 between nodes |

The agent's glue and task pods do not reach the file server directly: `CLEARML_FILES_HOST` is the
public files URL (the URL stored in artifacts), so their uploads arrive through the router.
Nothing else reaches a data tier; the router reaches only what `router_ports` lists. Kubelet probes
are not affected (network policies never block traffic from a pod's own node). Egress is not
restricted. Data tiers that are external (no pods here) get no policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from vocabulary.openshift import MONITORING_NAMESPACE_LABELS

from . import tiers
from . import workload as w

COMPONENT = "network-policies"
ROUTER_TIERS = tiers.ROUTER_TIERS


@dataclass(frozen=True)
class NetworkPoliciesArgs:
    namespace: pulumi.Input[str]
    # Labels of the namespaces the router (or ingress controller) runs in (NetworkPolicySettings).
    router_namespace_labels: Mapping[str, str]
    # Per tier, the container ports the router's backends (Routes/Ingresses) target, e.g.
    # {"webserver": [8080], "apiserver": [8008], "fileserver": [8081]}. Tiers not listed are
    # not reachable from the router. Only webserver, apiserver and fileserver may be listed.
    router_ports: Mapping[str, Sequence[int]]
    # Which data tiers run in this namespace (False: external, nothing to protect here).
    mongodb: bool
    redis: bool
    elasticsearch: bool
    async_delete: bool  # the async-delete worker is deployed (FeatureSettings.async_delete)
    agent: bool  # the Kubernetes agent is deployed (AgentSettings.enabled): its glue and task pods are clients
    backup: bool = False  # backups are on (BackupSettings.enabled): the backup and restore Jobs are clients
    # Monitoring is on (MonitoringSettings.enabled): each in-cluster data tier's exporter is a client of it,
    # and the monitoring namespaces' Prometheus scrapes the exporters.
    monitoring: bool = False


def _selector(component: str) -> k8s.meta.v1.LabelSelectorArgs:
    return k8s.meta.v1.LabelSelectorArgs(match_labels=w.selector_labels(component))


def _pods(*components: str) -> list[k8s.networking.v1.NetworkPolicyPeerArgs]:
    return [k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=_selector(c)) for c in components]


def _ports(*numbers: int) -> list[k8s.networking.v1.NetworkPolicyPortArgs]:
    return [k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=n) for n in numbers]


def _validate(args: NetworkPoliciesArgs) -> None:
    problems = []
    if not args.router_namespace_labels:
        # An empty namespaceSelector selects every namespace: the router rule would admit every pod
        # of the cluster to the web, API and file servers.
        problems.append("router_namespace_labels is empty: it would select every namespace of the cluster")
    for tier, ports in args.router_ports.items():
        if tier not in ROUTER_TIERS:
            problems.append(f"router_ports: the router may only reach {', '.join(ROUTER_TIERS)}, not {tier!r}")
        if not ports:
            problems.append(f"router_ports[{tier!r}] is empty (leave the tier out instead)")
        for port in ports:
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                problems.append(f"router_ports[{tier!r}]: {port!r} is not a port number")
    if problems:
        raise ValueError("; ".join(problems))


class NetworkPolicies(pulumi.ComponentResource):
    """Outputs: `names` (the NetworkPolicy names, default-deny first)."""

    names: list[str]

    def __init__(self, name: str, args: NetworkPoliciesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:networkpolicies:NetworkPolicies", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)
        labels = w.labels(COMPONENT)
        # The router's namespaces, with `podSelector: {}` in the same peer: OpenShift documents that a
        # namespaceSelector alone does not match a router on the host network (HostNetwork endpoint
        # publishing), and that pairing it with an empty podSelector does.
        router = k8s.networking.v1.NetworkPolicyPeerArgs(
            namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(args.router_namespace_labels)),
            pod_selector=k8s.meta.v1.LabelSelectorArgs(match_labels={}),
        )
        agents = (tiers.AGENT, tiers.AGENT_TASK) if args.agent else ()
        deleter = (tiers.ASYNC_DELETE,) if args.async_delete else ()
        backup = (tiers.BACKUP,) if args.backup else ()

        def exporter(tier: str) -> tuple[str, ...]:
            return (tier,) if args.monitoring else ()

        def router_rule(tier: str) -> list[tuple[list, list]]:
            ports = args.router_ports.get(tier)
            return [([router], _ports(*ports))] if ports else []

        # destination tier -> [(peers, ports)]; see the module docstring for why each peer is here.
        allowed: dict[str, list[tuple[list, list]]] = {
            tiers.WEBSERVER: router_rule(tiers.WEBSERVER),
            tiers.APISERVER: router_rule(tiers.APISERVER) + [
                (_pods(tiers.WEBSERVER, tiers.FILESERVER, *agents), _ports(tiers.APISERVER_PORT)),
            ],
            tiers.FILESERVER: router_rule(tiers.FILESERVER) + [
                (_pods(tiers.WEBSERVER, *deleter), _ports(tiers.FILESERVER_PORT)),
            ],
        }
        if args.mongodb:
            allowed[tiers.MONGODB] = [
                (_pods(tiers.APISERVER, *deleter, tiers.MONGODB, tiers.MONGODB_SETUP, *backup,
                       *exporter(tiers.MONGODB_EXPORTER)), _ports(tiers.MONGODB_PORT)),
            ]
        if args.redis:
            allowed[tiers.REDIS] = [
                (_pods(tiers.APISERVER, tiers.FILESERVER, *deleter, *exporter(tiers.REDIS_EXPORTER)), _ports(tiers.REDIS_PORT)),
            ]
        if args.elasticsearch:
            allowed[tiers.ELASTICSEARCH] = [
                (_pods(tiers.APISERVER, *deleter, *backup, *exporter(tiers.ELASTICSEARCH_EXPORTER)),
                 _ports(tiers.ELASTICSEARCH_HTTP_PORT)),
                (_pods(tiers.ELASTICSEARCH), _ports(tiers.ELASTICSEARCH_HTTP_PORT, tiers.ELASTICSEARCH_TRANSPORT_PORT)),
            ]

        if args.monitoring:
            prometheus = k8s.networking.v1.NetworkPolicyPeerArgs(
                namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_labels=dict(MONITORING_NAMESPACE_LABELS)))
            for tier, port, present in ((tiers.MONGODB_EXPORTER, tiers.MONGODB_EXPORTER_PORT, args.mongodb),
                                        (tiers.REDIS_EXPORTER, tiers.REDIS_EXPORTER_PORT, args.redis),
                                        (tiers.ELASTICSEARCH_EXPORTER, tiers.ELASTICSEARCH_EXPORTER_PORT, args.elasticsearch)):
                if present:
                    allowed[tier] = [([prometheus], _ports(port))]

        def policy(suffix: str, selector: k8s.meta.v1.LabelSelectorArgs,
                   rules: list[tuple[list, list]]) -> str:
            policy_name = f"{name}-{suffix}"
            k8s.networking.v1.NetworkPolicy(
                policy_name,
                metadata=k8s.meta.v1.ObjectMetaArgs(name=policy_name, namespace=args.namespace, labels=labels),
                spec=k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=selector,
                    policy_types=["Ingress"],
                    ingress=[k8s.networking.v1.NetworkPolicyIngressRuleArgs(from_=peers, ports=ports)
                             for peers, ports in rules] or None,
                ),
                opts=child,
            )
            return policy_name

        # Every pod of the namespace, including pods this program does not create, accepts nothing
        # unless an allow policy below admits it.
        self.names = [policy("default-deny", k8s.meta.v1.LabelSelectorArgs(match_labels={}), [])]
        for tier, rules in allowed.items():
            if rules:
                self.names.append(policy(tier, _selector(tier), rules))
        self.register_outputs({"names": self.names})
