"""Put a file backend's state files back in a readable shape after a run killed hard (`scripts/pulumi.sh recover`).

Pulumi's file backend stores through gocloud's `fileblob`: the checkpoint `<stack>.json` is replaced
by renaming a finished temporary file, but each object's metadata sidecar (`<object>.attrs`, JSON)
is rewritten in place (`setAttrs`: create, then encode). A run killed between the two leaves an empty
or cut-off sidecar, and every later command fails on it before reading any state ("failed to load
checkpoint: EOF" from `pulumi stack select`). A missing sidecar reads as "no metadata", so a damaged
one is moved aside. A checkpoint that does not parse is replaced by the copy Pulumi keeps beside it
(`<stack>.json.bak`). Damaged files are kept with the suffix `.damaged`; each repair is one line on
stderr. Exit status 0 (repaired or nothing to repair) or 1 (a damaged checkpoint with no backup).

Usage: repair_backend.py BACKEND_DIR STACK
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _parses(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
        return True
    except (ValueError, OSError):
        return False


def _set_aside(path: Path) -> Path:
    damaged = path.with_name(path.name + ".damaged")
    path.replace(damaged)
    return damaged


def repair(backend: Path, stack: str) -> list[str]:
    """Repairs what a killed run left in `backend` (the directory of a `file://` URL); returns one
    line per repair. Raises RuntimeError when the stack's checkpoint is damaged and has no backup."""
    state = backend / ".pulumi"
    done: list[str] = []
    for attrs in sorted(state.rglob("*.attrs")):
        if not _parses(attrs):
            damaged = _set_aside(attrs)
            done.append(f"{attrs}: metadata cut off by the kill, set aside as {damaged.name} (Pulumi reads none)")
    for checkpoint in sorted((state / "stacks").rglob(f"{stack}.json")):
        if _parses(checkpoint):
            continue
        backup = checkpoint.with_name(checkpoint.name + ".bak")
        if not _parses(backup):
            raise RuntimeError(f"{checkpoint} does not parse and has no readable backup ({backup.name}): "
                               "restore it from your own copy of the state, or `pulumi stack import` one")
        damaged = checkpoint.with_name(checkpoint.name + ".damaged")
        damaged.write_bytes(checkpoint.read_bytes())
        checkpoint.write_bytes(backup.read_bytes())
        done.append(f"{checkpoint}: did not parse, Pulumi's backup put back (the damaged copy kept as {damaged.name})")
    return done


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 1
    try:
        for line in repair(Path(argv[0]), argv[1]):
            print(f"recover: {line}", file=sys.stderr)
    except RuntimeError as err:
        print(f"recover: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
