"""NetworkPolicies: who may reach which pod, on which port, judged from the manifests.

A small evaluator (pure Python, Kubernetes NetworkPolicy v1 semantics) answers "may pod A reach
pod B on port P" from the recorded NetworkPolicy manifests and pod labels. The tests assert a full
allow/deny matrix: every source (each tier, the router, a labelless pod of the namespace, a pod in
another namespace wearing ClearML's labels) against every pod of the namespace on every port of
interest. Component tests build `NetworkPolicies` alone with stand-in pods; stack tests take the
pods from the workloads the program really produces and the router's targets from its Routes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from components import workload as w
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs
from policy.manifest import WORKLOAD_KINDS
from settings import PROJECT, Settings, settings_from_config
from tests.conftest import STACKS, deploy, deploy_config, run_program, stack_config, unwrap

P = PROJECT

# ================================================================================================
# The evaluator
# ================================================================================================


@dataclass(frozen=True)
class Pod:
    name: str  # what the matrix calls it: the component, or "router", ...
    namespace: str
    labels: Mapping[str, str]
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports
    namespace_labels: Mapping[str, str] = field(default_factory=dict)


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector: matchLabels and matchExpressions are ANDed; an empty selector matches all."""
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise ValueError(f"unknown selector operator {op!r}")
        if not ok:
            return False
    return True


def _namespace(policy: Mapping[str, Any]) -> str:
    return policy["metadata"]["namespace"]


def peer_matches(peer: Mapping[str, Any], policy_namespace: str, pod: Pod) -> bool:
    """NetworkPolicyPeer: podSelector alone = pods of the policy's namespace; namespaceSelector alone =
    every pod of the selected namespaces; both = the selected pods of the selected namespaces."""
    if "ipBlock" in peer:
        raise NotImplementedError("ipBlock peers are not modelled (the program must not produce them)")
    ns_selector, pod_selector = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_selector is None and pod_selector is None:
        raise ValueError(f"a peer needs a podSelector or a namespaceSelector: {peer}")
    in_namespace = (pod.namespace == policy_namespace if ns_selector is None
                    else selector_matches(ns_selector, pod.namespace_labels))
    return in_namespace and (pod_selector is None or selector_matches(pod_selector, pod.labels))


def port_matches(ports: list[Mapping[str, Any]] | None, target: Pod, port: int, protocol: str) -> bool:
    """NetworkPolicyPort: absent/empty list = all ports; a named port is the target pod's container port."""
    if not ports:
        return True
    for item in ports:
        if item.get("protocol", "TCP") != protocol:
            continue
        if "port" not in item:
            return True
        value = item["port"]
        if isinstance(value, str):
            if target.ports.get(value) == port:
                return True
        elif int(value) <= port <= int(item.get("endPort", value)):
            return True
    return False


def policy_types(policy: Mapping[str, Any]) -> list[str]:
    spec = policy["spec"]
    return spec.get("policyTypes") or (["Ingress"] + (["Egress"] if spec.get("egress") else []))


def selects(policy: Mapping[str, Any], pod: Pod) -> bool:
    return _namespace(policy) == pod.namespace and selector_matches(policy["spec"].get("podSelector") or {}, pod.labels)


def _direction_allows(policies, direction: str, subject: Pod, other: Pod, target: Pod, port: int, protocol: str) -> bool:
    """Whether `subject` (the destination for Ingress, the source for Egress) lets the connection through."""
    rules_key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    isolating = [p for p in policies if direction in policy_types(p) and selects(p, subject)]
    if not isolating:
        return True
    for policy in isolating:
        for rule in policy["spec"].get(rules_key) or []:
            peers = rule.get(peers_key)
            if (not peers or any(peer_matches(peer, _namespace(policy), other) for peer in peers)) \
                    and port_matches(rule.get("ports"), target, port, protocol):
                return True
    return False


def may_reach(policies: list[Mapping[str, Any]], source: Pod, target: Pod, port: int, protocol: str = "TCP") -> bool:
    """May `source` open a connection to `target` on `port`? Both its egress and the target's ingress must allow it."""
    return (_direction_allows(policies, "Egress", source, target, target, port, protocol)
            and _direction_allows(policies, "Ingress", target, source, target, port, protocol))


# ================================================================================================
# Pods: the router, strangers, stand-ins and the program's own
# ================================================================================================

# The default IngressController's namespace as OpenShift labels it (legacy and current policy-group labels).
ROUTER = Pod("router", "openshift-ingress",
             {"ingresscontroller.operator.openshift.io/deployment-ingresscontroller": "default"},
             namespace_labels={"kubernetes.io/metadata.name": "openshift-ingress",
                               "network.openshift.io/policy-group": "ingress",
                               "policy-group.network.openshift.io/ingress": ""})
# The user-workload monitoring's Prometheus, with the labels OpenShift gives its namespace.
PROMETHEUS = Pod("prometheus", "openshift-user-workload-monitoring", {"app.kubernetes.io/name": "prometheus"},
                 namespace_labels={"kubernetes.io/metadata.name": "openshift-user-workload-monitoring",
                                   "network.openshift.io/policy-group": "monitoring"})
STRANGER_LABELS = {"run": "debug-shell"}  # e.g. `oc debug` or a user's pod in the ClearML namespace

# Container ports of each tier's pods (the stand-ins of the component tests; the stack tests read them).
TIER_PORTS: dict[str, dict[str, int]] = {
    "apiserver": {"http": 8008}, "fileserver": {"http": 8081}, "webserver": {"http": 8080, "https": 8443},
    "async-delete": {}, "mongodb": {"mongodb": 27017}, "mongodb-setup": {}, "redis": {"redis": 6379},
    "elasticsearch": {"http": 9200, "transport": 9300}, "agent": {}, "task": {},
}
PROBE_PORTS = (22, 6379, 8008, 8080, 8081, 8443, 9200, 9300, 27017)


def _namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def strangers(namespace: str) -> dict[str, Pod]:
    """A labelless pod in the namespace, and a pod in another namespace that copies the apiserver's labels."""
    return {
        "stranger": Pod("stranger", namespace, STRANGER_LABELS, namespace_labels=_namespace_labels(namespace)),
        "impostor": Pod("impostor", "other-team", w.labels("apiserver"), namespace_labels=_namespace_labels("other-team")),
        "router": ROUTER,
        "prometheus": PROMETHEUS,
    }


def stand_in_pods(namespace: str, components: Iterable[str] = TIER_PORTS) -> dict[str, Pod]:
    pods = {c: Pod(c, namespace, w.labels(c), TIER_PORTS[c], _namespace_labels(namespace)) for c in components}
    return pods | strangers(namespace)


def _pod_templates(resources) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(object, pod template) of every workload, and of every Pod manifest held in a ConfigMap (the
    agent's task pod template: the glue creates those pods at run time)."""
    for r in resources:
        if not r.typ.startswith("kubernetes:") or getattr(r, "read", False):
            continue
        obj = unwrap(r.inputs)
        if r.kind in WORKLOAD_KINDS:
            yield obj, obj if r.kind == "Pod" else (
                obj["spec"]["jobTemplate"]["spec"]["template"] if r.kind == "CronJob" else obj["spec"]["template"])
        elif r.kind == "ConfigMap":
            for text in (obj.get("data") or {}).values():
                try:
                    held = yaml.safe_load(text)
                except yaml.YAMLError:
                    continue
                if isinstance(held, dict) and held.get("kind") == "Pod":
                    yield held, held


def program_pods(resources) -> dict[str, Pod]:
    """One Pod per pod template of the program: its labels and named container ports."""
    pods = {}
    for obj, template in _pod_templates(resources):
        labels = template["metadata"]["labels"]
        ports = {p["name"]: int(p["containerPort"])
                 for c in template["spec"]["containers"] for p in c.get("ports") or [] if p.get("name")}
        name = labels["app.kubernetes.io/component"]
        namespace = obj["metadata"]["namespace"]
        pod = Pod(name, namespace, labels, ports, _namespace_labels(namespace))
        # Several pods of one component (the glue and task pods of each agent queue) must be alike.
        assert pods.get(name, pod) == pod, f"two pod templates are component {name}, with other labels or ports"
        pods[name] = pod
    return pods


def policies_of(resources) -> list[dict[str, Any]]:
    return [unwrap(r.inputs) for r in resources
            if r.typ == "kubernetes:networking.k8s.io/v1:NetworkPolicy" and not getattr(r, "read", False)]


# ================================================================================================
# What must be allowed (everything else must be denied)
# ================================================================================================

# (source, destination, port), independent of the component's code.
CLIENTS = {
    ("webserver", "apiserver", 8008), ("fileserver", "apiserver", 8008),
    ("agent", "apiserver", 8008), ("task", "apiserver", 8008),
    ("webserver", "fileserver", 8081), ("async-delete", "fileserver", 8081),
    ("apiserver", "mongodb", 27017), ("async-delete", "mongodb", 27017),
    ("mongodb", "mongodb", 27017), ("mongodb-setup", "mongodb", 27017),
    ("apiserver", "redis", 6379), ("fileserver", "redis", 6379), ("async-delete", "redis", 6379),
    ("apiserver", "elasticsearch", 9200), ("async-delete", "elasticsearch", 9200),
    ("elasticsearch", "elasticsearch", 9200), ("elasticsearch", "elasticsearch", 9300),
    ("backup", "mongodb", 27017), ("backup", "elasticsearch", 9200),
    ("mongodb-exporter", "mongodb", 27017), ("redis-exporter", "redis", 6379),
    ("elasticsearch-exporter", "elasticsearch", 9200),
    ("prometheus", "mongodb-exporter", 9216), ("prometheus", "redis-exporter", 9121),
    ("prometheus", "elasticsearch-exporter", 9114),
}
EXPORTERS = {"mongodb-exporter": "mongodb", "redis-exporter": "redis", "elasticsearch-exporter": "elasticsearch"}
EDGE_ROUTER_TARGETS = {("webserver", 8080), ("apiserver", 8008), ("fileserver", 8081)}
REENCRYPT_ROUTER_TARGETS = {("webserver", 8443)}


def expected_allowed(*, in_cluster: set[str], async_delete: bool, agent: bool,
                     router: set[tuple[str, int]], backup: bool = False, monitoring: bool = False
                     ) -> set[tuple[str, str, int]]:
    out = set()
    for source, target, port in CLIENTS:
        if target in ("mongodb", "redis", "elasticsearch") and target not in in_cluster:
            continue
        if source == "async-delete" and not async_delete or source in ("agent", "task") and not agent:
            continue
        if source == "backup" and not backup:
            continue
        exporter = source if source in EXPORTERS else target if target in EXPORTERS else None
        if exporter and (not monitoring or EXPORTERS[exporter] not in in_cluster):
            continue
        out.add((source, target, port))
    return out | {("router", target, port) for target, port in router}


def matrix_errors(policies, pods: Mapping[str, Pod], namespace: str, allowed: set[tuple[str, str, int]]) -> list[str]:
    """Every source against every pod of `namespace` on every probe port: allowed exactly when listed."""
    errors = []
    for source in pods.values():
        for target in (p for p in pods.values() if p.namespace == namespace):
            for port in sorted(set(PROBE_PORTS) | set(target.ports.values())):
                want = (source.name, target.name, port) in allowed
                if may_reach(policies, source, target, port) != want:
                    errors.append(f"{source.name} -> {target.name}:{port} should be {'allowed' if want else 'denied'}")
    return errors


def assert_matrix(policies, pods, namespace, allowed):
    errors = matrix_errors(policies, pods, namespace, allowed)
    assert not errors, "\n".join(errors)


# ================================================================================================
# The evaluator itself
# ================================================================================================


def _policy(spec: dict, namespace: str = "ns") -> dict:
    return {"metadata": {"name": "p", "namespace": namespace}, "spec": spec}


A = Pod("a", "ns", {"app": "a", "tier": "front"}, {"http": 8080}, {"kubernetes.io/metadata.name": "ns"})
B = Pod("b", "ns", {"app": "b"}, {"http": 9090, "admin": 9091}, {"kubernetes.io/metadata.name": "ns"})
C = Pod("c", "other", {"app": "a"}, {}, {"kubernetes.io/metadata.name": "other", "team": "x"})


def test_evaluator_without_policies_everything_is_allowed():
    assert may_reach([], A, B, 1) and may_reach([], C, B, 9090)


def test_evaluator_default_deny_isolates_only_the_selected_pods():
    deny_b = _policy({"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"]})
    assert not may_reach([deny_b], A, B, 9090)
    assert may_reach([deny_b], B, A, 8080)  # A is not selected
    deny_all = _policy({"podSelector": {}, "policyTypes": ["Ingress"]})
    assert not may_reach([deny_all], B, A, 8080)
    # A policy of another namespace does not isolate pods of this one.
    assert may_reach([_policy({"podSelector": {}, "policyTypes": ["Ingress"]}, "other")], A, B, 9090)


def test_evaluator_pod_selector_peers_stay_in_the_policy_namespace():
    allow = _policy({"podSelector": {"matchLabels": {"app": "b"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]})
    assert may_reach([allow], A, B, 9090)
    assert not may_reach([allow], C, B, 9090)  # same labels, other namespace


def test_evaluator_namespace_and_pod_selector_in_one_peer_are_anded():
    both = {"namespaceSelector": {"matchLabels": {"team": "x"}}, "podSelector": {"matchLabels": {"app": "zzz"}}}
    policy = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [both]}]})
    assert not may_reach([policy], C, B, 9090)
    split = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": "x"}}}, {"podSelector": {"matchLabels": {"app": "zzz"}}}]}]})
    assert may_reach([split], C, B, 9090)  # two peers: ORed
    everything = _policy({"podSelector": {}, "policyTypes": ["Ingress"],
                          "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    assert may_reach([everything], C, B, 9090)  # an empty namespaceSelector is every namespace


def test_evaluator_match_expressions():
    def allowed_with(expr):
        policy = _policy({"podSelector": {"matchExpressions": [expr]}, "policyTypes": ["Ingress"]})
        return not may_reach([policy], B, A, 8080)  # True when the expression selects (and isolates) A
    assert allowed_with({"key": "tier", "operator": "In", "values": ["front", "x"]})
    assert not allowed_with({"key": "tier", "operator": "NotIn", "values": ["front"]})
    assert allowed_with({"key": "tier", "operator": "Exists"})
    assert not allowed_with({"key": "tier", "operator": "DoesNotExist"})
    with pytest.raises(ValueError, match="unknown selector operator"):
        allowed_with({"key": "tier", "operator": "Matches"})


def test_evaluator_ports_numbers_names_ranges_and_protocols():
    def policy(ports):
        return _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"ports": ports}]})
    assert may_reach([policy([{"port": 9090}])], A, B, 9090) and not may_reach([policy([{"port": 9090}])], A, B, 9091)
    assert may_reach([policy([{"port": "admin"}])], A, B, 9091) and not may_reach([policy([{"port": "admin"}])], A, B, 9090)
    assert may_reach([policy([{"port": 9000, "endPort": 9095}])], A, B, 9091)
    assert not may_reach([policy([{"port": 9090, "protocol": "UDP"}])], A, B, 9090)
    assert may_reach([policy([{"protocol": "TCP"}])], A, B, 1)  # no port: every TCP port
    assert may_reach([policy(None)], A, B, 1)


def test_evaluator_egress_policies_restrict_the_source():
    egress = _policy({"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
                      "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "b"}}}], "ports": [{"port": 9090}]}]})
    assert may_reach([egress], A, B, 9090)
    assert not may_reach([egress], A, B, 9091)
    assert may_reach([egress], B, A, 8080)
    # policyTypes unset: Ingress always, Egress when egress rules exist.
    implicit = _policy({"podSelector": {"matchLabels": {"app": "a"}}, "egress": [{"to": [{"podSelector": {}}]}]})
    assert policy_types(implicit) == ["Ingress", "Egress"]
    assert not may_reach([implicit], B, A, 8080)


def test_evaluator_refuses_what_it_does_not_model():
    policy = _policy({"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]})
    with pytest.raises(NotImplementedError):
        may_reach([policy], A, B, 9090)


def test_matrix_reports_every_difference():
    pods = {"a": A, "b": B}
    errors = matrix_errors([], pods, "ns", {("a", "b", 9090)})
    assert "a -> b:9091 should be denied" in errors and "a -> b:9090 should be allowed" not in errors


# ================================================================================================
# The component on its own
# ================================================================================================

NS = "clearml"
EDGE_PORTS = {"webserver": [8080], "apiserver": [8008], "fileserver": [8081]}
ROUTER_LABELS = {"network.openshift.io/policy-group": "ingress"}


def _args(**overrides) -> NetworkPoliciesArgs:
    values: dict[str, Any] = dict(namespace=NS, router_namespace_labels=ROUTER_LABELS, router_ports=EDGE_PORTS,
                                  mongodb=True, redis=True, elasticsearch=True, async_delete=True, agent=True)
    values.update(overrides)
    return NetworkPoliciesArgs(**values)


def _build(mocks, args: NetworkPoliciesArgs, name: str = "clearml-network-policies") -> list[dict[str, Any]]:
    deploy(lambda: NetworkPolicies(name, args))
    return policies_of(mocks.resources)


def test_component_matrix_everything_in_cluster(mocks):
    policies = _build(mocks, _args())
    allowed = expected_allowed(in_cluster={"mongodb", "redis", "elasticsearch"}, async_delete=True, agent=True,
                               router=EDGE_ROUTER_TARGETS)
    assert_matrix(policies, stand_in_pods(NS), NS, allowed)


def test_component_matrix_spelled_out(mocks):
    """The headline cases, one by one."""
    policies = _build(mocks, _args())
    pods = stand_in_pods(NS)

    def reach(source, target, port):
        return may_reach(policies, pods[source], pods[target], port)

    assert reach("apiserver", "mongodb", 27017) and not reach("webserver", "mongodb", 27017)
    assert not reach("router", "mongodb", 27017) and not reach("router", "redis", 6379)
    assert reach("router", "webserver", 8080) and not reach("router", "webserver", 8443)
    assert reach("router", "apiserver", 8008) and reach("router", "fileserver", 8081)
    assert reach("task", "apiserver", 8008) and not reach("task", "redis", 6379) and not reach("task", "mongodb", 27017)
    assert not reach("task", "fileserver", 8081)  # tasks use the public files URL: through the router
    assert reach("agent", "apiserver", 8008) and not reach("agent", "elasticsearch", 9200)
    assert reach("fileserver", "apiserver", 8008) and not reach("apiserver", "fileserver", 8081)
    assert reach("async-delete", "fileserver", 8081) and not reach("async-delete", "apiserver", 8008)
    assert reach("elasticsearch", "elasticsearch", 9300) and not reach("apiserver", "elasticsearch", 9300)
    assert reach("mongodb-setup", "mongodb", 27017) and not reach("mongodb-setup", "redis", 6379)
    assert not reach("impostor", "mongodb", 27017) and not reach("stranger", "apiserver", 8008)


def test_component_reencrypt_router_reaches_only_the_tls_port(mocks):
    policies = _build(mocks, _args(router_ports={"webserver": [8443]}))
    allowed = expected_allowed(in_cluster={"mongodb", "redis", "elasticsearch"}, async_delete=True, agent=True,
                               router=REENCRYPT_ROUTER_TARGETS)
    assert_matrix(policies, stand_in_pods(NS), NS, allowed)


def test_component_external_data_tiers_get_no_policy(mocks):
    policies = _build(mocks, _args(mongodb=False, redis=False, elasticsearch=False))
    selected = {p["spec"]["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") for p in policies}
    assert selected == {None, "clearml-webserver", "clearml-apiserver", "clearml-fileserver"}
    pods = stand_in_pods(NS, ["apiserver", "fileserver", "webserver", "async-delete", "agent", "task"])
    allowed = expected_allowed(in_cluster=set(), async_delete=True, agent=True, router=EDGE_ROUTER_TARGETS)
    assert_matrix(policies, pods, NS, allowed)


def test_component_some_data_tiers_external(mocks):
    policies = _build(mocks, _args(redis=False))
    # A Redis pod that is not the program's (Redis is external) is still isolated by default-deny.
    allowed = expected_allowed(in_cluster={"mongodb", "elasticsearch"}, async_delete=True, agent=True,
                               router=EDGE_ROUTER_TARGETS)
    assert_matrix(policies, stand_in_pods(NS), NS, allowed)


def test_component_without_async_delete_and_agent_admits_neither(mocks):
    """Pods wearing the agent's or async-delete's labels are not admitted when those are not deployed."""
    policies = _build(mocks, _args(async_delete=False, agent=False))
    allowed = expected_allowed(in_cluster={"mongodb", "redis", "elasticsearch"}, async_delete=False, agent=False,
                               router=EDGE_ROUTER_TARGETS)
    assert_matrix(policies, stand_in_pods(NS), NS, allowed)


def test_component_manifests(mocks):
    policies = {p["metadata"]["name"]: p for p in _build(mocks, _args())}
    assert set(policies) == {f"clearml-network-policies-{s}" for s in (
        "default-deny", "webserver", "apiserver", "fileserver", "mongodb", "redis", "elasticsearch")}
    deny = policies["clearml-network-policies-default-deny"]
    assert deny["apiVersion"] == "networking.k8s.io/v1" and deny["kind"] == "NetworkPolicy"
    assert deny["spec"] == {"podSelector": {"matchLabels": {}}, "policyTypes": ["Ingress"]}
    for name, policy in policies.items():
        assert policy["metadata"]["namespace"] == NS and policy["metadata"]["labels"] == w.labels("network-policies")
        assert policy["spec"]["policyTypes"] == ["Ingress"] and "egress" not in policy["spec"], name
        if name.endswith("default-deny"):
            continue
        tier = name.removeprefix("clearml-network-policies-")
        # The pods are selected exactly as the tier's own workload selects them.
        assert policy["spec"]["podSelector"] == {"matchLabels": w.selector_labels(tier)}, name
        for rule in policy["spec"]["ingress"]:
            assert rule["from"] and rule["ports"], name  # never "from anywhere" or "any port"
            assert all(p["protocol"] == "TCP" for p in rule["ports"]), name
            for peer in rule["from"]:
                if "namespaceSelector" in peer:  # only the router comes from another namespace
                    assert peer == {"namespaceSelector": {"matchLabels": ROUTER_LABELS}, "podSelector": {"matchLabels": {}}}
                else:
                    assert set(peer) == {"podSelector"} and peer["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"] == "clearml"


def test_component_children_are_named_from_and_parented_to_it(mocks):
    deploy(lambda: NetworkPolicies("np", _args()))
    component = next(r for r in mocks.resources if not r.custom)
    assert component.typ == "clearml:networkpolicies:NetworkPolicies"
    children = [r for r in mocks.resources if r.custom]
    assert children and all(r.name.startswith("np-") for r in children)
    assert all(r.parent.endswith("clearml:networkpolicies:NetworkPolicies::np") for r in children)


@pytest.mark.parametrize("overrides, message", [
    ({"router_namespace_labels": {}}, "would select every namespace"),
    ({"router_ports": {"mongodb": [27017]}}, "may only reach webserver, apiserver, fileserver, not 'mongodb'"),
    ({"router_ports": {"webserver": []}}, "is empty"),
    ({"router_ports": {"webserver": [0]}}, "0 is not a port number"),
    ({"router_ports": {"webserver": ["http"]}}, "'http' is not a port number"),
])
def test_component_refuses_unsafe_args(mocks, overrides, message):
    with pytest.raises(ValueError, match=message):
        _build(mocks, _args(**overrides))
    assert policies_of(mocks.resources) == []


# ================================================================================================
# Whole stacks: the real pods, and the router targets read from the real Routes
# ================================================================================================


def wiring_args(settings: Settings) -> NetworkPoliciesArgs:
    """What `ClearmlServer` passes to `NetworkPolicies` (the same code is in its wiring)."""
    if settings.edge.termination == "reencrypt":
        router_ports = {"webserver": [8443]}  # all three hosts go to the web server's TLS port
    else:
        router_ports = {"webserver": [8080], "apiserver": [8008], "fileserver": [8081]}
    return NetworkPoliciesArgs(
        namespace=settings.namespace.name,
        router_namespace_labels=settings.network_policies.router_namespace_labels,
        router_ports=router_ports,
        mongodb=settings.mongodb.external is None,
        redis=settings.redis.external is None,
        elasticsearch=settings.elasticsearch.external is None,
        async_delete=settings.features.async_delete,
        agent=settings.agent.enabled,
        backup=settings.backup.enabled,
        monitoring=settings.monitoring.enabled,
    )


def router_targets(resources, pods: Mapping[str, Pod]) -> set[tuple[str, int]]:
    """(pod, container port) of every Route and Ingress backend: Service -> selected pods -> target port."""
    services = {unwrap(r.inputs)["metadata"]["name"]: unwrap(r.inputs) for r in resources
                if r.typ == "kubernetes:core/v1:Service"}
    backends = []
    for r in resources:
        obj = unwrap(r.inputs)
        if r.typ.startswith("kubernetes:route.openshift.io/") and r.kind == "Route":
            backends.append((obj["spec"]["to"]["name"], obj["spec"]["port"]["targetPort"]))
        elif r.typ == "kubernetes:networking.k8s.io/v1:Ingress":
            for rule in obj["spec"]["rules"]:
                for path in rule["http"]["paths"]:
                    svc = path["backend"]["service"]
                    backends.append((svc["name"], svc["port"].get("name", svc["port"].get("number"))))
    assert backends, "the program exposes nothing through the router"
    out = set()
    for service_name, port in backends:
        service = services[service_name]
        # A Route's string targetPort names an endpoint (= Service) port; an Ingress names a Service port.
        service_port = next(p for p in service["spec"]["ports"] if port in (p.get("name"), p.get("port")))
        targets = [pod for pod in pods.values() if selector_matches({"matchLabels": service["spec"]["selector"]}, pod.labels)]
        assert len(targets) == 1, f"Service {service_name} selects {[t.name for t in targets]}"
        target_port = service_port["targetPort"]
        number = targets[0].ports[target_port] if isinstance(target_port, str) else int(target_port)
        out.add((targets[0].name, number))
    return out


def check_stack(resources, settings: Settings, *, agent_pods_required: bool = False) -> list[dict[str, Any]]:
    namespace = settings.namespace.name
    policies = policies_of(resources)
    real = program_pods(resources)
    assert policies, "no NetworkPolicy was created"
    # Every policy selects at least one pod the program really creates.
    for policy in policies:
        assert any(selects(policy, pod) for pod in real.values()), f"{policy['metadata']['name']} selects no pod"
    if agent_pods_required:  # the glue's Deployment and the task pod template in its ConfigMap
        for component in ("agent", "task"):
            assert real[component].labels.items() >= w.selector_labels(component).items(), component
    # Without the agent, a pod wearing the task pods' labels must reach nothing.
    stand_in_task = Pod("task", namespace, w.labels("task"), {}, _namespace_labels(namespace))
    pods = {"task": stand_in_task} | real | strangers(namespace)
    router = router_targets(resources, real)
    in_cluster = {tier for tier in ("mongodb", "redis", "elasticsearch") if getattr(settings, tier).external is None}
    allowed = expected_allowed(in_cluster=in_cluster, async_delete=settings.features.async_delete,
                               agent=settings.agent.enabled, router=router, backup=settings.backup.enabled,
                               monitoring=settings.monitoring.enabled)
    assert_matrix(policies, pods, namespace, allowed)
    return policies


def _config(stack: str | None = None, **values: Any) -> dict[str, str]:
    config = stack_config(stack) if stack else {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"})}
    config.update({f"{P}:{key}": json.dumps(value) for key, value in values.items()})
    return config


@pytest.mark.parametrize("stack", STACKS)
def test_stack_pods_with_the_component(mocks, stack):
    """The stack's real pods and Routes under `NetworkPolicies` built with `wiring_args`, next to the
    program (with its own policies turned off): proves the wiring and the evaluator on real manifests."""
    config = _config(stack, networkPolicies={"enabled": False})
    settings = settings_from_config(_config(stack))
    deploy(lambda: (run_program(config), NetworkPolicies("clearml-network-policies", wiring_args(settings))))
    check_stack(mocks.resources, settings)
    real = program_pods(mocks.resources)
    reencrypt = settings.edge.termination == "reencrypt"
    assert router_targets(mocks.resources, real) == (REENCRYPT_ROUTER_TARGETS if reencrypt else EDGE_ROUTER_TARGETS)
    assert ("mongodb-setup" in real) == (settings.mongodb.external is None)


@pytest.mark.parametrize("stack", STACKS)
def test_program_creates_network_policies(mocks, stack):
    deploy_config(mocks, stack_config(stack))
    settings = settings_from_config(stack_config(stack))
    policies = check_stack(mocks.resources, settings)
    # Default-deny, and one per tier that serves something in the cluster.
    in_cluster = sum(getattr(settings, t).external is None for t in ("mongodb", "redis", "elasticsearch"))
    tiers = 3 + in_cluster * (2 if settings.monitoring.enabled else 1)  # each with its exporter
    assert len(policies) == 1 + tiers


def test_program_reencrypt_router_reaches_only_the_web_servers_tls_port(mocks):
    config = _config(edge={"termination": "reencrypt"})
    deploy_config(mocks, config)
    check_stack(mocks.resources, settings_from_config(config))
    assert router_targets(mocks.resources, program_pods(mocks.resources)) == REENCRYPT_ROUTER_TARGETS


def test_program_external_data_tiers_get_no_policy(mocks):
    config = _config(
        mongodb={"external": {"connectionString": {"name": "mongo", "key": "uri"}}},
        redis={"external": {"host": "redis.example.com"}},
        elasticsearch={"external": {"hosts": [{"host": "es.example.com"}]}},
    )
    deploy_config(mocks, config)
    policies = check_stack(mocks.resources, settings_from_config(config))
    assert {p["metadata"]["name"] for p in policies} == {
        "clearml-network-policies-default-deny", "clearml-network-policies-webserver",
        "clearml-network-policies-apiserver", "clearml-network-policies-fileserver"}


def test_program_ingress_mode(mocks):
    """With Ingresses instead of Routes the ingress controller reaches the same backends."""
    config = _config(edge={"mode": "ingress"})
    deploy_config(mocks, config)
    assert [r for r in mocks.resources if r.kind == "Ingress"]
    check_stack(mocks.resources, settings_from_config(config))
    assert router_targets(mocks.resources, program_pods(mocks.resources)) == EDGE_ROUTER_TARGETS


def test_program_agent_pods_reach_the_servers_only(mocks):
    config = _config(agent={"enabled": True})
    deploy_config(mocks, config)
    check_stack(mocks.resources, settings_from_config(config), agent_pods_required=True)


def test_program_without_network_policies(mocks):
    deploy_config(mocks, _config("dev", networkPolicies={"enabled": False}))
    assert policies_of(mocks.resources) == []
