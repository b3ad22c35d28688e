"""Registries: `images.pullSecrets` on every pod (task pods included) and `images.mirror`, which moves
every image to one registry with its tag or digest kept, as disconnected clusters need."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from preflight.needs import needs
from settings import PROJECT, ConfigError, settings_from_config
from tests.conftest import containers, deploy_config, env_of, pod_templates, unwrap
from tests.fake_cluster import FakeCluster

P = PROJECT
DIGEST = "sha256:" + "ab" * 32


def _config(**sections: Any) -> dict[str, str]:
    values = {"hosts": {"baseDomain": "apps.example.com"}, "agent": {"enabled": True}, **sections}
    return {f"{P}:{k}": json.dumps(v) for k, v in values.items()}


def _pods(mocks) -> list[tuple[str, dict[str, Any]]]:
    """Every pod template, and the agent's task pod (a template in its ConfigMap)."""
    pods = pod_templates(mocks.resources)
    config_map = next(r for r in mocks.resources if r.typ == "kubernetes:core/v1:ConfigMap"
                      and "template.yaml" in (unwrap(r.inputs).get("data") or {}))
    task = yaml.safe_load(unwrap(config_map.inputs)["data"]["template.yaml"])
    return pods + [("task pod", task["spec"])]


def test_every_pod_gets_the_pull_secrets(mocks):
    deploy_config(mocks, _config(images={"pullSecrets": ["regcred", "mirror-pull"]}))
    pods = _pods(mocks)
    assert len(pods) >= 8
    for name, spec in pods:
        assert spec.get("imagePullSecrets") == [{"name": "regcred"}, {"name": "mirror-pull"}], name


def test_no_pull_secrets_by_default(mocks):
    deploy_config(mocks, _config())
    assert all("imagePullSecrets" not in spec for _, spec in _pods(mocks))


def test_a_mirror_moves_every_image_and_keeps_digests(mocks):
    mirror = "mirror.example.com:5000/ml"
    deploy_config(mocks, _config(images={"mirror": mirror, "redis": {"digest": DIGEST}}))
    images = {c["image"] for _, spec in _pods(mocks) for c in containers(spec)}
    assert len(images) >= 6
    assert all(i.startswith(mirror + "/") for i in images), images
    assert f"{mirror}/library/redis@{DIGEST}" in images
    assert f"{mirror}/clearml/server:2.4.0" in images
    assert f"{mirror}/elasticsearch/elasticsearch:8.19.9" in images
    # The image the agent gives tasks that name none.
    glue = next(spec for name, spec in _pods(mocks) if name.startswith("Deployment/clearml-agent"))
    assert env_of(containers(glue, init=False)[0])["CLEARML_DOCKER_IMAGE"] == f"{mirror}/library/python:3.11-slim-bookworm"


def test_a_mirror_with_an_image_of_the_stack_own():
    settings = settings_from_config(_config(images={"mirror": "mirror.example.com", "clearml": {
        "repository": "quay.io/acme/clearml-server", "tag": "2.4.0-acme"}}))
    assert settings.images.clearml.ref == "mirror.example.com/acme/clearml-server:2.4.0-acme"
    assert settings.images.mongodb.ref == "mirror.example.com/library/mongo:8.0.15"


@pytest.mark.parametrize("images,key,message", [
    ({"mirror": "https://mirror.example.com"}, "images.mirror", "is not a registry"),
    ({"mirror": "mirror"}, "images.mirror", "is not a registry"),
    ({"pullSecrets": ["Reg_Cred"]}, "images.pullSecrets[0]", "lower case"),
])
def test_bad_registry_settings(images, key, message):
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(images=images))
    assert any(p.startswith(f"{P}:{key}:") and message in p for p in err.value.problems), err.value.problems


def test_preflight_checks_the_pull_secrets_exist():
    from preflight import check
    from preflight.cluster import api_path

    wanted = needs(settings_from_config(_config(images={"pullSecrets": ["regcred", "dockercfg"]})))
    cluster = FakeCluster(objects={
        api_path("", "v1", "secrets", "regcred", "clearml"): None,
        api_path("", "v1", "secrets", "dockercfg", "clearml"): {"data": {".dockercfg": "e30="}}})
    assert check(cluster, wanted).problems == [
        f"{P}:images.pullSecrets: Secret regcred does not exist in namespace clearml: create it "
        "(oc -n clearml create secret docker-registry regcred --docker-server=<registry> --docker-username=<user> "
        "--docker-password=<password>)"]
