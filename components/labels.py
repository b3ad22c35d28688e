"""The labels of every object the program creates (Kubernetes' recommended `app.kubernetes.io/*`)."""

from __future__ import annotations

PART_OF = "clearml"


def labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": f"clearml-{component}",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def selector_labels(component: str) -> dict[str, str]:
    """The immutable subset used in selectors (never includes versions)."""
    return {"app.kubernetes.io/name": f"clearml-{component}", "app.kubernetes.io/part-of": PART_OF}
