#!/usr/bin/env python3
"""Which generated resources rotating one credential replaces: prints one `--replace=<URN>` per line
for `pulumi up` / `pulumi preview` (scripts/pulumi.sh rotate; README, "Rotating credentials").

    python3 scripts/rotate.py --stack STACK <credential>     (run where `pulumi` finds the stack)

Rotation is `pulumi up --replace` of the credential's RandomPassword resources: new values, the
Secrets updated, and the pods that read them rolled (their `credentials-digest` annotation changes;
the clients of Redis only after Redis itself). What each credential is and what takes the new value:

  redis           the in-cluster Redis's password: Redis restarts with it (requirepass is read at
                  start), then the API server, file server, async-delete and the Redis exporter.
  elasticsearch   the in-cluster Elasticsearch's `elastic` password: the nodes restart with it (each
                  takes it as bootstrap.password at start; the program never stores a password in the
                  security index), then the API server, async-delete and the exporter.
  clearml-keys    the ClearML system users' access keys and secrets (apiserver, tests, services agent,
                  file server, web server, Kubernetes agent): the API server sets them on its users at
                  start (each user's old credentials are dropped), then the file server and the agent.
  session-secret  the API server's session cookie secret: sessions end, users log in again.
  token-secret    the secret that signs the API's tokens: every token issued before stops working.
  admin-password  the fixed user `admin`'s password.

MongoDB's generated root password is refused here: MongoDB keeps its root user in its data from its
first start, and the program has no step yet that changes it there before the clients roll (README).
Exit status: 0 with the lines printed, 1 with the reason on stderr.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.credentials import ROTATION_GROUPS, resource_suffix

PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
CREDENTIALS_TYPE = "clearml:credentials:Credentials"
# The data tiers whose one generated password `<component>-password` is rotatable, by credential name.
STORES = {"redis": "clearml:redis:Redis", "elasticsearch": "clearml:elasticsearch:Elasticsearch"}
CREDENTIALS = (*STORES, *ROTATION_GROUPS)
NOT_ROTATABLE = {
    "mongodb": "the in-cluster MongoDB keeps its root user's password in its data (set at first start from "
               "the Secret) and this program has no step that changes it there yet",
}


def replacements(resources: list[dict], credential: str) -> list[str]:
    """The URNs of the RandomPassword resources generating `credential`, from a stack export's resources."""
    by_urn = {r["urn"]: r for r in resources}
    wanted: list[str] = []
    for resource in resources:
        parent = by_urn.get(resource.get("parent", ""))
        if resource["type"] != PASSWORD_TYPE or parent is None:
            continue
        name, parent_name = resource["urn"].rsplit("::", 1)[1], parent["urn"].rsplit("::", 1)[1]
        suffix = name[len(parent_name) + 1:]
        if credential in STORES:
            hit = parent["type"] == STORES[credential] and suffix == "password"
        else:
            hit = parent["type"] == CREDENTIALS_TYPE and suffix in {resource_suffix(k) for k in ROTATION_GROUPS[credential]}
        if hit:
            wanted.append(resource["urn"])
    return wanted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("credential", help=", ".join(CREDENTIALS))
    args = parser.parse_args()
    if args.credential in NOT_ROTATABLE:
        print(f"error: {args.credential} cannot be rotated by this command: {NOT_ROTATABLE[args.credential]} "
              "(README, \"Rotating credentials\")", file=sys.stderr)
        return 1
    if args.credential not in CREDENTIALS:
        print(f"error: unknown credential {args.credential!r}: one of {', '.join(CREDENTIALS)}", file=sys.stderr)
        return 1
    export = subprocess.run(["pulumi", "stack", "export", "--stack", args.stack], capture_output=True, text=True)
    if export.returncode != 0:
        print(f"error: pulumi stack export --stack {args.stack} failed: {export.stderr.strip()}", file=sys.stderr)
        return 1
    resources = json.loads(export.stdout).get("deployment", {}).get("resources") or []
    urns = replacements(resources, args.credential)
    if not urns:
        where = f"{args.credential}.external is set, or the stack is not deployed" if args.credential in STORES \
            else "the stack is not deployed"
        print(f"error: stack {args.stack} has no generated {args.credential} to rotate ({where})", file=sys.stderr)
        return 1
    print("\n".join(f"--replace={urn}" for urn in urns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
