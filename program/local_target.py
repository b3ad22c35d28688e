"""What differs when the lifecycle engine tests deploy the repository's stacks as they are.

The lifecycle engine tests (tests/engine/test_engine.py) and scripts/benchmark.py deploy every
`Pulumi.<stack>.yaml` unchanged onto the local cluster, to check what the API server accepts; those
stacks name the upstream images, which the machines this project is built on cannot pull. They set
CLEARML_OPENSHIFT_LOCAL_TARGET=1 for every Pulumi command they run; then

* every Kubernetes object carries `pulumi.com/skipAwait: "true"`, so Pulumi does not wait for
  readiness that cannot come there;
* the in-cluster CA is not read back (its Secret may never be written): no `caCertificate` output.

`make up` on the local cluster does not use this: scripts/pulumi.sh lays local/overlay.yaml (the
stand-in images) over the stack and awaits everything, as on a real cluster. Never set the variable
against a real cluster.
"""

from __future__ import annotations

import os

from settings import Settings

from .transforms import SKIP_AWAIT, annotate

ENV = "CLEARML_OPENSHIFT_LOCAL_TARGET"


RENDER_ENV = "CLEARML_OPENSHIFT_RENDER"  # scripts/render.py: no cluster at all


def enabled() -> bool:
    return os.environ.get(ENV, "") == "1"


def rendering() -> bool:
    return os.environ.get(RENDER_ENV, "") == "1"


# Resource transform: annotate every Kubernetes object so the provider does not await it.
skip_await = annotate(SKIP_AWAIT)


def adjust(settings: Settings) -> Settings:
    """The settings as the local target can honour them."""
    tls = settings.tls.model_copy(update={"export_ca_certificate": False})
    return settings.model_copy(update={"tls": tls})
