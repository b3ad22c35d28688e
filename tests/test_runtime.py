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
