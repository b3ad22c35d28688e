"""What differs when the program runs against the local cluster of scripts/cluster.sh (scripts/pulumi.sh).

The local cluster has a node and runs pods, but the repository's stacks name the upstream images,
which the machines this project is built on cannot pull (the end-to-end tests deploy a stack of
locally built stand-ins instead, with full await: tests/engine/e2e/). `scripts/pulumi.sh` and the
lifecycle engine tests set CLEARML_OPENSHIFT_LOCAL_TARGET=1 for every Pulumi command they run; then

* every Kubernetes object carries `pulumi.com/skipAwait: "true"`, so Pulumi does not wait for
  readiness that cannot come there (a real cluster keeps full await, including Certificates' Ready);
* the in-cluster CA is not read back (there is no Secret to read): no `caCertificate` output.

Never set the variable against a real cluster.
"""

from __future__ import annotations

import os

from settings import Settings
from transforms import SKIP_AWAIT, annotate

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
