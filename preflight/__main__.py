"""`python -m preflight --stack <stack>`: the program's preflight alone (`make preflight STACK=...`).

Reads the stack's config with the Pulumi CLI (run from the project directory, logged in to its
backend, as for `pulumi preview`), validates it as the program does, then checks the cluster.
Exit status: 0 every check passed, 1 a problem (each printed on stderr, one line), 2 usage.
Secret config values are decrypted into this process only (as for the program); none is printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preflight import PreflightFailed, run, summary
from settings import ConfigError, settings_from_config


def stack_config(stack: str) -> tuple[dict[str, str], set[str]]:
    """The stack's config as the engine hands it to the program (objects as JSON text), and which
    of its keys are secrets."""
    result = subprocess.run(["pulumi", "config", "--stack", stack, "--json", "--show-secrets", "--non-interactive"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"preflight: `pulumi config --stack {stack}` failed: {result.stderr.strip()}")
    entries = json.loads(result.stdout)
    return ({k: v["value"] for k, v in entries.items() if "value" in v},
            {k for k, v in entries.items() if v.get("secret")})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    config, secret_keys = stack_config(args.stack)
    try:
        settings = settings_from_config(config, secret_keys)
        report, seconds = run(settings, config)
    except (ConfigError, PreflightFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(summary(report, seconds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
