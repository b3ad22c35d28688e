"""Offline render (scripts/render.py): every stack's manifests, written by the real engine, no cluster."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from settings import settings_from_config
from tests.conftest import STACKS, stack_config
from tests.engine.conftest import ROOT


@pytest.mark.engine
@pytest.mark.parametrize("stack", STACKS)
def test_render_writes_every_object_but_secrets(tmp_path, stack):
    out = tmp_path / "rendered"
    # render.py gives Pulumi its own HOME and no KUBECONFIG: there is no cluster to reach.
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "render.py"), "--stack", stack, "--out", str(out)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    docs = [d for path in sorted(out.rglob("*.yaml")) for d in yaml.safe_load_all(path.read_text()) if d]
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "StatefulSet", "Service", "Route", "Certificate", "Issuer", "NetworkPolicy"} <= kinds
    assert "Secret" not in kinds, "a rendered Secret would carry generated credentials in plain text"
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Route", "clearml-app") in names and ("Deployment", "clearml-apiserver") in names
    # Plain manifests for GitOps: no engine-only annotations.
    assert "pulumi.com/patchForce" not in str(docs) and "pulumi.com/skipAwait" not in str(docs)
    secrets = (out / "SECRETS.md").read_text()
    # The Secrets the program generates: the credentials, and one per data tier it deploys.
    settings = settings_from_config(stack_config(stack))
    tiers = {"mongodb": "clearml-mongodb", "redis": "clearml-redis", "elasticsearch": "clearml-elastic"}
    for name in ["clearml-credentials"] + [s for t, s in tiers.items() if getattr(settings, t).external is None]:
        assert name in secrets
