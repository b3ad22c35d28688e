"""Generated ClearML credentials, kept in Pulumi state (as secrets) and in one Kubernetes Secret.

ClearML creates a user for every `secure.credentials.<name>` entry at start-up, with exactly the
key and secret configured (clearml-server `apiserver/mongo/initialize`). Generating them once with
pulumi-random and keeping them in state makes them stable across `pulumi up` runs and reinstalls,
so agents and SDK clients configured with them keep working.

The server processes read them as configuration files, not environment variables: the Secret also
holds one `.conf` file per reader with only what that reader needs (`CONFIG_FILES`), which the tiers
mount into `SECURE_CONFIG_DIR` (`clearml_env.secure_config`). A file in a Secret volume is not in
the process environment, `/proc/<pid>/environ`, crash dumps or `kubectl describe`.
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

ADMIN_USERNAME = "admin"
# The Kubernetes agent's user: its role and display name (clearml-server apiserver/mongo/initialize reads
# `role`, and `display_name` for role `user`), next to its generated key and secret.
K8S_AGENT_USER = "k8s_agent"
K8S_AGENT_ENTRY = {"role": "user", "display_name": "Kubernetes Agent"}

# The configuration files in the Secret: reader -> {Secret key: path in SECURE_CONFIG_DIR}. ClearML names
# a file's top-level key after its path: `secure.conf` holds `secure.*`, `apiserver.conf` `apiserver.*`.
APISERVER_SECURE, APISERVER_USERS = "apiserver.secure.conf", "apiserver.users.conf"
FILESERVER_SECURE, ASYNC_DELETE_SECURE = "fileserver.secure.conf", "async-delete.secure.conf"
CONFIG_FILES = {
    "apiserver": {APISERVER_SECURE: "secure.conf", APISERVER_USERS: "apiserver.conf"},
    "fileserver": {FILESERVER_SECURE: "secure.conf"},
    "async-delete": {ASYNC_DELETE_SECURE: "secure.conf"},
}
USERS = ("apiserver", "tests", "services_agent", "fileserver", "webserver")
_PAIRS = {"apiserver": (APISERVER_KEY, APISERVER_SECRET), "tests": (TESTS_KEY, TESTS_SECRET),
          "services_agent": (AGENT_KEY, AGENT_SECRET), "fileserver": (FILESERVER_KEY, FILESERVER_SECRET),
          "webserver": (WEBSERVER_KEY, WEBSERVER_SECRET), K8S_AGENT_USER: (K8S_AGENT_KEY, K8S_AGENT_SECRET)}


def config_files(values: dict[str, str]) -> dict[str, str]:
    """The `.conf` files (JSON, which is HOCON) from the generated values, each with only what its
    reader needs: the API server all users, the token and session secrets and the admin login; the
    file server its own user; async-delete the token secret."""
    def user(name: str, **extra: object) -> dict[str, object]:
        key, secret = _PAIRS[name]
        return {"user_key": values[key], "user_secret": values[secret], **extra}

    users = {name: user(name) for name in USERS}
    # The tests user is revoked when fixed users are on (secure.conf `revoke_in_fixed_mode: true`); its
    # keys are the SDK keys this program exports (testsAccessKey/testsSecretKey): they must stay valid.
    users["tests"]["revoke_in_fixed_mode"] = False
    if K8S_AGENT_KEY in values:
        users[K8S_AGENT_USER] = user(K8S_AGENT_USER, **K8S_AGENT_ENTRY)
    token = {"token_secret": values[TOKEN_SECRET]}
    admin = {"username": ADMIN_USERNAME, "password": values[ADMIN_PASSWORD], "name": "Administrator"}
    files = {
        APISERVER_SECURE: {"credentials": users, "auth": token, "http": {"session_secret": {"apiserver": values[SESSION_SECRET]}}},
        APISERVER_USERS: {"auth": {"fixed_users": {"users": [admin]}}},
        FILESERVER_SECURE: {"credentials": {"fileserver": user("fileserver")}},
        ASYNC_DELETE_SECURE: {"auth": token},
    }
    return {name: json.dumps(tree, indent=2, sort_keys=True) + "\n" for name, tree in files.items()}


@dataclass(frozen=True)
class CredentialsArgs:
    namespace: pulumi.Input[str]
    k8s_agent: bool = False  # also generate the Kubernetes agent's pair (agent.enabled)


# What each reader of the Secret reads, for its pods' credentials digest (workload.pod_template): a rotated
# value rolls exactly the tiers that read it. The API server reads every value (it creates the users).
READS = {
    "fileserver": (FILESERVER_KEY, FILESERVER_SECRET),
    "async-delete": (TOKEN_SECRET,),
    "agent": (K8S_AGENT_KEY, K8S_AGENT_SECRET),
}
# The groups `scripts/rotate.py` rotates: each one's generated values, by their keys in the Secret.
ROTATION_GROUPS = {
    "clearml-keys": (APISERVER_KEY, APISERVER_SECRET, TESTS_KEY, TESTS_SECRET, AGENT_KEY, AGENT_SECRET,
                     FILESERVER_KEY, FILESERVER_SECRET, WEBSERVER_KEY, WEBSERVER_SECRET, K8S_AGENT_KEY, K8S_AGENT_SECRET),
    "session-secret": (SESSION_SECRET,),
    "token-secret": (TOKEN_SECRET,),
    "admin-password": (ADMIN_PASSWORD,),
}


def resource_suffix(key: str) -> str:
    """The suffix of the RandomPassword generating the Secret key `key` (`<component>-<suffix>`)."""
    return key.replace("_", "-")


class Credentials(pulumi.ComponentResource):
    """Outputs: `secret_name`, `digests` (per reader of the Secret, `workload.credential_digest` of what it
    reads; the API server's of everything), and the generated values as Pulumi secrets."""

    secret_name: pulumi.Output[str]
    digests: dict[str, pulumi.Output[str]]
    admin_password: pulumi.Output[str]
    tests_key: pulumi.Output[str]
    tests_secret: pulumi.Output[str]

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

        keys = (APISERVER_KEY, TESTS_KEY, AGENT_KEY, FILESERVER_KEY, WEBSERVER_KEY) + ((K8S_AGENT_KEY,) if args.k8s_agent else ())
        secrets = (APISERVER_SECRET, TESTS_SECRET, AGENT_SECRET, FILESERVER_SECRET, WEBSERVER_SECRET, TOKEN_SECRET,
                   SESSION_SECRET) + ((K8S_AGENT_SECRET,) if args.k8s_agent else ())
        values = {key: access_key(resource_suffix(key)) for key in keys}
        values.update({key: secret_value(resource_suffix(key)) for key in secrets})
        values[ADMIN_PASSWORD] = secret_value(resource_suffix(ADMIN_PASSWORD), 24)
        values[ADMIN_USER] = pulumi.Output.from_input(ADMIN_USERNAME)
        generated = {k: v for k, v in values.items() if k != ADMIN_USER}
        files = pulumi.Output.all(**generated).apply(config_files)
        def file(file_name: str) -> pulumi.Output[str]:
            return files.apply(lambda rendered: rendered[file_name])

        string_data = {**values, **{n: file(n) for per_reader in CONFIG_FILES.values() for n in per_reader}}
        secret = k8s.core.v1.Secret(
            f"{name}-secret",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=args.namespace, labels=w.labels("server")),
            type="Opaque",
            string_data=string_data,
            opts=child,
        )
        self.secret_name = secret.metadata.name
        self.digests = {"apiserver": w.credential_digest(*generated.values())}
        self.digests.update({reader: w.credential_digest(*(values[k] for k in read))
                             for reader, read in READS.items() if all(k in values for k in read)})
        self.admin_password = values[ADMIN_PASSWORD]
        self.tests_key, self.tests_secret = values[TESTS_KEY], values[TESTS_SECRET]
        self.register_outputs({"secret_name": self.secret_name})
