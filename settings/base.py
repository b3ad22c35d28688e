"""The base of every settings model, and the error that names a key below the model raising it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic.alias_generators import to_camel


class KeyedError(ValueError):
    """A validation error about one key below the model that raises it (`path`, camelCase, dotted):
    the message then names that key, not the model's."""

    def __init__(self, path: str, message: str):
        self.path = path
        super().__init__(message)


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = deep_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


class Model(BaseModel):
    """Base for every settings model: camelCase keys, unknown keys rejected, immutable.

    A stack sets only what differs: a nested setting given as a mapping is merged field by field
    over that field's default (e.g. `resources: {limits: {memory: 2Gi}}` keeps the default requests
    and CPU limit). The defaults live here, in the model, and nowhere else."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        validate_default=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _merge_over_defaults(cls, data: object) -> object:
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name, field in cls.model_fields.items():
            if not isinstance(field.default, BaseModel):
                continue
            for key in {field.alias or name, name}:
                if isinstance(merged.get(key), dict):
                    merged[key] = deep_merge(field.default.model_dump(by_alias=True, exclude_unset=True), merged[key])
        return merged
