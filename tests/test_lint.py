"""Lint, as part of the unit suite (so CI runs it): ruff over every Python file of the project
(.ruff.toml: pyflakes, pycodestyle, import order, bugbear, pyupgrade), ShellCheck over every shell
script (warnings and errors, sourced files followed), and Node's syntax check over the mongosh script.
Each tool is pinned (requirements-dev.txt) or comes with the machine (Node)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, walk

BIN = Path(sys.executable).parent


def _not_ours(parts: tuple[str, ...]) -> bool:
    return parts[0] in ("venv", "build", ".git", "rendered") or "node_modules" in parts


def _shell_scripts() -> list[Path]:
    """Every shell script of the repository: `.sh` files and extensionless files with a shell shebang."""
    found = []
    for path in sorted(walk(ROOT, prune=_not_ours)):
        parts = path.relative_to(ROOT).parts
        if not path.is_file() or _not_ours(parts):
            continue
        if path.suffix == ".sh" or (path.suffix == "" and path.read_bytes()[:64].split(b"\n")[0].endswith((b"bash", b"sh"))):
            found.append(path)
    return found


def test_ruff_is_clean():
    result = subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--output-format", "concise", str(ROOT)],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_is_clean():
    scripts = _shell_scripts()
    assert ROOT / ".ci" / "run" in scripts and ROOT / "scripts" / "pulumi.sh" in scripts
    result = subprocess.run([str(BIN / "shellcheck"), "--external-sources", "--severity", "warning", "--format", "gcc",
                             *map(str, scripts)], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_mongosh_script_parses():
    node = shutil.which("node")
    if not node:
        pytest.skip("needs Node.js")
    for script in sorted((ROOT / "components" / "runtime").glob("*.js")):
        result = subprocess.run([node, "--check", str(script)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{script.name}: {result.stderr}"


def test_the_linters_find_what_they_are_for(tmp_path):
    """Each tool, given a file with a known fault, reports it (so a clean run means something)."""
    bad_py = tmp_path / "bad.py"
    bad_py.write_text("import os\n")
    assert subprocess.run([str(BIN / "ruff"), "check", "--no-cache", "--config", str(ROOT / ".ruff.toml"), str(bad_py)],
                          capture_output=True, text=True, timeout=60).returncode == 1
    bad_sh = tmp_path / "bad.sh"
    bad_sh.write_text("#!/bin/bash\nfor f in $(ls /tmp); do echo $f; done\n")
    assert subprocess.run([str(BIN / "shellcheck"), "--severity", "warning", str(bad_sh)],
                          capture_output=True, text=True, timeout=60).returncode == 1
