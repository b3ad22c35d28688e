"""Scheduling: the stack-wide `scheduling`, each tier's own merged over it, the agent's task pods on
their own, topology spread preferred or required, and the mistakes refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

import preflight
from preflight.cluster import api_path
from preflight.needs import needs
from settings import PROJECT, ConfigError, settings_from_config
from settings.scheduling import Scheduling
from tests.conftest import deploy_config, pod_templates, unwrap
from tests.fake_cluster import FakeCluster

P = PROJECT
INFRA = {"nodeSelector": {"node-role.kubernetes.io/infra": ""},
         "tolerations": [{"key": "node-role.kubernetes.io/infra", "operator": "Exists", "effect": "NoSchedule"}],
         "priorityClassName": "clearml-high", "podLabels": {"team": "ml-platform"},
         "podAnnotations": {"backup.example.com/policy": "daily"}}
GPU = {"nodeSelector": {"nvidia.com/gpu.present": "true"},
       "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}
ZONE_AFFINITY = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
    {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-1a", "eu-1b"]}]}]}}}


def _config(**sections: Any) -> dict[str, str]:
    values = {"hosts": {"baseDomain": "apps.example.com"}, **sections}
    return {f"{P}:{k}": json.dumps(v) for k, v in values.items()}


def _pods(mocks) -> dict[str, dict[str, Any]]:
    """name -> pod spec with `_labels`/`_annotations`, the agent's task pod included."""
    out = {}
    for r in mocks.resources:
        obj = unwrap(r.inputs)
        if r.typ in ("kubernetes:apps/v1:Deployment", "kubernetes:apps/v1:StatefulSet", "kubernetes:batch/v1:Job"):
            template = obj["spec"]["template"]
            out[f"{r.typ.rsplit(':', 1)[1]}/{obj['metadata']['name']}"] = {
                **template["spec"], "_labels": template["metadata"]["labels"],
                "_annotations": template["metadata"].get("annotations") or {}}
        elif r.typ == "kubernetes:core/v1:ConfigMap" and "template.yaml" in (obj.get("data") or {}):
            task = yaml.safe_load(obj["data"]["template.yaml"])
            out["task pod"] = {**task["spec"], "_labels": task["metadata"]["labels"],
                               "_annotations": task["metadata"].get("annotations") or {}}
    return out


def test_stack_wide_scheduling_places_every_server_pod_and_not_task_pods(mocks):
    deploy_config(mocks, _config(scheduling=INFRA, agent={"enabled": True, "taskScheduling": GPU}, mongodb={"replicas": 3}))
    pods = _pods(mocks)
    servers = {name: spec for name, spec in pods.items() if name != "task pod"}
    assert len(servers) >= 8  # the tiers, the agent's glue and the MongoDB setup Job
    for name, spec in servers.items():
        assert spec["nodeSelector"] == INFRA["nodeSelector"], name
        assert spec["tolerations"] == INFRA["tolerations"], name
        assert spec["priorityClassName"] == "clearml-high", name
        assert spec["_labels"]["team"] == "ml-platform" and spec["_labels"]["app.kubernetes.io/part-of"] == "clearml", name
        assert spec["_annotations"]["backup.example.com/policy"] == "daily", name
    task = pods["task pod"]
    assert (task["nodeSelector"], task["tolerations"]) == (GPU["nodeSelector"], GPU["tolerations"])
    assert "priorityClassName" not in task and "team" not in task["_labels"]


def test_a_tier_merges_its_own_over_the_stack_wide(mocks):
    deploy_config(mocks, _config(scheduling=INFRA, elasticsearch={"scheduling": {
        "nodeSelector": {"disk": "ssd"}, "tolerations": [], "affinity": ZONE_AFFINITY}}))
    pods = _pods(mocks)
    elastic = pods["StatefulSet/clearml-elastic"]
    assert elastic["nodeSelector"] == {**INFRA["nodeSelector"], "disk": "ssd"}  # mappings merge
    assert "tolerations" not in elastic  # lists replace: this tier tolerates nothing
    assert elastic["affinity"] == ZONE_AFFINITY and elastic["priorityClassName"] == "clearml-high"
    assert pods["Deployment/clearml-apiserver"]["tolerations"] == INFRA["tolerations"]
    assert "affinity" not in pods["Deployment/clearml-apiserver"]


def test_no_scheduling_by_default(mocks):
    deploy_config(mocks, _config(agent={"enabled": True}))
    for name, spec in _pods(mocks).items():
        assert not {"nodeSelector", "tolerations", "affinity", "priorityClassName"} & set(spec), name


@pytest.mark.parametrize("mode,expected", [("preferred", "ScheduleAnyway"), ("required", "DoNotSchedule"),
                                           (True, "ScheduleAnyway"), ("off", None), (False, None)])
def test_topology_spread_preferred_or_required(mocks, mode, expected):
    deploy_config(mocks, _config(features={"topologySpread": mode}, apiserver={"replicas": 2}))
    constraints = pod_templates(mocks.resources)
    api = dict(constraints)["Deployment/clearml-apiserver"]
    if expected is None:
        assert "topologySpreadConstraints" not in api
    else:
        assert [(c["topologyKey"], c["whenUnsatisfiable"]) for c in api["topologySpreadConstraints"]] == [
            ("kubernetes.io/hostname", expected), ("topology.kubernetes.io/zone", expected)]
    # A single replica is never constrained.
    assert "topologySpreadConstraints" not in dict(constraints)["Deployment/clearml-webserver"]


def test_stack_wide_scheduling_leaves_external_tiers_alone():
    settings = settings_from_config(_config(scheduling=INFRA, redis={"external": {"host": "redis.example.com"}}))
    assert settings.redis.scheduling == Scheduling()
    assert settings.mongodb.scheduling.priority_class_name == "clearml-high"


@pytest.mark.parametrize("scheduling,key,message", [
    ({"tolerations": [{"key": "a", "operator": "Exists", "value": "x"}]}, "scheduling.tolerations[0]", "Exists takes no value"),
    ({"tolerations": [{"operator": "Equal", "value": "x"}]}, "scheduling.tolerations[0]", "needs a key"),
    ({"tolerations": [{"key": "a", "tolerationSeconds": 30}]}, "scheduling.tolerations[0]", "only applies to effect NoExecute"),
    ({"tolerations": [{"key": "a", "effect": "NoRun"}]}, "scheduling.tolerations[0].effect", "'NoSchedule'"),
    ({"nodeSelector": {"bad key!": "x"}}, "scheduling.nodeSelector", "not a valid label or annotation key"),
    ({"nodeSelector": {"disk": "s s d"}}, "scheduling.nodeSelector", "not a valid label value"),
    ({"podLabels": {"app.kubernetes.io/name": "x"}}, "scheduling.podLabels", "set by this program"),
    ({"podAnnotations": {"openshift.io/required-scc": "anyuid"}}, "scheduling.podAnnotations", "set by this program"),
    ({"affinity": {"nodeAfinity": {}}}, "scheduling.affinity", "unknown affinity kind nodeAfinity"),
    ({"affinity": {"nodeAffinity": {}}}, "scheduling.affinity", "non-empty mapping"),
    ({"priorityClassName": "High"}, "scheduling.priorityClassName", "lower case"),
])
def test_bad_scheduling(scheduling, key, message):
    for where in ({"scheduling": scheduling}, {"webserver": {"scheduling": scheduling}}):
        with pytest.raises(ConfigError) as err:
            settings_from_config(_config(**where))
        full = key if "scheduling" in where else f"webserver.{key}"
        assert any(p.startswith(f"{P}:{full}") and message in p for p in err.value.problems), err.value.problems


def test_scheduling_of_an_external_tier_is_refused():
    with pytest.raises(ConfigError) as err:
        settings_from_config(_config(mongodb={"external": {"connectionString": {"name": "m", "key": "uri"}},
                                              "scheduling": INFRA}))
    assert err.value.problems[0].startswith(f"{P}:mongodb.scheduling: scheduling only applies to the in-cluster MongoDB")


def test_preflight_checks_each_priority_class_once():
    wanted = needs(settings_from_config(_config(scheduling=INFRA, agent={
        "enabled": True, "taskScheduling": {"priorityClassName": "batch-low"}})))
    assert [(n.name, n.setting) for n in wanted.existing if n.kind == "PriorityClass"] == [
        ("clearml-high", f"{P}:scheduling.priorityClassName"), ("batch-low", f"{P}:agent.taskScheduling.priorityClassName")]
    cluster = FakeCluster(objects={api_path("scheduling.k8s.io", "v1", "priorityclasses", "batch-low"): None})
    assert preflight.check(cluster, wanted).problems == [
        f"{P}:agent.taskScheduling.priorityClassName: PriorityClass batch-low does not exist: create it, or name one that exists"]
