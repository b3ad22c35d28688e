"""Rewrites the generated tables of README.md in place (`make readme-tables`): the configuration
reference (settings/reference.py) and the Helm-chart values table (settings/chart_values.py). The
unit tests fail while either is stale."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from settings import chart_values, reference  # noqa: E402


def main() -> None:
    path = ROOT / "README.md"
    text = path.read_text()
    for module in (reference, chart_values):
        start, end = text.index(module.BEGIN), text.index(module.END) + len(module.END) + 1
        text = text[:start] + module.markdown() + text[end:]
    path.write_text(text)
    print(f"rewrote the generated tables of {path}")


if __name__ == "__main__":
    main()
