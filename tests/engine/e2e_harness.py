"""The end-to-end deployment shared by the e2e test modules (fixture `deployed` in conftest.py).

It is exactly what `make up` does without a kubeconfig: `scripts/pulumi.sh up dev` on the local
cluster (the engine fixture's, found through CLEARML_OPENSHIFT_LOCAL), which lays local/overlay.yaml
over Pulumi.dev.yaml, deploys the MongoDB stand-in, runs `pulumi up` with the policy pack and full
await (no skipAwait anywhere), then forwards the web app, API and file server to loopback and
prints how to log in. Every later Pulumi command of the e2e tests goes through scripts/pulumi.sh too.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.engine.conftest import ROOT, Engine

sys.path.insert(0, str(ROOT / "scripts"))
import local_stack
import yaml

STACK = "dev"
CONFIG = local_stack.local_config(ROOT, STACK)
NAMESPACE = CONFIG["clearml-openshift:namespace"]["name"]
MONGO_NAMESPACE = local_stack.MONGODB_NAMESPACE
UP_TIMEOUT = 1800


def local_dir(engine: Engine) -> Path:
    return Path(engine.env["CLEARML_OPENSHIFT_LOCAL"])


def local_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment as a user's shell without a kubeconfig: scripts/pulumi.sh picks
    the local cluster, its backend and the local overlay by itself (and awaits readiness)."""
    drop = ("KUBECONFIG", "PULUMI_BACKEND_URL", "CLEARML_OPENSHIFT_LOCAL_TARGET")
    return {k: v for k, v in engine.env.items() if k not in drop}


def full_await_env(engine: Engine) -> dict[str, str]:
    """The engine tests' environment without the no-await switch, for stacks they run themselves."""
    return {k: v for k, v in engine.env.items() if k != "CLEARML_OPENSHIFT_LOCAL_TARGET"}


def pulumi_sh(engine: Engine, command: str, *args: str, check: bool = True, timeout: int = UP_TIMEOUT,
              env: dict[str, str] | None = None):
    """`scripts/pulumi.sh COMMAND dev ARGS...` (with `env` added to the environment), timed into engine.timings."""
    start = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts" / "pulumi.sh"), command, STACK, *args], cwd=ROOT,
                            env={**local_env(engine), **(env or {})}, capture_output=True, text=True, timeout=timeout)
    seconds = time.monotonic() - start
    engine.timings.setdefault(f"{STACK}: scripts/pulumi.sh {command} (local target)", []).append(round(seconds, 2))
    if check and result.returncode != 0:
        raise AssertionError(f"scripts/pulumi.sh {command} {STACK} {' '.join(args)} failed ({result.returncode}) "
                             f"after {seconds:.0f}s:\n{(result.stdout + result.stderr)[-6000:]}\n{diagnostics(engine)}")
    return result


def outputs(engine: Engine) -> dict:
    return json.loads(pulumi_sh(engine, "output", "--json", "--show-secrets", timeout=300).stdout)


def access(engine: Engine) -> dict:
    """What the last `up` wrote next to the project copy: the namespace and the loopback URLs."""
    return json.loads((local_dir(engine) / "project" / "access.json").read_text())


def diagnostics(engine: Engine) -> str:
    """Events and the last log lines of every pod that is not ready, in the stack's namespaces."""
    out = []
    for ns in (NAMESPACE, MONGO_NAMESPACE):
        if not engine.kubectl("get", "namespace", ns, "-o", "name", check=False):
            continue
        out.append(f"--- events in {ns}")
        out.append(engine.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False)[-6000:])
        for pod in engine.objects(ns, "pods"):
            statuses = pod["status"].get("containerStatuses") or []
            if statuses and all(s.get("ready") for s in statuses):
                continue
            name = pod["metadata"]["name"]
            out.append(f"--- pod {ns}/{name}: phase {pod['status'].get('phase')}, "
                       f"conditions {json.dumps(pod['status'].get('conditions'))}")
            for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]:
                out.append(f"--- logs {name}/{c['name']}")
                out.append(engine.kubectl("logs", "-n", ns, name, "-c", c["name"], "--tail=40", check=False))
    return "\n".join(out)


def deploy(engine: Engine) -> tuple[float, str]:
    """`make up`'s path: returns the seconds it took and what it printed on stdout."""
    start = time.monotonic()
    result = pulumi_sh(engine, "up")
    seconds = time.monotonic() - start
    # scripts/pulumi.sh reports `pulumi up` alone: from its start to every object ready (full await).
    up = re.search(r"^pulumi up: exit 0 after (\d+)s$", result.stderr, re.MULTILINE)
    if up:
        engine.timings.setdefault("e2e: pulumi up to all ready (s)", []).append(float(up.group(1)))
    return seconds, result.stdout


def api_login(api: str, key: str, secret: str) -> tuple[int, dict]:
    """auth.login with a key pair: (HTTP status, answer), through the loopback forward, which needs a
    moment to reconnect after the API server's pod was replaced."""
    request = urllib.request.Request(f"{api}/auth.login", data=b"{}", headers={
        "Content-Type": "application/json",
        "Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()})
    for attempt in range(40):
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")
        except OSError:
            if attempt == 39:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def api_call(api: str, endpoint: str, token: str, body: dict) -> dict:
    request = urllib.request.Request(f"{api}/{endpoint}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    for attempt in range(40):  # the loopback forward reconnects after the API server's pod came back
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())["data"]
        except urllib.error.HTTPError as err:
            raise AssertionError(f"{endpoint}: {err.code} {err.read()[:500]!r}") from None
        except OSError:
            if attempt == 39:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def login(api: str, key: str, secret: str) -> str:
    status, answer = api_login(api, key, secret)
    assert status == 200, answer
    return answer["data"]["token"]


def clearml_client(engine: Engine) -> dict:
    """The loopback URLs of the API and file servers, and `token()`: a fresh token of the tests' key pair."""
    urls = access(engine)["urls"]
    stack = outputs(engine)
    key, key_secret = stack["testsAccessKey"], stack["testsSecretKey"]
    return {"api": urls["apiserver"], "files": urls["fileserver"], "key": key, "secret": key_secret,
            "token": lambda: login(urls["apiserver"], key, key_secret)}


def secret(engine: Engine, namespace: str, name: str) -> dict[str, str]:
    data = json.loads(engine.kubectl("get", "secret", name, "-n", namespace, "-o", "json"))["data"]
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


class VerifiedTls(http.client.HTTPSConnection):
    """HTTPS to an IP, verifying the certificate chain and the name `server_name` it must carry."""

    def __init__(self, ip: str, port: int, server_name: str, context: ssl.SSLContext):
        super().__init__(ip, port, context=context, timeout=60)
        self.server_name = server_name

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.server_name)  # type: ignore[attr-defined]


def elastic(engine: Engine, method: str, path: str, body: dict | None = None, namespace: str = NAMESPACE) -> dict:
    """Elasticsearch over verified TLS: the Service's cluster IP, its DNS name, the issuing CA; 200 or 201 expected."""
    ca = secret(engine, namespace, "clearml-elastic-tls")["ca.crt"]
    password = secret(engine, namespace, "clearml-elastic")["password"]
    ip = engine.kubectl("get", "service", "clearml-elastic", "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")
    auth = base64.b64encode(f"elastic:{password}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/json"}
    for attempt in range(30):  # a node that just became ready may not be behind its Service yet
        connection = VerifiedTls(ip, 9200, f"clearml-elastic.{namespace}.svc", ssl.create_default_context(cadata=ca))
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            response = connection.getresponse()
            break
        except ConnectionRefusedError:
            if attempt == 29:
                raise
            time.sleep(2)
    answer = response.read()
    assert response.status in (200, 201), (method, path, response.status, answer[:500])
    return json.loads(answer or b"null")


def elastic_versions(engine: Engine, namespace: str = NAMESPACE) -> list[str]:
    """The version each Elasticsearch node runs (`_nodes`: the stand-in distribution has no `GET /`)."""
    return sorted(node["version"] for node in elastic(engine, "GET", "/_nodes", namespace=namespace)["nodes"].values())


def task_names(clearml, project: str) -> set[str]:
    tasks = api_call(clearml["api"], "tasks.get_all", clearml["token"](), {"project": [project], "only_fields": ["name"]})
    return {t["name"] for t in tasks["tasks"]}


def log_lines(clearml, task: str) -> list[str]:
    answer = api_call(clearml["api"], "events.get_task_log", clearml["token"](), {"task": task, "batch_size": 100})
    return [e.get("msg") for e in answer["events"]]


def standin_image(name: str) -> dict:
    """{"repository", "tag"} of a stand-in image scripts/images.sh builds (NAME as `images.sh names` lists it)."""
    refs = dict(line.split("=", 1) for line in subprocess.run(
        [str(ROOT / "scripts" / "images.sh"), "names"], capture_output=True, text=True, check=True).stdout.split())
    repository, tag = refs[name].rsplit(":", 1)
    return {"repository": repository, "tag": tag}


@dataclass
class SecondStack:
    """A stack beside the dev deployment, in its own namespace with its own MongoDB stand-in, deployed
    with full await by the engine tests' Pulumi project: the dev stack with the local overlay (CONFIG),
    changed as a test needs."""

    engine: Engine
    stack: str
    namespace: str

    def prepare(self) -> None:
        """The namespace, the MongoDB stand-in and the Secret naming it, as scripts/local_stack.py makes them."""
        engine = self.engine
        engine.kubectl("create", "namespace", self.namespace)
        standin = [doc for doc in yaml.safe_load_all(local_stack.MONGODB_STANDIN.read_text()) if doc]
        for doc in standin:
            doc["metadata"]["namespace"] = self.namespace
        subprocess.run([str(engine.kubectl_bin), "apply", "--server-side", "-f", "-"], input=yaml.safe_dump_all(standin),
                       env=engine.env, check=True, capture_output=True, text=True, timeout=60)
        engine.kubectl("create", "secret", "generic", "standin-mongodb", "-n", self.namespace,
                       f"--from-literal=connectionString=mongodb://mongodb.{self.namespace}.svc:27017/")
        engine.kubectl("rollout", "status", "-n", self.namespace, "deployment/mongodb", "--timeout=300s")

    def config(self, **sections: dict) -> dict:
        """CONFIG in this stack's namespace, with `sections` (settings keys) replacing CONFIG's."""
        config = dict(CONFIG)
        config["clearml-openshift:namespace"] = {"name": self.namespace, "create": False}
        config.update({f"clearml-openshift:{key}": value for key, value in sections.items()})
        return config

    def write(self, config: dict, new: bool = False) -> None:
        text = yaml.safe_dump({"config": config})
        if new:
            self.engine.new_stack(self.stack, text)
        else:
            (self.engine.workdir / f"Pulumi.{self.stack}.yaml").write_text(text)

    def command(self, *args: str) -> list[str]:
        return ["pulumi", *args, "--stack", self.stack, "--non-interactive", "--color", "never"]

    def pulumi(self, *args: str, check: bool = True, timeout: int = 1800) -> subprocess.CompletedProcess:
        start = time.monotonic()
        result = subprocess.run(self.command(*args), cwd=self.engine.workdir, env=full_await_env(self.engine),
                                capture_output=True, text=True, timeout=timeout)
        self.engine.timings.setdefault(f"{self.stack}: pulumi {args[0]} (full await)", []).append(
            round(time.monotonic() - start, 1))
        if check and result.returncode != 0:
            events = self.engine.kubectl("get", "events", "-n", self.namespace, "--sort-by=.lastTimestamp", check=False)
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{(result.stdout + result.stderr)[-6000:]}\n"
                                 f"{events[-4000:]}")
        return result

    def start(self, *args: str) -> subprocess.Popen:
        """A Pulumi command in the background (full await), its output to a pipe."""
        return subprocess.Popen(self.command(*args), cwd=self.engine.workdir, env=full_await_env(self.engine),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def destroy(self) -> None:
        self.pulumi("destroy", "--yes", "--skip-preview", check=False)
        self.engine.kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
