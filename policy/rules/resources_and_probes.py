"""Rule `resources-and-probes`: Requests, limits and probes."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from policy.manifest import Manifest, as_dict, is_unknown, pod_templates

NAME = "resources-and-probes"
DESCRIPTION = (
    'Every container sets cpu/memory requests and limits; long-running containers have readiness and '
    'liveness probes.'
)
ENFORCEMENT = EnforcementLevel.MANDATORY


def check_resources_and_probes(manifest: Manifest) -> list[str]:
    """Every container sets cpu and memory requests and limits; containers that keep running
    (Deployments, StatefulSets, DaemonSets, Pods that restart, sidecars) also have readiness and
    liveness probes. Init containers and Job/CronJob containers need requests and limits only."""
    errors = []
    for pod in pod_templates(manifest):
        for label, container, running in pod.containers():
            if label.startswith("ephemeralContainers"):
                continue  # cannot set resources or probes
            resources = container.get("resources")
            if not is_unknown(resources):
                resources = as_dict(resources)
                for bound in ("requests", "limits"):
                    values = resources.get(bound)
                    if is_unknown(values):
                        continue
                    missing = [r for r in ("cpu", "memory") if as_dict(values).get(r) in (None, "")]
                    if missing:
                        errors.append(f"{pod.where}: {label}: no {bound}.{' or '.join(missing)}")
            if running:
                missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
                if missing:
                    errors.append(f"{pod.where}: {label}: no {' and no '.join(missing)}")
    return errors


check = check_resources_and_probes
