"""Every input size a network accepts: :func:`input_sizes` (``cnncalc sizes``).

*Accepted* means the spec with that input — one spatial axis set to ``n``, every other axis
and the channels at the spec's own values — analyses with no error in the mode: the walk's
problems and the ``expect:`` checks (lints never raise errors). :mod:`.pieces` finds the
accepted sizes of each axis exactly on sets of sizes at once; :mod:`.compact` writes them as
runs and progressions. Nothing here prints.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path
from typing import Any

from ..diagnostics import MODES, Mode, Problem
from ..shapes import Shape, axis_names, format_shape, rank
from ..spec.build import Spec
from ..spec.parse import read_spec
from ..values import MAX_SIZE
from . import DEFAULT_RANGE
from .compact import Progression, compact
from .pieces import Axis, TooLarge, Walks

__all__ = ["DEFAULT_RANGE", "AxisSizes", "InputSizes", "Nearest", "SizeCheck", "TooLarge",
           "check_range", "input_sizes"]


@dataclass(frozen=True, slots=True)
class AxisSizes:
    """The accepted sizes of one spatial axis within the range, the others at the spec's own
    sizes; ``example`` is the first error of a rejected size when none is accepted."""

    axis: str
    accepted: tuple[Progression, ...]
    count: int
    smallest: int | None
    example: tuple[Shape, Problem] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "accepted": [p.to_dict() for p in self.accepted],
                "count": self.count, "smallest": self.smallest,
                "rejected": None if self.example is None else {
                    "shape": list(self.example[0]), "problem": self.example[1].to_dict()}}


@dataclass(frozen=True, slots=True)
class Nearest:
    """The accepted sizes nearest ``size`` on ``axis``, the other axes at the given size."""

    axis: str
    size: int
    below: int | None
    above: int | None
    spec_sizes: bool = False
    """None is accepted with the other axes at the given sizes: these are the nearest with
    the other axes at the spec's own sizes (the axis' listing)."""

    def to_dict(self) -> dict[str, Any]:
        return {"axis": self.axis, "size": self.size, "below": self.below, "above": self.above,
                "others": "spec" if self.spec_sizes else "given"}


@dataclass(frozen=True, slots=True)
class SizeCheck:
    """One given input: accepted or not, its first error, and the nearest accepted sizes on
    each offending axis with one whole input verified to be accepted (``suggestion``)."""

    shape: Shape
    ok: bool
    problem: Problem | None = None
    nearest: tuple[Nearest, ...] = ()
    suggestion: Shape | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "ok": self.ok,
                "problem": self.problem.to_dict() if self.problem else None,
                "nearest": None if self.ok else {
                    "axes": [n.to_dict() for n in self.nearest],
                    "input": list(self.suggestion) if self.suggestion else None}}


@dataclass(frozen=True, slots=True)
class InputSizes:
    """What :func:`input_sizes` found: per spatial axis, the smallest whole input (every
    axis at its smallest; None when that input is not accepted), and the ``size`` check."""

    name: str | None
    input: Shape
    mode: Mode
    range: tuple[int, int]
    axes: tuple[AxisSizes, ...]
    smallest: Shape | None
    size: SizeCheck | None = None

    @property
    def ok(self) -> bool:
        """Some size is accepted, and the given ``size`` (if any) is."""
        return all(a.count for a in self.axes) and (self.size is None or self.size.ok)

    def to_dict(self) -> dict[str, Any]:
        return {"cnncalc": "1", "name": self.name, "input": {"shape": list(self.input)},
                "mode": self.mode, "range": list(self.range),
                "axes": [a.to_dict() for a in self.axes],
                "smallest": list(self.smallest) if self.smallest else None,
                "size": self.size.to_dict() if self.size else None}


def check_range(lo: int, hi: int) -> None:
    """A ValueError unless ``1 ≤ lo ≤ hi ≤`` :data:`~cnncalc.values.MAX_SIZE`.

    >>> check_range(5, 2)
    Traceback (most recent call last):
    ...
    ValueError: the range 5..2 is empty: the first size must not exceed the last
    """
    if isinstance(lo, bool) or isinstance(hi, bool) or not isinstance(lo, int) or not \
            isinstance(hi, int):
        raise ValueError("a range is two whole numbers, like 1..1024")
    if lo < 1:
        raise ValueError(f"the range starts at {lo}: sizes start at 1")
    if hi > MAX_SIZE:
        raise ValueError(f"the range ends at {hi:,}, past {MAX_SIZE:,}, the largest size a "
                         "spec may give")
    if lo > hi:
        raise ValueError(f"the range {lo}..{hi} is empty: the first size must not exceed the "
                         "last")


def input_sizes(spec: str | Path | Spec, mode: Mode | None = None, *,
                range: tuple[int, int] = DEFAULT_RANGE,
                size: tuple[int, ...] | None = None, expect: bool = True) -> InputSizes:
    """Every input size along each spatial axis that ``spec`` accepts within ``range``.

    ``size`` (spatial sizes, or one for every axis) is checked on its own: its first error
    and the nearest accepted sizes. ``expect=False`` leaves out the spec's ``expect:``
    checks (a zoo network pins its MACs, and so its input size, there).

    Raises :class:`~cnncalc.SpecSyntaxError` (the spec cannot be read, as
    :func:`cnncalc.analyze`), ValueError (a bad range, mode or size, or an input without
    spatial axes) and :class:`~cnncalc.design.pieces.TooLarge` (a ValueError: the search
    would exceed its limit).

    >>> r = input_sizes("32x32x3 -> conv(8, 3) -> maxpool(2)", "strict", range=(1, 12))
    >>> [p.to_dict() for p in r.axes[0].accepted], r.smallest
    ([{'first': 4, 'last': 12, 'step': 2}], (4, 4, 3))
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be default, strict or lenient, not {mode!r}")
    lo, hi = range
    check_range(lo, hi)
    parsed = spec if isinstance(spec, Spec) else read_spec(spec)[0]
    if not expect:  # accepted: no architecture error, whatever the `expect:` block pins
        parsed = replace(parsed, expect=())
    mode = mode or parsed.mode or "default"
    inp = parsed.input
    if inp is None or rank(inp) == 0:
        raise ValueError(f"the input {format_shape(inp)} is a flat vector: it has no spatial "
                         "axes, so there are no input sizes to choose (its length is fixed by "
                         "the layers that read it)")
    names = axis_names(rank(inp))
    walks = Walks(parsed, mode)
    axes = tuple(_axis(walks, inp, a, names[a], lo, hi)
                 for a in builtins.range(rank(inp)))  # ``range`` is the parameter here
    smallest = None
    if all(a.smallest is not None for a in axes):
        whole = (*(a.smallest or 0 for a in axes), inp[-1])
        alone = sum(m != n for m, n in zip(whole, inp, strict=True)) <= 1  # an axis' listing
        smallest = whole if alone or walks.get(whole).ok else None
    check = None
    if size is not None:
        check = _size_check(walks, inp, size, axes, lo, hi)
    return InputSizes(parsed.name, inp, mode, (lo, hi), axes, smallest, check)


def _axis(walks: Walks, inp: Shape, a: int, name: str, lo: int, hi: int) -> AxisSizes:
    verdicts = Axis(walks, inp, a).solve(lo, hi)
    ok = [v.piece for v in verdicts if v.ok]
    example = None
    if not ok:  # the spec's own size when in range, else the largest rejected piece's first
        n = inp[a] if lo <= inp[a] <= hi else max(verdicts, key=lambda v: v.piece.count).piece.first
        shape = (*inp[:a], n, *inp[a + 1:])
        errors = walks.get(shape).errors
        example = (shape, errors[0]) if errors else None
    accepted = tuple(compact(ok, [v.piece for v in verdicts], lo, hi))
    return AxisSizes(name, accepted, sum(p.count for p in ok),
                     min((p.first for p in ok), default=None), example)


def _size_check(walks: Walks, inp: Shape, size: tuple[int, ...], axes: tuple[AxisSizes, ...],
                lo: int, hi: int) -> SizeCheck:
    r = rank(inp)
    if len(size) == 1:
        size = size * r
    if len(size) != r or any(isinstance(n, bool) or not isinstance(n, int) or not
                             1 <= n <= MAX_SIZE for n in size):
        raise ValueError(f"a size gives {r} whole number{'s' if r > 1 else ''} from 1 to "
                         f"{MAX_SIZE:,} ({'×'.join(axis_names(r))}) or one for every axis")
    shape = (*size, inp[-1])
    report = walks.get(shape)
    if report.ok:
        return SizeCheck(shape, True)
    offending = [a for a in range(r) if not any(size[a] in p for p in axes[a].accepted)]
    offending = offending or list(range(r))
    nearest = []
    for a in offending:
        top = min(MAX_SIZE, max(hi, 2 * size[a] + 64))
        ok = [v.piece for v in Axis(walks, shape, a).solve(lo, top) if v.ok]
        alone = not ok
        ok = ok or list(axes[a].accepted)
        below = max((b for p in ok if (b := p.below(size[a])) is not None), default=None)
        above = min((b for p in ok if (b := p.above(size[a])) is not None), default=None)
        nearest.append(Nearest(axis_names(r)[a], size[a], below, above, alone))
    return SizeCheck(shape, False, report.errors[0], tuple(nearest),
                     _suggestion(walks, shape, offending, nearest, axes))


def _suggestion(walks: Walks, shape: Shape, offending: list[int], nearest: list[Nearest],
                axes: tuple[AxisSizes, ...]) -> Shape | None:
    """The nearest whole input verified to be accepted: each offending axis at its nearest
    size below or above (the closest combinations first), else at its nearest size with
    the others at the spec's own sizes."""
    choices = []
    for a, n in zip(offending, nearest, strict=True):
        near = [m for m in (n.below, n.above) if m is not None]
        alone = [m for p in axes[a].accepted for m in (p.below(n.size), p.above(n.size))
                 if m is not None]
        if alone:
            near += [min(alone, key=lambda m: abs(m - n.size))]
        choices.append(sorted(set(near), key=lambda m: (abs(m - n.size), m)) or [n.size])
    combos = sorted(product(*choices), key=lambda c: sum(
        abs(m - shape[a]) for a, m in zip(offending, c, strict=True)))
    for combo in combos[:16]:
        candidate = list(shape)
        for a, m in zip(offending, combo, strict=True):
            candidate[a] = m
        if walks.get(tuple(candidate)).ok:
            return tuple(candidate)
    return None
