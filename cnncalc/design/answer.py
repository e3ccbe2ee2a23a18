"""``cnncalc solve``'s answer: run the search (:mod:`.solve`), verify and write out the best
solutions, in the records the output formats read (:class:`Solved`).

:func:`solve` takes a parsed spec with unknowns (``?``) and returns a
:class:`~cnncalc.design.solve.Solved`: how many assignments work, the best few — each walked
again in full, as the complete spec text when the values can be written into it — the values
no solution uses with the error each met, and when none works, the error that ended the
search. Nothing here prints.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import Any

from ..analysis import walk
from ..diagnostics import Mode, Problem, Severity, without_fixes
from ..report import Report
from ..spec.build import Spec
from ..spec.parse import read_spec
from ..spec.source import Source
from ..spec.unknowns import Key, Site
from . import DEFAULT_RANGE, TOP, TooLarge, domains
from .sizes import check_range
from .solve import (
    MAX_KEEP,
    Assignment,
    Cost,
    Work,
    binder,
    search,
    with_input,
)


@dataclass(frozen=True)
class Solution:
    """One assignment that works, with what the network then is."""

    values: Assignment
    cost: Cost
    text: str | None
    """The complete spec with the values written in; None when one ``?`` took different
    values in different repetitions or calls (the values are listed instead)."""
    report: Report = field(repr=False, compare=False)

    def to_dict(self, sites: dict[Key, Site]) -> dict[str, Any]:
        t = self.report.totals
        return {
            "values": [_value_dict(k, v, sites) for k, v in self.values],
            "spec": self.text,
            "output_shape": list(t.output_shape) if t.output_shape else None,
            "params": t.params, "macs": t.macs,
            "inexact_divisions": self.cost[0], "padding": self.cost[1],
        }


def _value_dict(k: Key, value: int, sites: dict[Key, Site]) -> dict[str, Any]:
    s = sites[k]
    return {"unknown": s.text, "path": None if isinstance(k, str) else k[0],
            "argument": s.argument, "owner": s.owner, "value": value,
            "location": s.location.to_dict()}


@dataclass(frozen=True)
class Rejected:
    """A value of one unknown that no solution uses, and the first error it met."""

    site: Site
    value: int
    problem: Problem | None


@dataclass(frozen=True)
class Solved:
    """What ``cnncalc solve`` answers."""

    spec: Spec
    mode: Mode
    sites: tuple[Site, ...]
    solutions: tuple[Solution, ...]
    count: int
    """How many assignments work (over every unknown's domain)."""
    occurrences: dict[Key, Site]
    rejected: tuple[Rejected, ...] = ()
    blocker: Problem | None = None
    """When none works: the error that ended the last assignments standing."""
    unbounded: tuple[Site, ...] = ()
    """Unknowns that work up to the top of their domain: likely any larger value works too."""
    exact: bool = True
    """Whether ``count`` is exact: ``expect: outputs`` is checked only on the solutions shown,
    so with it ``count`` is an upper bound."""

    @property
    def ok(self) -> bool:
        return bool(self.solutions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cnncalc": "1", "name": self.spec.name, "mode": self.mode, "ok": self.ok,
            "unknowns": [{"unknown": s.text, "argument": s.argument, "owner": s.owner,
                          "location": s.location.to_dict()} for s in self.sites],
            "count": self.count, "count_exact": self.exact,
            "solutions": [s.to_dict(self.occurrences) for s in self.solutions],
            "rejected": [{"unknown": r.site.text, "argument": r.site.argument,
                          "value": r.value,
                          "problem": r.problem.to_dict() if r.problem else None}
                         for r in self.rejected],
            "blocker": self.blocker.to_dict() if self.blocker else None,
            "unbounded": [s.text for s in self.unbounded],
        }


MAX_RANGE = 1 << 20
MAX_REJECTED = 256


def site_values(values: Assignment, occurrences: dict[Key, Site]) -> dict[Site, list[int]]:
    """The values each unnamed ``?`` takes, one per occurrence (repetitions, calls)."""
    per_site: dict[Site, list[int]] = {}
    for k, v in values:
        if not isinstance(k, str):
            per_site.setdefault(occurrences[k], []).append(v)
    return per_site


def written(source: Source, spec: Spec, values: Assignment, occurrences: dict[Key, Site]
            ) -> str | None:
    """The spec's text with every ``?`` replaced by its value; None when one ``?`` took
    different values in different repetitions or calls (or its text cannot be found)."""
    per_site = site_values(values, occurrences)
    named = {k: {v} for k, v in values if isinstance(k, str)}
    text = source.text
    starts = [0, *(m.end() for m in re.finditer("\n", text))]  # each line's offset
    edits = []
    for s in _all_sites(spec, occurrences):
        if s.name:
            continue  # every ?name is one value: written below, wherever it stands
        chosen = per_site.get(s)
        if chosen is None:
            continue  # a site no walk reached (inside `* 0`): left as written
        if len(set(chosen)) != 1:
            return None
        at = starts[s.location.line - 1] + s.location.column - 1 if s.location.line <= len(
            starts) else -1
        if text[at:at + len(s.text)] != s.text:
            return None
        edits.append((at, len(s.text), str(chosen[0])))
    for at, n, written_value in sorted(edits, reverse=True):
        text = text[:at] + written_value + text[at + n:]
    for name, (number,) in named.items():
        # the name ends where an identifier does, or at a size's x (``?nx?nx3``)
        text = re.sub(re.escape(name) + r"(?![A-Za-z0-9_?])|" + re.escape(name)
                      + r"(?=[x×][0-9?])", str(number), text)
    return text


def _all_sites(spec: Spec, occurrences: dict[Key, Site]) -> tuple[Site, ...]:
    """The spec's sites: those the build met, and those only a walk met (inside a block body
    built when the walk knew its input)."""
    return tuple(sorted({*spec.unknowns, *occurrences.values()}, key=lambda s: s.index))


def verify(source: Source, spec: Spec, mode: Mode, values: Assignment,
           occurrences: dict[Key, Site]) -> tuple[str | None, Report]:
    """Walk a solution again in full: its written text when it has one, else the spec with
    the values bound."""
    text = written(source, spec, values, occurrences)
    if text is not None:
        parsed, _ = read_spec(Source(text, source.name, source.is_yaml))
        return text, walk(parsed, mode)
    bound = dict(values)
    return None, walk(with_input(spec, bound), mode, binder=binder(bound))


def solve(spec: Spec, source: Source, mode: Mode | None = None, *,
          ranges: tuple[int, int] = DEFAULT_RANGE, top: int = TOP) -> Solved:
    """Every assignment of ``spec``'s unknowns under which it analyses without errors in
    ``mode`` and meets its ``expect:``; the best ``top`` verified. Raises
    a :class:`~cnncalc.design.TooLarge` (a ValueError) past the search's limits."""
    mode = mode or spec.mode or "default"
    lo, hi = ranges
    check_range(lo, hi)
    if hi - lo + 1 > MAX_RANGE:
        raise TooLarge(f"the range {lo}..{hi} holds more than {MAX_RANGE:,} sizes")
    fixed = [p for p in spec.problems if p.severity is Severity.ERROR
             and not (p.path == "input" and spec.input is None and spec.unknowns)]
    work = Work()
    if fixed:
        return Solved(spec, mode, spec.unknowns, (), 0, {}, blocker=fixed[0])
    with without_fixes():  # nobody sees the fixes of the trials' problems
        finals, blocker = search(spec, mode, ranges, work, max(MAX_KEEP, top + 8))
    count = sum(b.count for b in finals.values())
    entries = heapq.nsmallest(max(top, 0) + 8, (e for b in finals.values() for e in b.best))
    solutions: list[Solution] = []
    for cost, values in entries:
        if len(solutions) >= top:
            break
        text, report = verify(source, spec, mode, values, work.occurrences)
        if not report.ok:  # `expect: outputs` (checked only here) or a bug: never shown
            blocker = blocker or next(p for p in report.problems
                                      if p.severity is Severity.ERROR)
            continue
        ordered = tuple(sorted(values, key=lambda kv: (
            work.occurrences[kv[0]].index,
            () if isinstance(kv[0], str) else tuple(map(int, kv[0][0].split("."))))))
        solutions.append(Solution(ordered, cost, text, report))
    used: dict[Key, set[int]] = {}
    for b in finals.values():
        for k, vs in b.used.items():
            used.setdefault(k, set()).update(vs)
    exact = not any(e.key == "outputs" for e in spec.expect)
    return Solved(spec, mode, _all_sites(spec, work.occurrences), tuple(solutions), count,
                  dict(work.occurrences),
                  _rejected(work, used), None if solutions else blocker,
                  _unbounded(work.occurrences, used, ranges), exact)


def _rejected(work: Work, used: dict[Key, set[int]]) -> tuple[Rejected, ...]:
    """Per site, each value no solution gives any of its occurrences, with its first error."""
    by_site: dict[tuple[Site, int], Problem | None] = {}
    site_used: dict[Site, set[int]] = {}
    for k, vs in used.items():
        site_used.setdefault(work.occurrences[k], set()).update(vs)
    for (k, v), problem in sorted(work.reasons.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        s = work.occurrences[k]
        if v not in site_used.get(s, set()):
            by_site.setdefault((s, v), problem)
    out = sorted((Rejected(s, v, p) for (s, v), p in by_site.items()),
                 key=lambda r: (r.site.index, r.value))
    return tuple(out[:MAX_REJECTED])


def _unbounded(occurrences: dict[Key, Site], used: dict[Key, set[int]],
               ranges: tuple[int, int]) -> tuple[Site, ...]:
    """Sites whose solutions reach the top of their domain: larger values likely work too."""
    out = []
    for k, vs in used.items():
        s = occurrences[k]
        r = domains.role(s)
        top = ranges[1] if r == "input" else domains.MAX_COUNT if r == "count" else None
        if top is not None and top in vs and s not in out:
            out.append(s)
    return tuple(out)


__all__ = ["DEFAULT_RANGE", "TOP", "Rejected", "Solution", "Solved", "TooLarge", "site_values",
           "solve", "verify", "written"]

