"""The data tiers a stack runs: each of MongoDB, Redis and Elasticsearch in the cluster (its
component), or the team's own service (its `external` settings), and how the ClearML processes reach
them (`Peers`)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
from pydantic import SecretStr

from settings import Settings
from settings.external import literal_credentials
from settings.models import SccProfile

from .clearml_env import ElasticPeer, Peers, RedisPeer, SecretRef
from .elasticsearch import Elasticsearch, ElasticsearchArgs
from .external_credentials import ExternalCredentials, ExternalCredentialsArgs, secret_ref
from .mongodb import MongoDB, MongoDBArgs
from .redis import Redis, RedisArgs


def data_tiers(name: str, settings: Settings, grants: Mapping[str, SccProfile], internal_issuer: dict,
               child: pulumi.ResourceOptions) -> Peers:
    """Deploys the in-cluster data tiers (children of `child.parent`) and returns how ClearML reaches
    every data tier. Credentials given as Pulumi secrets go into a Secret of the program's; the others
    are the team's Secrets, referenced as they are."""
    ns = settings.namespace.name
    tls = settings.tls
    given = dict(literal_credentials(settings))
    store = ExternalCredentials(f"{name}-external-credentials", ExternalCredentialsArgs(
        namespace=ns, values=given), opts=child) if given else None

    def credential(path: str, value) -> SecretRef | None:
        return store.ref(path) if isinstance(value, SecretStr) else secret_ref(value)

    if settings.mongodb.external:
        ext = settings.mongodb.external
        mongo_connection = credential("mongodb.external.connectionString", ext.connection_string)
        mongo_ca = secret_ref(ext.ca)
    else:
        mongo = MongoDB(f"{name}-mongodb", MongoDBArgs(
            scc=grants.get("mongodb"), namespace=ns, settings=settings.mongodb, images=settings.images, features=settings.features,
            storage_class=settings.storage_class(settings.mongodb.storage)), opts=child)
        mongo_connection, mongo_ca = mongo.connection, None

    if settings.redis.external:
        ext = settings.redis.external
        redis_peer = RedisPeer(host=ext.host, port=ext.port, password=credential("redis.external.password", ext.password),
                               username=ext.username, tls=ext.tls, ca=secret_ref(ext.ca))
    else:
        redis = Redis(f"{name}-redis", RedisArgs(
            scc=grants.get("redis"), namespace=ns, settings=settings.redis, images=settings.images,
            storage_class=settings.storage_class(settings.redis.storage)), opts=child)
        redis_peer = RedisPeer(host=redis.host, port=redis.port,
                               password=SecretRef(name=redis.password_secret, key=redis.password_key))

    if settings.elasticsearch.external:
        ext = settings.elasticsearch.external
        elastic = ElasticPeer(
            hosts=[h.model_dump() for h in ext.hosts],
            username=ext.username if isinstance(ext.username, str) else secret_ref(ext.username),
            password=credential("elasticsearch.external.password", ext.password),
            api_key=credential("elasticsearch.external.apiKey", ext.api_key), ca=secret_ref(ext.ca))
    else:
        in_cluster = Elasticsearch(f"{name}-elastic", ElasticsearchArgs(
            scc=grants.get("elasticsearch"), namespace=ns, settings=settings.elasticsearch, images=settings.images,
            features=settings.features,
            storage_class=settings.storage_class(settings.elasticsearch.storage),
            issuer=internal_issuer, tls=tls), opts=child)
        elastic = ElasticPeer(hosts=in_cluster.hosts, username=in_cluster.username, password=in_cluster.password,
                              ca=in_cluster.ca)

    return Peers(mongo_connection=mongo_connection, mongo_ca=mongo_ca, redis=redis_peer, elastic=elastic)
