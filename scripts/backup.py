#!/usr/bin/env python3
"""Backups of one stack, by hand: run one now, list the sets, restore one.

    scripts/backup.py --stack <stack> now                       a backup set now (the CronJob's Job)
    scripts/backup.py --stack <stack> list                      the sets on the backup volume
    scripts/backup.py --stack <stack> restore --from <ID|latest> --yes

Normally through `scripts/pulumi.sh backup|backups|restore <stack> ...` (`make backup`, `make
restore`), which picks the cluster and the stack as for `up`. Every pod is the backup CronJob's own
pod template (restricted-v2, the program's Secrets and volumes) with another command, so nothing here
holds a credential or builds a pod of its own.

`restore`, in this order: checks that the set exists and is complete; suspends the CronJob; scales
the writers (API server, file server, async delete, agent glue) to zero and waits for their pods to
end; runs the restore Job (MongoDB, Elasticsearch, the file server's volume; components/runtime/backup.py);
then, whatever happened, scales the writers back to their replicas, resumes the CronJob, and waits
until the writers are available again. Exit status 0 done, 1 failed (the reason on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import copy
import datetime
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.labels import selector_labels
from components.tiers import AGENT, APISERVER, ASYNC_DELETE, BACKUP, FILESERVER
from preflight.__main__ import stack_config
from preflight.cluster import Unreachable, connect
from settings import ConfigError, settings_from_config
from vocabulary.clearml import SERVER_NAME

CRON_JOB = f"{SERVER_NAME}-{BACKUP}"
WRITERS = (APISERVER, FILESERVER, ASYNC_DELETE, AGENT)
COMPONENT_LABEL = "app.kubernetes.io/component"


class Failed(Exception):
    pass


def log(message: str) -> None:
    print(f"backup: {message}", file=sys.stderr, flush=True)


class Backups:
    def __init__(self, api_client: Any, namespace: str):
        from kubernetes import client

        # Read as the API server answers: every field of a status or metadata may be absent (Any, not the
        # client's Optional-everywhere models).
        self.api = api_client
        self.batch: Any = client.BatchV1Api(api_client)
        self.core: Any = client.CoreV1Api(api_client)
        self.apps: Any = client.AppsV1Api(api_client)
        self.namespace = namespace

    # ---- Jobs from the CronJob's template ---------------------------------------------------------

    def job_template(self) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        try:
            cron = self.batch.read_namespaced_cron_job(CRON_JOB, self.namespace)
        except ApiException as err:
            if err.status == 404:
                raise Failed(f"no CronJob {self.namespace}/{CRON_JOB}: set backup.enabled and run `up` first") from None
            raise
        return self.api.sanitize_for_serialization(cron.spec.job_template)

    def run(self, purpose: str, args: list[str], *, writable_files: bool = False, timeout: int = 7200) -> str:
        """Runs the backup pod with `args` (for backup.py) as a Job, waits for it, returns its log."""
        template = self.job_template()
        spec = copy.deepcopy(template["spec"])
        pod = spec["template"]["spec"]
        container = pod["containers"][0]
        container["command"] = container["command"][:2] + args
        if writable_files:
            for mount in container["volumeMounts"]:
                if mount["name"] == "files":
                    mount["readOnly"] = False
            for volume in pod["volumes"]:
                if volume["name"] == "files":
                    volume["persistentVolumeClaim"].pop("readOnly", None)
            # The file server is stopped: its ReadWriteOnce volume attaches wherever this pod runs.
            _drop_fileserver_affinity(pod)
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
        name = f"{CRON_JOB}-{purpose}-{stamp}"
        labels = dict(template.get("metadata", {}).get("labels") or {})
        spec["ttlSecondsAfterFinished"] = 7 * 24 * 3600
        body = {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels,
                             "annotations": {"cronjob.kubernetes.io/instantiate": "manual"}},
                "spec": spec}
        self.batch.create_namespaced_job(self.namespace, body)
        log(f"job {name} started")
        deadline = time.monotonic() + timeout
        while True:
            status = self.batch.read_namespaced_job_status(name, self.namespace).status
            if status.succeeded:
                return self.logs(name)
            if status.failed:
                raise Failed(f"job {name} failed:\n{self.logs(name)}")
            if time.monotonic() > deadline:
                raise Failed(f"job {name} still running after {timeout}s:\n{self.logs(name)}")
            time.sleep(2)

    def logs(self, job: str) -> str:
        pods = self.core.list_namespaced_pod(self.namespace, label_selector=f"job-name={job}").items
        return "".join(self.core.read_namespaced_pod_log(p.metadata.name, self.namespace) or "" for p in pods)

    # ---- the writers and the schedule ---------------------------------------------------------------

    def writers(self) -> dict[str, int]:
        found = {}
        for component in WRITERS:
            selector = ",".join(f"{k}={v}" for k, v in selector_labels(component).items())
            for d in self.apps.list_namespaced_deployment(self.namespace, label_selector=selector).items:
                found[d.metadata.name] = d.spec.replicas or 0
        return found

    def scale(self, replicas: dict[str, int]) -> None:
        for name, count in replicas.items():
            self.apps.patch_namespaced_deployment_scale(name, self.namespace, {"spec": {"replicas": count}})

    def wait_stopped(self, names: list[str], timeout: int = 600) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = []
            for name in names:
                selector = self.apps.read_namespaced_deployment(name, self.namespace).spec.selector.match_labels
                query = ",".join(f"{k}={v}" for k, v in selector.items())
                left += [p.metadata.name for p in self.core.list_namespaced_pod(self.namespace, label_selector=query).items]
            if not left:
                return
            if time.monotonic() > deadline:
                raise Failed(f"pods still running after {timeout}s: {', '.join(left)}")
            time.sleep(2)

    def wait_available(self, replicas: dict[str, int], timeout: int = 900) -> None:
        deadline = time.monotonic() + timeout
        while True:
            waiting = [name for name, count in replicas.items()
                       if (self.apps.read_namespaced_deployment(name, self.namespace).status.available_replicas or 0) < count]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise Failed(f"not available after {timeout}s: {', '.join(waiting)}")
            time.sleep(3)

    def suspend(self, suspended: bool) -> None:
        self.batch.patch_namespaced_cron_job(CRON_JOB, self.namespace, {"spec": {"suspend": suspended}})


def _drop_fileserver_affinity(pod: dict[str, Any]) -> None:
    fileserver = selector_labels(FILESERVER)
    affinity = pod.get("affinity") or {}
    required = (affinity.get("podAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if required:
        kept = [t for t in required if (t.get("labelSelector") or {}).get("matchLabels") != fileserver]
        affinity["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = kept or None


def sets(backups: Backups) -> list[tuple[str, bool]]:
    out = []
    for line in backups.run("list", ["list"], timeout=600).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1] in ("complete", "incomplete"):
            out.append((parts[0], parts[1] == "complete"))
    return out


def restore(backups: Backups, wanted: str) -> str:
    complete = [set_id for set_id, done in sets(backups) if done]
    if not complete:
        raise Failed("there is no complete backup set to restore")
    set_id = complete[0] if wanted == "latest" else wanted
    if set_id not in complete:
        raise Failed(f"no complete backup set {wanted!r}; complete sets: {', '.join(complete)}")
    started = time.monotonic()
    replicas = backups.writers()
    log(f"restoring set {set_id}: stopping {', '.join(sorted(replicas))}")
    backups.suspend(True)
    try:
        backups.scale(dict.fromkeys(replicas, 0))
        backups.wait_stopped(list(replicas))
        print(backups.run("restore", ["restore", "--from", set_id], writable_files=True), end="", flush=True)
    finally:
        log(f"starting {', '.join(sorted(replicas))} again")
        backups.scale(replicas)
        backups.suspend(False)
    backups.wait_available({n: c for n, c in replicas.items() if c})
    log(f"restored set {set_id} in {time.monotonic() - started:.0f}s")
    return set_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/backup.py", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("now", help="run a backup set now")
    sub.add_parser("list", help="list the backup sets")
    restore_cmd = sub.add_parser("restore", help="restore every store from one set")
    restore_cmd.add_argument("--from", dest="source", required=True, help="a set ID, or latest")
    restore_cmd.add_argument("--yes", action="store_true", help="confirm: the stores' current data is replaced")
    args = parser.parse_args(argv)
    if args.command == "restore" and not args.yes:
        print("error: restore replaces the data of MongoDB, Elasticsearch and the file server: add --yes",
              file=sys.stderr)
        return 2
    try:
        config, secret_keys = stack_config(args.stack)
        settings = settings_from_config(config, secret_keys)
        if not settings.backup.enabled:
            raise Failed(f"backups are off in stack {args.stack}: set backup.enabled and run `up`")
        backups = Backups(connect(config).api_client, settings.namespace.name)
        if args.command == "now":
            started = time.monotonic()
            print(backups.run("now", ["backup"], timeout=settings.backup.deadline_seconds + 300), end="", flush=True)
            log(f"backup done in {time.monotonic() - started:.0f}s")
        elif args.command == "list":
            for set_id, done in sets(backups):
                print(set_id, "complete" if done else "incomplete")
        else:
            restore(backups, args.source)
    except (ConfigError, Unreachable, Failed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
