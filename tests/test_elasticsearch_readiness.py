"""Elasticsearch's readiness probe, run as the kubelet runs it (`sh -c`), with `curl` replaced by a stub
that records the URL and answers as a cluster in a given state: in a cluster, a node's first readiness
waits for green, so a rolling update (one node at a time, the next when this one is ready) keeps the
cluster green between nodes; afterwards only the node's own answer counts. A single node never waits."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from components.elasticsearch import READY_MARKER
from tests.conftest import PROJECT, deploy_config, stack_config

STUB = """#!/bin/sh
# curl stand-in: records its last argument (the URL) and exits as the next answer in $ANSWERS says
# (0: 200, 22: an HTTP error such as 408 when wait_for_status timed out).
cat >/dev/null
echo "$@" | awk '{print $NF}' >>"$CALLS"
answer=$(head -n 1 "$ANSWERS"); sed -i 1d "$ANSWERS"
exit "${answer:-0}"
"""


def _probe(mocks, stack: str, **sections) -> list[str]:
    config = stack_config(stack)
    config.update({f"{PROJECT}:{key}": json.dumps(value) for key, value in sections.items()})
    deploy_config(mocks, config)
    template = mocks.manifest("StatefulSet", "clearml-elastic")["spec"]["template"]["spec"]
    main = next(c for c in template["containers"] if c["name"] == "elasticsearch")
    command = main["readinessProbe"]["exec"]["command"]
    assert command[:2] == ["sh", "-c"]
    return command


@pytest.fixture
def curl(tmp_path: Path):
    """Runs a probe command with the stub curl; yields run(command, answer) -> (exit status, URL asked)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "curl").write_text(STUB)
    (bin_dir / "curl").chmod(0o755)
    calls, answers = tmp_path / "calls", tmp_path / "answers"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "ANSWERS": str(answers)}
    marker = Path(READY_MARKER)
    marker.unlink(missing_ok=True)

    def run(command: list[str], answer: int) -> tuple[int, str]:
        answers.write_text(f"{answer}\n")
        status = subprocess.run(command, env=env, capture_output=True, timeout=30).returncode
        return status, calls.read_text().splitlines()[-1]

    yield run
    marker.unlink(missing_ok=True)


def test_a_cluster_node_is_first_ready_only_when_the_cluster_is_green(mocks, curl):
    command = _probe(mocks, "prod")  # three nodes
    marker = Path(READY_MARKER)
    status, url = curl(command, 22)  # the cluster is not green within the second
    assert status != 0 and url.endswith("/_cluster/health?wait_for_status=green&timeout=1s")
    assert url.startswith("https://clearml-elastic:9200/")
    assert not marker.exists()
    status, url = curl(command, 0)  # green: ready, and remembered
    assert status == 0 and url.endswith("?wait_for_status=green&timeout=1s") and marker.exists()
    # From then on the node is ready while it answers, whatever the cluster's colour (another node rolling).
    status, url = curl(command, 0)
    assert status == 0 and url.endswith("/_cluster/health?local=true")
    status, url = curl(command, 22)
    assert status != 0 and url.endswith("?local=true")


def test_a_cluster_may_roll_on_yellow_with_no_shard_moving(mocks, curl):
    command = _probe(mocks, "prod", elasticsearch={"replicas": 3, "rollingHealth": "yellow"})
    status, url = curl(command, 0)
    assert status == 0 and url.endswith("/_cluster/health?wait_for_status=yellow&wait_for_no_initializing_shards=true"
                                        "&wait_for_no_relocating_shards=true&timeout=1s")
    status, url = curl(command, 0)
    assert url.endswith("?local=true")


def test_rolling_health_is_refused_beside_an_external_cluster():
    from settings import ConfigError, settings_from_config
    config = stack_config("dev")
    config[f"{PROJECT}:elasticsearch"] = json.dumps({"rollingHealth": "yellow", "external": {"hosts": [{"host": "es"}]}})
    with pytest.raises(ConfigError, match="elasticsearch.rollingHealth"):
        settings_from_config(config)


def test_a_single_node_never_waits_for_green(mocks, curl):
    command = _probe(mocks, "dev")
    for answer in (0, 0):
        status, url = curl(command, answer)
        assert status == 0 and url.endswith("/_cluster/health?local=true")


@pytest.mark.parametrize(("stack", "minutes"), [("dev", "10m"), ("prod", "30m")])
def test_up_waits_for_a_rolling_update_ten_minutes_per_member(mocks, stack, minutes):
    deploy_config(mocks, stack_config(stack))
    for name in ("clearml-elastic-statefulset", "clearml-mongodb-statefulset"):
        [sts] = [r for r in mocks.of_kind("StatefulSet") if r.name == name]
        assert sts.timeouts == {"create": minutes, "update": minutes}, name
