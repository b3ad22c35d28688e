"""Rule `no-literal-secrets`: No literal secret values in env or ConfigMaps."""

from __future__ import annotations

import itertools
import re
from typing import Any

from pulumi_policy import EnforcementLevel

from policy.manifest import (
    Manifest,
    PodTemplate,
    as_dict,
    as_list,
    command_lines,
    configmap_entries,
    describe,
    embedded_pods,
    env_values,
    is_unknown,
    pod_templates,
)

NAME = "no-literal-secrets"
DESCRIPTION = 'Secret values come from Secrets: none literal in env, command lines or ConfigMaps.'
ENFORCEMENT = EnforcementLevel.MANDATORY


# Name tokens that make an env var (or ConfigMap key) secret-bearing wherever they appear...
_SECRET_TOKENS = frozenset({
    "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "TOKENS", "APIKEY", "ACCESSKEY",
    "SECRETKEY", "PRIVATEKEY", "CONNSTR", "CONNECTIONSTRING",
})
# ...only as the last token (`..._KEY`, `REDISCLI_AUTH`, `AWS_CREDENTIALS`, `SENTRY_DSN`): elsewhere
# they name sections (`CLEARML__apiserver__auth__cookies__domain`, `CLEARML__secure__credentials__<user>__role`).
_SECRET_LAST_TOKENS = frozenset({"KEY", "AUTH", "PASS", "PWD", "DSN", "CREDENTIAL", "CREDENTIALS", "CREDS"})
# Adjacent pairs.
_SECRET_PAIRS = frozenset({("CONNECTION", "STRING"), ("CONN", "STRING"), ("PRIVATE", "KEY"), ("ACCESS", "KEY"),
                           ("SECRET", "KEY"), ("API", "KEY"), ("USER", "KEY"), ("ENCRYPTION", "KEY"),
                           ("SIGNING", "KEY"), ("MASTER", "KEY"), ("SESSION", "KEY")})
# Names that only point at a secret, or describe it.
_NOT_SECRET_LAST_TOKENS = frozenset({
    "FILE", "PATH", "DIR", "NAME", "REF", "URL", "ENDPOINT", "ENABLED", "REQUIRED", "TTL", "EXPIRY", "TIMEOUT",
    "LENGTH", "SIZE", "TYPE", "MODE", "ALGORITHM", "HEADER", "FIELD", "POLICY", "ROTATION",
})
_NOT_SECRET_NAMES = frozenset({"PWD", "OLDPWD"})


def secret_bearing(name: str) -> bool:
    """Whether an env var or config key of this name carries a secret value."""
    tokens = [t for t in re.split(r"[^A-Za-z0-9]+", name.upper()) if t]
    if not tokens or name.upper() in _NOT_SECRET_NAMES or tokens[-1] in _NOT_SECRET_LAST_TOKENS:
        return False
    if tokens[-1] == "KEY" and len(tokens) > 1 and tokens[-2] == "PUBLIC":
        return False
    if any(t in _SECRET_TOKENS for t in tokens) or tokens[-1] in _SECRET_LAST_TOKENS:
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(tokens))


def _harmless_literal(value: str) -> bool:
    """Values a secret-bearing name may carry literally: empty, flags, numbers, file paths."""
    v = value.strip().strip("\"'")
    if v.lower() in ("", "true", "false", "yes", "no", "on", "off", "none", "null", "0", "1"):
        return True
    if re.fullmatch(r"[0-9]+[smhd]?", v):  # lengths, TTLs, ports
        return True
    return bool(re.fullmatch(r"/[\w.\-/]*|[\w.\-]+(/[\w.\-]+)*\.(?:key|pem|crt|cert|p12|pfx|jks|json|txt)", v))


_REFERENCE = re.compile(r"^(?:\$|\{\{|%\(|%s|<|\*+$)")
_SECRET_CONTENT: list[tuple[str, re.Pattern[str]]] = [
    ("a private key", re.compile("-----BEGIN (?:[A-Z0-9]+ )*PRIV" + "ATE KEY-----")),
    ("a Redis password", re.compile(r"(?im)(?:^[ \t]*|--)(?:require" + r"pass|master" + r"auth)[ \t]+(?P<v>\S+)")),
    ("credentials in a URL", re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*://(?P<u>[^\s/:@\"'<>{}()$]+):(?P<v>[^\s/@\"']+)@")),
    # password=..., "token": "...", and camelCase keys (trustStorePassword=...).
    ("a literal credential", re.compile(
        r"""(?:(?<![A-Za-z])|(?<=[a-z])(?=[A-Z]))(?P<k>(?i:password|passwd|pwd|passphrase|secret|token|"""
        r"""api[_-]?key|access[_-]?key|secret[_-]?key|client[_-]?secret|auth[_-]?token))(?![a-z])"""
        r"""["']?[ \t]*[:=][ \t]*(?P<q>["']?)(?P<v>[^\s"',;&}\])(\[#]*)(?P<after>.?)""")),
]


_TYPE_NAMES = ("str", "bytes", "SecretStr")


def secret_content(text: str) -> list[str]:
    """What in `text` looks like a literal secret (a description per finding)."""
    found = []
    for what, pattern in _SECRET_CONTENT:
        for match in pattern.finditer(text):
            value = match.groupdict().get("v")
            if value is not None:
                if not value or _REFERENCE.match(value) or value.lower() in ("null", "none", "true", "false", "~"):
                    continue
                # Unquoted code that reads it from elsewhere: os.environ[...], get_password(), conf.pw
                if what == "a literal credential" and not match["q"] and (
                        match["after"] in ("(", "[", ".") or re.fullmatch(r"[A-Za-z_][\w.]*\.[A-Za-z_]\w*", value)):
                    continue
                # A Python type annotation (`def f(password: str, ...)`, `token: bytes = ...`), not a value.
                if what == "a literal credential" and not match["q"] and value in _TYPE_NAMES and match["after"] in (
                        ",", ")", "=", "", " ", "\n"):
                    continue
            found.append(what)
            break
    return found






# A value that is only Kubernetes' reference to another env var of the container (`$(NAME)`, maybe
# in quotes, as a config parser needs it): the kubelet substitutes it when the container starts.
_DEPENDENT_ENV = re.compile(r'^"?\$\(([A-Za-z_][A-Za-z0-9_]*)\)"?$')


def _secret_sourced(container: dict[str, Any]) -> set[str]:
    """Names of the container's env vars that come from a Secret (valueFrom.secretKeyRef)."""
    return {item["name"] for item in as_list(container.get("env"))
            if isinstance(item, dict) and isinstance(item.get("name"), str)
            and isinstance(as_dict(item.get("valueFrom")).get("secretKeyRef"), dict)}


def _literal_env_secrets(where: str, containers: list[tuple[str, dict[str, Any]]]) -> list[str]:
    errors = []
    for label, container in containers:
        from_secrets = _secret_sourced(container)
        for name, value in env_values(container):
            if is_unknown(value) or not isinstance(value, str):
                continue
            if (ref := _DEPENDENT_ENV.match(value)) and ref.group(1) in from_secrets:
                continue
            if secret_bearing(name) and not _harmless_literal(value):
                errors.append(f"{where}: {label}: env {name} has a literal value; take it from a Secret (valueFrom.secretKeyRef)")
            elif secret_content(value):
                errors.append(f"{where}: {label}: env {name} holds {secret_content(value)[0]}; take it from a Secret")
    return errors




def check_no_literal_secrets(manifest: Manifest) -> list[str]:
    """Secret-bearing env vars (PASSWORD, SECRET, TOKEN, ..._KEY, CREDENTIALS, CONNECTION_STRING, ...)
    come from Secrets (valueFrom.secretKeyRef), no env value or command line embeds a credential, and
    no ConfigMap holds a secret (password=, requirepass, private keys, user:password@ URLs)."""
    where = describe(manifest)
    errors = []
    if manifest.get("kind") == "ConfigMap":
        for key, text in configmap_entries(manifest):
            findings = secret_content(text)
            for what in findings:
                errors.append(f"{where}: data key {key} holds {what}; keep it in a Secret")
            if not findings and secret_bearing(key) and not _harmless_literal(text):
                errors.append(f"{where}: data key {key} holds a secret-named literal value; keep it in a Secret")
            for embedded_pod in embedded_pods(text):
                embedded = [(f"{key}: {label}", c) for label, c, _ in PodTemplate(where, embedded_pod, {}, False).containers()]
                errors += _literal_env_secrets(where, embedded)
        return errors
    for pod in pod_templates(manifest):
        containers = [(label, c) for label, c, _ in pod.containers()]
        errors += _literal_env_secrets(pod.where, containers)
        for label, container in containers:
            for text in command_lines(container):
                for what in secret_content(text):
                    errors.append(f"{pod.where}: {label}: the command line holds {what}; read it from a Secret")
    return errors


check = check_no_literal_secrets
