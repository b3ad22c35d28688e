"""The data tiers a stack runs: each of MongoDB, Redis and Elasticsearch in the cluster (its
component), or the team's own service (its `external` settings), and how the ClearML processes reach
them (`Peers`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pulumi
from pydantic import SecretStr

from settings import Settings
from settings.external import SecretKeyRef, literal_credentials
from vocabulary.clearml import data_tier_name

from .clearml_env import ElasticPeer, Peers, RedisPeer, SecretRef
from .context import TierContext
from .elasticsearch import Elasticsearch, ElasticsearchArgs, S3Client
from .external_credentials import ExternalCredentials, ExternalCredentialsArgs, secret_ref
from .mongodb import MongoDB, MongoDBArgs
from .redis import Redis, RedisArgs
from .velero import BackupHook


@dataclass(frozen=True)
class DataTiers:
    peers: Peers
    # `peers` for the backup, which must not wait for a data tier's StatefulSet or setup Job (the backup
    # before an upgrade runs before they roll): the in-cluster MongoDB's and Elasticsearch's credentials
    # as created.
    backup_peers: Peers
    # The in-cluster Elasticsearch's snapshot repository (`PUT _snapshot`'s body), when backups are on (None:
    # none, or external).
    snapshot_repository: dict | None = None
    # What Velero runs in the in-cluster data tiers' pods around copying their volumes (backup.mechanism velero).
    backup_hooks: tuple[BackupHook, ...] = ()


def data_tiers(name: str, settings: Settings, context: TierContext, internal_issuer: dict[str, str],
               child: pulumi.ResourceOptions) -> DataTiers:
    """Deploys the in-cluster data tiers (children of `child.parent`) and returns how ClearML reaches
    every data tier. Credentials given as Pulumi secrets go into a Secret of the program's; the others
    are the team's Secrets, referenced as they are."""
    ns = context.namespace
    tls = settings.tls
    given = dict(literal_credentials(settings))
    store = ExternalCredentials(f"{name}-external-credentials", ExternalCredentialsArgs(
        namespace=ns, values=given), opts=child) if given else None

    def credential(path: str, value: SecretKeyRef | SecretStr) -> SecretRef:
        if isinstance(value, SecretStr):
            if store is None:  # cannot be: literal_credentials lists every value given in the stack
                raise AssertionError(f"{path} has no place in the credentials Secret")
            return store.ref(path)
        return SecretRef(name=value.name, key=value.key)

    def optional(path: str, value: SecretKeyRef | SecretStr | None) -> SecretRef | None:
        return None if value is None else credential(path, value)

    hooks: list[BackupHook] = []
    mongo_connection: SecretRef
    mongo_digest = None
    if settings.mongodb.external:
        mongo_ext = settings.mongodb.external
        mongo_connection = backup_mongo = credential("mongodb.external.connectionString", mongo_ext.connection_string)
        mongo_ca = secret_ref(mongo_ext.ca)
    else:
        mongo = MongoDB(data_tier_name(name, "mongodb"), MongoDBArgs(
            context=context, settings=settings.mongodb), opts=child)
        mongo_connection, mongo_ca, mongo_digest = mongo.connection, None, mongo.password_digest
        backup_mongo = mongo.connection_now
        hooks.append(mongo.backup_hook)

    if settings.redis.external:
        redis_ext = settings.redis.external
        redis_peer = RedisPeer(host=redis_ext.host, port=redis_ext.port,
                               password=optional("redis.external.password", redis_ext.password),
                               username=redis_ext.username, tls=redis_ext.tls, ca=secret_ref(redis_ext.ca))
    else:
        redis = Redis(data_tier_name(name, "redis"), RedisArgs(
            context=context, settings=settings.redis), opts=child)
        redis_peer = RedisPeer(host=redis.host, port=redis.port,
                               password=SecretRef(name=redis.password_secret, key=redis.password_key),
                               password_digest=redis.password_digest)

    snapshot_repository = None
    if settings.elasticsearch.external:
        elastic_ext = settings.elasticsearch.external
        elastic = ElasticPeer(
            hosts=[h.model_dump() for h in elastic_ext.hosts],
            username=elastic_ext.username if isinstance(elastic_ext.username, str) else secret_ref(elastic_ext.username),
            password=optional("elasticsearch.external.password", elastic_ext.password),
            api_key=optional("elasticsearch.external.apiKey", elastic_ext.api_key), ca=secret_ref(elastic_ext.ca))
        backup_elastic = elastic
    else:
        bucket = settings.backup.elasticsearch_s3 if settings.backup.enabled else None
        s3 = S3Client(settings=bucket, access_key=credential("backup.elasticsearchS3.accessKey", bucket.access_key),
                      secret_key=credential("backup.elasticsearchS3.secretKey", bucket.secret_key)) if bucket else None
        in_cluster = Elasticsearch(data_tier_name(name, "elasticsearch"), ElasticsearchArgs(
            context=context, settings=settings.elasticsearch, issuer=internal_issuer, tls=tls,
            snapshots=settings.backup.snapshot_volume, snapshots_kept=settings.backup.keep, s3=s3), opts=child)
        snapshot_repository = in_cluster.snapshot_repository
        elastic = ElasticPeer(hosts=in_cluster.hosts, username=in_cluster.username, password=in_cluster.password,
                              ca=in_cluster.ca, password_digest=in_cluster.password_digest)
        username_now, password_now = in_cluster.credentials_now
        backup_elastic = replace(elastic, username=username_now, password=password_now)
        if in_cluster.backup_hook:
            hooks.append(in_cluster.backup_hook)

    peers = Peers(mongo_connection=mongo_connection, mongo_ca=mongo_ca, redis=redis_peer, elastic=elastic,
                  mongo_digest=mongo_digest)
    return DataTiers(peers=peers, snapshot_repository=snapshot_repository,
                     backup_peers=replace(peers, mongo_connection=backup_mongo, elastic=backup_elastic),
                     backup_hooks=tuple(hooks))
