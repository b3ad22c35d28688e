"""Credential rotation (scripts/rotate.py, README "Rotate generated credentials"): which generators a
rotation replaces, found in the state of the program as it really registers its resources, and which
pods roll when they generate new values: exactly those that read them, Redis's clients after Redis."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys

import pytest

from scripts import rotate
from settings import PROJECT
from tests.conftest import ROOT, pod_templates
from tests.mocking import RecordingMocks, deploy, deploy_config, run_program, set_mocks, stack_config
from vocabulary.clearml import CREDENTIALS_ANNOTATION

# The stacks between them run every reader: prod (Redis exporter, async-delete), gpu (the agent).
STACKS = ("prod", "gpu")
# Pods that read each credential (kind/name of their workload), per stack; nothing else may roll.
SERVER = {"Deployment/clearml-apiserver", "Deployment/clearml-fileserver"}
READERS = {
    "redis": {"StatefulSet/clearml-redis", "Deployment/clearml-async-delete", "Deployment/clearml-monitoring-redis"} | SERVER,
    "elasticsearch": {"StatefulSet/clearml-elastic", "Deployment/clearml-apiserver", "Deployment/clearml-async-delete",
                      "Deployment/clearml-monitoring-elasticsearch"},
    "clearml-keys": SERVER | {"Deployment/clearml-agent*"},  # one glue per queue
    "session-secret": {"Deployment/clearml-apiserver"},
    "token-secret": {"Deployment/clearml-apiserver", "Deployment/clearml-async-delete"},
    "admin-password": {"Deployment/clearml-apiserver"},
}


class RotatingMocks(RecordingMocks):
    """The recording mocks, with other values for the generators named in `rotated` (what `pulumi up
    --replace` of them yields)."""

    def __init__(self, rotated: set[str]) -> None:
        super().__init__()
        self.rotated = rotated

    def new_resource(self, args):
        resource_id, outputs = super().new_resource(args)
        if args.name in self.rotated:
            outputs["result"] = outputs["result"][::-1]
        return resource_id, outputs


def _export(mocks: RecordingMocks) -> list[dict]:
    """The resources of a `pulumi stack export`, as far as rotate.py reads them: URNs as the engine
    writes them (`urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>`), and each parent's."""
    def key(urn: str) -> tuple[str, str]:  # (type, name) of a URN the mock monitor recorded
        types, name = urn.rsplit("::", 1)
        return types.rsplit("::", 1)[1].rsplit("$", 1)[-1], name

    urns: dict[tuple[str, str], str] = {}
    out = []
    for r in mocks.resources:  # registration order: parents first
        parent = urns.get(key(r.parent), "") if r.parent else ""
        chain = parent.rsplit("::", 1)[0] + "$" + r.typ if parent else f"urn:pulumi:test::{PROJECT}::{r.typ}"
        urns[(r.typ, r.name)] = urn = f"{chain}::{r.name}"
        out.append({"urn": urn, "type": r.typ, "parent": parent})
    return out


def _digests(resources) -> dict[str, str | None]:
    return {name: spec["_annotations"].get(CREDENTIALS_ANNOTATION) for name, spec in pod_templates(resources)}


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("credential", sorted(READERS))
def test_a_rotation_rolls_exactly_the_pods_that_read_the_credential(mocks, cluster, stack, credential):
    config = stack_config(stack)
    deploy_config(mocks, config)
    before = _digests(mocks.resources)
    urns = rotate.replacements(_export(mocks), credential)
    assert urns, f"{stack}: nothing generates {credential}"
    assert all(u.split("::")[-1].startswith(("clearml-credentials-", "clearml-redis-", "clearml-elastic-")) for u in urns)

    rotating = RotatingMocks({u.rsplit("::", 1)[1] for u in urns})
    set_mocks(rotating, PROJECT)
    deploy(lambda: run_program(config))
    after = _digests(rotating.resources)

    assert before.keys() == after.keys()
    rolled = {name for name in before if before[name] != after[name]}
    readers = {name for name in before if any(fnmatch.fnmatchcase(name, r) for r in READERS[credential])}
    assert rolled == readers
    assert rolled, credential
    # Every reader is annotated, with a digest and not the value.
    for name in rolled:
        assert len(after[name] or "") == 16 and int(after[name] or "", 16) >= 0


def test_the_digests_are_plain_and_no_generated_value_is_in_a_pod_template(mocks):
    deploy_config(mocks, stack_config("prod"))
    generated = {r.outputs["result"] for r in mocks.resources if r.typ == rotate.PASSWORD_TYPE}
    annotated = 0
    for resource in mocks.resources:
        if resource.kind not in ("Deployment", "StatefulSet", "CronJob", "Job"):
            continue
        if resource.kind in ("Deployment", "StatefulSet"):  # as sent: a secret would be an envelope, not a str
            raw = resource.inputs["spec"]["template"]["metadata"].get("annotations") or {}
            if CREDENTIALS_ANNOTATION in raw:
                annotated += 1
                assert isinstance(raw[CREDENTIALS_ANNOTATION], str), f"{resource.name}: a secret digest"
        text = repr(resource.inputs)
        assert not any(value in text for value in generated), resource.name
    assert annotated == sum(CREDENTIALS_ANNOTATION in spec["_annotations"] for _, spec in pod_templates(mocks.resources))
    assert annotated


@pytest.mark.parametrize("store", ["clearml-redis", "clearml-elastic"])
def test_the_clients_of_a_store_take_its_secret_after_its_statefulset(mocks, store):
    """With await (a real cluster), the clients' rollout starts once the store runs with the new password."""
    deploy_config(mocks, stack_config("prod"))
    statefulset = next(r for r in mocks.resources if r.kind == "StatefulSet" and r.name == f"{store}-statefulset")
    assert statefulset.inputs["spec"]["template"]["metadata"]["annotations"][CREDENTIALS_ANNOTATION]
    for client in ("clearml-apiserver-deployment", "clearml-async-delete-deployment"):
        api = next(r for r in mocks.resources if r.kind == "Deployment" and r.name == client)
        assert any(d.endswith(f"::{store}-statefulset") for d in api.dependencies), (client, api.dependencies)


def test_the_stores_it_cannot_rotate_are_refused_with_the_reason():
    for credential, words in (("mongodb", "MongoDB"),):
        result = subprocess.run([sys.executable, str(ROOT / "scripts" / "rotate.py"), "--stack", "dev", credential],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 1 and result.stdout == ""
        assert f"{credential} cannot be rotated by this command" in result.stderr and words in result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "rotate.py"), "--stack", "dev", "passwords"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "unknown credential 'passwords': one of redis, elasticsearch, clearml-keys" in result.stderr


def test_an_external_redis_has_nothing_to_rotate(mocks):
    config = stack_config("dev")
    config[f"{PROJECT}:redis"] = json.dumps({"external": {"host": "redis.example.com",
                                                          "password": {"name": "redis", "key": "password"}}})
    deploy_config(mocks, config)
    assert rotate.replacements(_export(mocks), "redis") == []
    assert rotate.replacements(_export(mocks), "token-secret")
