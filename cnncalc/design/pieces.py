"""The exact solver behind ``cnncalc sizes``: which sizes along one input axis analyse with no
error, found on sets of sizes at once.

A *piece* is an arithmetic progression of sizes ``n = first + step·t`` on which every layer
behaved alike. Two real walks (:func:`cnncalc.analysis.walk`, at two neighbouring ``t``)
give every tensor's size as an affine function of ``t``; each node's
:meth:`~cnncalc.layers.base.Node.size_period` says whether it behaves alike on the whole
piece, else the piece is split — by residue when the step is not a multiple of the period,
at the threshold when the piece straddles it. A join (residual, concat, gate, add) compares
its branches: two affine sizes agree everywhere, nowhere or at one point, which becomes a
piece of its own. Elements past :data:`~cnncalc.values.MAX_COUNT` (A006) split at their
boundary too, and ``expect:`` values, affine in ``t`` on a uniform piece, are solved in
closed form. Every verdict is then checked by a real walk of the piece's last size (and its
shapes and counts against the affine prediction); a piece the model does not cover — a
block built from ``H``/``W``, a verification that disagrees — is halved until it does, and
walked size by size from :data:`BRUTE` sizes, within :data:`MAX_WORK`. Work grows with the
number of pieces (periods, thresholds), never with the size of the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from math import gcd
from typing import Any

from ..analysis import measured, walk
from ..diagnostics import RULES, Mode, Severity, without_fixes
from ..layers import Block, Layer
from ..report import LayerRow, Report
from ..shapes import Shape, elements
from ..spec.build import Spec
from ..values import MAX_COUNT
from . import TooLarge
from .compact import Progression

MAX_WORK = 400_000
"""Most layer rows walked in all for one question (≈ 10 s): beyond it, :class:`TooLarge`."""

MAX_PIECES = 100_000
"""Most pieces one axis may be split into."""


VERIFY_ROWS = 2_000
"""Specs up to this many rows get every verdict confirmed by a walk of the piece's last size
(tests/test_sizes.py checks the model against one walk per size on random specs and the
zoo); a longer spec's time goes to the two walks per piece the model needs."""


RESIDUES = 64
"""Past this many residue classes, a kind's runs (:meth:`~cnncalc.layers.base.Node.size_runs`)
split a piece instead, when it gives them."""

BRUTE = 8
"""A piece the model does not cover is halved; from this many sizes, each is walked."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Every size in ``piece`` is accepted (``ok``) or rejected alike."""

    piece: Progression
    ok: bool


class Irregular(Exception):
    """The model does not cover this piece: walk it size by size."""


Affine = tuple[int, int]
"""``a + b·t`` as ``(a, b)``."""


def agree(x: Affine, y: Affine, count: int) -> int | bool:
    """Where two affine sizes agree on ``t = 0 … count − 1``: True (everywhere), False
    (nowhere), or the one ``t`` where they do.

    >>> agree((4, 2), (4, 2), 9), agree((4, 2), (5, 2), 9), agree((0, 2), (6, 1), 9)
    (True, False, 6)
    """
    const, slope = x[0] - y[0], x[1] - y[1]
    if slope == 0:
        return const == 0
    if const % slope or not 0 <= -const // slope < count:
        return False
    return -const // slope


class Walks:
    """Real walks of one spec in one mode, by input shape (shared by every axis of one
    question: the spec's own input is walked once), within :data:`MAX_WORK` rows."""

    def __init__(self, spec: Spec, mode: Mode) -> None:
        self.spec = spec
        self.bare = replace(spec, expect=())
        self.mode = mode
        self.left = MAX_WORK
        self.cache: dict[tuple[Shape, bool], Report] = {}

    def get(self, shape: Shape, bare: bool = False) -> Report:
        """The walk of ``shape`` (``bare``: without the ``expect:`` checks)."""
        key = (shape, bare and bool(self.spec.expect))
        if key not in self.cache:
            if self.left <= 0:
                raise TooLarge(
                    f"finding every accepted size needs more than {MAX_WORK:,} layer "
                    "evaluations: use a narrower --range")
            with without_fixes():
                report = walk(replace(self.bare if key[1] else self.spec, input=shape),
                              self.mode)
            self.left -= len(report.layers) + 1
            self.cache[key] = report
        return self.cache[key]


class Axis:
    """Solves one axis of one spec: sizes ``n`` put on ``axis`` of ``base``."""

    def __init__(self, walks: Walks, base: Shape, axis: int) -> None:
        self.walks = walks
        self.spec = walks.spec
        self.mode = walks.mode
        self.base = base
        self.axis = axis
        self.ta = 0
        """The piece's first sample: ``t = ta`` and ``ta + 1`` are walked (the spec's own
        size when the piece holds it, a walk every axis shares)."""

    def shape(self, n: int) -> Shape:
        return (*self.base[:self.axis], n, *self.base[self.axis + 1:])

    def walk(self, n: int, bare: bool = False) -> Report:
        return self.walks.get(self.shape(n), bare)

    def line(self, a: int, b: int) -> Affine:
        """The affine size through ``a`` at ``t = ta`` and ``b`` at ``ta + 1``."""
        return a - (b - a) * self.ta, b - a

    def solve(self, lo: int, hi: int) -> list[Verdict]:
        """Verdicts on disjoint pieces covering ``lo..hi``, sorted."""
        todo = [Progression(lo, 1, hi - lo + 1)]
        done: list[Verdict] = []
        while todo:
            p = todo.pop()
            if p.count <= 0:
                continue
            try:
                result = self.piece(p)
            except Irregular:  # halve it until the model covers the parts, or try each size
                result = self.brute(p) if p.count <= BRUTE else [
                    p.part(0, p.count // 2), p.part(p.count // 2, p.count)]
            if isinstance(result[0], Progression):
                todo += [q for q in result if isinstance(q, Progression)]
                if len(todo) + len(done) > MAX_PIECES:
                    raise TooLarge(f"the sizes split into more than {MAX_PIECES:,} pieces "
                                   "(huge strides or periods): use a narrower --range")
            else:
                done += [v for v in result if isinstance(v, Verdict)]
        return sorted(done, key=lambda v: v.piece.first)

    def brute(self, p: Progression) -> list[Verdict]:
        if p.count > self.walks.left:
            raise TooLarge(f"{p.count:,} sizes must be tried one by one (a block built from the "
                           "input's size, or an irregular case), more than the limit: "
                           "use a narrower --range")
        return [Verdict(Progression(n, 1, 1), self.walk(n).ok)
                for n in range(p.first, p.last + 1, p.step)]

    def piece(self, p: Progression) -> Sequence[Progression] | Sequence[Verdict]:
        if p.count == 1:
            return [Verdict(p, self.walk(p.first).ok)]
        own = self.base[self.axis]
        self.ta = own - p.first if own in p and own != p.last and p.step == 1 else 0
        w0, w1 = self.walk(p.at(self.ta), bare=True), self.walk(p.at(self.ta + 1), bare=True)
        rows0, rows1 = w0.layers, w1.layers
        if not alike(rows0, rows1):  # e.g. a shortcut built for a 1-pixel map: peel it off
            return [p.part(0, 1), p.part(1, p.count)]
        errors = [{q.path for q in w.problems if q.severity is Severity.ERROR} for w in (w0, w1)]
        order = completion_order(rows0)
        for k, i in enumerate(order):
            parts = self.split(p, w0, w1, i)
            if parts:
                return parts
            if rows0[i].path in errors[0]:
                if rows0[i].path not in errors[1]:
                    raise Irregular
                return self.checked(p, [Verdict(p, False)], w0, w1, order[:k + 1])
        if errors[0] or errors[1]:
            if not (errors[0] and errors[1]):
                raise Irregular
            return self.checked(p, [Verdict(p, False)], w0, w1, order)
        return self.checked(p, self.expectations(p, w0, w1), w0, w1, order)

    def checked(self, p: Progression, verdicts: list[Verdict], w0: Report, w1: Report,
                rows: list[int]) -> list[Verdict]:
        """The verdicts, each confirmed by a real walk of its last size, whose ``rows`` (the
        ones that decided) must match the first walk's and whose output shape and counts
        must be the affine prediction; else :class:`Irregular`."""
        if len(w0.layers) > VERIFY_ROWS and all(v.piece.count == p.count for v in verdicts):
            return verdicts  # a long spec: its time goes to the two walks the model needs
        t = p.count - 1
        last = self.walk(p.at(t), bare=True)
        if max(rows, default=-1) >= len(last.layers) or not alike(
                [w0.layers[i] for i in rows], [last.layers[i] for i in rows]):
            raise Irregular
        if w0.ok and w1.ok:
            predicted = [u + v * t for u, v in (self.line(a, b) for a, b in zip(
                numbers(w0), numbers(w1), strict=True))]
            if numbers(last) != predicted:
                raise Irregular
        for v in verdicts:
            if v.piece.count > 1 and self.walk(v.piece.last).ok != v.ok:
                raise Irregular
        return verdicts

    def split(self, p: Progression, w0: Report, w1: Report, i: int) -> list[Progression]:
        """Row ``i``'s split of ``p`` ([] when it behaves alike on all of ``p``)."""
        r0, r1 = w0.layers[i], w1.layers[i]
        node = r0.node
        if node is None or node.reads:
            return []
        x0, x1 = r0.input_shape, r1.input_shape
        if x0 is None or x1 is None:
            if (x0 is None) != (x1 is None):
                raise Irregular
            return []
        if len(x0) != len(x1):
            raise Irregular
        periods = node.size_period(x0)
        for d, (a, b) in enumerate(zip(x0, x1, strict=True)):
            if a == b:
                continue
            if (len(x0) > 1 and d == len(x0) - 1) or d >= len(periods):
                raise Irregular  # channels that vary with the size: not modelled
            runs = node.size_runs(x0)
            if parts := split_affine(p, *self.line(a, b), *periods[d],
                                     runs[d] if d < len(runs) else None):
                return parts
        e0, e1 = out_elements(r0), out_elements(r1)
        if (e0 is None) != (e1 is None):
            raise Irregular
        if e0 is not None and e1 is not None and e0 != e1:
            if parts := split_affine(p, *self.line(-e0, -e1), 1, -MAX_COUNT):
                return parts
        if r0.is_block and not node.chained:
            return self.join_split(p, w0, w1, i)
        return []

    def join_split(self, p: Progression, w0: Report, w1: Report, i: int) -> list[Progression]:
        """A join compares its input's and its groups' outputs' sizes, axis by axis (counted
        from either end: a flat vector's length against channels) and with 1: split out the
        one ``t`` where two of them meet but not everywhere, so that any rule made of such
        comparisons is alike on each part."""
        sizes = []
        for w in (w0, w1):
            node = w.layers[i].node
            assert isinstance(node, Block)  # a block row holds its block
            ends = [g[-1] for g in w.group_rows(i, node.groups()) if g]
            sizes.append([w.layers[i].input_shape, *(w.layers[e].output_shape for e in ends)])
        shapes: list[list[Affine]] = []
        for s0, s1 in zip(*sizes, strict=True):
            if (s0 is None) != (s1 is None) or (s0 is not None and s1 is not None and len(
                    s0) != len(s1)):
                raise Irregular
            if s0 is not None and s1 is not None:
                shapes.append([self.line(a, b) for a, b in zip(s0, s1, strict=True)])
        pairs = [(u, (1, 0)) for x in shapes for u in x]
        for j, x in enumerate(shapes):  # the same axis, counted from either end
            for y in shapes[j + 1:]:
                pairs += [*zip(x, y, strict=False), *zip(x[::-1], y[::-1], strict=False)]
        for u, v in pairs:
            at = agree(u, v, p.count)
            if not isinstance(at, bool):
                return [q for q in (p.part(0, at), p.part(at, at + 1),
                                    p.part(at + 1, p.count)) if q.count]
        return []

    def expectations(self, p: Progression, w0: Report, w1: Report) -> list[Verdict]:
        """The ``expect:`` checks on a piece every layer accepts: each is affine in ``t``
        there, so the sizes that meet them are an interval or a point, solved exactly."""
        keep = [(0, p.count)]
        for e in self.spec.expect:
            code = "X001" if e.key in ("output", "outputs") else \
                "X003" if e.key.startswith("max_") else "X002"
            if RULES[code].severity_in(self.mode) is not Severity.ERROR:
                continue
            keep = intersect(keep, self.meets(e.key, e.value, p.count, w0, w1))
        verdicts, t = [], 0
        for a, b in keep:
            if a > t:
                verdicts.append(Verdict(p.part(t, a), False))
            verdicts.append(Verdict(p.part(a, b), True))
            t = b
        if t < p.count:
            verdicts.append(Verdict(p.part(t, p.count), False))
        return verdicts

    def meets(self, key: str, value: Any, count: int, w0: Report, w1: Report
              ) -> list[tuple[int, int]]:
        """The ``t`` intervals where expectation ``key: value`` holds."""
        if key in ("output", "outputs"):
            got = [w0.totals.outputs, w1.totals.outputs] if key == "outputs" else \
                [(w0.totals.output_shape,), (w1.totals.output_shape,)]
            want = value if key == "outputs" else (value,)
            if len(got[0]) != len(want) or len(got[1]) != len(want):
                return []
            where: int | bool = True
            for s0, s1, target in zip(got[0], got[1], want, strict=True):
                if s0 is None or s1 is None or len(s0) != len(target) or len(s1) != len(target):
                    return []
                for a, b, c in zip(s0, s1, target, strict=True):
                    at = agree(self.line(a, b), (c, 0), count)
                    if at is False or (not isinstance(at, bool) and not isinstance(
                            where, bool) and where != at):
                        return []
                    if not isinstance(at, bool):
                        where = at
            return [(0, count)] if isinstance(where, bool) else [(where, where + 1)]
        v0, slope = self.line(measured(w0.totals)[key], measured(w1.totals)[key])
        if not key.startswith("max_"):
            at = agree((v0, slope), (value, 0), count)
            if isinstance(at, bool):
                return [(0, count)] if at else []
            return [(at, at + 1)]
        if slope == 0:
            return [(0, count)] if v0 <= value else []
        if slope > 0:
            return [(0, min(count, max(0, (value - v0) // slope + 1)))]
        return [(min(count, max(0, -(-(v0 - value) // -slope))), count)]


def split_affine(p: Progression, u0: int, b: int, period: int, threshold: int,
                 runs: tuple[int, tuple[int, ...]] | None = None) -> list[Progression]:
    """Split ``p`` where a size ``u0 + b·t`` crosses ``threshold`` or, above it, when ``b``
    is not a multiple of ``period``: by residue, or — a long period with ``runs`` — where
    the size enters another run; [] when it behaves alike on all of ``p``.

    >>> split_affine(Progression(1, 1, 10), 1, 1, 2, 3)    # below 3 and from 3
    [Progression(first=1, step=1, count=2), Progression(first=3, step=1, count=8)]
    >>> split_affine(Progression(3, 1, 8), 3, 1, 2, 3)     # by residue mod 2
    [Progression(first=3, step=2, count=4), Progression(first=4, step=2, count=4)]
    """
    ul = u0 + b * (p.count - 1)
    low0, low1 = u0 < threshold, ul < threshold
    if low0 and low1:
        return []
    if low0 != low1:
        tb = -(-(threshold - u0) // b) if b > 0 else (u0 - threshold) // -b + 1
        return [p.part(0, tb), p.part(tb, p.count)]
    if b % period == 0:
        return []
    m = period // gcd(b, period)
    if runs is not None and b > 0 and min(m, p.count) > RESIDUES:
        return split_runs(p, u0, b, period, *runs)
    if min(m, p.count) > MAX_PIECES:
        raise TooLarge(f"a period of {period:,} splits the sizes into {min(m, p.count):,} "
                       f"classes, more than {MAX_PIECES:,}: use a narrower --range")
    return [p.part(r, p.count, m) for r in range(min(m, p.count))]


def split_runs(p: Progression, u0: int, b: int, period: int, phase: int,
               offsets: tuple[int, ...]) -> list[Progression]:
    """Split ``p`` where ``u0 + b·t`` (b > 0) enters another run ``phase + j·period + o``.

    >>> split_runs(Progression(1, 1, 30), 1, 1, 10, 3, (0, 1, 8))
    ... # doctest: +NORMALIZE_WHITESPACE
    [Progression(first=1, step=1, count=2), Progression(first=3, step=1, count=1),
     Progression(first=4, step=1, count=7), Progression(first=11, step=1, count=2),
     Progression(first=13, step=1, count=1), Progression(first=14, step=1, count=7),
     Progression(first=21, step=1, count=2), Progression(first=23, step=1, count=1),
     Progression(first=24, step=1, count=7)]
    """
    ul = u0 + b * (p.count - 1)
    first, last = (u0 - phase) // period, (ul - phase) // period
    if (last - first + 1) * len(offsets) > MAX_PIECES:
        raise TooLarge(f"a period of {period:,} splits the sizes into more than "
                       f"{MAX_PIECES:,} runs: use a narrower --range")
    cuts = sorted({-(-(edge - u0) // b) for j in range(first, last + 1) for o in offsets
                   if u0 < (edge := phase + j * period + o) <= ul})
    bounds = [0, *cuts, p.count]
    return [p.part(a, c) for a, c in pairwise(bounds)] if cuts else []


def intersect(xs: list[tuple[int, int]], ys: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """
    >>> intersect([(0, 5), (7, 9)], [(3, 8)])
    [(3, 5), (7, 8)]
    """
    return [(max(a, c), min(b, d)) for a, b in xs for c, d in ys if max(a, c) < min(b, d)]


def numbers(report: Report) -> list[int]:
    """What a uniform piece keeps affine: the output's sizes and the measured counts."""
    out = report.totals.output_shape
    return [*(out or ()), *measured(report.totals).values()]


def out_elements(row: LayerRow) -> int | None:
    """Elements of a row's output, also when it was too large to keep (A006)."""
    if row.output_shape is not None:
        return elements(row.output_shape)
    node, inp = row.node, row.input_shape
    if not isinstance(node, Layer) or inp is None or node.reads:
        return None  # a block's join or a route: its size is its rows'
    with without_fixes():
        if any(f.fatal for f in node.validate(inp)):
            return None
    return elements(node.output_shape(inp))


def alike(rows0: Sequence[LayerRow], rows1: Sequence[LayerRow]) -> bool:
    """Two walks have the same rows and nodes (a node built during the walk — a residual's
    ``auto`` shortcut, a block reading ``H``/``W`` — may differ from one size to the next)."""
    return len(rows0) == len(rows1) and all(
        a.path == b.path and (a.node is b.node or (type(a.node) is type(b.node)
                              and a.spec == b.spec)) for a, b in zip(rows0, rows1, strict=True))


def completion_order(rows: Sequence[LayerRow]) -> list[int]:
    """Rows in the order the walk finishes them: a block after everything inside it."""
    last = list(range(len(rows)))
    for i, row in enumerate(rows):
        j = row.parent
        while j is not None:
            last[j] = max(last[j], i)
            j = rows[j].parent
    return sorted(range(len(rows)), key=lambda i: (last[i], -rows[i].depth))


__all__ = ["MAX_PIECES", "MAX_WORK", "Axis", "TooLarge", "Verdict", "Walks"]
