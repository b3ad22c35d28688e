#!/usr/bin/env python3
"""Drift check of one stack: does the cluster still match the last deployment?

    scripts/drift.py --stack <stack> [--cwd <project dir>]      (normally via `make drift STACK=<stack>`)

Runs `pulumi refresh --preview-only --json` (nothing is changed, not even the state) and reports
every resource whose live object differs from the state, with the fields that differ.

Exit codes:
    0  no drift
    3  drift: each drifted resource is listed with the fields that differ
    1  error: the check could not run (cluster unreachable, backend or passphrase missing, ...)

Values are never printed, only field paths: drifted fields may hold secrets. Changes made by other
field managers to fields Pulumi does not manage (e.g. an extra annotation) are not drift: the
Kubernetes provider compares what Pulumi applied (server-side apply).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

NO_DRIFT, ERROR, DRIFT = 0, 1, 3
UNCHANGED_OPS = {"same", "refresh", "read"}
DESCRIPTIONS = {
    "update": "changed outside Pulumi",
    "delete": "deleted outside Pulumi",
    "create": "exists in the cluster but not in the state",
    "replace": "must be replaced",
}


def short_name(urn: str) -> tuple[str, str]:
    """(type, logical name) from a URN `urn:pulumi:stack::project::parent$type::name`."""
    qualified, name = urn.rsplit("::", 1)
    return qualified.rsplit("$", 1)[-1].split("::")[-1], name


def object_name(step: dict) -> str:
    state = step.get("oldState") or step.get("newState") or {}
    metadata = (state.get("outputs") or {}).get("metadata") or {}
    if isinstance(metadata, dict) and metadata.get("name"):
        namespace = metadata.get("namespace")
        return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])
    return ""


def drifted(report: dict) -> list[dict]:
    out = []
    for step in report.get("steps") or []:
        op = step.get("op", "")
        type_, name = short_name(step["urn"])
        if op in UNCHANGED_OPS or type_ == "pulumi:pulumi:Stack":
            continue
        fields = sorted((step.get("detailedDiff") or {}).keys()) or sorted(step.get("diffReasons") or [])
        out.append({"op": op, "type": type_, "name": name, "object": object_name(step), "fields": fields})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--cwd", type=Path, default=Path.cwd())
    args = parser.parse_args()

    command = ["pulumi", "refresh", "--preview-only", "--json", "--non-interactive", "--stack", args.stack]
    try:
        result = subprocess.run(command, cwd=args.cwd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as err:
        print(f"drift check of {args.stack} could not run: {err}", file=sys.stderr)
        return ERROR
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        report = None
    errors = [d.get("message", "").strip() for d in (report or {}).get("diagnostics") or [] if d.get("severity") == "error"]
    if result.returncode != 0 or report is None or errors:
        print(f"drift check of {args.stack} failed (pulumi exited {result.returncode}):", file=sys.stderr)
        lines = list(dict.fromkeys(errors)) or [result.stderr.strip() or result.stdout.strip()[-2000:]]
        for line in lines[:5]:  # the same error is usually reported once per resource
            print(f"  {line}", file=sys.stderr)
        return ERROR

    found = drifted(report)
    if not found:
        total = sum((report.get("changeSummary") or {}).values())
        print(f"no drift: the {total} resources of stack {args.stack} match the cluster")
        return NO_DRIFT
    print(f"DRIFT in stack {args.stack}: {len(found)} resource(s) differ from the last deployment")
    for item in found:
        where = f" ({item['object']})" if item["object"] else ""
        print(f"- {item['type']} {item['name']}{where}: {DESCRIPTIONS.get(item['op'], item['op'])}")
        for field in item["fields"]:
            print(f"    {field}")
    print(f"Undo it with `pulumi up --refresh --stack {args.stack}` (the program's values win), "
          "or adopt the change in the stack config or the program.")
    return DRIFT


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("drift check interrupted: nothing compared", file=sys.stderr)
        sys.exit(ERROR)
