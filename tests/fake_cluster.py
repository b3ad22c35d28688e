"""A stand-in for `preflight.cluster.KubeCluster` in unit tests: a cluster that has everything,
minus what a test takes away (an API, an object, a permission)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from preflight.cluster import Forbidden, Unreachable
from vocabulary.clearml import MONGODB_CA_FILE

# Every group/version preflight may ask about, as a complete OpenShift 4.19 with cert-manager, its
# monitoring stack (monitoring for user-defined projects on) and OADP serves it.
SERVED = {
    "v1": {"namespaces", "secrets", "configmaps", "services", "serviceaccounts", "persistentvolumeclaims"},
    "apps/v1": {"deployments", "statefulsets"},
    "batch/v1": {"jobs", "cronjobs"},
    "policy/v1": {"poddisruptionbudgets"},
    "networking.k8s.io/v1": {"networkpolicies", "ingresses", "ingressclasses"},
    "rbac.authorization.k8s.io/v1": {"roles", "rolebindings", "clusterroles"},
    "route.openshift.io/v1": {"routes"},
    "security.openshift.io/v1": {"securitycontextconstraints"},
    "cert-manager.io/v1": {"certificates", "issuers", "clusterissuers"},
    "config.openshift.io/v1": {"clusterversions"},
    "monitoring.coreos.com/v1": {"servicemonitors", "prometheusrules"},
    "velero.io/v1": {"schedules", "backups"},
}


class AnyKeys(dict):
    """A Secret's `data` that has whatever key is asked for, each holding `value` (base64)."""

    def __init__(self, value: str):
        super().__init__()
        self.value = value

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return base64.b64encode(self.value.encode()).decode()


# The one kind of Secret value preflight checks: a MongoDB connection string, with the TLS options
# that name the mounted CA when the stack gives one (FakeCluster.mongodb_ca).
MONGODB_URI = "mongodb://clearml@db.example:27017/clearml"
MONGODB_TLS_URI = MONGODB_URI + f"?tls=true&tlsCAFile={MONGODB_CA_FILE}"


def _anything() -> dict[str, Any]:
    """One object that passes every check: an Active namespace, a Ready issuer, a Secret with any
    key, a list holding a default StorageClass, an OpenShift 4.19 ClusterVersion."""
    return {
        "metadata": {"name": "anything"},
        "status": {"phase": "Active", "conditions": [{"type": "Ready", "status": "True"}],
                   "desired": {"version": "4.19.3"}},
        "data": AnyKeys(MONGODB_URI),
        "items": [{"metadata": {"name": "standard",
                                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}],
    }


def workload(container: str, image: str, replicas: int) -> dict[str, Any]:
    """A live Deployment or StatefulSet as preflight reads it: its replicas and one container's image."""
    return {"spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": container, "image": image}]}}}}


@dataclass
class FakeCluster:
    endpoint: str = "https://api.fake.example:6443"
    kubernetes: tuple[int, int] = (1, 32)
    served: dict[str, set[str]] = field(default_factory=lambda: {k: set(v) for k, v in SERVED.items()})
    objects: dict[str, Any] = field(default_factory=dict)  # path -> object (None: does not exist)
    forbidden_reads: set[str] = field(default_factory=set)
    denied: set[tuple[str, str]] = field(default_factory=set)  # (verb, resource[/name])
    unreachable: bool = False
    reviews: list[tuple] = field(default_factory=list)
    mongodb_ca: bool = False  # the stack mounts a MongoDB CA: Secret values name it (MONGODB_TLS_URI)

    def _reach(self) -> None:
        if self.unreachable:
            raise Unreachable(f"{self.endpoint}: ConnectionRefusedError")

    def version(self) -> tuple[int, int]:
        self._reach()
        return self.kubernetes

    def resources(self, group_version: str) -> set[str] | None:
        self._reach()
        return self.served.get(group_version)

    def get(self, path: str) -> dict[str, Any] | None:
        self._reach()
        if path in self.forbidden_reads:
            raise Forbidden(path)
        if path in self.objects:
            return self.objects[path]
        if any(f"/{kind}/" in path for kind in ("statefulsets", "deployments", "jobs", "backups")):
            return None  # nothing of the stack runs yet (a test puts a live workload in `objects`)
        found = _anything()
        if self.mongodb_ca:
            found["data"] = AnyKeys(MONGODB_TLS_URI)
        return found

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None, name: str | None = None) -> bool:
        self._reach()
        self.reviews.append((verb, group, resource, namespace, name))
        return (verb, resource) not in self.denied and (verb, f"{resource}/{name}") not in self.denied
