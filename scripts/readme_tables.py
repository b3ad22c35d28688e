"""Rewrites what is generated from the settings model, in place (`make readme-tables`): README.md's
configuration reference (settings/reference.py) and Helm-chart values table (settings/chart_values.py),
and Pulumi.yaml's `config:` section (settings/pulumi_schema.py). The unit tests fail while any is stale."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from settings import chart_values, pulumi_schema, reference  # noqa: E402


def main() -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    for module in (reference, chart_values):
        start, end = text.index(module.BEGIN), text.index(module.END) + len(module.END) + 1
        text = text[:start] + module.markdown() + text[end:]
    path.write_text(text)
    project = ROOT / "Pulumi.yaml"
    text = project.read_text()
    if pulumi_schema.BEGIN in text:
        start, end = text.index(pulumi_schema.BEGIN), text.index(pulumi_schema.END) + len(pulumi_schema.END) + 1
    else:  # first run: the placeholder line
        start = text.index("CONFIG\n")
        end = start + len("CONFIG\n")
    project.write_text(text[:start] + pulumi_schema.config_section() + text[end:])
    print(f"rewrote the generated tables of {path} and the config section of {project}")


if __name__ == "__main__":
    main()
