#!/usr/bin/env python3
"""What rotating one credential takes: prints the arguments for `pulumi up` / `pulumi preview`, one per
line (scripts/pulumi.sh rotate; README, "Rotate generated credentials").

    python3 scripts/rotate.py --stack STACK [--config-file FILE] <credential>   (where `pulumi` finds the stack)

Rotation is `pulumi up --replace` of the credential's RandomPassword resources (`--replace=<URN>`
lines): new values, the Secrets updated, and the pods that read them rolled (their `credentials-digest`
annotation changes; the clients of Redis only after Redis itself). MongoDB's root password instead
takes the next `mongodb.rootPasswordGeneration`, which this script sets in the stack's config file
(`pulumi config set --path`, into FILE when given: scripts/pulumi.sh gives a copy for a preview) and
prints nothing for. (Not `pulumi up --config-path --config ...`: the CLI saves such a value by replacing
the whole top-level key, here every other MongoDB setting of the stack.) What each credential is and
what takes the new value:

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
  mongodb         the in-cluster MongoDB's root password: a new generation is generated, the setup Job
                  changes the password inside the database with the previous generation's (MongoDB
                  keeps its users in its data), then the API server, async-delete and the MongoDB
                  exporter roll. Refused while the last generation's setup Job has not succeeded.

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
from preflight.upgrades import setup_job_generation
from settings import PROJECT
from vocabulary.clearml import MONGODB_SETUP_JOB

PASSWORD_TYPE = "random:index/randomPassword:RandomPassword"
CREDENTIALS_TYPE = "clearml:credentials:Credentials"
# The data tiers whose one generated password `<component>-password` is rotatable, by credential name.
STORES = {"redis": "clearml:redis:Redis", "elasticsearch": "clearml:elasticsearch:Elasticsearch"}
# Rotated by a new generation in the config, not by replacing a generator (components/mongodb.py).
MONGODB = "mongodb"
MONGODB_TYPE = "clearml:mongodb:MongoDB"
JOB_TYPE = "kubernetes:batch/v1:Job"
CREDENTIALS = (*STORES, *ROTATION_GROUPS, MONGODB)


class Refused(Exception):
    """A rotation that must not start, with the reason."""


def mongodb_generation(resources: list[dict]) -> int:
    """The root-password generation the in-cluster MongoDB was last deployed with, read from its setup
    Job in a stack export's resources. Refused when there is no in-cluster MongoDB, or when that Job has
    not succeeded (a rotation or a first start not finished: the database may have either password)."""
    components = {r["urn"] for r in resources if r["type"] == MONGODB_TYPE}
    if not components:
        raise Refused("it has no in-cluster MongoDB (mongodb.external is set, or the stack is not deployed): "
                      "an external MongoDB's password is changed in that service, then in the Secret the stack names")
    jobs = [r for r in resources if r["type"] == JOB_TYPE and r.get("parent") in components
            and r["urn"].endswith(f"::{MONGODB_SETUP_JOB}")]
    if not jobs:
        raise Refused("its MongoDB has no setup Job in the state: run `scripts/pulumi.sh up <stack>` first")
    job = jobs[0]
    generation, succeeded = setup_job_generation({**(job.get("inputs") or {}),
                                                  "status": (job.get("outputs") or {}).get("status")})
    if not succeeded:
        raise Refused(f"the MongoDB setup Job of root-password generation {generation} has not succeeded, so the "
                      "database may still have the one before: finish that with `scripts/pulumi.sh up <stack>` "
                      "(the Job's log says why it failed) before a new rotation")
    return generation


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
    parser.add_argument("--config-file", help="the stack config file a mongodb rotation writes (default: the stack's)")
    parser.add_argument("credential", help=", ".join(CREDENTIALS))
    args = parser.parse_args()
    if args.credential not in CREDENTIALS:
        print(f"error: unknown credential {args.credential!r}: one of {', '.join(CREDENTIALS)}", file=sys.stderr)
        return 1
    export = subprocess.run(["pulumi", "stack", "export", "--stack", args.stack], capture_output=True, text=True)
    if export.returncode != 0:
        print(f"error: pulumi stack export --stack {args.stack} failed: {export.stderr.strip()}", file=sys.stderr)
        return 1
    resources = json.loads(export.stdout).get("deployment", {}).get("resources") or []
    if args.credential == MONGODB:
        try:
            generation = mongodb_generation(resources)
        except Refused as refused:
            print(f"error: stack {args.stack}: mongodb cannot be rotated now: {refused}", file=sys.stderr)
            return 1
        key, wanted = f"{PROJECT}:mongodb.rootPasswordGeneration", str(generation + 1)
        command = ["pulumi", "config", "set", "--path", "--stack", args.stack, key, wanted]
        if args.config_file:
            command[3:3] = ["--config-file", args.config_file]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"error: {' '.join(command)} failed: {done.stderr.strip()}", file=sys.stderr)
            return 1
        print(f"mongodb.rootPasswordGeneration: {generation} -> {wanted} in "
              f"{args.config_file or 'the stack config file'}", file=sys.stderr)
        return 0
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
