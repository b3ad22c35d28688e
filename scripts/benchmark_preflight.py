"""What preflight adds to a preview: `pulumi preview` of a stack with and without the checks.

    venv/bin/python scripts/benchmark_preflight.py [--runs 5] [--stack dev]

Starts its own local cluster (scripts/cluster.sh) in a temporary directory, makes two copies of the
project (scripts/engine_env.py), and in the second one replaces the preflight call in `__main__.py`
with nothing: the only difference between the two. Previews alternate between the copies; prints
the medians, and the time the program itself reports for the checks. Records nothing by itself:
paste the result into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_env import ROOT, install_example_prerequisites, install_stack_prerequisites, prepare, script

CALL = "report, seconds = preflight.run(settings, config)"
REPORTED = re.compile(r"preflight: (\d+) checks passed on \S+ in (\d+\.\d+)s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--stack", default="dev")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="clearml-preflight-benchmark-") as tmp_name:
        tmp = Path(tmp_name)
        cluster = tmp / "cluster"
        script("cluster.sh", "start", str(cluster))
        try:
            projects = {}
            for variant in ("with", "without"):
                project, env = prepare(tmp / variant, passphrase="benchmark")
                env.update({"KUBECONFIG": str(cluster / "kubeconfig"), "CLEARML_OPENSHIFT_LOCAL_TARGET": "1"})
                if variant == "without":
                    main_py = project / "__main__.py"
                    text = main_py.read_text()
                    assert CALL in text, "the preflight call moved: update this benchmark"
                    main_py.write_text(text.replace(CALL, "report, seconds = preflight.Report(checks=0), 0.0"))
                projects[variant] = (project, env)
            _, env = projects["with"]
            install_example_prerequisites(env)
            config = yaml.safe_load((ROOT / f"Pulumi.{args.stack}.yaml").read_text())["config"]
            install_stack_prerequisites(env, config)
            pulumi = ["pulumi", "--non-interactive", "--color", "never"]
            for project, env in projects.values():
                subprocess.run(pulumi + ["stack", "init", args.stack], cwd=project, env=env, check=True,
                               capture_output=True)
            samples: dict[str, list[float]] = {"with": [], "without": []}
            reported: list[float] = []
            for _ in range(args.runs):
                for variant, (project, env) in projects.items():
                    start = time.monotonic()
                    result = subprocess.run(pulumi + ["preview", "--stack", args.stack], cwd=project, env=env,
                                            capture_output=True, text=True)
                    samples[variant].append(time.monotonic() - start)
                    if result.returncode != 0:
                        raise SystemExit(f"preview {variant} preflight failed:\n{result.stdout[-3000:]}{result.stderr[-2000:]}")
                    match = REPORTED.search(result.stdout)
                    if variant == "with":
                        assert match, "the preview did not report its preflight"
                        reported.append(float(match.group(2)))
        finally:
            subprocess.run([str(ROOT / "scripts" / "cluster.sh"), "stop", str(cluster)], capture_output=True)
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(f"stack {args.stack}, {args.runs} previews each (median, min):")
    for variant, values in samples.items():
        print(f"  preview {variant} preflight: {med[variant]:.2f} s (min {min(values):.2f} s)")
    print(f"  difference of the medians: {med['with'] - med['without']:+.2f} s")
    print(f"  the checks as the program reports them: median {statistics.median(reported):.2f} s "
          f"(min {min(reported):.2f} s, max {max(reported):.2f} s)")


if __name__ == "__main__":
    main()
