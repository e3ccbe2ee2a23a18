"""``cnncalc sizes``: the accepted input sizes as text (the CLI prints it; JSON is
:meth:`~cnncalc.design.sizes.InputSizes.to_dict`)."""

from __future__ import annotations

from ..design.compact import Progression
from ..design.sizes import AxisSizes, InputSizes, SizeCheck
from ..shapes import format_shape
from .formats import clean, clean_problem
from .render import Styled, problem_text

SHOWN = 10
"""Progressions written per axis before ``… and N more``."""


def progression(p: Progression, lo: int, hi: int) -> str:
    """One progression as people write it.

    >>> progression(Progression(1, 1, 1024), 1, 1024), progression(Progression(7, 1, 1018), 1, 1024)
    ('1–1024 (every size)', '7–1024')
    >>> progression(Progression(32, 32, 32), 1, 1024)
    '32, 64, 96, … (multiples of 32) from 32 to 1024'
    >>> progression(Progression(33, 32, 31), 1, 1024), progression(Progression(4, 4, 2), 1, 9)
    ('33, 65, 97, … (32k + 1) from 33 to 993', '4, 8')
    """
    if p.count == 1:
        return str(p.first)
    if p.step == 1:
        return f"{p.first}–{p.last}" + (" (every size)" if (p.first, p.last) == (lo, hi) else "")
    if p.count == 2:
        return f"{p.first}, {p.last}"
    r = p.first % p.step
    rule = f"multiples of {p.step}" if r == 0 else f"{p.step}k + {r}"
    terms = ", ".join(str(p.at(t)) for t in range(3))
    return f"{terms}, … ({rule}) from {p.first} to {p.last}"


def accepted_text(axis: AxisSizes, lo: int, hi: int) -> str:
    """An axis' accepted sizes: its progressions, the first :data:`SHOWN` of them."""
    parts = [progression(p, lo, hi) for p in axis.accepted[:SHOWN]]
    more = len(axis.accepted) - SHOWN
    if more > 0:
        parts.append(f"… and {more:,} more (--format json lists them all)")
    return "; ".join(parts)


def sizes_text(result: InputSizes) -> Styled:
    """The whole answer: a head line, each axis, the smallest input, the ``--size`` check."""
    lo, hi = result.range
    name = f"{clean(result.name)}: " if result.name else ""
    out = Styled(f"{name}input {format_shape(result.input)}, {result.mode} mode, sizes "
                 f"{lo}..{hi}", "bold")
    width = max(len(a.axis) for a in result.axes)
    for axis in result.axes:
        line = Styled("\n")
        line.append(f"{axis.axis}:".ljust(width + 2), "bold")
        if axis.count:
            line.append(accepted_text(axis, lo, hi))
            line.append(f"  ({axis.count:,} size{'s' if axis.count != 1 else ''}, "
                        f"smallest {axis.smallest})", "dim")
        else:
            line.append(f"none in {lo}..{hi}", "bold red")
            if axis.example is not None:
                shape, problem = axis.example
                line.append(f" — e.g. {format_shape(shape)}:\n    ")
                line.append_text(problem_text(clean_problem(problem)))
        out.append_text(line)
    if all(a.count for a in result.axes):
        out.append("\nsmallest input: ", "bold")
        out.append(format_shape(result.smallest) if result.smallest else
                   "every axis at its smallest is not accepted together")
    if result.size is not None:
        out.append("\n\n")
        out.append_text(size_text(result.size))
    return out


def size_text(check: SizeCheck) -> Styled:
    """``--size``: accepted, or its first error, the nearest sizes per offending axis and
    the nearest whole input verified to be accepted."""
    out = Styled(f"{format_shape(check.shape)}: ", "bold")
    if check.ok:
        return out.append("accepted", "bold green")
    out.append("rejected", "bold red")
    if check.problem is not None:
        out.append("\n  ")
        out.append_text(problem_text(clean_problem(check.problem)))
    for n in check.nearest:
        near = [f"{n.below} below" if n.below is not None else "none below",
                f"{n.above} above" if n.above is not None else "none above"]
        out.append(f"\n  {n.axis} {n.size}: nearest accepted {', '.join(near)}")
        if n.spec_sizes:
            out.append(" (with the other axes at the spec's sizes)", "dim")
    out.append("\n  nearest accepted input: ")
    out.append(format_shape(check.suggestion) if check.suggestion else "none found nearby")
    return out


__all__ = ["progression", "size_text", "sizes_text"]
