"""Build `Settings` from a stack's Pulumi config, failing with messages that name the config key."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Any

from pydantic import ValidationError

from .external import UNION_TAGS, literal_credentials
from .models import KeyedError, Settings

PROJECT = "clearml-openshift"


class ConfigError(ValueError):
    """The stack configuration is invalid. `problems` holds one `key.path: message` line per error."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            "invalid stack configuration (nothing was deployed):\n  " + "\n  ".join(problems)
        )


def top_level_keys() -> list[str]:
    """The config keys a stack may set, in `Settings` field order (camelCase)."""
    return [field.alias or name for name, field in Settings.model_fields.items()]


def _key_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return f"{PROJECT}:{path}" if path else PROJECT


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see the configuration reference in README.md)"
    if kind == "missing":
        return "required value is missing"
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def format_validation_error(err: ValidationError) -> list[str]:
    # Errors from a union (e.g. `Volume | None`) carry the branch name in loc; drop those parts.
    problems = []
    for error in err.errors():
        # `[key]` marks an invalid dict key (the key itself is the part before it).
        loc = tuple(p for p in error["loc"]
                    if not (isinstance(p, str) and (p.startswith(("function-", "nullable[")) or p == "[key]"
                                                    or p in UNION_TAGS)))
        cause = (error.get("ctx") or {}).get("error")
        if isinstance(cause, KeyedError):
            loc += tuple(cause.path.split("."))
        problems.append(f"{_key_path(loc)}: {_message(error)}")
    return problems


def _decode(key: str, raw: Any) -> Any:
    """Pulumi hands object values to the program as JSON text; scalars arrive as strings too."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        # Never the value itself: it may be a secret (`pulumi config set --secret`).
        raise ConfigError([f"{PROJECT}:{key}: expected an object (a YAML mapping of settings), got a plain "
                           f"string; see the configuration reference in README.md"]) from None


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        if set(value) == {"name", "key"}:
            return []  # a Secret reference ({name, key}) names where a secret is, it is not one
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _redacted(problems: list[str], config: Mapping[str, Any], secret_keys: Collection[str]) -> list[str]:
    """Every problem line with each value of a secret key (and each string inside it) replaced."""
    values = set()
    for full_key in secret_keys:
        raw = config.get(full_key)
        if raw is None:
            continue
        values.add(str(raw))
        try:
            values.update(_leaves(json.loads(raw) if isinstance(raw, str) else raw))
        except json.JSONDecodeError:
            pass
    for value in sorted((v for v in values if v), key=len, reverse=True):
        # Whole values only: a short leaf ("e") must not take letters out of every word.
        pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])")
        problems = [pattern.sub("[secret]", p) for p in problems]
    return problems


def _plain_credentials(settings: Settings, secret_keys: Collection[str]) -> list[str]:
    """A credential given as a value must have come from `pulumi config set --secret`."""
    return [f"{PROJECT}:{path}: a credential in plain text in the stack file: set it with `pulumi config set "
            f"--secret --path '{path}' <value>`, or reference a Secret ({{name, key}})"
            for path, _ in literal_credentials(settings) if f"{PROJECT}:{path.split('.')[0]}" not in secret_keys]


def settings_from_config(config: Mapping[str, Any], secret_keys: Collection[str] = ()) -> Settings:
    """Validate a `{"<project>:<key>": value}` mapping (as Pulumi delivers config) into `Settings`.

    Keys of other namespaces (`kubernetes:context`, ...) are ignored; unknown keys of this project
    are errors. Raises ConfigError listing every problem at once; no problem shows a value of a key in
    `secret_keys` (the keys set with `pulumi config set --secret`).
    """
    known = set(top_level_keys())
    problems: list[str] = []
    data: dict[str, Any] = {}
    for full_key, raw in sorted(config.items()):
        namespace, _, key = full_key.partition(":")
        if namespace != PROJECT:
            continue
        if key not in known:
            problems.append(
                f"{full_key}: unknown key (known keys: {', '.join(top_level_keys())})"
            )
            continue
        try:
            data[key] = _decode(key, raw)
        except ConfigError as err:
            problems.extend(err.problems)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as err:
        problems.extend(format_validation_error(err))
    else:
        problems.extend(_plain_credentials(settings, secret_keys))
    if problems:
        raise ConfigError(_redacted(problems, config, secret_keys))
    return settings


def current_secret_keys() -> set[str]:
    """The config keys of the running program that were set as secrets."""
    from program import sdk

    return sdk.config_secret_keys()


def current_config() -> dict[str, Any]:
    """Every config value the running Pulumi program was given (engine, tests or PULUMI_CONFIG)."""
    from program import sdk

    return sdk.config_values()
