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

from vocabulary import clearml as cv

from . import credentials as c
from . import runtime
from .workload import env, secret_env

ELASTIC_CLUSTERS = tuple(cluster.upper() for cluster in cv.ELASTIC_CLUSTERS)
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
class RedisPeer:
    """How the ClearML processes reach Redis: `password` from a Secret, `username` an ACL user, and
    with `tls` the server certificate verified (against `ca` if given, else the system CAs)."""

    host: str
    port: int
    password: SecretRef | None = None
    username: str | None = None
    tls: bool = False
    ca: SecretRef | None = None
    # `workload.credential_digest` of a generated password (the in-cluster Redis): its clients roll with it.
    password_digest: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class ElasticPeer:
    """How the ClearML processes reach Elasticsearch: a user and password, or an API key; `ca` the
    CA that signed the server certificate (else the system CAs)."""

    hosts: list[dict]
    username: SecretRef | str | None = None
    password: SecretRef | None = None
    api_key: SecretRef | None = None
    ca: SecretRef | None = None
    # `workload.credential_digest` of a generated password (the in-cluster Elasticsearch): its clients roll with it.
    password_digest: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class Peers:
    """How the ClearML processes reach MongoDB, Redis and Elasticsearch."""

    mongo_connection: SecretRef
    redis: RedisPeer
    elastic: ElasticPeer
    mongo_ca: SecretRef | None = None  # for the connection string's tlsCAFile
    # `workload.credential_digest` of the in-cluster MongoDB's root password: its clients roll with it.
    mongo_digest: pulumi.Input[str] | None = None

    def endpoints(self) -> list[str]:
        """`host:port` pairs a start-up check waits for (MongoDB's come from its connection string)."""
        return [f"{self.redis.host}:{self.redis.port}"] + [f"{h['host']}:{h['port']}" for h in self.elastic.hosts]


def credential_digests(*digests: pulumi.Input[str] | None) -> list[pulumi.Input[str]]:
    """The digests a ClearML server pod rolls on (`workload.pod_template`'s `credentials`): its share of
    the generated ClearML credentials and those of the in-cluster data tiers' passwords it reads (None
    for what is not generated: an external data tier's)."""
    return [d for d in digests if d is not None]


def reader_digests(credentials: pulumi.Input[str] | None, peers: Peers) -> list[pulumi.Input[str]]:
    """`credential_digests` of a pod that reads all three data tiers (the API server, async-delete)."""
    return credential_digests(credentials, peers.redis.password_digest, peers.elastic.password_digest,
                              peers.mongo_digest)


def mongo_env(peers: Peers) -> list[k8s.core.v1.EnvVarArgs]:
    return [secret_env("CLEARML_MONGODB_SERVICE_CONNECTION_STRING", peers.mongo_connection.name, peers.mongo_connection.key)]


def _quoted(value: str) -> str:
    """A HOCON string (ClearML parses every `CLEARML__a__b` value as HOCON)."""
    return json.dumps(value)


def redis_env(redis: RedisPeer, aliases: tuple[str, ...]) -> list[k8s.core.v1.EnvVarArgs]:
    """Host, port and password through clearml-server's override variables (read raw, for every
    alias); the ACL user and TLS as each alias's `hosts.redis.<alias>` keys, which go to
    `redis.StrictRedis(**...)` (redis_manager.py). Certificate and host name checks stay on."""
    out = env({"CLEARML_REDIS_SERVICE_HOST": redis.host, "CLEARML_REDIS_SERVICE_PORT": str(redis.port)})
    if redis.password:
        out.append(secret_env("CLEARML_REDIS_SERVICE_PASSWORD", redis.password.name, redis.password.key))
    for alias in aliases:
        prefix = f"CLEARML__HOSTS__REDIS__{alias.upper()}__"
        if redis.username:
            out += env({prefix + "USERNAME": _quoted(redis.username)})
        if redis.tls:
            out += env({prefix + "SSL": "true", prefix + "SSL_CERT_REQS": "required",
                        prefix + "SSL_CHECK_HOSTNAME": "true"})
            if redis.ca:
                out += env({prefix + "SSL_CA_CERTS": _quoted(cv.REDIS_CA_FILE)})
    return out


# The API key's own variable, which the `args.api_key` keys below reference as `$(...)`: the kubelet
# puts the value in quotes there, so ClearML's HOCON parser reads it as one string (an API key is
# base64, whose `=` and `//` HOCON would otherwise take as syntax).
ELASTIC_API_KEY_ENV = "CLEARML_OPENSHIFT_ELASTIC_API_KEY"


def peer_env(peers: Peers) -> list[k8s.core.v1.EnvVarArgs]:
    """The environment of the processes that run clearml-server's apiserver code."""
    elastic = peers.elastic
    hosts = json.dumps(elastic.hosts, separators=(",", ":"))
    out = mongo_env(peers) + redis_env(peers.redis, cv.APISERVER_REDIS_ALIASES)
    out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__HOSTS": hosts for cluster in ELASTIC_CLUSTERS})
    if any(h["scheme"] == "https" for h in elastic.hosts):
        # Passed to elasticsearch.Elasticsearch(**args) by clearml-server's es_factory: verify the
        # server certificate, against the mounted CA when there is one. Never switched off.
        for cluster in ELASTIC_CLUSTERS:
            out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__VERIFY_CERTS": "true"})
            if elastic.ca:
                out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__CA_CERTS": _quoted(cv.ELASTIC_CA_FILE)})
    if elastic.username is not None and elastic.password is not None:
        user = elastic.username
        out += (env({"CLEARML_ELASTIC_SERVICE_USERNAME": user}) if isinstance(user, str)
                else [secret_env("CLEARML_ELASTIC_SERVICE_USERNAME", user.name, user.key)])
        out.append(secret_env("CLEARML_ELASTIC_SERVICE_PASSWORD", elastic.password.name, elastic.password.key))
    if elastic.api_key:
        out.append(secret_env(ELASTIC_API_KEY_ENV, elastic.api_key.name, elastic.api_key.key))
        out += env({f"CLEARML__HOSTS__ELASTIC__{cluster}__ARGS__API_KEY": f'"$({ELASTIC_API_KEY_ENV})"'
                    for cluster in ELASTIC_CLUSTERS})
    return out


def _ca_volume(name: str, ref: SecretRef | None, file: str
               ) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """One CA certificate (only that key of its Secret, never a private key), mounted as `file`."""
    if not ref:
        return [], []
    directory, base = file.rsplit("/", 1)
    volume = k8s.core.v1.VolumeArgs(name=name, secret=k8s.core.v1.SecretVolumeSourceArgs(
        secret_name=ref.name, default_mode=0o444, items=[k8s.core.v1.KeyToPathArgs(key=ref.key, path=base)]))
    return [volume], [k8s.core.v1.VolumeMountArgs(name=name, mount_path=directory, read_only=True)]


def ca_volumes(peers: Peers) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    """The CA certificates of the data services the apiserver code verifies (Elasticsearch, MongoDB,
    Redis), each where clearml-server's configuration names it."""
    volumes, mounts = [], []
    for name, ref, file in (("elastic-ca", peers.elastic.ca, cv.ELASTIC_CA_FILE),
                            ("mongodb-ca", peers.mongo_ca, cv.MONGODB_CA_FILE),
                            ("redis-ca", peers.redis.ca, cv.REDIS_CA_FILE)):
        v, m = _ca_volume(name, ref, file)
        volumes += v
        mounts += m
    return volumes, mounts


def redis_ca_volumes(redis: RedisPeer) -> tuple[list[k8s.core.v1.VolumeArgs], list[k8s.core.v1.VolumeMountArgs]]:
    return _ca_volume("redis-ca", redis.ca, cv.REDIS_CA_FILE)


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
WAIT_SCRIPT = runtime.read("wait_for_peers.py")


def wait_command(*endpoints: str) -> list[str]:
    return ["python3", "-c", WAIT_SCRIPT, *endpoints]
