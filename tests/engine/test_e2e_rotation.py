"""Credential rotation on the deployment `make up` makes, through the one documented command
(`scripts/pulumi.sh rotate dev <credential>`, full await on the local target): the preview names the
generator it replaces; after the rotation the store or the API server takes only the new value, and
the ClearML server works with it. Real pods: Redis is Debian's redis-server, the API server and file
server are ClearML's own processes.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import time
import urllib.request

from tests.engine.conftest import Engine
from tests.engine.e2e_harness import NAMESPACE, access, api_call, api_login, outputs, pulumi_sh, secret


def _redis_ping(engine: Engine, password: str) -> str:
    pod = engine.kubectl("get", "pod", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=redis",
                         "-o", "jsonpath={.items[0].metadata.name}")
    return engine.kubectl("exec", "-n", NAMESPACE, pod, "-c", "redis", "--", "redis-cli", "--no-auth-warning",
                          "-a", password, "ping", check=False).strip()


def _elastic_status(engine: Engine, password: str) -> int:
    """GET /_security/_authenticate as `elastic` over verified TLS (the Service's cluster IP, the name
    its certificate carries, the issuing CA): the HTTP status."""
    ca = secret(engine, NAMESPACE, "clearml-elastic-tls")["ca.crt"]
    ip = engine.kubectl("get", "service", "clearml-elastic", "-n", NAMESPACE, "-o", "jsonpath={.spec.clusterIP}")
    context = ssl.create_default_context(cadata=ca)
    with socket.create_connection((ip, 9200), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname=f"clearml-elastic.{NAMESPACE}.svc") as tls:
        connection = http.client.HTTPConnection(ip, 9200, timeout=30)
        connection.sock = tls
        auth = base64.b64encode(f"elastic:{password}".encode()).decode()
        connection.request("GET", "/_security/_authenticate", headers={"Authorization": f"Basic {auth}"})
        return connection.getresponse().status


def test_rotating_the_redis_password(engine: Engine, deployed):
    old = secret(engine, NAMESPACE, "clearml-redis")["password"]
    assert _redis_ping(engine, old) == "PONG"

    preview = pulumi_sh(engine, "rotate", "redis", "--preview")
    assert "clearml-redis-password" in preview.stdout and "replace" in preview.stdout, preview.stdout[-3000:]
    assert "clearml.openshift.io/credentials-digest" in preview.stdout
    assert secret(engine, NAMESPACE, "clearml-redis")["password"] == old, "--preview changed something"

    started = time.monotonic()
    pulumi_sh(engine, "rotate", "redis")
    engine.timings.setdefault("rotation: redis, rotate to all ready (s)", []).append(round(time.monotonic() - started, 1))
    new = secret(engine, NAMESPACE, "clearml-redis")["password"]
    assert new != old and len(new) == 40
    # redis-cli reports the refused AUTH (WRONGPASS) on stderr, then PING answers that it is not logged in.
    assert _redis_ping(engine, old) == "NOAUTH Authentication required."
    assert _redis_ping(engine, new) == "PONG"

    # The API server rolled with the new password: it answers a call that reads Redis (the workers).
    stack = outputs(engine)
    api = access(engine)["urls"]["apiserver"]
    status, answer = api_login(api, stack["testsAccessKey"], stack["testsSecretKey"])
    assert status == 200, answer
    assert "workers" in api_call(api, "workers.get_all", answer["data"]["token"], {})


def test_rotating_the_elasticsearch_password(engine: Engine, deployed):
    old = secret(engine, NAMESPACE, "clearml-elastic")["password"]
    assert _elastic_status(engine, old) == 200

    started = time.monotonic()
    pulumi_sh(engine, "rotate", "elasticsearch")
    engine.timings.setdefault("rotation: elasticsearch, rotate to all ready (s)", []).append(
        round(time.monotonic() - started, 1))
    new = secret(engine, NAMESPACE, "clearml-elastic")["password"]
    assert new != old
    assert _elastic_status(engine, old) == 401
    assert _elastic_status(engine, new) == 200

    # The API server rolled with it: a call that reads Elasticsearch (the queues' metrics) answers.
    stack = outputs(engine)
    api = access(engine)["urls"]["apiserver"]
    status, answer = api_login(api, stack["testsAccessKey"], stack["testsSecretKey"])
    assert status == 200, answer
    now = int(time.time())
    metrics = api_call(api, "queues.get_queue_metrics", answer["data"]["token"],
                    {"from_date": now - 3600, "to_date": now, "interval": 60})
    assert "queues" in metrics


def test_rotating_the_clearml_keys(engine: Engine, deployed):
    before = outputs(engine)
    api = access(engine)["urls"]["apiserver"]
    assert api_login(api, before["testsAccessKey"], before["testsSecretKey"])[0] == 200

    started = time.monotonic()
    pulumi_sh(engine, "rotate", "clearml-keys")
    engine.timings.setdefault("rotation: clearml-keys, rotate to all ready (s)", []).append(
        round(time.monotonic() - started, 1))
    after = outputs(engine)
    assert after["testsAccessKey"] != before["testsAccessKey"]
    assert after["adminPassword"] == before["adminPassword"], "only the keys rotate"

    status, answer = api_login(api, before["testsAccessKey"], before["testsSecretKey"])
    assert status == 401, (status, answer)
    status, answer = api_login(api, after["testsAccessKey"], after["testsSecretKey"])
    assert status == 200, answer
    token = answer["data"]["token"]
    assert "projects" in api_call(api, "projects.get_all", token, {})

    # The file server took its new key too: it serves an upload to the new token (it checks the
    # token with the API server as its own system user).
    files = access(engine)["urls"]["fileserver"]
    boundary = "clearmlrotation"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"rotation/after.txt\"; filename=\"after.txt\"\r\n"
            f"Content-Type: text/plain\r\n\r\nafter the rotation\r\n--{boundary}--\r\n").encode()
    upload = urllib.request.Request(files + "/", data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"})
    for attempt in range(20):
        try:
            with urllib.request.urlopen(upload, timeout=30) as response:
                assert response.status == 200
            break
        except OSError:
            if attempt == 19:
                raise
            time.sleep(3)
    download = urllib.request.Request(files + "/rotation/after.txt", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(download, timeout=30) as response:
        assert response.read() == b"after the rotation"
