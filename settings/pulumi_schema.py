"""The `config:` section of Pulumi.yaml, generated from the settings model (`make readme-tables`
writes it; a unit test fails while the file differs): one object key per top-level setting, its
description the model's, listing the section's fields. Nested defaults and every field are in the
README's configuration reference (settings/reference.py)."""

from __future__ import annotations

import json

from pydantic import BaseModel

from .models import Settings

BEGIN = "# config-schema:begin (generated from settings/models.py by `make readme-tables`; do not edit)"
END = "# config-schema:end"


def config_section() -> str:
    lines = [BEGIN, "config:"]
    for name, field in Settings.model_fields.items():
        key = field.alias or name
        model = field.annotation
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"{key}: every top-level setting is a model, this one is {model}")
        fields = ", ".join(f.alias or n for n, f in model.model_fields.items())
        description = f"{(field.description or '').rstrip('.')}: {{{fields}}}." + (" Required." if field.is_required() else "")
        lines += [f"  {key}:", "    type: object", f"    description: {json.dumps(description)}", "    default: {}"]
    return "\n".join([*lines, END]) + "\n"
