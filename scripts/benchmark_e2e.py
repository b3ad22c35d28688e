#!/usr/bin/env python3
"""Time to a running ClearML on the local cluster: cluster start, `pulumi up` to all pods ready, and
each tier's pod start time (created -> Ready), for the end-to-end stack.

    venv/bin/python scripts/benchmark_e2e.py [--runs N]      (prints a Markdown table for BENCHMARKS.md)

Each run is a fresh cluster and a fresh deployment: it runs tests/engine/test_e2e.py, whose fixtures
record those times in build/engine-timings.json (measured, never asserted), and reports the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = ROOT / "build" / "engine-timings.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {}
    for run in range(args.runs):
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "engine", "tests/engine/test_e2e.py"],
                                cwd=ROOT, capture_output=True, text=True)
        if result.returncode != 0:
            print(result.stdout[-4000:], result.stderr[-2000:], file=sys.stderr)
            return 1
        for key, values in json.loads(TIMINGS.read_text()).items():
            if key.startswith(("cluster start", "e2e: ", "dev: scripts/pulumi.sh up")):
                samples.setdefault(key, []).extend(values)
        print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
    print("| measurement | median (s) | samples |\n|---|---|---|")
    for key in sorted(samples):
        print(f"| {key} | {statistics.median(samples[key]):.1f} | {len(samples[key])} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
