"""An external Redis as teams run it, on the real node: TLS only (no plain port), the server certificate
signed by the team's own CA, the `default` user off and an ACL user for ClearML, whose password is
given as a Pulumi secret (`pulumi config set --secret --path redis.external.password`).

The Redis is a real `redis-server` (the stand-in image, Debian's build, with TLS) in a namespace of its
own, with a CA and certificate made here by openssl; the stack is `make up`'s dev stack in another
namespace, with a MongoDB stand-in of its own. The API server connects to Redis while it starts
(clearml-server `apiserver/sync.py`), so its pod becoming Ready means the TLS handshake, the
certificate and host name checks and the ACL login all passed; Redis's own client list then shows
ClearML's connections logged in as that user.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from pathlib import Path

import yaml

from settings import PROJECT
from tests.engine.conftest import ROOT, Engine
from tests.engine.e2e_harness import CONFIG

STACK = "e2e-external-redis"
NAMESPACE = "clearml-e2e-redis"
REDIS_NAMESPACE = "standin-redis-tls"
REDIS_HOST = f"redis.{REDIS_NAMESPACE}.svc"
P = PROJECT
IMAGE = "localhost/standin/redis:7.0.15"


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=120)


def _certificates(tmp: Path) -> dict[str, str]:
    """A CA, and a server certificate for the Service's names signed by it."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=team-ca",
             "-keyout", str(tmp / "ca.key"), "-out", str(tmp / "ca.crt"))
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={REDIS_HOST}",
             "-keyout", str(tmp / "tls.key"), "-out", str(tmp / "tls.csr"))
    (tmp / "san.ext").write_text(f"subjectAltName=DNS:{REDIS_HOST},DNS:{REDIS_HOST}.cluster.local\n")
    _openssl("x509", "-req", "-in", str(tmp / "tls.csr"), "-CA", str(tmp / "ca.crt"), "-CAkey", str(tmp / "ca.key"),
             "-CAcreateserial", "-days", "2", "-extfile", str(tmp / "san.ext"), "-out", str(tmp / "tls.crt"))
    return {name: (tmp / name).read_text() for name in ("ca.crt", "tls.crt", "tls.key")}


def _redis_manifests(certs: dict[str, str], password: str) -> list[dict]:
    config = "\n".join([
        "port 0", "tls-port 6380", "tls-cert-file /etc/redis/tls.crt", "tls-key-file /etc/redis/tls.key",
        "tls-ca-cert-file /etc/redis/ca.crt", "tls-auth-clients no", "user default off",
        f"user clearml on >{password} ~* &* +@all", 'save ""', "appendonly no", "dir /tmp", ""])
    restricted = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
                  "readOnlyRootFilesystem": True}
    labels = {"app": "redis"}
    return [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redis", "namespace": REDIS_NAMESPACE},
         "stringData": {**certs, "redis.conf": config}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "redis", "namespace": REDIS_NAMESPACE},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": {
             "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
             "containers": [{
                 "name": "redis", "image": IMAGE, "imagePullPolicy": "IfNotPresent",
                 "command": ["redis-server", "/etc/redis/redis.conf"],
                 "ports": [{"name": "redis-tls", "containerPort": 6380}],
                 "readinessProbe": {"tcpSocket": {"port": 6380}, "periodSeconds": 2},
                 "securityContext": restricted,
                 "volumeMounts": [{"name": "config", "mountPath": "/etc/redis", "readOnly": True},
                                  {"name": "tmp", "mountPath": "/tmp"}],
                 "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}}],
             "volumes": [{"name": "config", "secret": {"secretName": "redis"}}, {"name": "tmp", "emptyDir": {}}]}}}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis", "namespace": REDIS_NAMESPACE},
         "spec": {"selector": labels, "ports": [{"name": "redis-tls", "port": 6380, "targetPort": 6380}]}},
    ]


def _mongodb_standin() -> list[dict]:
    """The MongoDB stand-in of local/mongodb-standin.yaml, one of this test's own (its data apart)."""
    docs = [d for d in yaml.safe_load_all((ROOT / "local" / "mongodb-standin.yaml").read_text()) if d]
    for doc in docs:
        doc["metadata"]["namespace"] = REDIS_NAMESPACE
    return docs


def _apply(engine: Engine, docs: list[dict]) -> None:
    subprocess.run([str(engine.kubectl_bin), "apply", "-f", "-"], input="\n---\n".join(yaml.safe_dump(d) for d in docs),
                   env=engine.env, check=True, capture_output=True, text=True, timeout=120)


def _wait_ready(engine: Engine, namespace: str, prefix: str, deadline: float) -> dict:
    pod: dict = {}
    while time.monotonic() < deadline:
        pods = [p for p in engine.objects(namespace, "pods") if p["metadata"]["name"].startswith(prefix)]
        pod = pods[0] if pods else {}
        conditions = {c["type"]: c["status"] for c in pod.get("status", {}).get("conditions", [])}
        if conditions.get("Ready") == "True":
            return pod
        time.sleep(3)
    logs = engine.kubectl("logs", "-n", namespace, pod["metadata"]["name"], "--all-containers", "--tail=60",
                          check=False) if pod else ""
    events = engine.kubectl("get", "events", "-n", namespace, "--sort-by=.lastTimestamp", check=False)[-3000:]
    raise AssertionError(f"{prefix}: no Ready pod:\n{engine.scheduling_report()}\n"
                         f"{json.dumps(pod.get('status', {}))[-2000:]}\n{logs[-4000:]}\n{events}")


def test_the_server_runs_on_an_external_redis_with_tls_and_an_acl_user(engine: Engine, tmp_path):
    password = secrets.token_urlsafe(24)
    engine.kubectl("create", "namespace", REDIS_NAMESPACE, check=False)
    _apply(engine, _redis_manifests(_certificates(tmp_path), password) + _mongodb_standin())

    config = dict(CONFIG)
    config[f"{P}:namespace"] = {"name": NAMESPACE, "create": False}
    config[f"{P}:features"] = {"asyncDelete": False}
    config[f"{P}:redis"] = {"external": {"host": REDIS_HOST, "port": 6380, "username": "clearml", "tls": True,
                                         "ca": {"name": "team-redis-ca", "key": "ca.crt"}}}
    engine.kubectl("create", "namespace", NAMESPACE, check=False)  # the stack does not create it
    ca = (tmp_path / "ca.crt").read_text()
    mongo = config[f"{P}:mongodb"]["external"]["connectionString"]
    _apply(engine, [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "team-redis-ca", "namespace": NAMESPACE},
         "stringData": {"ca.crt": ca}},
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": mongo["name"], "namespace": NAMESPACE},
         "stringData": {mongo["key"]: f"mongodb://mongodb.{REDIS_NAMESPACE}.svc:27017/"}},
    ])
    engine.new_stack(STACK, yaml.safe_dump({"config": config}))
    # The password as users set it: a Pulumi secret inside the redis object, never in the file in clear.
    engine.pulumi("config", "set", "--secret", "--path", f"{P}:redis.external.password", password, stack=STACK)
    stack_file = (engine.workdir / f"Pulumi.{STACK}.yaml").read_text()
    assert password not in stack_file and "secure:" in stack_file
    try:
        up = engine.pulumi("up", "--yes", "--skip-preview", stack=STACK)
        assert password not in up.output
        deadline = time.monotonic() + 600
        _wait_ready(engine, REDIS_NAMESPACE, "redis-", deadline)
        api = _wait_ready(engine, NAMESPACE, "clearml-apiserver-", deadline)
        _wait_ready(engine, NAMESPACE, "clearml-fileserver-", deadline)

        # The credential is in the program's Secret, read by the pods through secretKeyRef.
        secret = json.loads(engine.kubectl("get", "secret", "clearml-external-credentials", "-n", NAMESPACE, "-o", "json"))
        assert set(secret["data"]) == {"redis.external.password"}
        env = {e["name"]: e for e in api["spec"]["containers"][0]["env"]}
        assert env["CLEARML_REDIS_SERVICE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
            "name": "clearml-external-credentials", "key": "redis.external.password"}

        # Redis's side: every client (there is no plain port) logged in as `clearml`, some from ClearML.
        [redis] = [p for p in engine.objects(REDIS_NAMESPACE, "pods") if p["metadata"]["name"].startswith("redis-")
                   and p["status"].get("phase") == "Running"]
        clients = engine.kubectl(
            "exec", "-n", REDIS_NAMESPACE, redis["metadata"]["name"], "--", "env", f"REDISCLI_AUTH={password}",
            "redis-cli", "--tls", "--cacert", "/etc/redis/ca.crt", "-h", REDIS_HOST, "-p", "6380", "--user", "clearml",
            "--no-auth-warning", "CLIENT", "LIST")
        lines = [line for line in clients.splitlines() if line.strip()]
        assert lines and all(" user=clearml " in f" {line} " for line in lines), clients
        pod_ips = {p["status"].get("podIP") for p in engine.objects(NAMESPACE, "pods")}
        from_clearml = [line for line in lines if line.split(" addr=")[1].split(":")[0] in pod_ips]
        assert from_clearml, f"no connection from the ClearML pods ({pod_ips}):\n{clients}"
    finally:
        engine.pulumi("destroy", "--yes", "--skip-preview", stack=STACK, check=False)
        for namespace in (NAMESPACE, REDIS_NAMESPACE):
            engine.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
