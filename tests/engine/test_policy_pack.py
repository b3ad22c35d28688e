"""The policy pack (policy/) with the real CLI against the local control plane.

For every stack file: `pulumi preview --policy-pack policy` passes, and the time the pack adds to a
preview is measured (median of alternating runs with and without it; build/policy-timings.json).
Then the pack must bite where the program does not: an `anyuid` grant that the stack acknowledges
(`scc.acknowledge`, so the program accepts it) fails the preview with the scc-grants policy, unless
`--policy-pack-config` acknowledges it too.

The stacks are named policy-<stack> (test_engine.py owns dev and prod) and are only previewed.
The CLI needs PULUMI_PYTHON_CMD=policy/host-python to start a Python pack with the language host
this toolchain has (policy/host-python says why); scripts/engine_env.py sets it for every engine run.
"""

from __future__ import annotations

import json
import statistics

import pytest
import yaml

from tests.conftest import STACKS
from tests.engine.conftest import ROOT, Engine, install_stack_prerequisites

PACK = ROOT / "policy"
PACK_LABEL = "clearml-openshift@v"
RUNS = 3
TIMINGS = ROOT / "build" / "policy-timings.json"


@pytest.fixture(scope="module")
def timings():
    measured: dict[str, dict] = {}
    yield measured
    TIMINGS.parent.mkdir(exist_ok=True)
    TIMINGS.write_text(json.dumps(measured, indent=2, sort_keys=True) + "\n")
    for stack, t in measured.items():
        print(f"\npolicy pack, {stack}: preview {t['without_pack_s']} s without the pack, {t['with_pack_s']} s with it: "
              f"+{t['policy_s']} s (medians of {RUNS})")


def _preview(engine: Engine, stack: str, *args: str, check: bool = True):
    return engine.pulumi("preview", *args, stack=stack, check=check)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_pack(engine: Engine, timings, stack: str):
    name = f"policy-{stack}"
    text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    install_stack_prerequisites(engine.env, yaml.safe_load(text)["config"])
    engine.new_stack(name, text)
    run = _preview(engine, name, "--policy-pack", str(PACK))
    assert PACK_LABEL in run.output, f"the policy pack did not run:\n{run.output[-3000:]}"
    assert "mandatory" not in run.output and "advisory" not in run.output, run.output[-6000:]

    with_pack, without = [], []
    for _ in range(RUNS):  # alternating, so that drifting machine load hits both alike
        without.append(_preview(engine, name).seconds)
        with_pack.append(_preview(engine, name, "--policy-pack", str(PACK)).seconds)
    timings[stack] = {
        "without_pack_s": round(statistics.median(without), 2),
        "with_pack_s": round(statistics.median(with_pack), 2),
        "policy_s": round(statistics.median(with_pack) - statistics.median(without), 2),
        "runs_without": [round(s, 2) for s in without],
        "runs_with": [round(s, 2) for s in with_pack],
    }


def test_the_pack_refuses_a_grant_the_program_accepts(engine: Engine, tmp_path):
    config = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    config["config"]["clearml-openshift:namespace"] = {"name": "clearml-policy-anyuid"}
    config["config"]["clearml-openshift:scc"] = {"grants": {"redis": "anyuid"}, "acknowledge": ["anyuid"]}
    stack = "policy-anyuid"
    engine.new_stack(stack, yaml.safe_dump(config))

    # The program accepts the acknowledged grant (and warns).
    assert "redis is granted the SCC anyuid" in _preview(engine, stack).output

    refused = _preview(engine, stack, "--policy-pack", str(PACK), check=False)
    assert refused.returncode != 0, refused.output[-6000:]
    assert "[mandatory]  scc-grants" in refused.output, refused.output[-6000:]
    assert "RoleBinding clearml-redis-scc-anyuid: grants the SCC anyuid" in refused.output
    assert refused.output.count("[mandatory]") == 1, refused.output[-6000:]  # nothing else is refused

    def config_file(acknowledge: list[str]) -> str:
        path = tmp_path / f"policy-config-{'-'.join(acknowledge)}.json"
        path.write_text(json.dumps({"scc-grants": {"acknowledge": acknowledge}}))
        return str(path)

    accepted = _preview(engine, stack, "--policy-pack", str(PACK),
                        "--policy-pack-config", config_file(["anyuid"]), check=False)
    assert accepted.returncode == 0 and PACK_LABEL in accepted.output, accepted.output[-6000:]
    assert "[mandatory]" not in accepted.output

    other = _preview(engine, stack, "--policy-pack", str(PACK),
                     "--policy-pack-config", config_file(["privileged"]), check=False)
    assert other.returncode != 0 and "[mandatory]  scc-grants" in other.output, other.output[-6000:]

    # The CLI validates the config against the policy's schema: only elevated built-in SCCs.
    invalid = _preview(engine, stack, "--policy-pack", str(PACK),
                       "--policy-pack-config", config_file(["my-scc"]), check=False)
    assert invalid.returncode != 0 and "validating policy config" in invalid.output, invalid.output[-6000:]
