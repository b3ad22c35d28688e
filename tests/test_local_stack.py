"""The local target's stack (scripts/local_stack.py, local/): model-only tests and a mocked deploy.

What `make up` deploys on the local cluster is the repository's stack with local/overlay.yaml laid
over it. The e2e tests run it for real (tests/engine/e2e_harness.py); these check, fast, that the
overlay keeps what it should, that every stack with the overlay is a valid stack whose pods pass
admission, and that the images it names are the ones scripts/images.sh builds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from admission import Namespace, admit, check_restricted, load_scc
from preflight.upgrades import elasticsearch_version_problem
from settings import settings_from_config
from tests.conftest import ROOT, containers, deploy_config, pod_templates

sys.path.insert(0, str(ROOT / "scripts"))
import local_stack

from tests.conftest import STACKS

OVERLAY = yaml.safe_load(local_stack.OVERLAY.read_text())["config"]
NS = Namespace(uid_range="1000680000/10000", supplemental_groups="1000680000/10000", mcs="s0:c26,c15")


def _stack(stack: str) -> dict:
    return yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"]


def _local(stack: str) -> dict:
    return local_stack.local_config(ROOT, stack)


def _encoded(config: dict) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def test_a_mapping_merges_key_by_key_and_other_values_replace():
    stack = {"a": {"name": "x", "create": True, "deep": {"k": 1, "j": 2}}, "b": [1, 2], "c": "keep"}
    over = {"a": {"create": False, "deep": {"k": 3}}, "b": [3]}
    assert local_stack.overlay(stack, over) == {
        "a": {"name": "x", "create": False, "deep": {"k": 3, "j": 2}}, "b": [3], "c": "keep"}
    assert stack["a"]["create"] is True  # the input is not modified


def test_a_tier_made_external_replaces_the_stacks_section():
    merged = local_stack.overlay({"t": {"storage": {"size": "5Gi"}, "replicas": 3}}, {"t": {"external": {"x": 1}}})
    assert merged == {"t": {"external": {"x": 1}}}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_with_the_overlay_is_valid_and_keeps_its_namespace(stack):
    local, config = _local(stack), _stack(stack)
    settings = settings_from_config(_encoded(local))
    original = settings_from_config(_encoded(config))
    assert settings.namespace.name == original.namespace.name and settings.namespace.create is False
    assert settings.mongodb.external is not None
    for key, value in config.items():
        if key not in OVERLAY:
            assert local[key] == value, f"{key}: the overlay must leave the stack's settings alone"


def test_the_overlay_names_the_images_scripts_images_sh_builds():
    built = dict(line.split("=", 1) for line in subprocess.run(
        [str(ROOT / "scripts" / "images.sh"), "names"], capture_output=True, text=True, check=True).stdout.split())
    for name, image in OVERLAY["clearml-openshift:images"].items():
        ref = f"{image['repository']}:{image['tag']}"
        assert ref in built.values(), f"{name}: {ref} is not built by scripts/images.sh ({built})"
        assert ref.startswith("localhost/standin/"), "a stand-in is always named as one"
    standin = yaml.safe_load_all(local_stack.MONGODB_STANDIN.read_text())
    [deployment] = [d for d in standin if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == built["mongodb"]


def test_the_upgrade_overlay_moves_elasticsearch_to_the_next_image_and_nothing_else(monkeypatch):
    built = dict(line.split("=", 1) for line in subprocess.run(
        [str(ROOT / "scripts" / "images.sh"), "names"], capture_output=True, text=True, check=True).stdout.split())
    before = local_stack.local_config(ROOT, "dev")
    monkeypatch.setenv(local_stack.EXTRA_OVERLAY_ENV, str(ROOT / "local" / "upgrade.yaml"))
    after = local_stack.local_config(ROOT, "dev")
    images = "clearml-openshift:images"
    assert {k: v for k, v in after.items() if k != images} == {k: v for k, v in before.items() if k != images}
    changed = {name for name, image in after[images].items() if image != before[images][name]}
    assert changed == {"elasticsearch"}
    old, new = before[images]["elasticsearch"], after[images]["elasticsearch"]
    assert f"{new['repository']}:{new['tag']}" == built["elasticsearch-next"]
    assert elasticsearch_version_problem(old["tag"], new["tag"]) is None  # an upgrade preflight lets through
    assert elasticsearch_version_problem(new["tag"], old["tag"]) is not None  # and no way back


def test_the_mongodb_standin_passes_restricted_v2_and_pod_security_restricted():
    [deployment] = [d for d in yaml.safe_load_all(local_stack.MONGODB_STANDIN.read_text()) if d["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    assert deployment["metadata"]["namespace"] == local_stack.MONGODB_NAMESPACE
    _, errors = admit(spec, load_scc("restricted-v2"), NS)
    assert errors == []
    assert check_restricted(spec) == []


def test_dev_with_the_overlay_deploys_stand_ins_only_and_every_pod_passes_admission(mocks):
    deploy_config(mocks, _encoded(_local("dev")))
    assert not mocks.of_kind("StatefulSet") or all(
        "mongodb" not in s.name for s in mocks.of_kind("StatefulSet")), "MongoDB is external locally"
    assert not [r for r in mocks.of_kind("Namespace")], "the namespace is created by scripts/local_stack.py"
    templates = pod_templates(mocks.resources)
    assert templates
    for where, spec in templates:
        for container in containers(spec):
            assert container["image"].startswith("localhost/standin/"), (where, container["image"])
        assert admit(spec, load_scc("restricted-v2"), NS)[1] == [], where
        assert check_restricted(spec) == [], where


def test_config_writes_the_overlaid_stack_into_the_copy_and_keeps_its_salt(tmp_path):
    copy = tmp_path / "Pulumi.dev.yaml"
    copy.write_text((ROOT / "Pulumi.dev.yaml").read_text() + "encryptionsalt: v1:abc:def\n")
    before = (ROOT / "Pulumi.dev.yaml").read_text()
    local_stack.main(["config", "--stack", "dev", "--project", str(tmp_path)])
    written = yaml.safe_load(copy.read_text())
    assert written["encryptionsalt"] == "v1:abc:def"
    assert written["config"] == _local("dev")
    assert copy.read_text().startswith("# Written by scripts/local_stack.py")
    assert (ROOT / "Pulumi.dev.yaml").read_text() == before


def test_an_unknown_stack_is_refused_by_name(tmp_path):
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    with pytest.raises(SystemExit, match=r"no stack file Pulumi.nope.yaml \(stacks: dev\)"):
        local_stack.main(["config", "--stack", "nope", "--project", str(tmp_path)])
