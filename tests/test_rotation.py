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
from tests.mocking import RecordingMocks, deploy, deploy_config, run_program, set_mocks, stack_config, unwrap
from vocabulary.clearml import CREDENTIALS_ANNOTATION, MONGODB_SETUP_JOB

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


def _export(mocks: RecordingMocks, succeeded: bool = True) -> list[dict]:
    """The resources of a `pulumi stack export`, as far as rotate.py reads them: URNs as the engine
    writes them (`urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>`), each parent's, the
    inputs, and a Job's status as the provider's await leaves it (`succeeded`, or a Job that failed)."""
    def key(urn: str) -> tuple[str, str]:  # (type, name) of a URN the mock monitor recorded
        types, name = urn.rsplit("::", 1)
        return types.rsplit("::", 1)[1].rsplit("$", 1)[-1], name

    urns: dict[tuple[str, str], str] = {}
    out = []
    for r in mocks.resources:  # registration order: parents first
        parent = urns.get(key(r.parent), "") if r.parent else ""
        chain = parent.rsplit("::", 1)[0] + "$" + r.typ if parent else f"urn:pulumi:test::{PROJECT}::{r.typ}"
        urns[(r.typ, r.name)] = urn = f"{chain}::{r.name}"
        outputs = {"status": {"succeeded": 1} if succeeded else {"failed": 11}} if r.kind == "Job" else {}
        out.append({"urn": urn, "type": r.typ, "parent": parent, "inputs": unwrap(r.inputs), "outputs": outputs})
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


def test_an_unknown_credential_is_refused_with_the_known_ones():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "rotate.py"), "--stack", "dev", "passwords"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout == ""
    assert "unknown credential 'passwords': one of redis, elasticsearch, clearml-keys" in result.stderr
    assert "mongodb" in result.stderr


def test_an_external_redis_has_nothing_to_rotate(mocks):
    config = stack_config("dev")
    config[f"{PROJECT}:redis"] = json.dumps({"external": {"host": "redis.example.com",
                                                          "password": {"name": "redis", "key": "password"}}})
    deploy_config(mocks, config)
    assert rotate.replacements(_export(mocks), "redis") == []
    assert rotate.replacements(_export(mocks), "token-secret")


# ---- MongoDB's root password: a new generation, changed inside the database by the setup Job ------

MONGO_READERS = {"Deployment/clearml-apiserver", "Deployment/clearml-async-delete", "Deployment/clearml-monitoring-mongodb"}


def _with_generation(config: dict[str, str], generation: int) -> dict[str, str]:
    mongodb = json.loads(config.get(f"{PROJECT}:mongodb") or "{}")
    return {**config, f"{PROJECT}:mongodb": json.dumps({**mongodb, "rootPasswordGeneration": generation})}


def _job_env(mocks: RecordingMocks) -> dict[str, str]:
    job = mocks.manifest("Job", MONGODB_SETUP_JOB)  # the name preflight and rotate.py read it by
    [container] = job["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value") for e in container["env"]}


def _monitored_prod() -> dict[str, str]:
    config = stack_config("prod")
    assert json.loads(config[f"{PROJECT}:monitoring"])["enabled"], "prod runs the exporters"
    return config


def test_rotate_mongodb_asks_for_the_next_generation_of_the_deployed_one(mocks):
    deploy_config(mocks, _with_generation(_monitored_prod(), 2))
    assert rotate.mongodb_generation(_export(mocks)) == 2
    with pytest.raises(rotate.Refused, match="setup Job of root-password generation 2 has not succeeded"):
        rotate.mongodb_generation(_export(mocks, succeeded=False))


def test_rotate_mongodb_refuses_an_external_mongodb(mocks):
    config = stack_config("dev")
    config[f"{PROJECT}:mongodb"] = json.dumps({"external": {"connectionString": {"name": "mongo", "key": "uri"}}})
    deploy_config(mocks, config)
    with pytest.raises(rotate.Refused, match="no in-cluster MongoDB"):
        rotate.mongodb_generation(_export(mocks))


def test_a_mongodb_rotation_rolls_its_clients_after_the_setup_job_and_nothing_else(mocks):
    before_config, after_config = _monitored_prod(), _with_generation(_monitored_prod(), 1)
    deploy_config(mocks, before_config)
    before = _digests(mocks.resources)
    assert "Secret/clearml-mongodb-previous" not in {f"{r.kind}/{r.inputs['metadata']['name']}" for r in mocks.of_kind("Secret")}
    assert "PREVIOUS_ROOT_PASSWORD_FILE" not in _job_env(mocks) and _job_env(mocks)["ROOT_PASSWORD_GENERATION"] == "0"
    generation0 = next(r.outputs["result"] for r in mocks.resources if r.name == "clearml-mongodb-root-password")

    rotating = RecordingMocks()
    set_mocks(rotating, PROJECT)
    deploy(lambda: run_program(after_config))
    after = _digests(rotating.resources)
    rolled = {name for name in before if before[name] != after[name]}
    assert rolled == MONGO_READERS  # the members themselves only read the password at their first start
    # Generation 1 is new; generation 0 stays, for the setup Job alone, as the previous one.
    passwords = {r.name: r.outputs["result"] for r in rotating.resources if r.typ == rotate.PASSWORD_TYPE}
    assert passwords["clearml-mongodb-root-password"] == generation0
    assert passwords["clearml-mongodb-root-password-1"] != generation0
    assert rotating.manifest("Secret", "clearml-mongodb-previous")["stringData"] == {"password": generation0}
    assert rotating.manifest("Secret", "clearml-mongodb")["stringData"]["password"] == passwords["clearml-mongodb-root-password-1"]
    readers = [name for name, spec in pod_templates(rotating.resources)
               if any((v.get("secret") or {}).get("secretName") == "clearml-mongodb-previous" for v in spec.get("volumes", []))]
    assert readers == ["Job/clearml-mongodb-setup"]
    env = _job_env(rotating)
    assert env["ROOT_PASSWORD_GENERATION"] == "1"
    assert env["PREVIOUS_ROOT_PASSWORD_FILE"] == "/etc/mongodb-root-previous/password"
    # The clients' Secret reference resolves after the setup Job, so with await they roll once it succeeded;
    # the backup (which runs before the members roll in an upgrade) does not wait for it.
    job = next(r for r in rotating.resources if r.kind == "Job" and r.name == "clearml-mongodb-setup")
    for client in ("clearml-apiserver-deployment", "clearml-async-delete-deployment", "clearml-monitoring-mongodb-deployment"):
        deployment = next(r for r in rotating.resources if r.kind == "Deployment" and r.name == client)
        assert any(d.endswith("::clearml-mongodb-setup") for d in deployment.dependencies), (client, deployment.dependencies)
    backup = next(r for r in rotating.resources if r.kind == "CronJob")
    assert not any(d.endswith("::clearml-mongodb-setup") for d in backup.dependencies), backup.dependencies
    assert job.dependencies and all(not d.endswith("-deployment") for d in job.dependencies)


def test_a_later_generation_drops_the_one_before_the_previous(mocks):
    deploy_config(mocks, _with_generation(stack_config("prod"), 3))
    generators = {r.name for r in mocks.resources if r.typ == rotate.PASSWORD_TYPE and r.name.startswith("clearml-mongodb-root")}
    assert generators == {"clearml-mongodb-root-password-3", "clearml-mongodb-root-password-2"}
