"""The explicit `CLEARML_*` environment of the server pods, built from the data tiers' outputs.

ClearML reads peers from env (clearml-server `apiserver/database/__init__.py`, `es_factory.py`,
`redis_manager.py`) and any `CLEARML__a__b=value` as config key `a.b` (HOCON-parsed). Everything a
pod needs is set here explicitly; secrets only ever arrive through `secretKeyRef`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from . import credentials as c
from .workload import env, secret_env

ELASTIC_CLUSTERS = ("EVENTS", "WORKERS", "DATASETS", "LOGS")
# Process and write-path environment shared by every container of the ClearML image.
PROCESS_ENV = {
    "PYTHONDONTWRITEBYTECODE": "1",  # the image's code directories are read-only
    "PYTHONUNBUFFERED": "1",
    "TMPDIR": "/tmp",
    "HOME": "/tmp",
    # Logs go to stdout; the rotating log file would only fill an emptyDir nobody reads.
    "CLEARML__logging__handlers__text_file__filename": "/dev/null",
}


@dataclass(frozen=True)
class SecretRef:
    name: pulumi.Input[str]
    key: str


@dataclass(frozen=True)
class Peers:
    """How the ClearML processes reach MongoDB, Redis and Elasticsearch."""

    mongo_connection: SecretRef
    redis_host: str
    redis_port: int
    redis_password: SecretRef | None
    elastic_hosts: list[dict]
    elastic_username: SecretRef | None = None
    elastic_password: SecretRef | None = None
    elastic_ca: SecretRef | None = None  # CA that signed the Elasticsearch server certificate

    def endpoints(self) -> list[str]:
        """`host:port` pairs a start-up check waits for (MongoDB's come from its connection string)."""
        return [f"{self.redis_host}:{self.redis_port}"] + [f"{h['host']}:{h['port']}" for h in self.elastic_hosts]


def mongo_env(peers: Peers) -> list[k8s.core.v1.EnvVarArgs]:
    return [secret_env("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", peers.mongo_connection.name, peers.mongo_connection.key)]


def peer_env(peers: Peers) -> list[k8s.core.v1.EnvVarArgs]:
    hosts = json.dumps(peers.elastic_hosts, separators=(",", ":"))
    out = mongo_env(peers)
    out += env({"CLEARML_REDIS_SERVICE_HOST": peers.redis_host, "CLEARML_REDIS_SERVICE_PORT": str(peers.redis_port)})
    if peers.redis_password:
        out.append(secret_env("CLEARML_REDIS_SERVICE_PASSWORD", peers.redis_password.name, peers.redis_password.key))
    out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__HOSTS": hosts for cluster in ELASTIC_CLUSTERS})
    if any(h["scheme"] == "https" for h in peers.elastic_hosts):
        # Passed to elasticsearch.Elasticsearch(**args) by clearml-server's es_factory: verify the
        # server certificate, against the mounted CA when there is one. Never switched off.
        for cluster in ELASTIC_CLUSTERS:
            out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__VERIFY_CERTS": "true"})
            if peers.elastic_ca:
                out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__CA_CERTS": f'"{ELASTIC_CA_DIR}/ca.crt"'})
    if peers.elastic_username and peers.elastic_password:
        out.append(secret_env("CLEARML_ELASTIC_SERVICE_USERNAME", peers.elastic_username.name, peers.elastic_username.key))
        out.append(secret_env("CLEARML_ELASTIC_SERVICE_PASSWORD", peers.elastic_password.name, peers.elastic_password.key))
    return out


ELASTIC_CA_DIR = "/etc/clearml/elastic-ca"


def elastic_ca_volumes(peers: Peers) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """The CA certificate (only that key of its Secret, never a private key) for `ca_certs`."""
    if not peers.elastic_ca:
        return [], []
    volume = k8s.core.v1.VolumeArgs(name="elastic-ca", secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=peers.elastic_ca.name, default_mode=0o444,
        items=[k8s.core.v1.KeyToPathArgs(key=peers.elastic_ca.key, path="ca.crt")]))
    return [volume], [k8s.core.v1.VolumeMountArgs(name="elastic-ca", mount_path=ELASTIC_CA_DIR, read_only=True)]


SECURE_CONFIG_DIR = "/etc/clearml/secure"
# Where the server processes read configuration files (clearml-server apiserver/config/basic.py and
# fileserver/config/basic.py: `CLEARML_CONFIG_DIR`, `:`-separated, replaces the default
# /opt/clearml/config): the program's ConfigMap, then the generated credentials.
CONFIG_DIRS = f"/opt/clearml/config:{SECURE_CONFIG_DIR}"


def secure_config(secret: pulumi.Input[str], reader: str
                  ) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs], list[k8s.core.v1.EnvVarArgs]]:
    """The generated credentials `reader` needs, as configuration files (`credentials.CONFIG_FILES`)
    in SECURE_CONFIG_DIR: the volume (only those keys of the Secret, readable by the pod's group),
    its mount and `CLEARML_CONFIG_DIR`."""
    items = [k8s.core.v1.KeyToPathArgs(key=key, path=path) for key, path in c.CONFIG_FILES[reader].items()]
    volume = k8s.core.v1.VolumeArgs(name="secure-config", secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=secret, default_mode=0o440, items=items))
    mount = k8s.core.v1.VolumeMountArgs(name="secure-config", mount_path=SECURE_CONFIG_DIR, read_only=True)
    return [volume], [mount], env({"CLEARML_CONFIG_DIR": CONFIG_DIRS})


def url_prefixes_env(files_url: str) -> list[k8s.core.v1.EnvVarArgs]:
    """async-delete removes only artifacts whose URL starts with one of these: the public files URL."""
    return env({"CLEARML__services__async_urls_delete__fileserver__url_prefixes": json.dumps([files_url])})


# Waits (at most 600 seconds) until every TCP endpoint answers, and every `http://` URL answers 200.
# MongoDB hosts come from the connection string in the environment, so the script never sees or
# prints the password.
WAIT_SCRIPT = r"""
import os, socket, sys, time, urllib.request
targets = [t for t in sys.argv[1:] if t]
conn = os.environ.get("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", "")
if conn.startswith("mongodb://"):
    netloc = conn[len("mongodb://"):].split("/", 1)[0].rsplit("@", 1)[-1]
    targets += [h if ":" in h else h + ":27017" for h in netloc.split(",")]
deadline = time.time() + 600
for target in targets:
    host, port = target.rsplit(":", 1)
    while True:
        try:
            if target.startswith("http://"):
                urllib.request.urlopen(target, timeout=5).close()
            else:
                socket.create_connection((host, int(port)), 3).close()
            print("reachable:", target, flush=True)
            break
        except OSError as err:
            if time.time() > deadline:
                sys.exit("gave up waiting for %s: %s" % (target, err))
            print("waiting for", target, "-", err, flush=True)
            time.sleep(3)
"""


def wait_command(*endpoints: str) -> list[str]:
    return ["python3", "-c", WAIT_SCRIPT, *endpoints]
