"""Preflight: every cluster prerequisite of a stack, checked before anything is created.

The program runs `run()` before it registers any resource (`__main__.py`; skipped only for the
offline render, which has no cluster); `make preflight STACK=...` runs it alone
(`python -m preflight`). A failure lists every problem at once, one line each, naming the setting or
prerequisite and the fix. See README.md, "Preflight".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from settings import Settings

from . import cluster as _cluster
from .checks import Report, check
from .needs import Needs, needs


class PreflightFailed(Exception):
    def __init__(self, report: Report):
        self.report = report
        lines = "\n  ".join(report.problems)
        super().__init__(f"preflight found {len(report.problems)} problem(s) on {report.endpoint or 'the cluster'}; "
                         f"nothing was created:\n  {lines}")


def summary(report: Report, seconds: float) -> str:
    notes = "".join(f"\n  note: {n}" for n in report.notes)
    return f"preflight: {report.checks} checks passed on {report.endpoint} in {seconds:.2f}s{notes}"


def run(settings: Settings, config: Mapping[str, Any]) -> tuple[Report, float]:
    """Checks the cluster of this stack's kubeconfig/context; raises PreflightFailed with every problem."""
    started = time.monotonic()
    try:
        target = _cluster.connect(config)
    except _cluster.Unreachable as err:
        report = Report(problems=[f"cluster: {err}: check KUBECONFIG, kubernetes:kubeconfig or kubernetes:context"])
        raise PreflightFailed(report) from None
    report = check(target, needs(settings))
    if report.problems:
        raise PreflightFailed(report)
    return report, time.monotonic() - started


__all__ = ["Needs", "PreflightFailed", "Report", "check", "needs", "run", "summary"]
