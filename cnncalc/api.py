"""The public entry points: :func:`analyze` and :func:`validate`.

They run the stages in order — read and build the spec (:mod:`cnncalc.spec.parse`), walk it
(:mod:`cnncalc.analysis`), lint the finished report (:mod:`cnncalc.lints`), keep only fixes
that re-analyse cleanly (:mod:`cnncalc.fixes`, sharing the lints' :class:`~cnncalc.lints.Flow`),
and on request the NumPy forward pass (:mod:`cnncalc.forward`). Nothing here prints.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .analysis import walk
from .design import DEFAULT_RANGE, TOP
from .diagnostics import MODES, ArchitectureError, Mode, Problem, Severity
from .fixes import verify_fixes
from .lints import Flow, lint
from .report import DTYPES, Report
from .spec.build import Spec
from .spec.parse import parse_source, read_source, read_spec
from .values import MAX_SIZE

if TYPE_CHECKING:
    from .design.answer import Solved


def analyze_spec(spec: Spec, mode: Mode | None = None, batch: int = 1, dtype: str = "float32"
                 ) -> Report:
    """Analyse a parsed spec: the walk, then (when it has no error) the lints; a fix cnncalc
    would reject is never shown. No forward pass."""
    report = walk(spec, mode, batch, dtype)
    if not report.ok:
        return verify_fixes(report)
    flow = Flow(report.layers)  # lints read whole reports, so they run on a finished one
    return verify_fixes(replace(report, problems=(*report.problems, *lint(report, flow))), flow)


def lint_report(report: Report) -> list[Problem]:
    """The lints of a finished report, each fix re-analysed: the problems :func:`analyze_spec`
    adds to a report without errors, in spec order."""
    flow = Flow(report.layers)
    linted = replace(report, problems=(*report.problems, *lint(report, flow)))
    return list(verify_fixes(linted, flow).problems[len(report.problems):])


def analyze(spec: str | Path, mode: Mode | None = None, *, verify: bool = False, batch: int = 1,
            dtype: str = "float32", max_memory: int | None = None) -> Report:
    """Analyse a spec: one-line text, YAML text, or a path to a YAML file.

    Raises only :class:`~cnncalc.SpecSyntaxError` (the spec cannot be read or parsed);
    an invalid architecture is reported in ``report.problems`` with ``report.ok`` False.
    ``verify`` runs the NumPy forward pass within ``max_memory`` bytes (default 2 GiB, as
    the CLI); a pass that does not fit, would take too long or runs out of memory is a
    V002 note.

    >>> r = analyze("32x32x3 -> conv(10, 5, p=2)")
    >>> r.ok, r.layers[0].output_shape, r.layers[0].params
    (True, (32, 32, 10), 760)
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be default, strict or lenient, not {mode!r}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if not isinstance(batch, int) or not 1 <= batch <= MAX_SIZE:
        raise ValueError(f"batch must be a whole number from 1 to {MAX_SIZE:,}, not {batch!r}")
    parsed, _ = read_spec(spec)
    report = analyze_spec(parsed, mode, batch, dtype)
    if verify:
        from .forward import verify_report  # NumPy is imported only for the forward pass
        report = verify_report(report, max_memory)
    return report


def validate(spec: str | Path, mode: Mode | None = None, **options: Any) -> Report:
    """Like :func:`analyze`, but raise :class:`~cnncalc.ArchitectureError` on any error.

    The exception's ``.problems`` are all of the report's problems (errors first in spec
    order, then warnings and notes) — the codes and locations ``cnncalc check`` prints.
    """
    report = analyze(spec, mode, **options)
    if not report.ok:
        rank = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTE: 2}
        raise ArchitectureError(sorted(report.problems, key=lambda p: rank[p.severity]))
    return report


def solve(spec: str | Path, mode: Mode | None = None, *,
          range: tuple[int, int] = DEFAULT_RANGE, top: int = TOP) -> Solved:
    """Solve a spec's unknowns (``?``): every assignment under which it analyses without
    errors in ``mode`` and meets its ``expect:`` — ``.count`` of them, the best ``top`` in
    ``.solutions`` (each walked again in full, with its complete spec ``.text``), the values
    no solution uses (``.rejected``) and, when none works, the error that ends the last
    (``.blocker``). ``range`` bounds an unknown input size (``?x?x3``).

    Raises :class:`~cnncalc.SpecSyntaxError` when the spec cannot be parsed, and
    :class:`ValueError` for a bad range or a search beyond the solver's limits.

    >>> s = solve("7x7x3 -> conv(1, 3, s=?)")
    >>> s.count, [sol.text for sol in s.solutions]
    (2, ['7x7x3 -> conv(1, 3, s=1)', '7x7x3 -> conv(1, 3, s=2)'])
    """
    from .design import TooLarge
    from .design.answer import solve as solved  # the solver loads only when asked
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be default, strict or lenient, not {mode!r}")
    src = read_source(spec)
    try:
        return solved(parse_source(src), src, mode, ranges=range, top=top)
    except TooLarge as exc:
        raise ValueError(f"the search is too large: {exc}") from None


__all__ = ["analyze", "analyze_spec", "lint_report", "solve", "validate"]
