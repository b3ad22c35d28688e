"""Making a directory that ships in an image writable without hiding what it ships.

An init container (same image) copies the directory into an emptyDir; the main container mounts
that emptyDir at the original path. The process sees the shipped files and may write beside them.
Mounting an *empty* volume over such a directory is never done: it hides the image's code
(the upstream chart's `ImportError: cannot import name 'SchemaReader'` came from exactly that).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi_kubernetes as k8s

from settings.blocks import ResourceAmounts, Resources

from . import workload as w

SEED_RESOURCES = Resources(
    requests=ResourceAmounts(cpu="10m", memory="32Mi"), limits=ResourceAmounts(cpu="200m", memory="128Mi")
)


def seed_container(image: str, pull_policy: str, seeded: Mapping[str, str]) -> k8s.core.v1.ContainerArgs:
    """Copies each `seeded[volume] = directory` into its emptyDir (mounted at /seed/<volume>)."""
    steps = ["set -eu"]
    for volume, path in seeded.items():
        # `cp -R`, not `cp -a`: the emptyDir's root belongs to root, and only its owner may set its
        # times, so `cp -a` (and `--no-preserve=timestamps`) exits 1 for a random UID. Modes are kept.
        steps.append(f'if [ -d "{path}" ]; then cp -R "{path}/." "/seed/{volume}/"; fi')
        steps.append(f'echo "seeded {path}: $(ls -A /seed/{volume} | wc -l) entries"')
    return w.container(
        name="seed-writable-dirs",
        image=image,
        pull_policy=pull_policy,
        resources_spec=SEED_RESOURCES,
        read_only_root_filesystem=True,
        command=["bash", "-c", "\n".join(steps)],
        mounts=[w.mount(volume, f"/seed/{volume}") for volume in seeded],
    )


def seeded_mounts(seeded: Mapping[str, str]) -> list[k8s.core.v1.VolumeMountArgs]:
    return [w.mount(volume, path) for volume, path in seeded.items()]


def seeded_volumes(seeded: Mapping[str, str], size_limit: str = "64Mi") -> list[k8s.core.v1.VolumeArgs]:
    return [w.empty_dir(volume, size_limit) for volume in seeded]
