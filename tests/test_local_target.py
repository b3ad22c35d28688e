"""The local target's adjustments (transforms do not run under mocks, so they are tested directly)."""

from __future__ import annotations

import pulumi

from program import local_target
from settings import settings_from_config
from tests.conftest import ROOT


def _args(type_: str, props: dict, custom: bool = True) -> pulumi.ResourceTransformArgs:
    return pulumi.ResourceTransformArgs(custom=custom, type_=type_, name="x", props=props,
                                        opts=pulumi.ResourceOptions())


def test_kubernetes_objects_are_not_awaited():
    props = {"metadata": {"name": "clearml-app-tls", "annotations": {"pulumi.com/waitFor": "condition=Ready"}}, "spec": {}}
    result = local_target.skip_await(_args("kubernetes:cert-manager.io/v1:Certificate", props))
    assert result.props["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready",
                                                       "pulumi.com/skipAwait": "true"}
    assert props["metadata"]["annotations"] == {"pulumi.com/waitFor": "condition=Ready"}  # input not mutated
    added = local_target.skip_await(_args("kubernetes:apps/v1:Deployment", {"spec": {}}))
    assert added.props["metadata"] == {"annotations": {"pulumi.com/skipAwait": "true"}}


def test_other_resources_are_left_alone():
    assert local_target.skip_await(_args("random:index/randomPassword:RandomPassword", {"length": 8})) is None
    assert local_target.skip_await(_args("clearml:redis:Redis", {}, custom=False)) is None


def test_only_the_environment_variable_enables_it(monkeypatch):
    monkeypatch.delenv(local_target.ENV, raising=False)
    assert not local_target.enabled()
    monkeypatch.setenv(local_target.ENV, "1")
    assert local_target.enabled()


def test_the_ca_is_not_read_back_locally():
    settings = settings_from_config({"clearml-openshift:hosts": '{"baseDomain": "apps.example.com"}'})
    assert settings.tls.export_ca_certificate
    assert not local_target.adjust(settings).tls.export_ca_certificate


def test_every_kubernetes_object_is_force_applied():
    from program import transforms

    result = transforms.annotate(transforms.PATCH_FORCE)(_args("kubernetes:core/v1:ConfigMap", {"data": {}}))
    assert result.props["metadata"]["annotations"] == {"pulumi.com/patchForce": "true"}
    assert transforms.annotate(transforms.PATCH_FORCE)(_args("kubernetes:helm.sh/v4:Chart", {}, custom=False)) is None


def test_only_volume_claims_are_not_awaited():
    """A retained claim is Bound already when a later `up` adopts it; awaiting it hung (program/transforms.py)."""
    from program import transforms

    skip = transforms.annotate(transforms.SKIP_AWAIT, only=transforms.CLAIM)
    claim = skip(_args("kubernetes:core/v1:PersistentVolumeClaim", {"metadata": {"annotations": {"a": "b"}}}))
    assert claim.props["metadata"]["annotations"] == {"a": "b", "pulumi.com/skipAwait": "true"}
    assert skip(_args("kubernetes:apps/v1:Deployment", {})) is None
    main = (ROOT / "__main__.py").read_text()
    assert "transforms.register(transforms.annotate(transforms.SKIP_AWAIT, only=transforms.CLAIM))" in main


def test_transforms_are_not_registered_under_mocks(mocks):
    from program import transforms

    assert transforms.register(transforms.annotate(transforms.PATCH_FORCE)) is False
