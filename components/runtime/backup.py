"""Backup sets of a ClearML deployment, and their restore (components/backup.py runs it in the ClearML
server image, which has Python, pymongo and its bson module; nothing else is needed).

    backup.py backup              write a new set, then keep the newest $BACKUP_KEEP complete sets
    backup.py restore --from ID   restore every store from set ID (`latest`: the newest complete one)
    backup.py list                the sets, newest first, one per line: ID, complete or not, sizes

A set is the directory $BACKUP_ROOT/sets/<ID> (ID: the UTC start time, 20261202T021700Z) holding
  mongodb/<db>/<collection>.bson.gz and .metadata.json.gz   ClearML's databases, in the layout of
                                                             `mongodump --gzip` (canonical extended JSON)
  files.tar.gz                                               the file server's volume
  manifest.json                                              written last: the set is complete
and, when $BACKUP_ELASTIC_URL is set, the Elasticsearch snapshot <id> (the ID in lower case) in the
repository $BACKUP_ELASTIC_REPOSITORY, registered as $BACKUP_ELASTIC_REPOSITORY_SETTINGS says (JSON: an
`fs` repository on a volume of the Elasticsearch nodes, their `path.repo`, which this Job never mounts;
or an `s3` repository of the nodes' S3 client), over verified TLS.

Credentials come from the environment (Secret references), never from the command line, and are
never printed. The restore expects the writers (API server, file server, async delete, agent) to be
stopped: scripts/backup.py stops them, runs this, and starts them again.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import gzip
import json
import os
import shutil
import ssl
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any, cast

# ClearML's databases (clearml-server apiserver/config/default/hosts.conf: hosts.mongo.backend, .auth).
DATABASES = ("backend", "auth")
SET_DIRS = "sets"
MANIFEST = "manifest.json"
FILES_ARCHIVE = "files.tar.gz"
FORMAT = 1


def log(message: str) -> None:
    print(f"{datetime.datetime.now(datetime.UTC):%H:%M:%S} {message}", flush=True)


def new_set_id(now: datetime.datetime | None = None) -> str:
    return (now or datetime.datetime.now(datetime.UTC)).strftime("%Y%m%dT%H%M%SZ")


# ---- the sets on the volume ------------------------------------------------------------------------

def sets(root: Path) -> list[tuple[str, bool]]:
    """(ID, complete) of every set under `root`, newest first."""
    base = root / SET_DIRS
    if not base.is_dir():
        return []
    found = [(p.name, (p / MANIFEST).is_file()) for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(found, reverse=True)


def retention(found: list[tuple[str, bool]], keep: int) -> tuple[list[str], list[str]]:
    """(kept, removed) IDs: the newest `keep` complete sets stay; every older set goes, and an
    incomplete set goes once a newer complete one exists (a run that failed). An incomplete set newer
    than every complete one stays (it may be the run in progress)."""
    complete = [i for i, done in found if done]
    kept = complete[:keep]
    newest_complete = complete[0] if complete else None
    removed = [set_id for set_id, done in found if set_id not in kept
               and (done or (newest_complete is not None and set_id < newest_complete))]
    return kept, removed


def resolve(root: Path, wanted: str) -> str:
    complete = [i for i, done in sets(root) if done]
    if wanted == "latest":
        if not complete:
            sys.exit("restore: there is no complete backup set yet")
        return complete[0]
    if wanted not in complete:
        listing = ", ".join(complete) or "none"
        sys.exit(f"restore: no complete backup set {wanted!r} (complete sets: {listing})")
    return wanted


# ---- MongoDB: mongodump's --gzip directory layout, with pymongo ---------------------------------------

def _databases(uri: str) -> list[str]:
    """ClearML's databases, plus the one the connection string names (ClearML then uses it for both)."""
    path = urllib.parse.urlsplit(uri).path.lstrip("/")
    return sorted({*DATABASES, *([path] if path else [])})


def mongo_dump(client: Any, uri: str, out: Path) -> dict[str, int]:
    from bson import json_util  # the server image's pymongo

    counts: dict[str, int] = {}
    for db_name in _databases(uri):
        db = client[db_name]
        target = out / db_name
        target.mkdir(parents=True, exist_ok=True)
        for name in sorted(db.list_collection_names()):
            if name.startswith("system."):
                continue
            collection = db[name]
            n = 0
            with gzip.open(target / f"{name}.bson.gz", "wb") as f:
                for raw in collection.find_raw_batches():
                    f.write(raw)
                    n += _count_documents(raw)
            indexes = [dict(i) for i in collection.list_indexes()]
            metadata = {"indexes": indexes, "collectionName": name, "type": "collection"}
            with gzip.open(target / f"{name}.metadata.json.gz", "wt") as f:
                f.write(json_util.dumps(metadata, json_options=json_util.CANONICAL_JSON_OPTIONS))
            counts[f"{db_name}.{name}"] = n
    return counts


def _count_documents(raw: bytes) -> int:
    """Documents in a batch of concatenated BSON documents (each starts with its int32 length)."""
    n = offset = 0
    while offset < len(raw):
        offset += int.from_bytes(raw[offset:offset + 4], "little")
        n += 1
    return n


def mongo_restore(client: Any, source: Path) -> dict[str, int]:
    from bson import decode_file_iter, json_util

    counts: dict[str, int] = {}
    for db_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        db = client[db_dir.name]
        for existing in db.list_collection_names():
            if not existing.startswith("system."):
                db.drop_collection(existing)
        for dump in sorted(db_dir.glob("*.bson.gz")):
            name = dump.name[: -len(".bson.gz")]
            collection = db[name]
            n, batch = 0, list[Any]()
            with gzip.open(dump, "rb") as f:
                for doc in decode_file_iter(cast(IO[bytes], f)):
                    batch.append(doc)
                    if len(batch) == 1000:
                        collection.insert_many(batch, ordered=True)
                        n, batch = n + len(batch), []
            if batch:
                collection.insert_many(batch, ordered=True)
                n += len(batch)
            meta_file = db_dir / f"{name}.metadata.json.gz"
            if meta_file.is_file():
                with gzip.open(meta_file, "rt") as f:
                    metadata = json_util.loads(f.read())
                for index in metadata.get("indexes", []):
                    if index.get("name") == "_id_":
                        continue
                    options = {k: v for k, v in index.items() if k not in ("key", "v", "ns")}
                    collection.create_index(list(index["key"].items()), **options)
            counts[f"{db_dir.name}.{name}"] = n
    return counts


def mongo_client(uri: str) -> Any:
    import pymongo

    return pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)


# ---- Elasticsearch: snapshots in an `fs` repository, over verified TLS -------------------------------

class Elastic:
    def __init__(self, url: str, username: str, password: str, ca_file: str):
        self.url = url.rstrip("/")
        self.context = ssl.create_default_context(cafile=ca_file)  # verifies the chain and the host name
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200,)) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self.headers)
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=3600) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code in ok:
                return json.loads(err.read() or b"null")
            raise SystemExit(f"elasticsearch: {method} {path} answered {err.code}: {err.read()[:500]!r}") from None


def elastic_from_env() -> Elastic | None:
    url = os.environ.get("BACKUP_ELASTIC_URL")
    if not url:
        return None
    return Elastic(url, os.environ["BACKUP_ELASTIC_USERNAME"], os.environ["BACKUP_ELASTIC_PASSWORD"],
                   os.environ["BACKUP_ELASTIC_CA_FILE"])


def ensure_repository(es: Elastic, repository: str) -> None:
    es.call("PUT", f"/_snapshot/{repository}", json.loads(os.environ["BACKUP_ELASTIC_REPOSITORY_SETTINGS"]))


def snapshot_name(set_id: str) -> str:
    """The set's snapshot: Elasticsearch wants snapshot names in lower case (20261202t021700z)."""
    return set_id.lower()


def elastic_snapshot(es: Elastic, repository: str, snapshot: str) -> dict[str, Any]:
    body = {"indices": "*,-.*", "include_global_state": False}
    answer = es.call("PUT", f"/_snapshot/{repository}/{snapshot}?wait_for_completion=true", body)
    info = answer["snapshot"]
    if info["state"] != "SUCCESS" or info["shards"]["failed"]:
        raise SystemExit(f"elasticsearch: snapshot {snapshot} ended {info['state']} with {info['shards']} shards")
    return {"indices": sorted(info["indices"]), "shards": info["shards"]["successful"]}


def elastic_restore(es: Elastic, repository: str, snapshot: str) -> list[str]:
    info = es.call("GET", f"/_snapshot/{repository}/{snapshot}")["snapshots"][0]
    # The indices now, without the system ones: what the set does not have must go too.
    current = [i["index"] for i in es.call("GET", "/_cat/indices?format=json&expand_wildcards=all")
               if not i["index"].startswith(".")]
    for index in current:
        es.call("DELETE", f"/{urllib.parse.quote(index)}")
    body = {"indices": "*,-.*", "include_global_state": False}
    answer = es.call("POST", f"/_snapshot/{repository}/{snapshot}/_restore?wait_for_completion=true", body)
    shards = answer["snapshot"]["shards"]
    if shards["failed"]:
        raise SystemExit(f"elasticsearch: restore of {snapshot}: {shards}")
    return sorted(info["indices"])


def prune_snapshots(es: Elastic, repository: str, kept: list[str]) -> list[str]:
    """Delete the snapshots of this program's naming (set IDs) whose sets are not in `kept`."""
    answer = es.call("GET", f"/_snapshot/{repository}/_all", ok=(200, 404)) or {}
    keep = {snapshot_name(k) for k in kept}
    removed = []
    for snap in answer.get("snapshots", []):
        name = snap["snapshot"]
        if len(name) == 16 and name.endswith("z") and name[8] == "t" and name[:8].isdigit() and name not in keep:
            es.call("DELETE", f"/_snapshot/{repository}/{name}")
            removed.append(name)
    return removed


# ---- the file server's volume ------------------------------------------------------------------------

def archive_files(source: Path, target: Path) -> int:
    """Archives the volume's content; returns the regular files archived (counted as restore_files does)."""
    with tarfile.open(target, "w:gz") as tar:
        for entry in sorted(source.iterdir()):
            if entry.name != "lost+found":
                tar.add(entry, arcname=entry.name)
        return sum(1 for m in tar.getmembers() if m.isfile())


def restore_files(archive: Path, target: Path) -> int:
    for entry in target.iterdir():
        if entry.name == "lost+found":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            # Only plain files and directories below the target: no links, devices, absolute or `..` paths
            # (what tarfile's "data" filter enforces, which Python before 3.11.4 lacks).
            if member.name.startswith("/") or ".." in Path(member.name).parts or not (member.isfile() or member.isdir()):
                raise SystemExit(f"files: refusing archive member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:
            tar.extractall(target, members=members)  # every member checked above
    return sum(1 for m in members if m.isfile())


# ---- the commands --------------------------------------------------------------------------------------

def backup(root: Path, keep: int, repository: str) -> str:
    set_id = new_set_id()
    target = root / SET_DIRS / set_id
    target.mkdir(parents=True)
    started = time.monotonic()
    manifest: dict[str, Any] = {"format": FORMAT, "id": set_id, "stores": {}}
    if reason := os.environ.get("BACKUP_REASON"):  # the Job before an upgrade says which (components/backup.py)
        manifest["reason"] = reason
        log(f"backup set {set_id}: {reason}")
    log(f"backup set {set_id}: MongoDB")
    uri = os.environ["CLEARML_MONGODB_SERVICE_CONNECTION_STRING"]
    manifest["stores"]["mongodb"] = mongo_dump(mongo_client(uri), uri, target / "mongodb")
    es = elastic_from_env()
    if es:
        log(f"backup set {set_id}: Elasticsearch snapshot")
        ensure_repository(es, repository)
        manifest["stores"]["elasticsearch"] = {"repository": repository, "snapshot": snapshot_name(set_id),
                                               **elastic_snapshot(es, repository, snapshot_name(set_id))}
    files_dir = Path(os.environ.get("BACKUP_FILES_DIR", "/mnt/fileserver"))
    log(f"backup set {set_id}: file server volume")
    manifest["stores"]["files"] = {"files": archive_files(files_dir, target / FILES_ARCHIVE)}
    manifest["seconds"] = round(time.monotonic() - started, 1)
    (target / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    kept, removed = retention(sets(root), keep)
    for old in removed:
        shutil.rmtree(root / SET_DIRS / old)
    if es:
        removed_snapshots = prune_snapshots(es, repository, kept)
        if removed_snapshots:
            log(f"deleted snapshots {', '.join(removed_snapshots)}")
    log(f"backup set {set_id} complete in {manifest['seconds']}s; kept {', '.join(kept)}"
        + (f"; removed {', '.join(removed)}" if removed else ""))
    print(json.dumps({"set": set_id, "stores": manifest["stores"]}, sort_keys=True), flush=True)
    return set_id


def restore(root: Path, wanted: str, repository: str) -> None:
    set_id = resolve(root, wanted)
    source = root / SET_DIRS / set_id
    manifest = json.loads((source / MANIFEST).read_text())
    started = time.monotonic()
    log(f"restore set {set_id}: MongoDB")
    uri = os.environ["CLEARML_MONGODB_SERVICE_CONNECTION_STRING"]
    restored: dict[str, Any] = {"mongodb": mongo_restore(mongo_client(uri), source / "mongodb")}
    es = elastic_from_env()
    if "elasticsearch" in manifest["stores"]:
        if not es:
            sys.exit("restore: the set has an Elasticsearch snapshot but no Elasticsearch is configured")
        log(f"restore set {set_id}: Elasticsearch snapshot")
        ensure_repository(es, repository)
        restored["elasticsearch"] = elastic_restore(es, repository, manifest["stores"]["elasticsearch"]["snapshot"])
    log(f"restore set {set_id}: file server volume")
    restored["files"] = restore_files(source / FILES_ARCHIVE, Path(os.environ.get("BACKUP_FILES_DIR", "/mnt/fileserver")))
    log(f"restore of set {set_id} complete in {time.monotonic() - started:.1f}s")
    print(json.dumps({"restored": set_id, "stores": restored}, sort_keys=True), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("backup")
    sub.add_parser("list")
    restore_cmd = sub.add_parser("restore")
    restore_cmd.add_argument("--from", dest="source", required=True)
    args = parser.parse_args(argv)
    root = Path(os.environ.get("BACKUP_ROOT", "/backups"))
    repository = os.environ.get("BACKUP_ELASTIC_REPOSITORY", "clearml-backups")
    if args.command == "backup":
        backup(root, int(os.environ.get("BACKUP_KEEP", "7")), repository)
    elif args.command == "restore":
        restore(root, args.source, repository)
    else:
        for set_id, done in sets(root):
            print(set_id, "complete" if done else "incomplete", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
