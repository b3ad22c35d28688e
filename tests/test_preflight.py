"""Preflight (preflight/): what each stack needs, each check against a cluster missing one thing, and
the program registering nothing when a check fails. The same checks run against the local cluster
with each prerequisite really removed in tests/engine/test_preflight_local.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest
import yaml

import preflight
from preflight import scaling
from preflight.cluster import KubeCluster, Unreachable, api_path, connect
from preflight.needs import kinds, needs
from settings import PROJECT, settings_from_config
from tests.conftest import deploy, deploy_config, run_program, stack_config
from tests.fake_cluster import FakeCluster, workload
from tests.test_pod_security import VARIANTS

P = PROJECT


def _base_config(**overrides: Any) -> dict[str, str]:
    config = {f"{P}:hosts": json.dumps({"baseDomain": "apps.example.com"})}
    config.update({f"{P}:{k}": json.dumps(v) for k, v in overrides.items()})
    return config


def _problems(cluster: FakeCluster, **overrides: Any) -> list[str]:
    return preflight.check(cluster, needs(settings_from_config(_base_config(**overrides)))).problems


MORE_VARIANTS = {
    "ingress-router-default": lambda: _base_config(edge={"mode": "ingress", "ingressClassName": "nginx"},
                                                   tls={"routeCertificates": "router-default"},
                                                   networkPolicies={"enabled": False}),
    "annotations-both-issuers": lambda: _base_config(
        tls={"routeCertificates": "cert-manager-annotations", "routeIssuer": {"name": "acme"},
             "internalIssuer": {"name": "corp", "kind": "Issuer"}},
        elasticsearch={"external": {"hosts": [{"host": "es.example.com"}]}}),
    "mongodb-replica-set": lambda: _base_config(mongodb={"replicas": 3}),
    "velero-backups": lambda: _base_config(backup={"enabled": True, "mechanism": "velero"}),
}


_KIND_RESOURCE = {"Ingress": "ingresses", "NetworkPolicy": "networkpolicies", "PodDisruptionBudget": "poddisruptionbudgets"}


def _registered(resources) -> set[tuple[str, str]]:
    out = set()
    for r in resources:
        if not r.typ.startswith("kubernetes:"):
            continue
        group_version, kind = r.typ.split(":")[1:]
        group = group_version.rsplit("/", 1)[0] if "/" in group_version else ""
        out.add(("" if group == "core" else group, _KIND_RESOURCE.get(kind, kind.lower() + "s")))
    return out


@pytest.mark.parametrize("variant", sorted({**VARIANTS, **MORE_VARIANTS}))
def test_access_needs_are_exactly_the_kinds_the_program_registers(mocks, variant):
    config = {**VARIANTS, **MORE_VARIANTS}[variant]()
    deploy_config(mocks, config)
    settings = settings_from_config(config)
    # With backups on, the Job before an upgrade too, which a first deployment has no use for
    # (tests/test_upgrade_backup.py has the program register it).
    velero = settings.backup.mechanism == "velero"
    upgrade_job = {("velero.io", "backups") if velero else ("batch", "jobs")} if settings.backup.enabled else set()
    assert kinds(settings) == _registered(mocks.resources) | upgrade_job


def test_dev_checks_every_prerequisite_it_has(mocks):
    wanted = needs(settings_from_config(stack_config("dev")))
    assert {a.group_version + " " + a.resource for a in wanted.apis} >= {
        "route.openshift.io/v1 routes", "cert-manager.io/v1 certificates", "cert-manager.io/v1 issuers"}
    assert wanted.default_storage_class_for and not wanted.storage_classes
    cluster = FakeCluster()
    report = preflight.check(cluster, wanted)
    assert report.problems == []
    # Every verb Pulumi uses, on every kind, in the stack's namespace; namespace creation cluster-wide.
    assert ("create", "apps", "deployments", "clearml-dev", None) in cluster.reviews
    assert ("delete", "route.openshift.io", "routes", "clearml-dev", None) in cluster.reviews
    assert ("create", "", "namespaces", None, None) in cluster.reviews
    # Versions, the API groups, the namespace, the storage class, each data tier's StatefulSet, and (backups are
    # on) each workload a backup set guards and the Job before an upgrade, and MongoDB's setup Job (the root
    # password's generation).
    assert wanted.upgrade_job and len(wanted.guarded) == 4 and wanted.root_password_generation == 0
    assert report.checks == (len(cluster.reviews) + 2 + len(wanted.apis) + 1 + 1 + len(wanted.scaled)
                             + len(wanted.guarded) + 1 + 1)


def test_prod_names_its_classes_and_issuer():
    wanted = needs(settings_from_config(stack_config("prod")))
    assert {(n.name, n.setting) for n in wanted.storage_classes} == {
        ("gp3-csi", f"{P}:storage.className"), ("efs-sc", f"{P}:fileserver.storage.className")}
    assert [(n.kind, n.name) for n in wanted.existing] == [("ClusterIssuer", "letsencrypt-prod")]


# ---- one prerequisite missing at a time: one line naming the setting and the fix ---------------------

def test_missing_namespace_when_not_created():
    cluster = FakeCluster(objects={api_path("", "v1", "namespaces", "ml"): None})
    assert _problems(cluster, namespace={"name": "ml", "create": False}) == [
        f"{P}:namespace.name: namespace ml does not exist and {P}:namespace.create is false: "
        "create it first (oc new-project ml) or set namespace.create: true"]
    # Created by the stack: its absence is fine.
    assert _problems(cluster, namespace={"name": "ml"}) == []


def test_terminating_namespace():
    cluster = FakeCluster(objects={api_path("", "v1", "namespaces", "ml"): {"status": {"phase": "Terminating"}}})
    [line] = _problems(cluster, namespace={"name": "ml", "create": False})
    assert line.startswith(f"{P}:namespace.name: namespace ml is being deleted")


@pytest.mark.parametrize("group_version,resource,overrides,setting,fix", [
    ("route.openshift.io/v1", "routes", {}, f"{P}:edge.mode route", "edge.mode: ingress"),
    ("cert-manager.io/v1", "certificates", {}, "cert-manager (every certificate of the stack)", "install cert-manager"),
    ("security.openshift.io/v1", "securitycontextconstraints", {"scc": {"grants": {"mongodb": "nonroot-v2"}, "identities": {"mongodb": {"runAsUser": 1000}}}},
     f"{P}:scc.grants", "remove"),
    ("networking.k8s.io/v1", "ingresses", {"edge": {"mode": "ingress"}}, f"{P}:edge.mode ingress", "a cluster"),
])
def test_missing_api(group_version, resource, overrides, setting, fix):
    cluster = FakeCluster()
    cluster.served[group_version].discard(resource)
    problems = _problems(cluster, **overrides)
    [line] = [p for p in problems if resource in p]
    assert line.startswith(setting + ": the cluster does not serve") and fix in line
    assert len(problems) == 1, problems  # the objects of a missing API are not reported again


def test_missing_cert_manager_reports_the_api_once_not_each_issuer():
    cluster = FakeCluster()
    del cluster.served["cert-manager.io/v1"]
    problems = _problems(cluster, tls={"routeIssuer": {"name": "acme"}})
    assert len(problems) == 2 and all("cert-manager" in p for p in problems)  # certificates, issuers


def test_missing_storage_class_lists_the_ones_there():
    cluster = FakeCluster(objects={
        api_path("storage.k8s.io", "v1", "storageclasses", "fast"): None,
        api_path("storage.k8s.io", "v1", "storageclasses"): {"items": [{"metadata": {"name": "gp3-csi"}},
                                                                       {"metadata": {"name": "local", "annotations": {
            "storageclass.kubernetes.io/is-default-class": "true"}}}]}})
    problems = _problems(cluster, storage={"className": "fast"})
    assert problems == [f"{P}:storage.className: StorageClass fast does not exist (the cluster has: gp3-csi, local): "
                        "name an existing class"]
    # A per-volume class names its own key.
    [line] = _problems(cluster, fileserver={"storage": {"size": "5Gi", "className": "fast"}})
    assert line.startswith(f"{P}:fileserver.storage.className: StorageClass fast")


def test_no_default_storage_class():
    cluster = FakeCluster(objects={api_path("storage.k8s.io", "v1", "storageclasses"): {
        "items": [{"metadata": {"name": "slow", "annotations": {"storageclass.kubernetes.io/is-default-class": "false"}}}]}})
    [line] = _problems(cluster)
    assert line == (f"{P}:fileserver.storage, {P}:mongodb.storage, {P}:redis.storage, {P}:elasticsearch.storage: "
                    f"no StorageClass named and the cluster has no default class (it has: slow): set {P}:storage.className")
    assert _problems(cluster, storage={"className": "slow"}) == []


@pytest.mark.parametrize("kind,overrides,path,setting", [
    ("ClusterIssuer", {"tls": {"routeIssuer": {"name": "acme"}}},
     api_path("cert-manager.io", "v1", "clusterissuers", "acme"), f"{P}:tls.routeIssuer.name"),
    ("Issuer", {"tls": {"internalIssuer": {"name": "corp", "kind": "Issuer"}},
                "edge": {"termination": "edge"}},
     api_path("cert-manager.io", "v1", "issuers", "corp", "clearml"), f"{P}:tls.internalIssuer.name"),
    ("IngressClass", {"edge": {"mode": "ingress", "ingressClassName": "nginx"}},
     api_path("networking.k8s.io", "v1", "ingressclasses", "nginx"), f"{P}:edge.ingressClassName"),
    ("ClusterRole", {"scc": {"grants": {"redis": "nonroot-v2"}, "identities": {"redis": {"runAsUser": 1000}}}},
     api_path("rbac.authorization.k8s.io", "v1", "clusterroles", "system:openshift:scc:nonroot-v2"),
     f"{P}:scc.grants.redis"),
    ("SecurityContextConstraints", {"scc": {"grants": {"redis": "nonroot-v2"}, "identities": {"redis": {"runAsUser": 1000}}}},
     api_path("security.openshift.io", "v1", "securitycontextconstraints", "nonroot-v2"), f"{P}:scc.grants.redis"),
])
def test_missing_named_object(kind, overrides, path, setting):
    [line] = _problems(FakeCluster(objects={path: None}), **overrides)
    assert line.startswith(f"{setting}: {kind} ") and "does not exist" in line


def test_issuer_not_ready():
    path = api_path("cert-manager.io", "v1", "clusterissuers", "acme")
    cluster = FakeCluster(objects={path: {"status": {"conditions": [
        {"type": "Ready", "status": "False", "message": "Failed to register ACME account"}]}}})
    [line] = _problems(cluster, tls={"routeIssuer": {"name": "acme"}})
    assert "is not Ready (Failed to register ACME account)" in line


EXTERNAL_MONGO = {"external": {"connectionString": {"name": "mongo", "key": "uri"}}}


def test_missing_secret_and_missing_key_never_show_values():
    path = api_path("", "v1", "secrets", "mongo", "clearml")
    [line] = _problems(FakeCluster(objects={path: None}), mongodb=EXTERNAL_MONGO)
    assert line.startswith(f"{P}:mongodb.external.connectionString: Secret mongo does not exist in namespace clearml")
    secret = {"data": {"url": "bW9uZ29kYjovL3U6aHVudGVyMkBo", "other": "aHVudGVyMg=="}}
    [line] = _problems(FakeCluster(objects={path: secret}), mongodb=EXTERNAL_MONGO)
    assert line == (f"{P}:mongodb.external.connectionString: Secret mongo has no key uri (its keys: other, url): "
                    "add it or name another key")
    assert "aHVudGVy" not in line and "hunter2" not in line


def test_a_referenced_secret_needs_the_namespace_first():
    cluster = FakeCluster(objects={api_path("", "v1", "namespaces", "clearml"): None})
    [line] = _problems(cluster, mongodb=EXTERNAL_MONGO)
    assert "must exist before `up`" in line and "namespace.create: false" in line


def test_access_denied_names_the_verbs_and_kind():
    cluster = FakeCluster(denied={("create", "statefulsets"), ("delete", "statefulsets"), ("create", "namespaces")})
    problems = _problems(cluster)
    assert "access: you may not create, delete statefulsets.apps in namespace clearml: ask a cluster admin " \
           "for the `admin` role in the namespace (oc adm policy add-role-to-user admin <you> -n clearml)" in problems
    assert f"{P}:namespace.create: you may not create namespaces: create the project first (oc new-project clearml) " \
           "and set namespace.create: false" in problems
    assert len(problems) == 2


def test_scc_grant_needs_use_or_bind():
    grants = {"scc": {"grants": {"elasticsearch": "nonroot-v2"}, "identities": {"elasticsearch": {"runAsUser": 1000}}}}
    only_use = FakeCluster(denied={("bind", "clusterroles/system:openshift:scc:nonroot-v2")})
    assert _problems(only_use, **grants) == []
    neither = FakeCluster(denied={("bind", "clusterroles/system:openshift:scc:nonroot-v2"),
                                  ("use", "securitycontextconstraints/nonroot-v2")})
    [line] = _problems(neither, **grants)
    assert line.startswith(f"{P}:scc.grants.elasticsearch: you may not grant the SCC nonroot-v2")


def test_versions():
    assert _problems(FakeCluster(kubernetes=(1, 26))) == [
        "cluster: Kubernetes 1.26 is older than 1.27, the oldest this program supports (OpenShift 4.19): upgrade the cluster"]
    old = FakeCluster(objects={api_path("config.openshift.io", "v1", "clusterversions", "version"):
                               {"status": {"desired": {"version": "4.16.9"}}}})
    [line] = _problems(old)  # the default Route certificates need 4.19
    assert line.startswith("cluster: OpenShift 4.16 is older than 4.19") and "cert-manager-annotations" in line
    assert _problems(old, tls={"routeCertificates": "router-default"}) == []
    older = FakeCluster(objects={api_path("config.openshift.io", "v1", "clusterversions", "version"):
                                 {"status": {"desired": {"version": "4.12.0"}}}})
    [line] = _problems(older, tls={"routeCertificates": "router-default"})
    assert "OpenShift 4.12 is older than 4.14" in line and "required-scc" in line


def test_not_openshift_or_forbidden_reads_are_notes_not_problems():
    cluster = FakeCluster(forbidden_reads={api_path("config.openshift.io", "v1", "clusterversions", "version"),
                                           api_path("storage.k8s.io", "v1", "storageclasses")})
    del cluster.served["config.openshift.io/v1"]
    report = preflight.check(cluster, needs(settings_from_config(_base_config())))
    assert report.problems == []
    assert report.notes == ["OpenShift version not checked: config.openshift.io is not served (not OpenShift)",
                            "default StorageClass: not checked (listing StorageClasses is forbidden)"]


def test_every_problem_at_once():
    cluster = FakeCluster(kubernetes=(1, 25), denied={("patch", "services")}, objects={
        api_path("", "v1", "namespaces", "ml"): None,
        api_path("cert-manager.io", "v1", "clusterissuers", "acme"): None})
    cluster.served["route.openshift.io/v1"].clear()
    problems = _problems(cluster, namespace={"name": "ml", "create": False}, tls={"routeIssuer": {"name": "acme"}})
    assert len(problems) == 5, problems
    assert all("\n" not in p for p in problems)


def test_unreachable_is_one_line():
    [line] = preflight.check(FakeCluster(unreachable=True), needs(settings_from_config(_base_config()))).problems
    assert line.startswith("cluster: cannot reach the Kubernetes API (https://api.fake.example:6443: ConnectionRefusedError)")


# ---- the program: preflight before any resource ------------------------------------------------------

def test_the_program_registers_nothing_when_preflight_fails(mocks, cluster):
    cluster.objects[api_path("", "v1", "namespaces", "ml")] = None
    cluster.objects[api_path("storage.k8s.io", "v1", "storageclasses", "fast")] = None
    config = _base_config(namespace={"name": "ml", "create": False}, storage={"className": "fast"})
    with pytest.raises(pulumi.RunError) as err:
        deploy(lambda: run_program(config))
    message = str(err.value)
    assert message.startswith("preflight found 2 problem(s) on https://api.fake.example:6443; nothing was created:")
    assert f"{P}:namespace.name" in message and f"{P}:storage.className" in message
    assert [r for r in mocks.resources if r.typ.startswith(("kubernetes:", "clearml:", "random:"))] == []


def test_the_program_checks_the_cluster_of_its_kubernetes_config(mocks, monkeypatch):
    seen = {}
    monkeypatch.setattr("preflight.cluster.connect", lambda config: seen.update(config) or FakeCluster())
    deploy(lambda: run_program({**stack_config("dev"), "kubernetes:context": "team-a"}))
    assert seen["kubernetes:context"] == "team-a"


# ---- connecting as the provider does ------------------------------------------------------------------

def _kubeconfig(server: str = "https://127.0.0.1:1", context: str = "team-a") -> dict:
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "c", "cluster": {"server": server, "insecure-skip-tls-verify": False}}],
            "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
            "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}


def test_connect_uses_kubeconfig_content_or_path_and_context(tmp_path, monkeypatch):
    text = yaml.safe_dump(_kubeconfig("https://10.0.0.1:6443"))
    assert connect({"kubernetes:kubeconfig": text}).endpoint == "https://10.0.0.1:6443"
    (tmp_path / "kubeconfig").write_text(text)
    assert connect({"kubernetes:kubeconfig": str(tmp_path / "kubeconfig")}).endpoint == "https://10.0.0.1:6443"
    with pytest.raises(Unreachable, match="context nope"):
        connect({"kubernetes:kubeconfig": text, "kubernetes:context": "nope"})


def test_a_cluster_that_does_not_answer_is_unreachable():
    target = connect({"kubernetes:kubeconfig": yaml.safe_dump(_kubeconfig("https://127.0.0.1:1"))})
    assert isinstance(target, KubeCluster)
    with pytest.raises(Unreachable, match=re.escape("https://127.0.0.1:1")):
        target.version()


def test_make_preflight_entry_point(monkeypatch, capsys):
    from preflight import __main__ as cli
    monkeypatch.setattr(cli, "stack_config", lambda stack: (_base_config(namespace={"name": "ml", "create": False}), set()))
    missing = FakeCluster(objects={api_path("", "v1", "namespaces", "ml"): None})
    monkeypatch.setattr("preflight.cluster.connect", lambda config: missing)
    assert cli.main(["--stack", "dev"]) == 1
    assert "namespace ml does not exist" in capsys.readouterr().err
    monkeypatch.setattr("preflight.cluster.connect", lambda config: FakeCluster())
    assert cli.main(["--stack", "dev"]) == 0
    assert re.match(r"preflight: \d+ checks passed on https://api.fake.example:6443 in \d+\.\d\ds",
                    capsys.readouterr().out)


# ---- resizing a running data tier (preflight/scaling.py) --------------------------------------------------

@pytest.mark.parametrize("current, wanted, refused", [
    (3, 3, None), (3, 5, None), (5, 7, None), (5, 3, None), (7, 4, None),
    (7, 3, "steps, one `up` each: 7 -> 4 -> 3"), (5, 2, "5 -> 3 -> 2"),
    (3, 1, "into a standalone"), (1, 3, "into a replica set"),
])
def test_mongodb_resizes_keep_a_majority_of_the_old_set(current, wanted, refused):
    problem = scaling.mongodb_problem(current, wanted)
    assert (problem is None) if refused is None else (refused in problem), problem


def test_elasticsearch_scale_up_is_free_and_scale_down_waits_for_drained_nodes():
    assert scaling.elasticsearch_problem(3, 5, None, "clearml-elastic") is None
    problem = scaling.elasticsearch_problem(5, 3, None, "clearml-elastic")
    assert "removes clearml-elastic-3,clearml-elastic-4" in problem and "cluster.routing.allocation.exclude._name" in problem
    assert "voting_config_exclusions" not in problem  # 2 of 5 master-eligible nodes: the rest still vote
    assert "voting_config_exclusions?node_names=clearml-elastic-3,clearml-elastic-4,clearml-elastic-5" in (
        scaling.elasticsearch_problem(6, 3, None, "clearml-elastic"))
    assert f"{scaling.DRAINED_ANNOTATION}=3" in problem
    assert scaling.elasticsearch_problem(5, 3, "3", "clearml-elastic") is None
    assert scaling.elasticsearch_problem(5, 3, "4", "clearml-elastic") is not None  # drained for another size
    assert "single-node discovery" in scaling.elasticsearch_problem(3, 1, "1", "clearml-elastic")


def test_a_live_stateful_set_of_another_size_is_judged_before_anything_changes():
    settings = settings_from_config(stack_config("prod"))
    wanted = needs(settings)
    assert [(t, n) for t, n, *_ in wanted.scaled] == [("mongodb", "clearml-mongodb"), ("elasticsearch", "clearml-elastic")]
    cluster = FakeCluster()
    live = "/apis/apps/v1/namespaces/clearml/statefulsets/"
    cluster.objects[live + "clearml-mongodb"] = {"spec": {"replicas": 7}}
    cluster.objects[live + "clearml-elastic"] = {"spec": {"replicas": 5}, "metadata": {"annotations": {}}}
    problems = preflight.check(cluster, wanted).problems
    assert any(p.startswith(f"{P}:mongodb.replicas: 7 -> 3 removes 4 of 7") for p in problems), problems
    assert any(p.startswith(f"{P}:elasticsearch.replicas: 5 -> 3 removes") for p in problems), problems
    cluster.objects[live + "clearml-mongodb"] = {"spec": {"replicas": 3}}
    cluster.objects[live + "clearml-elastic"]["metadata"]["annotations"][scaling.DRAINED_ANNOTATION] = "3"
    assert preflight.check(cluster, wanted).problems == []


# ---- changing the version of a running data tier (preflight/upgrades.py) -------------------------------------

@pytest.mark.parametrize("current, wanted, refused", [
    ("8.0.15", "8.0.16", None), ("7.0.14", "8.0.15", None), ("7.0.14-jammy", "8.0.15", None),
    ("6.0.19", "8.0.15", "skips 7.0: MongoDB upgrades one release series at a time"),
    ("5.0.30", "8.0.15", "Go 5.0 -> 6.0 -> 7.0 -> 8.0 (make backup first)"),
    ("8.0.15", "7.0.14", "is a downgrade"), ("8.0.15", "8.0.3", None),  # patch releases go both ways
    ("custom-build", "8.0.15", None),  # no version in the tag: nothing to judge
])
def test_mongodb_upgrades_go_one_release_series_at_a_time(current, wanted, refused):
    from preflight import upgrades
    problem = upgrades.mongodb_version_problem(current, wanted)
    assert (problem is None) if refused is None else (refused in problem), problem


def test_a_skipped_series_names_each_feature_compatibility_step():
    from preflight import upgrades
    problem = upgrades.mongodb_version_problem("6.0.19", "8.0.15")
    assert "images.mongodb.tag 7.0.x and `up` (its setup Job then sets the feature compatibility version 7.0)" \
        in problem
    assert "feature compatibility version 8.0)" in problem


def test_elasticsearch_refuses_a_downgrade():
    from preflight import upgrades
    assert upgrades.elasticsearch_version_problem("8.17.0", "8.19.9") is None
    assert "is a downgrade" in upgrades.elasticsearch_version_problem("8.19.9", "8.17.0")
    assert upgrades.tag_of("docker.io/library/mongo:7.0.14@sha256:" + "a" * 64) == "7.0.14"
    assert upgrades.tag_of("localhost:5000/mongo") is None


def test_the_running_version_is_judged_before_anything_changes():
    settings = settings_from_config(stack_config("prod"))
    wanted = needs(settings)
    cluster = FakeCluster()
    live = "/apis/apps/v1/namespaces/clearml/statefulsets/"
    cluster.objects[live + "clearml-mongodb"] = workload("mongodb", "docker.io/library/mongo:6.0.19", 3)
    cluster.objects[live + "clearml-elastic"] = workload("elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:9.0.0", 3)
    problems = preflight.check(cluster, wanted).problems
    assert any(p.startswith(f"{P}:images.mongodb.tag: 6.0.19 -> {settings.images.mongodb.tag} skips 7.0") for p in problems), problems
    assert any(p.startswith(f"{P}:images.elasticsearch.tag: 9.0.0 -> {settings.images.elasticsearch.tag} is a downgrade")
               for p in problems), problems
    cluster.objects[live + "clearml-mongodb"] = workload("mongodb", "docker.io/library/mongo:7.0.14", 3)
    cluster.objects[live + "clearml-elastic"] = workload("elasticsearch", "docker.elastic.co/elasticsearch/elasticsearch:8.17.0", 3)
    assert preflight.check(cluster, wanted).problems == []


def _setup_job(generation: int | None, succeeded: bool) -> dict:
    """The live MongoDB setup Job as preflight reads it (a Job from before rotation existed: no variable)."""
    env = [{"name": "RS_MEMBERS", "value": "m-0"}] + (
        [{"name": "ROOT_PASSWORD_GENERATION", "value": str(generation)}] if generation is not None else [])
    return {"spec": {"template": {"spec": {"containers": [{"name": "setup", "env": env}]}}},
            "status": {"succeeded": 1} if succeeded else {"failed": 11}}


@pytest.mark.parametrize(("deployed", "succeeded", "wanted", "refusal"), [
    (None, True, 0, None), (None, True, 1, None), (0, True, 1, None), (3, True, 3, None), (3, False, 3, None),
    (0, True, 2, "2, but the database has generation 0's root password (its setup Job): only 1 can follow "
                 "(one generation at a time"),
    (3, True, 2, "2, but the database has generation 3's root password (its setup Job): only 4 can follow "
                 "(never an older one"),
    (3, False, 4, "4 rotates from generation 3, whose setup Job has not succeeded"),
])
def test_the_mongodb_root_password_moves_one_generation_at_a_time(deployed, succeeded, wanted, refusal):
    config = stack_config("prod")
    mongodb = json.loads(config[f"{P}:mongodb"])
    config[f"{P}:mongodb"] = json.dumps({**mongodb, "rootPasswordGeneration": wanted})
    cluster = FakeCluster()
    cluster.objects["/apis/batch/v1/namespaces/clearml/jobs/clearml-mongodb-setup"] = _setup_job(deployed, succeeded)
    problems = preflight.check(cluster, needs(settings_from_config(config))).problems
    if refusal is None:
        assert problems == []
    else:
        assert [p for p in problems if p.startswith(f"{P}:mongodb.rootPasswordGeneration: {refusal}")], problems


def test_a_first_deployment_takes_any_generation():
    config = stack_config("prod")
    config[f"{P}:mongodb"] = json.dumps({**json.loads(config[f"{P}:mongodb"]), "rootPasswordGeneration": 5})
    assert preflight.check(FakeCluster(), needs(settings_from_config(config))).problems == []
