"""Settings of the data services a team brings (`<tier>.external`) and of the credentials they need.

A credential is either a key of an existing Secret (`{name, key}`) or the value itself set as a
Pulumi secret (`pulumi config set --secret --path <tier>.external.<field> ...`); the program then
keeps it in a Secret of its own. A credential in plain text in a stack file is refused
(`settings.load`). TLS is verified against the CA given (`ca`, mounted at the path named in the
field's help) or the system CAs; nothing switches verification off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Discriminator, Field, SecretStr, Tag, field_validator, model_validator

from vocabulary import clearml as cv

from .base import Model
from .quantities import DnsLabel, HostName


class SecretKeyRef(Model):
    """A key of an existing Kubernetes Secret in the ClearML namespace (never a literal value)."""

    name: DnsLabel = Field(description="Name of the existing Secret.")
    key: str = Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$", description="Key in the Secret.")


def _credential_kind(value: Any) -> str:
    return "value" if isinstance(value, (str, SecretStr)) else "secretKeyRef"


# A Secret key, or the value from `pulumi config set --secret` (kept out of reprs and messages). The
# tags name the branch in error locations; settings.load drops them (UNION_TAGS).
Credential = Annotated[Annotated[SecretKeyRef, Tag("secretKeyRef")] | Annotated[SecretStr, Tag("value")],
                       Discriminator(_credential_kind)]
UNION_TAGS = ("secretKeyRef", "value")

_CREDENTIAL = ("`{name, key}` of an existing Secret, or the value itself set with `pulumi config set --secret "
               "--path {path} <value>`")


def _credential_help(what: str, path: str) -> str:
    return f"{what}: {_CREDENTIAL.replace('{path}', path)}."


class ExternalMongo(Model):
    connection_string: Credential = Field(description=_credential_help(
        "`mongodb://` or `mongodb+srv://` connection string, TLS options included (`tls=true`; with `ca`, "
        f"`tlsCAFile={cv.MONGODB_CA_FILE}`)", "mongodb.external.connectionString"))
    ca: SecretKeyRef | None = Field(default=None, description=(
        f"Existing Secret key holding the PEM CA of the MongoDB server certificate, mounted at `{cv.MONGODB_CA_FILE}` "
        "for the connection string's `tlsCAFile` (unset: system CAs)."))

    @model_validator(mode="after")
    def _known_connection_string(self) -> ExternalMongo:
        """What can be checked of a connection string given as a Pulumi secret (a Secret's value is
        checked by preflight); messages never quote it."""
        if isinstance(self.connection_string, SecretStr):
            problem = mongodb_uri_problem(self.connection_string.get_secret_value(), self.ca is not None)
            if problem:
                raise ValueError(f"connectionString: {problem}")
        return self


def mongodb_uri_problem(uri: str, ca_given: bool) -> str | None:
    """Why a MongoDB connection string cannot be used as it is, without quoting it; None if it can."""
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        return "must start with mongodb:// or mongodb+srv://"
    options = {k.lower(): v for k, v in parse_qsl(urlsplit(uri).query)}
    insecure = sorted(k for k in options if k in cv.MONGODB_INSECURE_OPTIONS)
    if insecure:
        return (f"{', '.join(insecure)} switches TLS verification off, which this project never does: remove it "
                "and give the server's CA in mongodb.external.ca")
    if ca_given and options.get("tlscafile") != cv.MONGODB_CA_FILE:
        return f"mongodb.external.ca is mounted at {cv.MONGODB_CA_FILE}: add tls=true&tlsCAFile={cv.MONGODB_CA_FILE}"
    if not ca_given and "tlscafile" in options:
        return ("tlsCAFile names a file the pods do not have: set mongodb.external.ca to the Secret key of the CA "
                f"(mounted at {cv.MONGODB_CA_FILE}) or remove tlsCAFile")
    return None


class ExternalRedis(Model):
    host: HostName = Field(description="Redis host name.")
    port: int = Field(default=6379, ge=1, le=65535, description="Redis port.")
    username: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\s\"\\]+$", description=(
        "ACL user (Redis 6+); unset: the `default` user."))
    password: Credential | None = Field(default=None, description=_credential_help(
        "Password", "redis.external.password"))
    tls: bool = Field(default=False, description=(
        "Connect with TLS, verifying the server certificate and host name (against `ca`, else the system CAs)."))
    ca: SecretKeyRef | None = Field(default=None, description=(
        f"Existing Secret key holding the PEM CA of the Redis server certificate (mounted at `{cv.REDIS_CA_FILE}`); "
        "needs `tls: true`."))

    @model_validator(mode="after")
    def _ca_needs_tls(self) -> ExternalRedis:
        if self.ca is not None and not self.tls:
            raise ValueError("ca is set but tls is false, so the CA would be ignored: set tls: true (or remove ca)")
        if self.username is not None and self.password is None:
            raise ValueError(f"username {self.username!r} is set without a password: set password too "
                             "(an ACL user with nopass is not supported)")
        return self


class ElasticHost(Model):
    host: HostName = Field(description="Host name of an Elasticsearch HTTP endpoint.")
    port: int = Field(default=9200, ge=1, le=65535, description="HTTP port.")
    scheme: Literal["http", "https"] = Field(default="https", description="`https` unless the cluster has no TLS.")


class ExternalElastic(Model):
    hosts: list[ElasticHost] = Field(min_length=1, description="Elasticsearch HTTP endpoints.")
    username: SecretKeyRef | str | None = Field(default=None, description=(
        "User name: `{name, key}` of an existing Secret, or the name itself (with `password`)."))
    password: Credential | None = Field(default=None, description=_credential_help(
        "Password of `username`", "elasticsearch.external.password"))
    api_key: Credential | None = Field(default=None, description=_credential_help(
        "API key instead of a user (the `encoded` value Elasticsearch returns when the key is created)",
        "elasticsearch.external.apiKey"))
    ca: SecretKeyRef | None = Field(default=None, description=(
        f"Existing Secret key holding the PEM CA of the cluster's certificate, mounted at `{cv.ELASTIC_CA_FILE}` "
        "(unset: system CAs)."))

    @field_validator("username")
    @classmethod
    def _plain_name(cls, value: SecretKeyRef | str | None) -> SecretKeyRef | str | None:
        if isinstance(value, str) and (not value or any(c.isspace() or c in '"\\' for c in value)):
            raise ValueError("a user name without spaces, quotes or backslashes")
        return value

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> ExternalElastic:
        if (self.username is None) != (self.password is None):
            raise ValueError("set both username and password, or neither")
        if self.api_key is not None and self.username is not None:
            raise ValueError("set apiKey or username and password, not both")
        plain = [f"{h.host}:{h.port}" for h in self.hosts if h.scheme == "http"]
        if plain and (self.password is not None or self.api_key is not None):
            raise ValueError(f"credentials would cross the network unencrypted to {', '.join(plain)}: "
                             "use scheme https (the default) for every host")
        if self.ca is not None and len(plain) == len(self.hosts):
            raise ValueError("ca is set but every host uses http, so the CA would be ignored: use https or remove ca")
        return self


def walk(model: Model, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every field value under `model`, depth first, with its config key path (`a.b[0].c`)."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        key = f"{path}.{field.alias or name}" if path else (field.alias or name)
        yield key, value
        if isinstance(value, Model):
            yield from walk(value, key)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Model):
                    yield from walk(item, f"{key}[{i}]")


def secret_references(model: Model) -> list[tuple[str, SecretKeyRef]]:
    """Every existing-Secret key the settings name, with its key path."""
    return [(key, value) for key, value in walk(model) if isinstance(value, SecretKeyRef)]


def literal_credentials(model: Model) -> list[tuple[str, SecretStr]]:
    """Every credential given as a value (not a Secret reference), with its key path."""
    return [(key, value) for key, value in walk(model) if isinstance(value, SecretStr)]
