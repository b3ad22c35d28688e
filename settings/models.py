"""The typed settings of one stack.

Every top-level field of `Settings` is one top-level key of the stack's Pulumi config
(`clearml-openshift:<key>`), declared with the same name in `Pulumi.yaml`. Field descriptions
are the configuration reference: the README table is generated from them (see `settings.reference`)
and a test keeps the two in sync.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from .quantities import DnsLabel, HostName, Quantity, StorageSize, dns1123_subdomain, parse_quantity


class Model(BaseModel):
    """Base for every settings model: camelCase keys, unknown keys rejected, immutable."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------

# docker/distribution reference grammar, simplified: registry[:port]/path components, lowercase.
_REPOSITORY = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$")


class Image(Model):
    repository: str = Field(description="Image repository including the registry, without tag.")
    tag: str = Field(description="Pinned image tag (never `latest`).")
    digest: str | None = Field(
        default=None, description="Optional `sha256:` digest; when set the image is pulled by digest."
    )

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str) -> str:
        if not _REPOSITORY.match(value):
            raise ValueError(f"{value!r} is not an image repository (example: docker.io/library/mongo)")
        return value

    @field_validator("tag")
    @classmethod
    def _tag(cls, value: str) -> str:
        if not _TAG.match(value):
            raise ValueError(f"{value!r} is not a valid image tag")
        if value == "latest":
            raise ValueError("images must be pinned; 'latest' is not a pinned tag")
        return value

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None and not _DIGEST.match(value):
            raise ValueError(f"{value!r} is not a sha256 digest (sha256:<64 hex characters>)")
        return value

    @property
    def ref(self) -> str:
        return f"{self.repository}@{self.digest}" if self.digest else f"{self.repository}:{self.tag}"


class ResourceAmounts(Model):
    cpu: Quantity = Field(description="CPU, e.g. `250m` or `2`.")
    memory: Quantity = Field(description="Memory, e.g. `512Mi`.")


class Resources(Model):
    requests: ResourceAmounts = Field(description="What the scheduler reserves.")
    limits: ResourceAmounts = Field(description="The most the container may use (at least the requests).")

    @model_validator(mode="after")
    def _limits_cover_requests(self) -> Resources:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self.requests, kind), getattr(self.limits, kind)
            if parse_quantity(limit) < parse_quantity(request):
                raise ValueError(f"limits.{kind} ({limit}) is lower than requests.{kind} ({request})")
        return self


def _resources(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> Resources:
    return Resources(
        requests=ResourceAmounts(cpu=req_cpu, memory=req_mem),
        limits=ResourceAmounts(cpu=lim_cpu, memory=lim_mem),
    )


class Volume(Model):
    size: StorageSize = Field(description="Requested size of the volume claim, e.g. `50Gi`.")
    class_name: str | None = Field(
        default=None,
        description="StorageClass of the claim; unset uses `storage.className`, then the cluster default.",
    )
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = Field(
        default="ReadWriteOnce", description="Access mode of the claim."
    )

    @field_validator("class_name")
    @classmethod
    def _class_name(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)


class SecretKeyRef(Model):
    """A key of an existing Kubernetes Secret in the ClearML namespace (never a literal value)."""

    name: DnsLabel = Field(description="Name of the existing Secret.")
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="Key in the Secret.")


# --------------------------------------------------------------------------------------------
# Top-level sections
# --------------------------------------------------------------------------------------------


class NamespaceSettings(Model):
    name: DnsLabel = Field(default="clearml", description="Namespace (OpenShift project) that holds ClearML.")
    create: bool = Field(
        default=True,
        description="Create the namespace (kept on `pulumi destroy`); false to deploy into an existing project.",
    )


class HostSettings(Model):
    base_domain: HostName | None = Field(
        default=None,
        description="Router domain, e.g. `apps.cluster.example.com`; hosts default to `<namespace>-app|api|files.<baseDomain>`.",
    )
    app: HostName | None = Field(default=None, description="Host of the web app (overrides the derived one).")
    api: HostName | None = Field(default=None, description="Host of the API server (overrides the derived one).")
    files: HostName | None = Field(default=None, description="Host of the file server (overrides the derived one).")
    cookie_domain: HostName | None = Field(
        default=None,
        description="Domain of the session cookie shared by app, api and files; defaults to `baseDomain`.",
    )

    @model_validator(mode="after")
    def _hosts_resolvable(self) -> HostSettings:
        missing = [name for name in ("app", "api", "files") if getattr(self, name) is None]
        if missing and self.base_domain is None:
            raise ValueError(
                "set baseDomain, or all of app, api and files (missing: " + ", ".join(missing) + ")"
            )
        return self

    def resolve(self, namespace: str) -> dict[str, str]:
        """The three public host names, derived from the base domain where not given."""
        hosts = {}
        for name in ("app", "api", "files"):
            explicit = getattr(self, name)
            hosts[name] = explicit or dns1123_subdomain(f"{namespace}-{name}.{self.base_domain}")
        if len(set(hosts.values())) != 3:
            raise ValueError(f"app, api and files must be three different hosts, got {hosts}")
        return hosts


class ImageSettings(Model):
    clearml: Image = Field(
        default=Image(repository="docker.io/clearml/server", tag="2.4.0"),
        description="ClearML server image (apiserver, fileserver, webserver, async-delete).",
    )
    mongodb: Image = Field(
        default=Image(repository="docker.io/library/mongo", tag="8.0.15"),
        description="Official MongoDB image.",
    )
    redis: Image = Field(
        default=Image(repository="docker.io/library/redis", tag="8.2.3"),
        description="Official Redis image.",
    )
    elasticsearch: Image = Field(
        default=Image(repository="docker.elastic.co/elasticsearch/elasticsearch", tag="8.19.9"),
        description="Elastic's Elasticsearch 8.x image.",
    )
    pull_policy: Literal["IfNotPresent", "Always"] = Field(
        default="IfNotPresent", description="imagePullPolicy of every container."
    )

    @field_validator("elasticsearch")
    @classmethod
    def _elasticsearch_8(cls, value: Image) -> Image:
        if not value.tag.startswith("8."):
            raise ValueError(f"ClearML server 2.x needs Elasticsearch 8.x, got tag {value.tag!r}")
        return value


class StorageSettings(Model):
    class_name: str | None = Field(
        default=None, description="Default StorageClass for every volume claim (unset: the cluster default)."
    )
    retain_on_delete: bool = Field(
        default=True,
        description="Keep volume claims (and the namespace, if created) when resources are deleted or replaced.",
    )

    @field_validator("class_name")
    @classmethod
    def _class_name(cls, value: str | None) -> str | None:
        return None if value is None else dns1123_subdomain(value)


class FeatureSettings(Model):
    async_delete: bool = Field(default=True, description="Run the async-delete worker (deletes task artifacts).")
    prepopulate_examples: bool = Field(
        default=False, description="Load ClearML's example projects into an empty database at first start."
    )
    topology_spread: bool = Field(
        default=True, description="Spread replicated tiers across nodes (soft topology spread constraints)."
    )


class ServerTier(Model):
    replicas: int = Field(default=1, ge=1, le=20, description="Number of pods.")
    resources: Resources = Field(description="Requests and limits of the main container.")


class ApiServerSettings(ServerTier):
    resources: Resources = Field(default=_resources("100m", "512Mi", "2", "1Gi"), description="Requests and limits.")
    gunicorn_workers: int = Field(
        default=0, ge=0, le=32, description="Run under gunicorn with this many workers; 0 uses the built-in server."
    )


class FileServerSettings(ServerTier):
    resources: Resources = Field(default=_resources("100m", "256Mi", "1", "1Gi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="50Gi"), description="Volume at `/mnt/fileserver`.")

    @model_validator(mode="after")
    def _shared_volume_for_replicas(self) -> FileServerSettings:
        if self.replicas > 1 and self.storage.access_mode != "ReadWriteMany":
            raise ValueError(
                f"replicas is {self.replicas}, but all file server pods share one volume: "
                "set storage.accessMode to ReadWriteMany (and a class that supports it) or use 1 replica"
            )
        return self


class WebServerSettings(ServerTier):
    resources: Resources = Field(default=_resources("50m", "64Mi", "500m", "256Mi"), description="Requests and limits.")


class AsyncDeleteSettings(Model):
    resources: Resources = Field(default=_resources("50m", "128Mi", "500m", "512Mi"), description="Requests and limits.")


class ExternalMongo(Model):
    connection_string: SecretKeyRef = Field(
        description="Existing Secret key holding a `mongodb://` or `mongodb+srv://` connection string."
    )


class MongoSettings(Model):
    replicas: int = Field(default=1, description="1 (standalone member) or an odd replica-set size: 3, 5 or 7.")
    resources: Resources = Field(default=_resources("200m", "512Mi", "2", "2Gi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="20Gi"), description="Volume claim template of each member.")
    external: ExternalMongo | None = Field(
        default=None, description="Use an existing MongoDB instead of deploying one."
    )

    @field_validator("replicas")
    @classmethod
    def _odd_members(cls, value: int) -> int:
        if value not in (1, 3, 5, 7):
            raise ValueError(
                f"a MongoDB replica set needs an odd number of voting members: 1, 3, 5 or 7 (got {value})"
            )
        return value


class ExternalRedis(Model):
    host: HostName = Field(description="Redis host name.")
    port: int = Field(default=6379, ge=1, le=65535, description="Redis port.")
    password: SecretKeyRef | None = Field(default=None, description="Existing Secret key holding the password.")


class RedisSettings(Model):
    replicas: Literal[1] = Field(
        default=1, description="Always 1: ClearML talks to a single Redis endpoint (no Sentinel support)."
    )
    resources: Resources = Field(default=_resources("50m", "128Mi", "500m", "512Mi"), description="Requests and limits.")
    storage: Volume = Field(default=Volume(size="5Gi"), description="Volume claim template.")
    external: ExternalRedis | None = Field(default=None, description="Use an existing Redis instead of deploying one.")


class ElasticHost(Model):
    host: HostName = Field(description="Host name of an Elasticsearch HTTP endpoint.")
    port: int = Field(default=9200, ge=1, le=65535, description="HTTP port.")
    scheme: Literal["http", "https"] = Field(default="https", description="`https` unless the cluster has no TLS.")


class ExternalElastic(Model):
    hosts: list[ElasticHost] = Field(min_length=1, description="Elasticsearch HTTP endpoints.")
    username: SecretKeyRef | None = Field(default=None, description="Existing Secret key holding the user name.")
    password: SecretKeyRef | None = Field(default=None, description="Existing Secret key holding the password.")

    @model_validator(mode="after")
    def _credentials_pair(self) -> ExternalElastic:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        return self


_HEAP = re.compile(r"^[1-9][0-9]*[mg]$")


class ElasticSettings(Model):
    replicas: int = Field(default=1, description="1 (single node) or 3 to 7 master-eligible data nodes.")
    resources: Resources = Field(default=_resources("500m", "2Gi", "2", "2Gi"), description="Requests and limits.")
    heap: str = Field(default="1g", description="JVM heap (`-Xms`/`-Xmx`), at most half the memory limit, e.g. `2g`.")
    storage: Volume = Field(default=Volume(size="30Gi"), description="Volume claim template of each node.")
    external: ExternalElastic | None = Field(
        default=None, description="Use an existing Elasticsearch 8 cluster instead of deploying one."
    )

    @field_validator("replicas")
    @classmethod
    def _quorum(cls, value: int) -> int:
        if not (value == 1 or 3 <= value <= 7):
            raise ValueError(
                f"Elasticsearch needs 1 node, or 3 to 7 nodes for a master quorum that survives a node loss (got {value})"
            )
        return value

    @field_validator("heap")
    @classmethod
    def _heap_format(cls, value: str) -> str:
        if not _HEAP.match(value):
            raise ValueError(f"{value!r} is not a JVM heap size like 512m or 2g")
        return value

    @model_validator(mode="after")
    def _heap_fits(self) -> ElasticSettings:
        heap_bytes = int(self.heap[:-1]) * (2**20 if self.heap.endswith("m") else 2**30)
        limit = parse_quantity(self.resources.limits.memory)
        if heap_bytes * 2 > limit:
            raise ValueError(
                f"heap {self.heap} is more than half of the memory limit {self.resources.limits.memory}; "
                "Elasticsearch needs the rest for off-heap memory and the file-system cache"
            )
        return self


class Settings(Model):
    """All settings of one stack. Each field is one top-level Pulumi config key."""

    namespace: NamespaceSettings = Field(default=NamespaceSettings(), description="Target namespace.")
    hosts: HostSettings = Field(description="Public host names of the web app, API server and file server.")
    images: ImageSettings = Field(default=ImageSettings(), description="Container images, pinned.")
    storage: StorageSettings = Field(default=StorageSettings(), description="Defaults for every volume claim.")
    features: FeatureSettings = Field(default=FeatureSettings(), description="Optional behaviour.")
    apiserver: ApiServerSettings = Field(default=ApiServerSettings(), description="ClearML API server tier.")
    fileserver: FileServerSettings = Field(default=FileServerSettings(), description="ClearML file server tier.")
    webserver: WebServerSettings = Field(default=WebServerSettings(), description="ClearML web app tier.")
    async_delete: AsyncDeleteSettings = Field(default=AsyncDeleteSettings(), description="Async-delete worker.")
    mongodb: MongoSettings = Field(default=MongoSettings(), description="MongoDB tier (or an external MongoDB).")
    redis: RedisSettings = Field(default=RedisSettings(), description="Redis tier (or an external Redis).")
    elasticsearch: ElasticSettings = Field(
        default=ElasticSettings(), description="Elasticsearch tier (or an external cluster)."
    )

    @field_validator("hosts")
    @classmethod
    def _derived_hosts_valid(cls, hosts: HostSettings, info: ValidationInfo) -> HostSettings:
        namespace = info.data.get("namespace")
        if namespace is not None:
            hosts.resolve(namespace.name)
        return hosts

    @property
    def public_hosts(self) -> dict[str, str]:
        return self.hosts.resolve(self.namespace.name)

    @property
    def public_urls(self) -> dict[str, str]:
        return {name: f"https://{host}" for name, host in self.public_hosts.items()}

    @property
    def cookie_domain(self) -> str | None:
        return self.hosts.cookie_domain or self.hosts.base_domain

    def storage_class(self, volume: Volume) -> str | None:
        return volume.class_name or self.storage.class_name
