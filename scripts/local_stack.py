"""The local target of scripts/pulumi.sh: a stack as the local cluster (scripts/cluster.sh) runs it.

    local_stack.py config  --stack S --project DIR   lay local/overlay.yaml over DIR/Pulumi.S.yaml
    local_stack.py prepare --stack S --project DIR   create what the overlay expects: the namespace,
                                                     the MongoDB stand-in, the Secret naming it
    local_stack.py access  --stack S --project DIR   port-forward the web app, API and file server to
                                                     loopback; print the URLs and how to log in

With CLEARML_OPENSHIFT_LOCAL_OVERLAY set to a file of the same form (local/upgrade.yaml), `config` lays
that over local/overlay.yaml too: how an upgrade is tried on the local cluster.

DIR is the project copy scripts/pulumi.sh runs from (scripts/copy-project.sh), so the repository's
stack files are never written. `prepare` and `access` need `kubectl` on PATH and KUBECONFIG set to
the local cluster; `access` also needs CLEARML_OPENSHIFT_CLUSTER (the cluster's state dir: the
port-forwards belong to the cluster and `scripts/cluster.sh stop` ends them). Ports:
CLEARML_OPENSHIFT_WEB_PORT (8080), CLEARML_OPENSHIFT_API_PORT (8008), CLEARML_OPENSHIFT_FILES_PORT
(8081), the ports ClearML's own docker-compose publishes. `access` also writes DIR/access.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from settings import PROJECT, settings_from_config  # noqa: E402

OVERLAY = ROOT / "local" / "overlay.yaml"
# A second overlay laid over the first when set, e.g. local/upgrade.yaml (an upgrade tried on the local cluster).
EXTRA_OVERLAY_ENV = "CLEARML_OPENSHIFT_LOCAL_OVERLAY"
MONGODB_STANDIN = ROOT / "local" / "mongodb-standin.yaml"
MONGODB_NAMESPACE = "standin-mongodb"
MONGODB_URI = f"mongodb://mongodb.{MONGODB_NAMESPACE}.svc:27017/"
# (tier, Service port, environment variable of the loopback port, its default, a path that answers)
FORWARDS = (
    ("webserver", 8080, "CLEARML_OPENSHIFT_WEB_PORT", 8080, "/configuration.json"),
    ("apiserver", 8008, "CLEARML_OPENSHIFT_API_PORT", 8008, "/debug.ping"),
    ("fileserver", 8081, "CLEARML_OPENSHIFT_FILES_PORT", 8081, "/"),
)


def overlay(stack: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """`over` laid over `stack` (neither is modified); see local/overlay.yaml for the rules."""
    merged = dict(stack)
    for key, value in over.items():
        base = merged.get(key)
        if isinstance(value, dict) and "external" in value:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(base, dict):
            merged[key] = overlay(base, value)
        else:
            merged[key] = value
    return merged


def stack_file(project: Path, stack: str) -> Path:
    path = project / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in project.glob("Pulumi.*.yaml"))
        sys.exit(f"error: no stack file Pulumi.{stack}.yaml (stacks: {', '.join(stacks)})")
    return path


def _overlaid(document: dict[str, Any]) -> dict[str, Any]:
    config = overlay(document.get("config") or {}, yaml.safe_load(OVERLAY.read_text())["config"])
    if extra := os.environ.get(EXTRA_OVERLAY_ENV):
        config = overlay(config, yaml.safe_load(Path(extra).read_text())["config"])
    return config


def local_config(project: Path, stack: str) -> dict[str, Any]:
    """The config of `project`'s Pulumi.<stack>.yaml with the overlay laid over it (what `config`
    writes; with the repository as `project`, what `make up` deploys)."""
    return _overlaid(yaml.safe_load(stack_file(project, stack).read_text()) or {})


def cmd_config(project: Path, stack: str) -> None:
    path = stack_file(project, stack)
    document = yaml.safe_load(path.read_text()) or {}
    document["config"] = _overlaid(document)
    header = (f"# Written by scripts/local_stack.py: {ROOT.name}/Pulumi.{stack}.yaml with local/overlay.yaml\n"
              "# laid over it, for the local cluster. Edit those, not this copy.\n")
    path.write_text(header + yaml.safe_dump(document, sort_keys=False))


def namespace_of(config: dict[str, Any]) -> str:
    encoded = {key: value if isinstance(value, str) else json.dumps(value)
               for key, value in config.items() if key.startswith(PROJECT + ":")}
    return settings_from_config(encoded).namespace.name


def kubectl(*args: str, stdin: str | None = None, timeout: int = 120) -> str:
    result = subprocess.run(["kubectl", *args], input=stdin, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        sys.exit(f"error: kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def ensure_namespace(name: str) -> None:
    # The SCC webhook gives a new namespace its UID range and MCS label, as OpenShift does.
    if subprocess.run(["kubectl", "get", "namespace", name], capture_output=True).returncode != 0:
        kubectl("create", "namespace", name)


def cmd_prepare(project: Path, stack: str) -> None:
    config = local_config(project, stack)
    namespace = namespace_of(config)
    ref = config[f"{PROJECT}:mongodb"]["external"]["connectionString"]
    for name in (namespace, MONGODB_NAMESPACE):
        ensure_namespace(name)
    kubectl("apply", "--server-side", "--field-manager", "clearml-openshift-local", "-f", str(MONGODB_STANDIN))
    secret = kubectl("create", "secret", "generic", ref["name"], "-n", namespace, "--dry-run=client", "-o", "yaml",
                     f"--from-literal={ref['key']}={MONGODB_URI}")
    kubectl("apply", "--server-side", "--field-manager", "clearml-openshift-local", "-f", "-", stdin=secret)
    print(f"local: waiting for the MongoDB stand-in in {MONGODB_NAMESPACE}", file=sys.stderr)
    kubectl("rollout", "status", "-n", MONGODB_NAMESPACE, "deployment/mongodb", "--timeout=300s", timeout=330)
    print(f"local: namespace {namespace}, MongoDB stand-in ready, Secret {ref['name']} written", file=sys.stderr)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True  # a server answered (the file server's / may say 404 or 405)
    except (urllib.error.URLError, OSError):
        return False


def cmd_access(project: Path, stack: str, wait_seconds: float = 120) -> None:
    namespace = namespace_of(local_config(project, stack))
    cluster = os.environ.get("CLEARML_OPENSHIFT_CLUSTER") or sys.exit("error: CLEARML_OPENSHIFT_CLUSTER is not set")
    urls = {}
    for tier, remote, variable, default, _ in FORWARDS:
        port = int(os.environ.get(variable) or default)
        service = kubectl("get", "service", "-n", namespace, "-l", f"app.kubernetes.io/component={tier}",
                          "-o", "jsonpath={.items[0].metadata.name}").strip()
        if not service:
            sys.exit(f"error: no {tier} Service in namespace {namespace}")
        result = subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "forward", cluster, tier, namespace,
                                 service, str(port), str(remote)], capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"error: port-forward of {tier} to 127.0.0.1:{port} failed ({variable} sets the port):\n"
                     f"{result.stderr.strip()}")
        urls[tier] = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait_seconds
    for tier, _, _, _, path in FORWARDS:
        while not _answers(urls[tier] + path):
            if time.monotonic() > deadline:
                sys.exit(f"error: {urls[tier]}{path} did not answer within {wait_seconds:.0f}s "
                         f"(the port-forward's log: {cluster}/logs/forward-{tier}.log)")
            time.sleep(1)
    (project / "access.json").write_text(json.dumps({"namespace": namespace, "urls": urls}, indent=2) + "\n")
    output = f"scripts/pulumi.sh output {stack}"
    print(f"""
ClearML is up on the local cluster (stack {stack}, namespace {namespace}), forwarded to loopback:
  web app     {urls['webserver']}
  API server  {urls['apiserver']}
  file server {urls['fileserver']}
Log in as user `admin`; the password: {output} adminPassword --show-secrets
The clearml SDK (or `clearml-init`), with the generated keys:
  export CLEARML_WEB_HOST={urls['webserver']} CLEARML_API_HOST={urls['apiserver']} CLEARML_FILES_HOST={urls['fileserver']}
  export CLEARML_API_ACCESS_KEY=$({output} testsAccessKey --show-secrets)
  export CLEARML_API_SECRET_KEY=$({output} testsSecretKey --show-secrets)
The forwards run until `scripts/cluster.sh stop` (or `make destroy`); the web app's configuration.json
names the stack's public Route hosts, which have no router here (README, "The local cluster").""")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("config", "prepare", "access"))
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project", required=True, type=Path)
    args = parser.parse_args(argv)
    {"config": cmd_config, "prepare": cmd_prepare, "access": cmd_access}[args.command](args.project, args.stack)


if __name__ == "__main__":
    main()
