"""Where the router sends each public host, decided in one place from the edge settings and what the
web, API and file server tiers expose (their Services and ports).

With `edge` termination each host goes to its own tier's plain-HTTP port; with `reencrypt` all three
go to the web server's TLS port, which serves the app and proxies `/api` and `/files` (webserver.py).
The router may then reach exactly those ports (network_policies.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import pulumi

from settings.models import EdgeSettings

from . import tiers


class Exposed(Protocol):
    """A tier's Service as the edge sees it (ApiServer, FileServer, WebServer)."""

    service_name: pulumi.Output[str]
    port: int


@dataclass(frozen=True)
class EdgePlan:
    reencrypt: bool
    backends: dict[str, tuple[pulumi.Input[str], str]]  # host key (app/api/files) -> (Service, port name)
    router_ports: dict[str, list[int]]  # tier -> the container ports the router reaches


def reencrypts(edge: EdgeSettings) -> bool:
    """Whether the router re-encrypts to the pods (the web server then serves TLS for all hosts)."""
    return edge.termination == "reencrypt"


def plan(edge: EdgeSettings, web: Exposed, api: Exposed, files: Exposed) -> EdgePlan:
    if reencrypts(edge):
        return EdgePlan(reencrypt=True, backends={key: (web.service_name, "https") for key in ("app", "api", "files")},
                        router_ports={tiers.WEBSERVER: [tiers.WEBSERVER_TLS_PORT]})
    return EdgePlan(
        reencrypt=False,
        backends={"app": (web.service_name, "http"), "api": (api.service_name, "http"), "files": (files.service_name, "http")},
        router_ports={tiers.WEBSERVER: [web.port], tiers.APISERVER: [api.port], tiers.FILESERVER: [files.port]},
    )
