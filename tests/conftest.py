from __future__ import annotations

import cnncalc
from cnncalc import Report


def codes(report: Report) -> list[tuple[str, str]]:
    """(severity, code) of every problem, in order."""
    return [(p.severity.value, p.code) for p in report.problems]


def leaf(report: Report, path: str) -> cnncalc.LayerRow:
    return next(r for r in report.layers if r.path == path)
