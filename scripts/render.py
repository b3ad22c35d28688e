#!/usr/bin/env python3
"""Offline render: a stack's manifests written to a directory by the real engine, with no cluster.

    venv/bin/python scripts/render.py --stack <stack> --out <dir>      (or `make render STACK=... OUT=...`)

Runs `pulumi up` on a throwaway file backend with the Kubernetes provider's render-to-directory mode
(`kubernetes:renderYamlToDirectory`): nothing is applied anywhere. The output has the provider's
layout (`0-crd/`, `1-manifest/`), one YAML file per object, for review and GitOps hand-off.

Secrets are NOT written: rendered Secrets would hold the generated credentials in plain text. They
are removed and listed (names and keys only) in `<dir>/SECRETS.md`; provide them from your secret
store (External Secrets, Sealed Secrets, Vault, ...) under those names.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_env import prepare


def strip_secrets(out: Path) -> list[tuple[str, list[str]]]:
    removed = []
    for path in sorted(out.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        if any(d.get("kind") == "Secret" for d in docs):
            for d in docs:
                if d.get("kind") == "Secret":
                    keys = sorted({*(d.get("data") or {}), *(d.get("stringData") or {})})
                    removed.append((f"{d['metadata'].get('namespace', '')}/{d['metadata']['name']}", keys))
            kept = [d for d in docs if d.get("kind") != "Secret"]
            if kept:
                path.write_text(yaml.safe_dump_all(kept, sort_keys=False))
            else:
                path.unlink()
    return removed


def render(stack: str, out: Path) -> int:
    out = out.resolve()
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="clearml-render-") as tmp_name:
        project, env = prepare(Path(tmp_name), passphrase="render")
        env["CLEARML_OPENSHIFT_RENDER"] = "1"
        steps = [["stack", "init", stack],
                 ["config", "set", "kubernetes:renderYamlToDirectory", str(out), "--stack", stack],
                 ["up", "--yes", "--skip-preview", "--stack", stack]]
        for step in steps:
            result = subprocess.run(["pulumi", *step, "--non-interactive", "--color", "never"], cwd=project,
                                    env=env, capture_output=True, text=True)
            if result.returncode != 0:
                print(f"pulumi {' '.join(step)} failed:", result.stdout[-4000:], result.stderr[-4000:],
                      sep="\n", file=sys.stderr)
                return 1
    removed = strip_secrets(out)
    lines = ["# Secrets not rendered", "",
             "Rendered Secrets would contain generated credentials in plain text, so they were left out.",
             "Provide each from your secret store under the same name and keys:", ""]
    lines += [f"- `{name}`: {', '.join(f'`{k}`' for k in keys)}" for name, keys in removed]
    (out / "SECRETS.md").write_text("\n".join(lines) + "\n")
    count = sum(1 for _ in out.rglob("*.yaml"))
    print(f"rendered {count} manifests of stack {stack} to {out} ({len(removed)} Secrets left out: see SECRETS.md)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    return render(args.stack, args.out)


if __name__ == "__main__":
    sys.exit(main())
