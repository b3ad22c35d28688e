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
from tests.conftest import deploy, pod_templates, run_program, stack_config

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
    deploy(lambda: run_program(stack_config("dev")))
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
