"""``cnncalc solve``'s answer as text and JSON (nothing prints here).

Each unknown is named by what it stands for and where it is written; an unknown inside a
repeat or a block call is one per occurrence, named by its walk path too.
"""

from __future__ import annotations

from typing import Any

from ..design.answer import Solution, Solved, site_values
from ..shapes import format_shape
from ..spec.unknowns import Key, Site
from .formats import clean, dumps

PER_SITE = 4
"""Rejected values listed per unknown in the text (JSON lists them all)."""


def label(k: Key, s: Site, several: bool) -> str:
    """``?p``; ``padding (1:26)``; ``stride (1:22) at 4.1.2`` for one of several occurrences."""
    if isinstance(k, str):
        return k
    where = f"{s.argument} ({s.location.line}:{s.location.column})"
    return f"{where} at {k[0]}" if several else where


def _several(solved: Solved) -> set[Site]:
    seen: dict[Site, int] = {}
    for k, s in solved.occurrences.items():
        if not isinstance(k, str):
            seen[s] = seen.get(s, 0) + 1
    return {s for s, n in seen.items() if n > 1}


def values_text(solution: Solution, solved: Solved, several: set[Site] | None = None) -> str:
    """``?p = 2, stride (1:22) at 4.2.1 = 1, padding (1:9) = 1 (all 3)``: one value per
    occurrence, or once for a ``?`` whose occurrences all take the same value. ``several``:
    the sites with several occurrences (:func:`_several`, found once for all the solutions
    shown)."""
    several = _several(solved) if several is None else several
    taken = site_values(solution.values, solved.occurrences)
    parts, said = [], set()
    for k, v in solution.values:
        s = solved.occurrences[k]
        values = taken.get(s) if not isinstance(k, str) and s in several else None
        if values is not None and len(set(values)) == 1:
            if s not in said:
                said.add(s)
                parts.append(f"{clean(label(k, s, False))} = {v} (all {len(values)})")
            continue
        parts.append(f"{clean(label(k, s, values is not None))} = {v}")
    return ", ".join(parts)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def to_text(solved: Solved, name: str) -> str:
    """The answer: the unknowns, how many assignments work, the best as complete specs, the
    values no solution uses and why; or why there is none."""
    lines = [f"{clean(name)}: {_plural(len(solved.sites), 'unknown')} "
             f"({solved.mode} mode)"]
    for s in solved.sites:
        lines.append(f"  {clean(s.text)}  {clean(s.describe())}")
    if not solved.sites:
        lines.append("Nothing to solve: no `?` in the layers or the input; the spec is "
                     + ("valid as written." if solved.ok else "invalid as written:"))
    if not solved.ok:
        if solved.sites:
            lines.append("No assignment of the unknowns works.")
        if solved.blocker is not None:
            b = solved.blocker
            where = f" (line {b.location.line}, column {b.location.column})" if b.location \
                else ""
            at = "it fails `expect:`" if b.path.startswith("expect") else \
                f"it becomes impossible at layer {b.path or 'the spec'}"
            lines.append(f"  {at}{where}: {b.code} {clean(b.message)}")
    elif not solved.sites:
        pass
    else:
        lines.append(("" if solved.exact else "at most ")
                     + f"{_plural(solved.count, 'assignment')} "
                     f"{'works' if solved.count == 1 else 'work'}; "
                     f"{'the best' if solved.count > len(solved.solutions) else 'all'}, "
                     "best first (exact divisions, least padding, common values):")
        several = _several(solved)
        for i, sol in enumerate(solved.solutions, 1):
            t = sol.report.totals
            lines.append(f"  {i}. {values_text(sol, solved, several)}")
            lines.append(f"     output {format_shape(t.output_shape)}, {t.params:,} params, "
                         f"{t.macs:,} MACs"
                         + (f", {_plural(sol.cost[0], 'inexact division')} (notes)"
                            if sol.cost[0] else ""))
            if sol.text is not None:
                lines += [f"     {clean(line)}" for line in sol.text.strip().splitlines()]
            else:
                lines.append("     (one `?` takes different values in different repetitions "
                             "or calls, so no one text holds them: name it `?name` to share "
                             "one value)")
    if solved.rejected:
        lines.append("Values no solution uses (the first error each met):")
        shown: dict[Site, int] = {}
        for r in solved.rejected:
            shown[r.site] = shown.get(r.site, 0) + 1
            if shown[r.site] > PER_SITE:
                continue
            p = r.problem
            why = f"layer {p.path}: {p.code} {clean(p.message)}" if p else \
                "no complete solution"
            name = r.site.text if r.site.name else \
                f"{r.site.argument} ({r.site.location.line}:{r.site.location.column})"
            lines.append(f"  {clean(name)} = {r.value}: {why}")
        for site, n in shown.items():
            if n > PER_SITE:
                lines.append(f"  … and {n - PER_SITE} more values of {clean(site.text)} "
                             f"({clean(site.describe())})")
    for s in solved.unbounded:
        lines.append(f"Note: {clean(s.text)} ({clean(s.describe())}) works up to the largest "
                     "value tried: larger values likely work too (no finite set of solutions)"
                     "; constrain it with `expect:` (output, params) or write it")
    return "\n".join(lines)


def to_json(solved: Solved, ascii_only: bool = False) -> str:
    """The answer's JSON, with nothing a terminal would act on (:func:`formats.dumps`)."""
    data: dict[str, Any] = solved.to_dict()
    return dumps(data, ascii_only)


__all__ = ["label", "to_json", "to_text", "values_text"]
