"""Rule `edge-tls`: TLS on every Route and Ingress."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from policy.manifest import Manifest, as_dict, as_list, describe, is_unknown

NAME = "edge-tls"
DESCRIPTION = 'Every Route terminates TLS and never allows plain HTTP; every Ingress host is covered by spec.tls.'
ENFORCEMENT = EnforcementLevel.MANDATORY


ROUTE_TERMINATIONS = ("edge", "reencrypt", "passthrough")


def _host_covered(host: str, tls_hosts: list[str]) -> bool:
    for pattern in tls_hosts:
        if pattern == host:
            return True
        if pattern.startswith("*.") and "." in host and host.split(".", 1)[1] == pattern[2:]:
            return True
    return False


def check_edge_tls(manifest: Manifest) -> list[str]:
    """Routes terminate TLS (edge, reencrypt or passthrough) and never serve plain HTTP
    (insecureEdgeTerminationPolicy Allow); an Ingress has spec.tls covering every rule host."""
    kind = manifest.get("kind")
    api = str(manifest.get("apiVersion", ""))
    where = describe(manifest)
    spec = manifest.get("spec")
    if is_unknown(spec):
        return []
    spec = as_dict(spec)
    if kind == "Route" and api.startswith("route.openshift.io/"):
        tls = spec.get("tls")
        if is_unknown(tls):
            return []
        if not isinstance(tls, dict):
            return [f"{where}: no spec.tls: the route serves plain HTTP"]
        errors = []
        termination = tls.get("termination")
        if not is_unknown(termination) and termination not in ROUTE_TERMINATIONS:
            errors.append(f"{where}: spec.tls.termination is {termination!r}, not one of {', '.join(ROUTE_TERMINATIONS)}")
        if tls.get("insecureEdgeTerminationPolicy") == "Allow":
            errors.append(f"{where}: spec.tls.insecureEdgeTerminationPolicy Allow serves the route over plain HTTP too")
        return errors
    if kind == "Ingress" and api.startswith(("networking.k8s.io/", "extensions/")):
        tls = spec.get("tls")
        if is_unknown(tls) or any(is_unknown(t) for t in as_list(tls)):
            return []
        tls = [t for t in as_list(tls) if isinstance(t, dict)]
        if not tls:
            return [f"{where}: no spec.tls: the ingress serves plain HTTP"]
        if any(is_unknown(t.get("hosts")) for t in tls):
            return []
        tls_hosts = [h for t in tls for h in as_list(t.get("hosts")) if isinstance(h, str)]
        catch_all = any(not as_list(t.get("hosts")) for t in tls)
        errors = []
        rules = spec.get("rules")
        for index, rule in enumerate(as_list(rules)):
            host = as_dict(rule).get("host")
            if is_unknown(host):
                continue
            if not host:
                if not catch_all:
                    errors.append(f"{where}: rules[{index}] has no host, and no spec.tls entry without hosts covers it")
            elif not _host_covered(host, tls_hosts) and not catch_all:
                errors.append(f"{where}: rules[{index}] host {host} is not covered by spec.tls")
        return errors
    return []


check = check_edge_tls
