"""The few reads preflight makes, against the cluster the Kubernetes provider would use.

`Cluster` is what the checks need (discovery, a version, one object, access reviews); `KubeCluster`
does it with the official Kubernetes Python client over the same kubeconfig and context as the
provider: `kubernetes:kubeconfig` (a path or the file's content) and `kubernetes:context` from the
stack's config, else `$KUBECONFIG` or `~/.kube/config`, else the pod's in-cluster ServiceAccount.
Every call either answers or raises `Unreachable` (nothing answered) or `Forbidden` (the identity
may not read it); the checks turn those into one line each.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

TIMEOUT_SECONDS = 10


class Unreachable(Exception):
    """The API server did not answer (or the kubeconfig could not be used)."""


class Forbidden(Exception):
    """The deploying identity may not read this."""


class Cluster(Protocol):
    endpoint: str

    def version(self) -> tuple[int, int]: ...

    def resources(self, group_version: str) -> set[str] | None:
        """Plural resource names served under `group/version` (`v1` for core); None if not served."""

    def get(self, path: str) -> dict[str, Any] | None:
        """The object at an API path, or None if it does not exist."""

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None, name: str | None = None) -> bool:
        """A SelfSubjectAccessReview: may the deploying identity do this?"""


def api_path(group: str, version: str, resource: str, name: str | None = None, namespace: str | None = None) -> str:
    base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
    if namespace:
        base += f"/namespaces/{namespace}"
    base += f"/{resource}"
    return f"{base}/{name}" if name else base


def _minor(text: str) -> int:
    digits = "".join(ch for ch in text if ch.isdigit())  # "27+" on some distributions
    return int(digits or 0)


class KubeCluster:
    def __init__(self, client: Any, endpoint: str):
        self._client = client
        self.endpoint = endpoint

    @property
    def api_client(self) -> Any:
        """The Kubernetes client's ApiClient (scripts/backup.py uses its typed APIs)."""
        return self._client

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        from urllib3.exceptions import HTTPError

        try:
            request = self._client.param_serialize(
                method, path, body=body, auth_settings=["BearerToken"],
                header_params={"Accept": "application/json", "Content-Type": "application/json"})
            response = self._client.call_api(*request, _request_timeout=TIMEOUT_SECONDS)
            response.read()
        except (HTTPError, OSError) as err:
            raise Unreachable(f"{self.endpoint}: {type(err).__name__}: {err}") from None
        if response.status == 404:
            return None
        if response.status == 401:
            raise Unreachable(f"{self.endpoint} refused the credentials (401 Unauthorized)")
        if response.status == 403:
            raise Forbidden(path)
        if not 200 <= response.status <= 299:
            raise Unreachable(f"{self.endpoint} answered {response.status} {response.reason} for {method} {path}")
        return json.loads(response.data)

    def version(self) -> tuple[int, int]:
        info = self._call("GET", "/version")
        if info is None:
            raise Unreachable(f"{self.endpoint}/version not found")
        return int(info["major"]), _minor(info["minor"])

    def resources(self, group_version: str) -> set[str] | None:
        path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
        listing = self._call("GET", path)
        if listing is None:
            return None
        return {r["name"] for r in listing.get("resources", []) if "/" not in r["name"]}

    def get(self, path: str) -> dict[str, Any] | None:
        return self._call("GET", path)

    def allowed(self, verb: str, group: str, resource: str, namespace: str | None, name: str | None = None) -> bool:
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if name:
            attributes["name"] = name
        review = self._call("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body={
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": attributes}})
        return bool(review and review.get("status", {}).get("allowed"))


def connect(config: Mapping[str, Any]) -> KubeCluster:
    """A client for the cluster the Kubernetes provider would deploy to, with this stack's config."""
    import yaml
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    context = config.get("kubernetes:context") or None
    given = config.get("kubernetes:kubeconfig") or None
    try:
        if given and not Path(os.path.expanduser(given)).is_file():
            client = kube_config.new_client_from_config_dict(yaml.safe_load(given), context=context)
        elif given or os.environ.get("KUBECONFIG") or Path("~/.kube/config").expanduser().is_file():
            client = kube_config.new_client_from_config(
                config_file=os.path.expanduser(given) if given else os.environ.get("KUBECONFIG"), context=context)
        else:
            from kubernetes.client import ApiClient, Configuration

            configuration = Configuration()
            kube_config.load_incluster_config(client_configuration=configuration)
            client = ApiClient(configuration)
    except (ConfigException, yaml.YAMLError, OSError, KeyError, TypeError) as err:
        where = "kubernetes:kubeconfig" if given else os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise Unreachable(f"no usable kubeconfig ({where}{', context ' + context if context else ''}): {err}") from None
    client.configuration.retries = 1
    return KubeCluster(client, client.configuration.host)
