"""Resource transforms the program registers (they run in the real engine, not under unit-test mocks).

* every Kubernetes object gets `pulumi.com/patchForce: "true"`: the program is the source of truth,
  so `pulumi up` takes back fields another field manager changed out of band (`kubectl scale`, an
  edited ConfigMap) instead of failing with a server-side-apply conflict. The Kubernetes provider
  reads this annotation per object (pulumi-kubernetes provider/pkg/await/await.go `patchForce`);
  its `enablePatchForce` provider option is not consulted for updates in the pinned 4.25.0.
* every PersistentVolumeClaim gets `pulumi.com/skipAwait: "true"`: a claim kept by an earlier
  `destroy` is already Bound when a new `up` adopts it and never changes again, and the provider's
  awaiter (4.25.0) waits for a change, so that `up` hung until its 5-minute timeout (seen on the local
  cluster). A claim's readiness is its workload's, which is awaited.
* with CLEARML_OPENSHIFT_LOCAL_TARGET=1 only (the lifecycle engine tests), `pulumi.com/skipAwait: "true"` on
  everything (see program/local_target.py).

Both are engine annotations: the offline render (scripts/render.py) registers neither.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

import pulumi

from . import sdk

PATCH_FORCE = {"pulumi.com/patchForce": "true"}
SKIP_AWAIT = {"pulumi.com/skipAwait": "true"}
# The provider awaits an object until this JSONPath condition holds (pulumi-kubernetes 4.18 and later).
WAIT_FOR = "pulumi.com/waitFor"
CLAIM = "kubernetes:core/v1:PersistentVolumeClaim"

Transform = Callable[[pulumi.ResourceTransformArgs], pulumi.ResourceTransformResult | None]


def annotate(annotations: Mapping[str, str], only: str | None = None) -> Transform:
    """A transform adding `annotations` to the metadata of every Kubernetes object, or only of those of
    the resource type `only` (not to components, providers or other packages' resources). The
    original props are not mutated."""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom or not args.type_.startswith("kubernetes:") or args.type_.startswith("kubernetes:helm"):
            return None
        if only is not None and args.type_ != only:
            return None
        props = dict(cast(Mapping[str, Any], args.props))  # a dict at run time; typed as an Input
        metadata = dict(props.get("metadata") or {})
        metadata["annotations"] = {**(metadata.get("annotations") or {}), **annotations}
        props["metadata"] = metadata
        return pulumi.ResourceTransformResult(props=props, opts=args.opts)

    return transform


def register(transform: Transform) -> bool:
    """Registers `transform` with the engine. Transforms run in the engine's callback server, which
    only exists when the program talks to a real engine: under unit-test mocks they never run (Pulumi's
    testing docs), and some SDK versions refuse to register them there. Returns whether it registered."""
    if not sdk.real_engine():
        return False
    pulumi.runtime.register_resource_transform(transform)
    return True
