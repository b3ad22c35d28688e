#!/usr/bin/env python3
"""Program-evaluation benchmark: how much a fresh interpreter evaluating the whole program for a stack
under Pulumi's mocks (as the unit tests do, without pytest) costs over the import floor, a fresh
interpreter running `import pulumi, pulumi_kubernetes`. A measurement, not a test.

    venv/bin/python scripts/benchmark_eval.py [--runs 7] [--stack dev] [--bytecode warm|env] [--phases]
                                              [--sdk-floor] [--try-gc] [--json FILE]

Each child is a new interpreter, the two run in turns; the median of `--runs` wall times (after one
discarded warm-up each) is reported, and the ratio evaluation / floor (issue 11 item 9: ~1.6x, target
1.3x).

--bytecode warm (default): both children load every module from warm bytecode in a private cache
(PYTHONPYCACHEPREFIX), so the ratio compares code, not whether this checkout has __pycache__/.
--bytecode env: the children inherit this shell's environment as it is (with PYTHONDONTWRITEBYTECODE=1
and no __pycache__/ in the checkout, the project is compiled from source on every run, ~50 ms).
--phases: the evaluation child also reports where its time goes (imports of the SDKs, of the
project and the test harness, settings, the run under the mocks).
--sdk-floor: also the wall time of a child importing the SDK modules the program needs (see SDK_FLOOR).
--try-gc: the floors too with the garbage-collector settings __main__.py applies to the program (a
higher gen-0 threshold from the start, `gc.freeze()` at exit so the interpreter's last collection skips
the ~170,000 objects of the SDKs): the ratio of the program to floors tuned alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOOR = "import pulumi, pulumi_kubernetes"
# `import pulumi_kubernetes` loads its API groups lazily: the floor holds none of the modules a program
# registering Kubernetes objects cannot do without. --sdk-floor also times a child importing those (the
# groups the stacks use, pulumi_random, pydantic), to tell what is the SDKs' from what is the program's.
SDK_FLOOR = "\n".join(["import pulumi, pulumi_kubernetes, pulumi_random, pydantic.main"] + [
    f"import pulumi_kubernetes.{group}" for group in ("core.v1", "apps.v1", "batch.v1", "policy.v1", "networking.v1",
                                                     "rbac.v1", "meta.v1", "apiextensions")])

# The evaluation child: tests/mocking.py's recording mocks and the `cluster` fixture's fake cluster,
# the program run by runpy as `pulumi up` runs __main__.py. Prints its phases as one JSON line.
EVALUATE = """
import sys, time
t0 = time.perf_counter()
import pulumi, pulumi_kubernetes
t1 = time.perf_counter()
sys.path.insert(0, {root!r})
import asyncio
import preflight.cluster
from settings import PROJECT
from tests.fake_cluster import FakeCluster
from tests.mocking import RecordingMocks, deploy, fake_connect, run_program, set_mocks, stack_config
t2 = time.perf_counter()
import components.server, preflight, program.local_target, program.transforms, settings  # what __main__.py imports
t3 = time.perf_counter()
preflight.cluster.connect = fake_connect(FakeCluster(), PROJECT)
asyncio.set_event_loop(asyncio.new_event_loop())
recording = RecordingMocks()
set_mocks(recording, PROJECT)
deploy(lambda: run_program(stack_config({stack!r})))
t4 = time.perf_counter()
assert len(recording.resources) > 20, len(recording.resources)
import json
print(json.dumps({{"sdk imports (the floor's)": t1 - t0, "harness imports (+ settings)": t2 - t1,
                  "program's other imports": t3 - t2, "run under the mocks": t4 - t3, "in-process total": t4 - t0,
                  "resources": len(recording.resources)}}))
"""


# --try-gc: __main__.py's settings, for the floors: collect less often while allocating many short-lived
# objects, and freeze what is left before exit (the last collection would walk all of it).
GC_BEFORE = "import gc\ngc.set_threshold(20_000, 20, 20)\n"
GC_AFTER = "\ngc.freeze()\n"


def run(code: str, env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"child failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-3000:]}")
    return seconds, result.stdout


def measure(codes: dict[str, str], runs: int, env: dict[str, str]) -> dict[str, tuple[list[float], list[str]]]:
    """`runs` wall times (and outputs) of each child, taken in turns (floor, evaluation, floor, ...) so
    that all see the same load on the machine; one discarded warm-up of each first (file system cache,
    bytecode)."""
    for code in codes.values():
        run(code, env)
    results: dict[str, tuple[list[float], list[str]]] = {name: ([], []) for name in codes}
    for _ in range(runs):
        for name, code in codes.items():
            seconds, out = run(code, env)
            results[name][0].append(seconds)
            results[name][1].append(out)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--bytecode", choices=("warm", "env"), default="warm")
    parser.add_argument("--phases", action="store_true", help="where the evaluation child's time goes")
    parser.add_argument("--sdk-floor", action="store_true", help="also time importing the SDK modules the program needs")
    parser.add_argument("--try-gc", action="store_true", help="the floors with the gc settings __main__.py applies")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()

    env = dict(os.environ)
    with tempfile.TemporaryDirectory(prefix="benchmark-eval-pycache-") as pycache:
        if args.bytecode == "warm":
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = pycache
        codes = {"floor": FLOOR, "evaluation": EVALUATE.format(root=str(ROOT), stack=args.stack)}
        if args.sdk_floor:
            codes["sdk floor"] = SDK_FLOOR
        if args.try_gc:  # the evaluation child runs __main__.py, which tunes itself
            codes = {name: code if name == "evaluation" else GC_BEFORE + code + GC_AFTER for name, code in codes.items()}
        results = measure(codes, args.runs, env)
    floor, evaluation, outputs = results["floor"][0], results["evaluation"][0], results["evaluation"][1]

    f, e = statistics.median(floor), statistics.median(evaluation)
    gc_note = ", floors with __main__.py's gc settings (--try-gc)" if args.try_gc else ""
    print(f"python {sys.version.split()[0]}, {args.runs} runs each, bytecode: {args.bytecode}{gc_note}, load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (medians; other work on the machine adds noise)")
    print(f"import floor  `{FLOOR}`: {f:.3f} s   (runs: {', '.join(f'{t:.3f}' for t in floor)})")
    print(f"evaluation    {args.stack} stack under mocks: {e:.3f} s   (runs: {', '.join(f'{t:.3f}' for t in evaluation)})")
    pairs = statistics.median(b / a for a, b in zip(floor, evaluation, strict=True))
    print(f"ratio         evaluation / floor = {e / f:.2f}x (median of the {args.runs} pairs: {pairs:.2f}x)"
          "   (issue 11 item 9: was ~1.6x, target 1.3x)")
    if args.sdk_floor:
        sdk = statistics.median(results["sdk floor"][0])
        print(f"sdk floor     the API groups, pulumi_random, pydantic: {sdk:.3f} s   "
              f"(runs: {', '.join(f'{t:.3f}' for t in results['sdk floor'][0])}); evaluation / sdk floor = {e / sdk:.2f}x")
    phases = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    if args.phases:
        print("evaluation child, median of each phase:")
        for key in ("sdk imports (the floor's)", "harness imports (+ settings)", "program's other imports",
                    "run under the mocks", "in-process total"):
            print(f"  {key:30} {statistics.median(p[key] for p in phases):.3f} s")
        print(f"  ({phases[0]['resources']} resources registered; the rest of the wall time is interpreter start and exit)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"floor": floor, "evaluation": evaluation, "stack": args.stack,
                                         "sdk_floor": results["sdk floor"][0] if args.sdk_floor else None,
                                         "bytecode": args.bytecode, "try_gc": args.try_gc, "phases": phases}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
