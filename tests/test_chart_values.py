"""The README's Helm-chart table: every value of the official charts is mapped once, every setting it
names exists, and the README carries exactly what docs/helm-chart-values.yaml renders."""

from __future__ import annotations

import re
from collections import Counter

from settings import chart_values
from settings.reference import markdown as reference
from tests.conftest import ROOT


def test_every_chart_value_is_mapped_exactly_once():
    mapped = chart_values.mapped_keys()
    assert [k for k, n in Counter(mapped).items() if n > 1] == []
    assert set(mapped) == set(chart_values.chart_keys())
    assert len(mapped) > 250


def test_each_entry_says_what_or_why():
    for entry in chart_values.entries():
        assert entry["status"] in chart_values.STATUSES, entry
        if entry["status"] == "covered":
            assert entry.get("here"), entry
        else:
            assert entry.get("why") and not entry.get("here"), entry


def test_every_setting_named_exists():
    documented = set(re.findall(r"^\| `([^`]+)` \|", reference(), re.M))
    for entry in chart_values.entries():
        for setting in entry.get("here", []):
            assert setting in documented, f"{setting} is not a setting (configuration reference)"


def test_expansion():
    assert chart_values.expand("a: x.{b,c}.{d,e}") == ["a: x.b.d", "a: x.b.e", "a: x.c.d", "a: x.c.e"]
    assert chart_values.expand("a: plain") == ["a: plain"]


def test_readme_carries_the_rendered_table():
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index(chart_values.BEGIN):readme.index(chart_values.END) + len(chart_values.END)] + "\n"
    assert block == chart_values.markdown(), "README.md is stale: run `python -m settings.chart_values` and paste it"
    counts = Counter(e["status"] for e in chart_values.entries() for p in e["keys"] for _ in chart_values.expand(p))
    assert f"**{counts['covered']} covered**" in block and f"**{counts['missing']} missing**" in block
