"""The environment every engine run of this project needs, in one place (render, benchmark, tests).

`prepare(tmp)` builds or reuses the toolchain and the stand-in random provider, copies the project
into `tmp/project` (so `pulumi stack init` never writes into the repository) and returns the
project directory and the environment for `pulumi`: the virtualenv first on PATH (the language
host here ignores `runtime.options.virtualenv`), a file backend in `tmp`, no update checks and no
plugin downloads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from local_stack import MONGODB_URI

ROOT = Path(__file__).resolve().parent.parent


def script(*args: str) -> str:
    """Runs scripts/<args[0]>; returns the last line of its output (the scripts print paths last)."""
    result = subprocess.run([str(ROOT / "scripts" / args[0]), *args[1:]], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{args[0]} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def prepare(tmp: Path, *, passphrase: str) -> tuple[Path, dict[str, str]]:
    bin_dir = script("toolchain.sh")
    random_dir = str(Path(script("build-random-provider.sh")).parent)
    project = tmp / "project"
    script("copy-project.sh", str(project), sys.prefix)
    (tmp / "backend").mkdir(exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "PULUMI_BACKEND_URL")},
        "PATH": f"{Path(sys.prefix) / 'bin'}:{bin_dir}:{random_dir}:{os.environ['PATH']}",
        "VIRTUAL_ENV": sys.prefix,
        "HOME": str(tmp),
        # The scripts' cache stays the one the toolchain above came from (it defaults to $HOME's).
        "CLEARML_OPENSHIFT_CACHE": os.environ.get("CLEARML_OPENSHIFT_CACHE")
        or str(Path.home() / ".cache" / "clearml-openshift"),
        "PULUMI_HOME": str(tmp / ".pulumi"),
        "PULUMI_BACKEND_URL": f"file://{tmp / 'backend'}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        # The toolchain's Python language host (sdk/v3 3.68) cannot start a policy pack by itself.
        "PULUMI_PYTHON_CMD": str(ROOT / "policy" / "host-python"),
    }
    return project, env


def bin_dir() -> Path:
    return Path(script("toolchain.sh"))


EXAMPLE_PREREQUISITES = ROOT / "local" / "example-prerequisites.yaml"


def install_example_prerequisites(env: dict[str, str]) -> None:
    """The StorageClasses and ClusterIssuer the example stacks name (local/example-prerequisites.yaml),
    on the cluster of env's KUBECONFIG, so preflight passes for stacks deployed as they are."""
    kubectl = str(bin_dir() / "kubectl")
    for args in (["apply", "-f", str(EXAMPLE_PREREQUISITES)],
                 ["wait", "--for=condition=Ready", "clusterissuer", "-l", "app.kubernetes.io/part-of=clearml-openshift-tests",
                  "--timeout=60s"]):
        subprocess.run([kubectl, *args], env=env, check=True, capture_output=True, text=True, timeout=90)


def install_stack_prerequisites(env: dict[str, str], config: dict) -> None:
    """What one stack expects to find (its `config:` mapping, as in Pulumi.<stack>.yaml): its namespace
    when the stack does not create it, and every Secret key it references (external services, image
    pull secrets), with placeholder values. Derived from the settings by preflight's own `needs`."""
    import json

    sys.path.insert(0, str(ROOT))
    from preflight.needs import needs
    from settings import settings_from_config
    from vocabulary.clearml import MONGODB_CA_FILE

    wanted = needs(settings_from_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}))
    kubectl = str(bin_dir() / "kubectl")

    def run(*args: str, stdin: str | None = None) -> str:
        return subprocess.run([kubectl, *args], env=env, input=stdin, check=True, capture_output=True, text=True,
                              timeout=90).stdout

    if not wanted.create_namespace:
        manifest = run("create", "namespace", wanted.namespace, "--dry-run=client", "-o", "yaml")
        run("apply", "-f", "-", stdin=manifest)
    keys: dict[str, dict[str, str]] = {}
    for ref in wanted.secrets:
        # A value preflight checks (a MongoDB connection string) gets one it accepts: the stand-in's,
        # with the TLS options when the stack gives a CA.
        value = f"placeholder-for-{ref.name}-{ref.key}"
        if ref.value_problem:
            value = next(uri for uri in (MONGODB_URI, MONGODB_URI + f"?tls=true&tlsCAFile={MONGODB_CA_FILE}")
                         if ref.value_problem(uri) is None)
        keys.setdefault(ref.name, {})[ref.key] = value
    for name, values in sorted(keys.items()):
        names = set(values)
        literals = [f"--from-literal={k}={v}" for k, v in sorted(values.items())]
        kind = ["docker-registry", name, "--docker-server=registry.example.com", "--docker-username=u",
                "--docker-password=p"] if names == {".dockerconfigjson"} else ["generic", name, *literals]
        manifest = run("create", "secret", *kind, "-n", wanted.namespace, "--dry-run=client", "-o", "yaml")
        run("apply", "-f", "-", stdin=manifest)
