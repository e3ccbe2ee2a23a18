from __future__ import annotations

import cnncalc
from cnncalc import Report


def codes(report: Report, lints: bool = False) -> list[tuple[str, str]]:
    """(severity, code) of every problem in order; lint codes (L…) only when asked."""
    return [(p.severity.value, p.code) for p in report.problems
            if lints or not p.code.startswith("L")]


def leaf(report: Report, path: str) -> cnncalc.LayerRow:
    return next(r for r in report.layers if r.path == path)
