#!/usr/bin/env python3
"""Engine benchmark: wall time of `pulumi preview`, a no-op `pulumi up` and the drift check per stack
on the local control plane, next to a server-side dry-run apply of the same objects with a plain
Kubernetes client (kubectl) as the floor. A measurement, not a test: nothing here passes or fails.

    venv/bin/python scripts/benchmark.py [--runs 5] [--stacks dev prod] [--json build/benchmark.json]

Uses scripts/toolchain.sh, scripts/build-random-provider.sh, scripts/cluster.sh and
scripts/copy-project.sh; everything happens in a temporary directory and a fresh cluster.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_env import ROOT, bin_dir, install_example_prerequisites, install_stack_prerequisites, prepare, script

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # Pulumi's marker of a secret value


def timed(cmd: list[str], cwd: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> float:
    start = time.monotonic()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode not in ok:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    return seconds


def manifests_from_state(state: dict) -> list[dict]:
    """The objects Pulumi applied (their inputs), as a plain client would send them."""
    out = []
    for resource in state["deployment"]["resources"]:
        kind_type = resource["type"]
        if not kind_type.startswith("kubernetes:") or kind_type.startswith("pulumi:providers") or resource.get("external"):
            continue
        inputs = resource.get("inputs") or {}
        if "apiVersion" in inputs and "kind" in inputs:
            manifest = {k: v for k, v in inputs.items() if not k.startswith("__")}
            for field in ("stringData", "data"):
                if isinstance(manifest.get(field), dict) and SECRET_SIG in manifest[field]:
                    # Encrypted in the state; the benchmark never decrypts: same keys, placeholder values.
                    manifest.pop(field)
                    manifest["stringData"] = {key: "benchmark" for key in resource["outputs"].get("data", {})}
            out.append(manifest)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stacks", nargs="+", default=sorted(p.name[7:-5] for p in ROOT.glob("Pulumi.*.yaml")))
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "benchmark.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="clearml-benchmark-") as tmp_name:
        tmp = Path(tmp_name)
        project, env = prepare(tmp, passphrase="benchmark")
        cluster = tmp / "cluster"
        script("cluster.sh", "start", str(cluster))
        env.update({"KUBECONFIG": str(cluster / "kubeconfig"), "CLEARML_OPENSHIFT_LOCAL_TARGET": "1"})
        install_example_prerequisites(env)
        kubectl = str(bin_dir() / "kubectl")
        results: dict[str, dict] = {}
        try:
            for stack in args.stacks:
                pulumi = ["pulumi", "--non-interactive", "--color", "never"]
                install_stack_prerequisites(env, yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
                timed(pulumi + ["stack", "init", stack], project, env)
                first_up = timed(pulumi + ["up", "--yes", "--skip-preview", "--stack", stack], project, env)
                state = json.loads(subprocess.run(pulumi + ["stack", "export", "--stack", stack], cwd=project, env=env,
                                                  check=True, capture_output=True, text=True).stdout)
                objects = manifests_from_state(state)
                manifest_file = tmp / f"{stack}.json"
                manifest_file.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
                samples: dict[str, list[float]] = {"preview": [], "no-op up": [], "drift check": [], "kubectl dry-run": []}
                for _ in range(args.runs):
                    samples["preview"].append(timed(pulumi + ["preview", "--stack", stack], project, env))
                    samples["no-op up"].append(timed(pulumi + ["up", "--yes", "--skip-preview", "--expect-no-changes",
                                                               "--stack", stack], project, env))
                    samples["drift check"].append(timed(pulumi + ["refresh", "--preview-only", "--expect-no-changes",
                                                                  "--stack", stack], project, env))
                    samples["kubectl dry-run"].append(timed([kubectl, "apply", "--server-side", "--dry-run=server",
                                                             "--force-conflicts", "--field-manager=benchmark",
                                                             "-f", str(manifest_file)], project, env))
                results[stack] = {
                    "objects": len(objects),
                    "first up": round(first_up, 2),
                    **{name: {"median": round(statistics.median(v), 2), "min": round(min(v), 2), "runs": len(v)}
                       for name, v in samples.items()},
                }
                timed(pulumi + ["destroy", "--yes", "--skip-preview", "--stack", stack], project, env)
        finally:
            subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "stop", str(cluster)], capture_output=True)

    args.json.parent.mkdir(exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print("| stack | objects | first up | preview | no-op up | drift check | kubectl server-side dry-run |")
    print("|---|---|---|---|---|---|---|")
    for stack, r in results.items():
        cells = [f"{r[k]['median']} s (min {r[k]['min']})" for k in ("preview", "no-op up", "drift check", "kubectl dry-run")]
        print(f"| {stack} | {r['objects']} | {r['first up']} s | " + " | ".join(cells) + " |")
    print(f"\n(median of {args.runs} runs; written to {args.json})")


if __name__ == "__main__":
    main()
