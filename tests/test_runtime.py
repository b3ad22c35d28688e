"""Runtime checks without a cluster: run what the pods run, the way the pods run it.

* The seeding init container's shell script, run by a random non-root UID in a root-owned,
  world-writable directory (what the kubelet makes of an emptyDir).
* The generated logging.conf, parsed with pyhocon as clearml-server parses it
  (`apiserver/config/basic.py`), merged over a console handler like the server's built-in one,
  given to `logging.config.dictConfig`, and fed the line clearml-server logs at start-up.
"""

from __future__ import annotations

import io
import logging
import logging.config
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pyhocon import ConfigFactory, ConfigTree

from components import clearml_image as ci
from components import seeding
from tests.conftest import deploy_config, pod_templates, stack_config

ROOT = Path(__file__).resolve().parent.parent
RANDOM_UID = 1000650000  # a UID from an OpenShift namespace range, in group 0 as under restricted-v2


@pytest.fixture
def open_tmp():
    """A temp dir another UID can traverse (pytest's own tmp_path sits below a 0700 directory)."""
    import tempfile
    path = Path(tempfile.mkdtemp(prefix="clearml-runtime-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _as_random_uid(cmd: list[str]) -> subprocess.CompletedProcess:
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv (util-linux) to run a step as another UID")
    return subprocess.run(["setpriv", f"--reuid={RANDOM_UID}", "--regid=0", "--clear-groups", *cmd],
                          capture_output=True, text=True, timeout=60)


def test_seeding_script_runs_as_a_random_uid_in_a_root_owned_empty_dir(open_tmp):
    tmp_path = open_tmp
    shipped = tmp_path / "image" / "apierrors"
    (shipped / "sub").mkdir(parents=True)
    (shipped / "__init__.py").write_text("# shipped\n")
    (shipped / "sub" / "digest.md5").write_text("abc\n")
    (shipped / "run.sh").write_text("#!/bin/sh\n")
    (shipped / "run.sh").chmod(0o755)
    tmp_path.chmod(0o755)
    (tmp_path / "image").chmod(0o755)
    seed_root = tmp_path / "seed"
    seed_root.mkdir(mode=0o755)
    # What the kubelet creates for an emptyDir: owned by root, mode 0777.
    target = seed_root / "apierrors"
    target.mkdir()
    target.chmod(0o777)
    container = seeding.seed_container("image", "IfNotPresent", {"apierrors": str(shipped)})
    script = container.command[-1].replace("/seed/", f"{seed_root}/")
    result = _as_random_uid(["bash", "-c", script])
    assert result.returncode == 0, result.stderr
    assert (target / "__init__.py").read_text() == "# shipped\n"
    assert (target / "sub" / "digest.md5").read_text() == "abc\n"
    assert os.access(target / "run.sh", os.X_OK) and (target / "run.sh").stat().st_mode & 0o111
    assert (target / "sub").stat().st_uid == RANDOM_UID  # writable by the process that seeded it
    assert "seeded" in result.stdout


def test_the_old_cp_a_fails_where_the_new_command_succeeds(open_tmp):
    tmp_path = open_tmp
    """The reason for `cp -R`: GNU cp -a exits 1 on the emptyDir root it does not own."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    (src / "f").write_text("x")
    src.chmod(0o755)
    dst.mkdir()
    dst.chmod(0o777)
    tmp_path.chmod(0o755)
    failed = _as_random_uid(["cp", "-a", f"{src}/.", f"{dst}/"])
    assert failed.returncode == 1 and "preserving times" in failed.stderr
    assert _as_random_uid(["cp", "-R", f"{src}/.", f"{dst}/"]).returncode == 0


def _server_logging_config() -> ConfigTree:
    """clearml-server's built-in console handler and root logger, with the generated logging.conf merged
    over it as the server does (`ConfigTree.merge_configs`, the config dir after the defaults)."""
    builtin = ConfigFactory.parse_string("""
        version: 1
        disable_existing_loggers: false
        formatters { standard { format: "[%(levelname)s] [%(name)s] %(message)s" } }
        handlers { console { formatter: standard, class: "logging.StreamHandler" } }
        root { handlers: [console], level: INFO }
    """)
    generated = ConfigFactory.parse_string(ci.LOGGING_CONF)
    return ConfigTree.merge_configs(builtin, generated)


def test_generated_logging_conf_redacts_the_mongodb_password(tmp_path, monkeypatch):
    module_dir = tmp_path / "python"
    module_dir.mkdir()
    for name, text in ci.server_config_data().items():
        if name.endswith(".py"):
            (module_dir / name).write_text(text)
    monkeypatch.syspath_prepend(str(module_dir))
    config = _server_logging_config()
    assert config["handlers"]["console"]["class"] == "clearml_openshift_logging.RedactingStreamHandler"
    stream = io.StringIO()
    as_dict = config.as_plain_ordered_dict()
    as_dict["handlers"]["console"]["stream"] = stream
    try:
        logging.config.dictConfig(as_dict)
        log = logging.getLogger("clearml.database")
        # The lines clearml-server 2.3 logs (apiserver/database/__init__.py), with a password in them.
        log.info("Using override mongodb connection string template mongodb://clearml:S3cr3tPw@mongo:27017/x")
        log.info("Registering connection to backend-db (mongodb://clearml:S3cr3tPw@m-0,m-1/backend?replicaSet=rs0)")
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
        sys.modules.pop("clearml_openshift_logging", None)
    out = stream.getvalue()
    assert "S3cr3tPw" not in out
    assert out.count("mongodb://clearml:***@") == 2, out


# ---- `python3 -m` modules, resolved as the image lays out the server's code ------------------------
# clearml-server docker/build/Dockerfile: `COPY fileserver /opt/clearml/fileserver/`,
# `COPY apiserver /opt/clearml/apiserver/`, `WORKDIR /opt/clearml/`. The source tarball is the one
# scripts/images.sh builds the stand-in from (CLEARML_SERVER_SOURCE, a local path; .ci/run sets it).
IMAGE_WORKDIR = "/opt/clearml"


@pytest.fixture(scope="module")
def image_layout(tmp_path_factory) -> Path:
    source = os.environ.get("CLEARML_SERVER_SOURCE", "")
    if not source or not Path(source).is_file():
        pytest.skip("CLEARML_SERVER_SOURCE (a clearml-server source tarball) is not set: no image layout to check")
    import tarfile
    root = tmp_path_factory.mktemp("image")
    with tarfile.open(source) as tar:
        tar.extractall(root / "src", filter="data")
    top = next((root / "src").iterdir())
    for part in ("apiserver", "fileserver"):
        shutil.copytree(top / part, root / "opt" / "clearml" / part)
    return root


def _resolve(module: str, path: list[Path]) -> Path | None:
    """The file or directory `import module` finds with sys.path = `path`, the way Python's path
    finder does: regular packages (with __init__.py), modules, and namespace packages (a directory
    without __init__.py, such as clearml-server's `apiserver/jobs`)."""
    parts = module.split(".")
    for entry in path:
        here = entry
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if (here / part / "__init__.py").is_file():
                here = here / part
                if last:
                    return here / "__init__.py"
            elif last and (here / f"{part}.py").is_file():
                return here / f"{part}.py"
            elif (here / part).is_dir():  # a namespace package portion
                here = here / part
                if last:
                    return here
            else:
                break
    return None


def _first_party_imports(file: Path, packages: set[str]) -> set[str]:
    import ast
    found = set()
    for node in ast.walk(ast.parse(file.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m.split(".")[0] in packages}


def _python_m_commands(resources) -> list[tuple[str, dict]]:
    out = []
    for name, spec in pod_templates(resources):
        for c in (spec.get("initContainers") or []) + spec["containers"]:
            command = c.get("command") or []
            if len(command) >= 3 and command[0].startswith("python") and command[1] == "-m":
                out.append((f"{name}/{c['name']}", c))
    return out


def test_every_python_m_module_imports_from_the_image_layout(image_layout, mocks):
    """`python3 -m X` puts the working directory first on sys.path, then PYTHONPATH: X and the
    server's own modules it imports (`from apiserver.bll ...`) must resolve there."""
    deploy_config(mocks, stack_config("dev"))
    commands = _python_m_commands(mocks.resources)
    assert commands, "no `python -m` container found"
    packages = {"apiserver", "fileserver", "jobs"}
    for where, c in commands:
        env = {e["name"]: e.get("value") for e in c.get("env") or []}
        workdir = c.get("workingDir") or IMAGE_WORKDIR
        sys_path = [workdir] + [p for p in (env.get("PYTHONPATH") or "").split(":") if p]
        path = [image_layout / p.lstrip("/") for p in sys_path]
        module = c["command"][2]
        file = _resolve(module, path)
        assert file is not None and file.is_file(), f"{where}: `python3 -m {module}` finds no module on {sys_path}"
        for imported in sorted(_first_party_imports(file, packages)):
            assert _resolve(imported, path) is not None, (
                f"{where}: {module} imports {imported}, which is not importable from {sys_path}")


def test_the_old_async_delete_working_directory_fails_the_check(image_layout):
    """The check is real: from /opt/clearml/apiserver (the old workingDir) `apiserver.*` is not found."""
    path = [image_layout / "opt/clearml/apiserver", image_layout / "opt/clearml/apiserver"]
    file = _resolve("jobs.async_urls_delete", path)
    assert file is not None
    missing = [m for m in _first_party_imports(file, {"apiserver"}) if _resolve(m, path) is None]
    assert "apiserver.bll.auth" in missing


# ---- generated credentials as configuration files, read by the server's own config loaders ---------------


def _kubelet_volume(root: Path, files: dict[str, str]) -> Path:
    """A directory laid out as the kubelet writes a Secret or ConfigMap volume: the files in a
    timestamped directory, `..data` linking to it, and one link per file."""
    stamp = root / "..2026_12_02_10_00_00.000000001"
    stamp.mkdir(parents=True)
    for name, text in files.items():
        (stamp / name).write_text(text)
    (root / "..data").symlink_to(stamp.name)
    for name in files:
        (root / name).symlink_to(f"..data/{name}")
    return root


READ = {
    # clearml-server apiserver/config/basic.py (the apiserver and async-delete) and fileserver/config.
    "apiserver": "from apiserver.config.basic import BasicConfig; config = BasicConfig(verbose=False)",
    "fileserver": "from fileserver.config import config",
}


def _server_config(image_layout: Path, tmp_path: Path, mocks, deployment: str, loader: str, keys: list[str]) -> dict:
    """`keys` as the server process of `deployment` reads them: its CLEARML_CONFIG_DIR, with the
    program's ConfigMap and the generated Secret mounted where the manifest mounts them."""
    import json

    from tests.conftest import env_of, unwrap
    spec = next(unwrap(r.inputs)["spec"]["template"]["spec"] for r in mocks.of_kind("Deployment")
                if unwrap(r.inputs)["metadata"]["name"] == deployment)
    [main] = spec["containers"]
    secret = unwrap(mocks.one("Secret", "clearml-credentials").inputs)["stringData"]
    config_map = unwrap(mocks.one("ConfigMap", "clearml-server-config").inputs)["data"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    where = {}
    for mount in main["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "secret" in volume and volume["secret"]["secretName"] == "clearml-credentials":
            files = {i["path"]: secret[i["key"]] for i in volume["secret"]["items"]}
        elif "configMap" in volume and mount["mountPath"] == ci.CONFIG_DIR:
            files = {i["path"]: config_map[i["key"]] for i in volume["configMap"]["items"]}
        else:
            continue
        where[mount["mountPath"]] = str(_kubelet_volume(tmp_path / deployment / mount["name"], files))
    dirs = env_of(main)["CLEARML_CONFIG_DIR"]
    for path, local in where.items():
        dirs = dirs.replace(path, local)
    code = f"{READ[loader]}\nimport json, sys\nprint(json.dumps({{k: config.get(k, None) for k in sys.argv[1:]}}, default=str))"
    env = {**os.environ, "PYTHONPATH": str(image_layout / "opt" / "clearml"), "CLEARML_CONFIG_DIR": dirs,
           "CLEARML__logging__handlers__text_file__filename": "/dev/null"}
    result = subprocess.run([sys.executable, "-c", code, *keys], env=env, capture_output=True, text=True,
                            cwd=image_layout / "opt" / "clearml", timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_server_reads_the_generated_credentials_from_its_files(image_layout, mocks, tmp_path):
    from tests.conftest import unwrap
    deploy_config(mocks, stack_config("dev"))
    secret = unwrap(mocks.one("Secret", "clearml-credentials").inputs)["stringData"]
    users = ("apiserver", "tests", "services_agent", "fileserver", "webserver")
    keys = [f"secure.credentials.{u}.{p}" for u in users for p in ("user_key", "user_secret")]
    keys += ["secure.auth.token_secret", "secure.http.session_secret.apiserver", "secure.credentials.tests.revoke_in_fixed_mode",
             "apiserver.auth.fixed_users.users", "logging.handlers.console.class"]
    api = _server_config(image_layout, tmp_path, mocks, "clearml-apiserver", "apiserver", keys)
    for u in users:
        prefix = {"services_agent": "services_agent"}.get(u, u)
        assert api[f"secure.credentials.{u}.user_key"] == secret[f"{prefix}_key"], u
        assert api[f"secure.credentials.{u}.user_secret"] == secret[f"{prefix}_secret"], u
    assert api["secure.auth.token_secret"] == secret["auth_token_secret"]
    assert api["secure.http.session_secret.apiserver"] == secret["session_secret"]
    assert api["secure.credentials.tests.revoke_in_fixed_mode"] is False
    [admin] = api["apiserver.auth.fixed_users.users"]
    assert (admin["username"], admin["password"]) == ("admin", secret["admin_password"])
    # The program's ConfigMap is still read (the redacting log handler), beside the credentials.
    assert api["logging.handlers.console.class"] == "clearml_openshift_logging.RedactingStreamHandler"

    files = _server_config(image_layout, tmp_path, mocks, "clearml-fileserver", "fileserver",
                           ["secure.credentials.fileserver.user_key", "secure.credentials.fileserver.user_secret",
                            "secure.credentials.apiserver.user_key"])
    assert files["secure.credentials.fileserver.user_key"] == secret["fileserver_key"]
    assert files["secure.credentials.fileserver.user_secret"] == secret["fileserver_secret"]
    assert files["secure.credentials.apiserver.user_key"] != secret["apiserver_key"]  # not given to it

    worker = _server_config(image_layout, tmp_path, mocks, "clearml-async-delete", "apiserver",
                            ["secure.auth.token_secret", "secure.credentials.apiserver.user_key"])
    assert worker["secure.auth.token_secret"] == secret["auth_token_secret"]
    assert worker["secure.credentials.apiserver.user_key"] != secret["apiserver_key"]
