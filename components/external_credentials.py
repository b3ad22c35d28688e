"""`ExternalCredentials`: the Secret holding the external services' credentials a stack gives as
Pulumi secrets (`pulumi config set --secret --path <tier>.external.<field> ...`), so the pods read
them exactly as they read a credential in a Secret the team made (`secretKeyRef`)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from pydantic import SecretStr

from settings.external import SecretKeyRef

from . import workload as w
from .clearml_env import SecretRef


@dataclass(frozen=True)
class ExternalCredentialsArgs:
    namespace: pulumi.Input[str]
    values: dict[str, SecretStr]  # config key path (`mongodb.external.connectionString`) -> value


class ExternalCredentials(pulumi.ComponentResource):
    """Outputs: `secret_name`. One key per config key path, the value kept secret in the state."""

    secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: ExternalCredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:index:ExternalCredentials", name, None, opts)
        secret = k8s.core.v1.Secret(
            name,
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=w.labels("server")),
            type="Opaque",
            string_data={path: pulumi.Output.secret(value.get_secret_value()) for path, value in args.values.items()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_name = secret.metadata.name
        self.register_outputs({"secret_name": self.secret_name})

    def ref(self, path: str) -> SecretRef:
        """Where the pods read the credential given at config key `path`."""
        return SecretRef(name=self.secret_name, key=path)


def secret_ref(value: SecretKeyRef | None) -> SecretRef | None:
    """A reference to an existing Secret's key, as the components take it."""
    return None if value is None else SecretRef(name=value.name, key=value.key)
