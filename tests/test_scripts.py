"""The README's first command fails plainly, and deploys nothing, when it can neither find nor build
the Pulumi CLI (no `pulumi` and no Go on PATH)."""

from __future__ import annotations

import os
import shutil
import subprocess

from tests.conftest import ROOT


def test_make_up_without_pulumi_cli_or_go_says_so(tmp_path):
    # A PATH with the shell tools the script needs but no `pulumi` and no `go`.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "dirname"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    result = subprocess.run(
        [str(ROOT / "scripts" / "pulumi.sh"), "up", "dev"],
        env={"PATH": str(bin_dir), "HOME": str(tmp_path)}, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 127
    assert "neither the Pulumi CLI nor Go is on PATH, so nothing was deployed" in result.stderr
