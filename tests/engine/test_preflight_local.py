"""Preflight on the local cluster: one test per prerequisite, each really removed (a namespace, a
StorageClass, the default class, an issuer, an IngressClass, a referenced Secret, a served API, the
deploying identity's permissions, the cluster itself). Every time, `pulumi up` stops before any
resource with one line naming the setting or prerequisite and the fix, and nothing exists afterwards.

The stacks are the dev stack file with the change under test, in namespaces `pf-*` of their own.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

import yaml

from settings import PROJECT
from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import pulumi_sh

P = PROJECT
PROBLEM = re.compile(r"^\s+error: preflight found (\d+) problem\(s\) on (\S+); nothing was created:$")


def _config(name: str, **overrides) -> str:
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document["config"][f"{P}:namespace"] = {"name": f"pf-{name}"}
    for key, value in overrides.items():
        document["config"][key if ":" in key else f"{P}:{key}"] = value
    return yaml.safe_dump(document)


def _problems(output: str) -> list[str]:
    """The problem lines of the preflight error in Pulumi's diagnostics."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        match = PROBLEM.match(line)
        if match:
            problems = [text.strip() for text in lines[i + 1:i + 1 + int(match.group(1))]]
            assert all(p and not p.startswith("error:") for p in problems), lines[i:i + 6]
            return problems
    raise AssertionError(f"no preflight error in:\n{output[-4000:]}")


def _refused(engine: Engine, name: str, *, env: dict[str, str] | None = None, **overrides) -> list[str]:
    """`pulumi up` of a new stack `pf-<name>`: it must fail in preflight and leave nothing behind."""
    stack = f"pf-{name}"
    engine.new_stack(stack, _config(name, **overrides))
    saved = engine.env
    engine.env = env or engine.env
    try:
        up = engine.pulumi("up", "--yes", "--skip-preview", stack=stack, check=False)
    finally:
        engine.env = saved
    assert up.returncode != 0, up.output[-3000:]
    engine.timings.setdefault("preflight: pulumi up refused (s)", []).append(round(up.seconds, 2))
    state = json.loads(engine.pulumi("stack", "export", stack=stack).output)
    assert [r["type"] for r in state["deployment"].get("resources") or [] if r["type"] != "pulumi:pulumi:Stack"] == []
    assert engine.kubectl("get", "all,secrets,configmaps,certificates,routes", "-n", f"pf-{name}",
                          "-l", "app.kubernetes.io/part-of=clearml", "-o", "name", check=False).strip() == ""
    return _problems(up.output)


def test_missing_namespace_is_refused_before_anything_is_created(engine: Engine):
    # The case: namespace.create false and no namespace; `up` used to create 28 objects and
    # fail after 63 s of retries.
    started = time.monotonic()
    problems = _refused(engine, "absent", namespace={"name": "pf-absent", "create": False})
    assert problems == [f"{P}:namespace.name: namespace pf-absent does not exist and {P}:namespace.create is false: "
                        "create it first (oc new-project pf-absent) or set namespace.create: true"]
    assert time.monotonic() - started < 60
    assert engine.kubectl("get", "namespace", "pf-absent", check=False) == ""


def test_missing_storage_class(engine: Engine):
    [line] = _refused(engine, "class", storage={"className": "fast-ssd"})
    assert line.startswith(f"{P}:storage.className: StorageClass fast-ssd does not exist (the cluster has: ")
    assert "local" in line and line.endswith("name an existing class")


@contextmanager
def _annotated(engine: Engine, kind: str, name: str, annotation: str, value: str, restore: str) -> Iterator[None]:
    engine.kubectl("annotate", "--overwrite", kind, name, f"{annotation}={value}")
    try:
        yield
    finally:
        engine.kubectl("annotate", "--overwrite", kind, name, f"{annotation}={restore}")


def test_no_default_storage_class(engine: Engine):
    with _annotated(engine, "storageclass", "local", "storageclass.kubernetes.io/is-default-class", "false", "true"):
        [line] = _refused(engine, "nodefault")
    keys, _, reason = line.partition(": ")
    # Every claim of the stack without a class is named, the backup volumes too (the dev stack backs up).
    assert keys.split(", ") == [f"{P}:{k}" for k in ("fileserver.storage", "mongodb.storage", "redis.storage",
                                                        "elasticsearch.storage", "backup.storage",
                                                        "backup.snapshotStorage")]
    assert reason.startswith("no StorageClass named and the cluster has no default class")


def test_missing_cluster_issuer(engine: Engine):
    [line] = _refused(engine, "clusterissuer", tls={"routeIssuer": {"name": "acme-absent"}})
    assert line == (f"{P}:tls.routeIssuer.name: ClusterIssuer acme-absent does not exist: "
                    "create it, or name one that exists")


def test_missing_issuer(engine: Engine):
    [line] = _refused(engine, "issuer", tls={"internalIssuer": {"name": "corp-ca", "kind": "Issuer"}})
    assert line.startswith(f"{P}:tls.internalIssuer.name: Issuer corp-ca does not exist in namespace pf-issuer")


def test_cluster_issuer_that_is_not_ready(engine: Engine):
    manifest = {"apiVersion": "cert-manager.io/v1", "kind": "ClusterIssuer", "metadata": {"name": "pf-broken-ca"},
                "spec": {"ca": {"secretName": "pf-no-such-secret"}}}
    subprocess.run([str(engine.kubectl_bin), "apply", "-f", "-"], input=json.dumps(manifest), env=engine.env,
                   check=True, capture_output=True, text=True, timeout=60)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # cert-manager sets Ready=False once it has looked for the Secret
            status = json.loads(engine.kubectl("get", "clusterissuer", "pf-broken-ca", "-o", "json")).get("status", {})
            if any(c["type"] == "Ready" for c in status.get("conditions", [])):
                break
            time.sleep(1)
        [line] = _refused(engine, "notready", tls={"routeIssuer": {"name": "pf-broken-ca"}})
    finally:
        engine.kubectl("delete", "clusterissuer", "pf-broken-ca", check=False)
    assert line.startswith(f"{P}:tls.routeIssuer.name: ClusterIssuer pf-broken-ca is not Ready (")
    assert "pf-no-such-secret" in line


def test_missing_ingress_class(engine: Engine):
    [line] = _refused(engine, "ingressclass", edge={"mode": "ingress", "ingressClassName": "nginx-absent",
                                                    "timeout": "60s"})
    assert line.startswith(f"{P}:edge.ingressClassName: IngressClass nginx-absent does not exist")


def test_missing_referenced_secret(engine: Engine):
    engine.kubectl("create", "namespace", "pf-secret")
    try:
        problems = _refused(engine, "secret", namespace={"name": "pf-secret", "create": False},
                            mongodb={"external": {"connectionString": {"name": "absent-mongo", "key": "uri"}}})
    finally:
        engine.kubectl("delete", "namespace", "pf-secret", "--wait=false", check=False)
    assert problems == [f"{P}:mongodb.external.connectionString: Secret absent-mongo does not exist in namespace "
                        "pf-secret: create it (oc -n pf-secret create secret generic absent-mongo --from-file=uri=<file>)"]


def _wait_served(engine: Engine, group_version: str, value: bool) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = subprocess.run([str(engine.kubectl_bin), "get", "--raw", f"/apis/{group_version}"], env=engine.env,
                               capture_output=True, text=True).returncode == 0
        if found == value:
            return
        time.sleep(0.5)
    raise AssertionError(f"{group_version} still {'un' if value else ''}served after 30 s")


@contextmanager
def _unserved(engine: Engine, group_version: str, *crds: str) -> Iterator[None]:
    """The CRDs' only version not served: the API leaves discovery, as on a cluster without it (the
    objects stay in etcd and come back with it)."""
    def serve(value: bool) -> None:
        for crd in crds:
            engine.kubectl("patch", "crd", crd, "--type=json",
                           "-p", json.dumps([{"op": "replace", "path": "/spec/versions/0/served", "value": value}]))
        _wait_served(engine, group_version, value)
    serve(False)
    try:
        yield
    finally:
        serve(True)


def test_route_api_not_served(engine: Engine):
    with _unserved(engine, "route.openshift.io/v1", "routes.route.openshift.io"):
        problems = _refused(engine, "routeapi")
    assert problems == [f"{P}:edge.mode route: the cluster does not serve Route (route.openshift.io/v1 routes): "
                        f"on a cluster without OpenShift Routes set {P}:edge.mode: ingress"]


def test_scc_api_not_served_with_a_grant(engine: Engine):
    with _unserved(engine, "security.openshift.io/v1", "securitycontextconstraints.security.openshift.io"):
        problems = _refused(engine, "sccapi", scc={"grants": {"elasticsearch": "nonroot-v2"},
                                                    "identities": {"elasticsearch": {"runAsUser": 1000}}})
    assert problems == [f"{P}:scc.grants: the cluster does not serve SecurityContextConstraints (security.openshift.io/v1 "
                        f"securitycontextconstraints): SCC grants need OpenShift: remove {P}:scc.grants"]


def test_cert_manager_not_installed(engine: Engine):
    crds = [f"{name}.cert-manager.io" for name in ("certificates", "certificaterequests", "issuers", "clusterissuers")]
    with _unserved(engine, "cert-manager.io/v1", *crds):
        problems = _refused(engine, "certmanager", tls={"routeIssuer": {"name": "letsencrypt-prod"}})
    # One line per kind the stack creates; the ClusterIssuer it names is not reported on its own.
    assert [p.split(":")[0] for p in problems] == ["cert-manager (every certificate of the stack)",
                                                   "cert-manager (the in-cluster CA)"]
    assert all("install cert-manager 1.x" in p for p in problems)


def _kubeconfig_with(engine: Engine, tmp_path, *, token: str | None = None, server: str | None = None) -> dict[str, str]:
    """engine.env with a kubeconfig for the same cluster, but another identity or address."""
    config = yaml.safe_load((engine.cluster / "kubeconfig").read_text())
    if token:
        for user in config["users"]:
            user["user"] = {"token": token}
    if server:
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = server
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return {**engine.env, "KUBECONFIG": str(path)}


def test_an_identity_that_may_only_view(engine: Engine, tmp_path):
    engine.kubectl("create", "namespace", "pf-viewer")
    engine.kubectl("-n", "pf-viewer", "create", "serviceaccount", "deployer")
    engine.kubectl("-n", "pf-viewer", "create", "rolebinding", "deployer-view", "--clusterrole=view",
                   "--serviceaccount=pf-viewer:deployer")
    token = engine.kubectl("-n", "pf-viewer", "create", "token", "deployer", "--duration=10m").strip()
    try:
        problems = _refused(engine, "viewer", env=_kubeconfig_with(engine, tmp_path, token=token),
                            namespace={"name": "pf-viewer", "create": False},
                            scc={"grants": {"redis": "nonroot-v2"}, "identities": {"redis": {"runAsUser": 1000}}})
    finally:
        engine.kubectl("delete", "namespace", "pf-viewer", "--wait=false", check=False)
    fix = "ask a cluster admin for the `admin` role in the namespace (oc adm policy add-role-to-user admin <you> -n pf-viewer)"
    assert f"access: you may not create, patch, delete deployments.apps in namespace pf-viewer: {fix}" in problems
    # `view` does not read Secrets either.
    assert f"access: you may not get, create, patch, delete secrets in namespace pf-viewer: {fix}" in problems
    assert problems[-1].startswith(f"{P}:scc.grants.redis: you may not grant the SCC nonroot-v2")
    assert all(p.startswith("access: ") for p in problems[:-1]) and len(problems) >= 10


def test_a_cluster_that_does_not_answer(engine: Engine, tmp_path):
    env = _kubeconfig_with(engine, tmp_path, server="https://127.0.0.1:1")
    [line] = _refused(engine, "unreachable", env=env)
    assert line.startswith("cluster: cannot reach the Kubernetes API (https://127.0.0.1:1: ")


def test_make_preflight_passes_on_the_local_target_and_times_the_checks(engine: Engine):
    result = pulumi_sh(engine, "preflight", timeout=600)
    match = re.search(r"preflight: (\d+) checks passed on (\S+) in (\d+\.\d+)s", result.stdout)
    assert match, result.stdout + result.stderr
    engine.timings.setdefault("preflight: checks of the dev stack (s)", []).append(float(match.group(3)))
    assert int(match.group(1)) >= 50
