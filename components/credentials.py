"""Generated ClearML credentials, kept in Pulumi state (as secrets) and in one Kubernetes Secret.

ClearML creates a user for every `secure.credentials.<name>` entry at start-up, with exactly the
key and secret configured (clearml-server `apiserver/mongo/initialize`). Generating them once with
pulumi-random and keeping them in state makes them stable across `pulumi up` runs and reinstalls,
so agents and SDK clients configured with them keep working.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import workload as w

# Keys of the `clearml-credentials` Secret.
APISERVER_KEY, APISERVER_SECRET = "apiserver_key", "apiserver_secret"
TESTS_KEY, TESTS_SECRET = "tests_key", "tests_secret"
AGENT_KEY, AGENT_SECRET = "services_agent_key", "services_agent_secret"
# The Kubernetes agent (k8s glue) and its task pods: `secure.credentials.k8s_agent` (only with `k8s_agent`).
K8S_AGENT_KEY, K8S_AGENT_SECRET = "k8s_agent_key", "k8s_agent_secret"
# The server's built-in secure.conf ships fixed, public keys for these two system users; they are
# always replaced by generated ones.
FILESERVER_KEY, FILESERVER_SECRET = "fileserver_key", "fileserver_secret"
WEBSERVER_KEY, WEBSERVER_SECRET = "webserver_key", "webserver_secret"
TOKEN_SECRET = "auth_token_secret"
SESSION_SECRET = "session_secret"
ADMIN_USER, ADMIN_PASSWORD = "admin_username", "admin_password"
FIXED_USERS = "fixed_users"

ADMIN_USERNAME = "admin"


@dataclass(frozen=True)
class CredentialsArgs:
    namespace: pulumi.Input[str]
    k8s_agent: bool = False  # also generate the Kubernetes agent's pair (agent.enabled)


class Credentials(pulumi.ComponentResource):
    """Outputs: `secret_name`, and the generated values as Pulumi secrets."""

    secret_name: pulumi.Output[str]
    admin_password: pulumi.Output[str]
    tests_key: pulumi.Output[str]
    tests_secret: pulumi.Output[str]
    agent_key: pulumi.Output[str]
    agent_secret: pulumi.Output[str]

    def __init__(self, name: str, args: CredentialsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("clearml:credentials:Credentials", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def access_key(suffix: str) -> pulumi.Output[str]:
            # ClearML access keys look like 20-30 upper-case letters and digits. A RandomPassword (not a
            # RandomString, whose result is also its ID) keeps the key secret in Pulumi's state too.
            generated = random.RandomPassword(
                f"{name}-{suffix}", length=30, special=False, lower=False, upper=True, numeric=True, opts=child
            )
            return pulumi.Output.secret(generated.result)

        def secret_value(suffix: str, length: int = 64) -> pulumi.Output[str]:
            generated = random.RandomPassword(f"{name}-{suffix}", length=length, special=False, opts=child)
            return pulumi.Output.secret(generated.result)

        values = {
            APISERVER_KEY: access_key("apiserver-key"),
            APISERVER_SECRET: secret_value("apiserver-secret"),
            TESTS_KEY: access_key("tests-key"),
            TESTS_SECRET: secret_value("tests-secret"),
            AGENT_KEY: access_key("services-agent-key"),
            AGENT_SECRET: secret_value("services-agent-secret"),
            FILESERVER_KEY: access_key("fileserver-key"),
            FILESERVER_SECRET: secret_value("fileserver-secret"),
            WEBSERVER_KEY: access_key("webserver-key"),
            WEBSERVER_SECRET: secret_value("webserver-secret"),
            TOKEN_SECRET: secret_value("auth-token-secret"),
            SESSION_SECRET: secret_value("session-secret"),
            ADMIN_USER: pulumi.Output.from_input(ADMIN_USERNAME),
            ADMIN_PASSWORD: secret_value("admin-password", 24),
        }
        if args.k8s_agent:
            values[K8S_AGENT_KEY] = access_key("k8s-agent-key")
            values[K8S_AGENT_SECRET] = secret_value("k8s-agent-secret")
        # `apiserver.auth.fixed_users.users` as HOCON (JSON is valid HOCON), for an env var.
        values[FIXED_USERS] = values[ADMIN_PASSWORD].apply(
            lambda password: json.dumps([{"username": ADMIN_USERNAME, "password": password, "name": "Administrator"}])
        )
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=w.labels("server")),
            type="Opaque",
            string_data=values,
            opts=child,
        )
        self.secret_name = secret.metadata.name
        self.admin_password = values[ADMIN_PASSWORD]
        self.tests_key, self.tests_secret = values[TESTS_KEY], values[TESTS_SECRET]
        self.agent_key, self.agent_secret = values[AGENT_KEY], values[AGENT_SECRET]
        self.register_outputs({"secret_name": self.secret_name})
