"""Rule `pinned-images`: Pinned images."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from policy.manifest import Manifest, is_unknown, pod_templates
from vocabulary import images

NAME = "pinned-images"
DESCRIPTION = 'Every container image is pinned by a digest or a tag other than latest.'
ENFORCEMENT = EnforcementLevel.MANDATORY


def check_pinned_images(manifest: Manifest) -> list[str]:
    """Every container image is pinned: a digest, or a tag other than `latest`."""
    errors = []
    for pod in pod_templates(manifest):
        for label, container, _ in pod.containers():
            image = container.get("image")
            if is_unknown(image):
                continue
            if not isinstance(image, str) or not image:
                errors.append(f"{pod.where}: {label}: no image")
                continue
            problem = images.pinning_problem(image)
            if problem:
                errors.append(f"{pod.where}: {label}: image {image} is not pinned: {problem}")
    return errors


check = check_pinned_images
