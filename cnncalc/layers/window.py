"""The window shared by convolution and pooling: a kernel sliding with a stride over padded
input along each spatial axis (1-D, 2-D or 3-D), the lecture's (N − F + 2P)/S + 1 checks
and the fixes they suggest."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from fractions import Fraction
from math import prod

from .. import values as v
from ..diagnostics import Finding, Fix, fixes_wanted
from ..shapes import Shape, Window, axis_names, format_shape, is_volume, rank
from ..values import Padding, Sizes, per_axis
from .base import Layer, Step, arguments, count_lines, needs_volume


class Windowed(Layer):
    """Shared by conv and pooling: a kernel sliding with a stride over padded input."""

    def uses_ceil(self) -> bool:
        return False

    def widest_fix_padding(self) -> int:
        """The largest padding :func:`suggest_fixes` tries (pooling: half the kernel)."""
        return max(self.geometry()[0])

    def ceil_variant(self) -> Windowed | None:
        """This layer with ceil mode on, when the kind has one (pooling)."""
        return None

    def caption(self, inp: Shape | None) -> str:
        """The lecture's short form: kernel per axis, ``/stride`` when not 1, and the output
        channels when the kind sets them (padding and dilation are left to the table).

        >>> from cnncalc.layers import Conv, MaxPool
        >>> Conv(64, (3,), stride=(2,)).caption((56, 56, 32)), MaxPool((2,)).caption((8, 8, 3))
        ('conv 3×3/2, 64', 'maxpool 2×2/2')
        """
        kernel, stride, _, _ = self.geometry()
        return window_caption(self, kernel, stride, "/", inp)

    def geometry(self) -> tuple[Sizes, Sizes, Padding, Sizes]:
        """(kernel, stride, padding, dilation), as written (one number or one per axis)."""
        raise NotImplementedError

    def axes(self, inp: Shape) -> tuple[Sizes, Sizes, Sizes]:
        """(kernel, stride, dilation) with one entry per spatial axis of ``inp``."""
        kernel, stride, _, dilation = self.geometry()
        r = rank(inp)
        return per_axis(kernel, r), per_axis(stride, r), per_axis(dilation, r)

    def windows(self, inp: Shape) -> tuple[Window, ...]:
        """One :class:`~cnncalc.shapes.Window` per spatial axis."""
        return _windows(*self.geometry(), self.uses_ceil(), inp)

    def pads(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """``(begin, end)`` padding per spatial axis."""
        return tuple((w.pad_begin, w.pad_end) for w in self.windows(inp))

    def out_sizes(self, inp: Shape) -> Sizes:
        return tuple(w.out for w in self.windows(inp))

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        ws = self.windows(inp)
        for axis, w in zip(axis_names(rank(inp)), ws, strict=True):
            if not w.fits:
                yield Finding(
                    "G003", f"the {w.k_eff}-pixel window is larger than the padded input "
                    f"{axis} {w.size} + {w.pad_begin} + {w.pad_end} = "
                    f"{w.size + w.pad_begin + w.pad_end}",
                    ("use a smaller kernel or more padding, or remove a downsampling layer "
                     "before this one",), fatal=True)
                return
        yield from division_findings(self, inp, ws)
        if any(w.out < 1 for w in ws):  # pragma: no cover - fits implies out ≥ 1
            yield Finding("G009", "the output would be empty", fatal=True)

    def size_period(self, inp: Shape) -> tuple[tuple[int, int], ...]:
        """Period the stride; threshold the smallest size the window fits (``same``
        padding fits every size; its padding repeats with the stride).

        >>> from cnncalc.layers import MaxPool
        >>> MaxPool((3,), stride=(2,), padding=Padding((1,))).size_period((56, 56, 64))
        ((2, 1), (2, 1))
        """
        kernel, stride, padding, dilation = self.geometry()
        r = rank(inp)
        if not is_volume(inp) or any(len(x) not in (1, r) for x in (
                kernel, stride, dilation, padding.sizes)):
            return super().size_period(inp)  # G010 whatever the size
        pads = per_axis(padding.sizes, r)
        return tuple((s, 1 if padding.same else max(1, d * (k - 1) + 1 - 2 * p))
                     for k, s, d, p in zip(per_axis(kernel, r), per_axis(stride, r),
                                           per_axis(dilation, r), pads, strict=True))

    def size_runs(self, inp: Shape) -> tuple[tuple[int, tuple[int, ...]] | None, ...]:
        """With explicit padding and no ceil mode: the output ⌊(n − phase)/s⌋ + 1 steps at
        ``phase = k_eff − 2p``, and the leftover (n − phase) mod s is 0 (exact), up to
        ``p + gap`` (G002: only padding, or no more than the stride skips, goes unread) or
        more (G001).

        >>> from cnncalc.layers import Conv
        >>> Conv(8, (3,), stride=(10,)).size_runs((50, 50, 3))   # gap 7: G001 from 8
        ((3, (0, 1, 8)), (3, (0, 1, 8)))
        """
        kernel, stride, padding, dilation = self.geometry()
        r = rank(inp)
        if not is_volume(inp) or padding.same or self.uses_ceil() or any(
                len(x) not in (1, r) for x in (kernel, stride, dilation, padding.sizes)):
            return super().size_runs(inp)
        out: list[tuple[int, tuple[int, ...]] | None] = []
        for k, s, d, p in zip(per_axis(kernel, r), per_axis(stride, r), per_axis(dilation, r),
                              per_axis(padding.sizes, r), strict=True):
            k_eff = d * (k - 1) + 1
            lost = p + max(0, s - k_eff) + 1  # the first leftover that loses input
            out.append((k_eff - 2 * p, tuple(sorted({o for o in (0, 1, lost) if o < s}))))
        return tuple(out)

    def window(self, inp: Shape) -> tuple[Sizes, Sizes] | None:
        kernel, stride, _ = self.axes(inp)
        return kernel, stride

    def step(self, inp: Shape) -> Step | None:
        ws = self.windows(inp)
        return Step(tuple(w.k_eff for w in ws), tuple(w.stride for w in ws))

    def extent(self, inp: Shape) -> tuple[Sizes, Sizes, Sizes] | None:
        """
        >>> from cnncalc.layers import Conv
        >>> Conv(8, (3,), dilation=(2,)).extent((9, 9, 3))
        ((5, 5), (1, 1), (2, 2))
        """
        ws = self.windows(inp)
        return (tuple(w.k_eff for w in ws), tuple(w.stride for w in ws),
                tuple(w.dilation for w in ws))

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = self.counts(inp, out)
        kernel = self.axes(inp)[0]
        per_group = c.weights // max(1, prod(kernel) * out[-1]) if c.weights else 0
        formula = "·".join(str(k) for k in (*kernel, per_group, out[-1]))
        spatial = " · " + "·".join(str(n) for n in out[:-1])
        return window_lines(self, inp, out) + count_lines(c, formula, spatial)


@functools.lru_cache(maxsize=1024)
def window_caption(layer: Layer, kernel: Sizes, stride: Sizes, mark: str,
                   inp: Shape | None) -> str:
    """``conv 3×3/2, 64``: ``layer``'s name, its kernel per axis of ``inp``, ``mark`` and
    the stride when not 1, and its output channels when the kind sets them."""
    r = rank(inp) if inp is not None and is_volume(inp) else len(kernel)
    k = kernel * r if len(kernel) == 1 else kernel
    text = f"{layer.written_name()} {'×'.join(map(str, k))}"
    if any(n != 1 for n in stride):
        text += mark + (str(stride[0]) if len(set(stride)) == 1 else "×".join(map(str, stride)))
    if layer.sets_channels:
        text += f", {v.format_value(getattr(layer, arguments(type(layer))[0].name))}"
    return text


@functools.lru_cache(maxsize=4096)
def _windows(kernel: Sizes, stride: Sizes, padding: Padding, dilation: Sizes, ceil: bool,
             inp: Shape) -> tuple[Window, ...]:
    """:meth:`Windowed.windows`, remembered by value: checks, shape, counts, step, lints and
    fixes all ask for the same layer's windows on the same input, and a deep network
    repeats the same few layers (layers themselves hash by identity)."""
    r = rank(inp)
    kernel, stride, dilation = per_axis(kernel, r), per_axis(stride, r), per_axis(dilation, r)
    pads = padding.resolve(inp[:-1], kernel, stride, dilation)
    return tuple(Window(n, k, s, b, e, d, ceil) for n, k, s, (b, e), d
                 in zip(inp[:-1], kernel, stride, pads, dilation, strict=True))


def _joined(names: list[str]) -> str:
    """``depth, height and width``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def window_lines(layer: Windowed, inp: Shape, out: Shape) -> list[str]:
    """Per-axis (N − F + 2P)/S + 1 lines, axes with the same arithmetic on one line."""
    ws = layer.windows(inp)
    floor = "⌈⌉" if ws[0].ceil else "⌊⌋"
    lines: dict[str, list[str]] = {}
    for axis, w, n in zip(axis_names(rank(inp)), ws, out[:-1], strict=True):
        exact = "" if not w.leftover else f" → {floor[0]}…{floor[1]} = {n}"
        lines.setdefault(f"{arithmetic(w)}{exact}", []).append(axis)
    text = [f"{_joined(axes)}: {line}" for line, axes in lines.items()]
    if any(w.dilation > 1 for w in ws):
        text.append(f"dilated kernel spans {'×'.join(str(w.k_eff) for w in ws)} pixels "
                    "(d·(k−1) + 1)")
    return [*text, f"output {format_shape(out)}"]


NOUNS = {"length": "position", "depth": "slice", "height": "row", "width": "column"}
"""What one unread step along each axis is called."""


def _lost_text(lost: dict[str, int]) -> str:
    """``the last row and column of the input are never read``."""
    parts = [NOUNS[axis] if n == 1 else f"{n} {NOUNS[axis]}s" for axis, n in lost.items()]
    plural = len(parts) > 1 or next(iter(lost.values())) > 1
    return f"the last {_joined(parts)} of the input {'are' if plural else 'is'} never read"


def arithmetic(w: Window) -> str:
    """``(7 − 3 + 2·0)/3 + 1 = 2.33`` — the lecture's formula with this axis' numbers."""
    pad = f"2·{w.pad_begin}" if w.pad_begin == w.pad_end else f"{w.pad_begin}+{w.pad_end}"
    value = v.decimal_text(Fraction(w.span, w.stride) + 1)
    return f"({w.size} − {w.k_eff} + {pad})/{w.stride} + 1 = {value}"


def division_findings(layer: Windowed, inp: Shape, ws: tuple[Window, ...]
                      ) -> Iterator[Finding]:
    """The lecture's rule: (N − F + 2P)/S + 1 must be an integer (spec §6), per axis."""
    inexact = [w for w in ws if w.leftover]
    if not inexact:
        return
    names = axis_names(rank(inp))
    if rank(inp) == 2:  # the lecture's images: the arithmetic says which axis it is
        sums = sorted({arithmetic(w) for w in inexact})
    else:  # a length, or depth beside height and width: name the axes
        by_sum: dict[str, list[str]] = {}
        for axis, w in zip(names, ws, strict=True):
            if w.leftover:
                by_sum.setdefault(arithmetic(w), []).append(axis)
        sums = [f"{_joined(axes)} {text}" for text, axes in by_sum.items()]
    formula = " and ".join(sums) + (" are not integers" if len(sums) > 1 else " is not an integer")
    losing = {axis: w.lost for axis, w in zip(names, ws, strict=True) if w.lost > w.gap}
    fixes = tuple(suggest_fixes(layer, inp, restride=bool(losing))) if fixes_wanted() else ()
    if losing:
        yield Finding("G001", f"{formula}: {_lost_text(losing)}", fixes=fixes)
    else:
        padding_only = all(w.lost == 0 for w in inexact)
        why = ("only padding goes unread" if padding_only
               else "the unread input is no more than the stride skips anyway")
        yield Finding("G002", f"{formula}: {why}", fixes=fixes)


SEARCH = 32
"""Fix candidates searched per axis around the current value: the search is bounded
whatever the size of the numbers in the spec."""


def written(sizes: Sizes) -> Sizes:
    """Per-axis sizes as a spec would write them: one number when every axis agrees.

    >>> written((1, 1, 1)), written((0, 1, 1))
    ((1,), (0, 1, 1))
    """
    return sizes[:1] if len(set(sizes)) == 1 else sizes


def _only(values: Sizes, axes: list[int], value: int) -> Sizes:
    """``values`` with ``value`` on ``axes`` only."""
    return written(tuple(value if a in axes else n for a, n in enumerate(values)))


def suggest_fixes(layer: Windowed, inp: Shape, restride: bool = True) -> Iterator[Fix]:
    """Paddings, ceil mode, strides (when input is lost) and input sizes that make the
    division exact. Only the inexact axes are changed (an ``8000×1`` signal's size-1 axis is
    never padded). Each is a :class:`~cnncalc.diagnostics.Fix` that says what it replaces;
    the driver re-analyses them in context before any is shown (:mod:`cnncalc.fixes`)."""
    _, _, padding, _ = layer.geometry()
    r = rank(inp)
    _, stride, _ = layer.axes(inp)
    ws = layer.windows(inp)
    inexact = [a for a, w in enumerate(ws) if w.leftover]
    losing = [a for a, w in enumerate(ws) if w.lost > w.gap]
    candidates: list[Windowed] = []
    if not padding.same:
        current = per_axis(padding.sizes, r)
        if len({current[a] for a in inexact}) == 1:
            limit = min(layer.widest_fix_padding(), SEARCH)
            candidates += [
                dataclasses.replace(layer, padding=Padding(_only(current, inexact, p)))  # type: ignore[call-arg]
                for p in range(0, limit + 1) if p != current[inexact[0]]]
    ceil = layer.ceil_variant()
    if ceil is not None:
        candidates.append(ceil)
    if restride and len(set(stride)) == 1:  # a uniform stride: change it on the losing axes
        s0 = stride[losing[0]]
        candidates += [dataclasses.replace(layer, stride=_only(stride, losing, s))  # type: ignore[call-arg]
                       for s in range(s0 - 1, max(0, s0 - 1 - SEARCH), -1)]
    exact, padding_only = [], []
    for c in candidates:
        cws = c.windows(inp)
        if not all(w.fits for w in cws):
            continue
        if not any(w.leftover for w in cws):
            exact.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))}", layer, (c,)))
        elif c.geometry()[2] != padding and all(w.lost <= w.gap for w in cws) and any(
                w.lost > w.gap for w in ws):
            padding_only.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))} "
                                    "(inexact, but only padding goes unread)", layer, (c,),
                                    slot="padding-only"))
    yield from exact
    if not any(isinstance(f.nodes[0], Windowed) and f.nodes[0].geometry()[2] != padding
               for f in exact):
        yield from padding_only
    if restride:
        yield from _input_fixes(layer, inp, ws)


def _input_fixes(layer: Windowed, inp: Shape, ws: tuple[Window, ...]) -> Iterator[Fix]:
    """Input sizes that make the division exact, on the offending axes only: one fix for
    all of them when they share their arithmetic (``input size`` when that is every axis,
    ``input height and width`` in 3-D), else one per axis and one changing them all."""
    names = axis_names(rank(inp))
    inexact = [a for a, w in enumerate(ws) if w.leftover]
    alike = len({(ws[a].size, ws[a].leftover, ws[a].stride) for a in inexact}) == 1
    groups = [inexact] if alike else [[a] for a in inexact]
    if len(groups) > 1:  # every offending axis at once, each to its nearest size
        near = list(inp[:-1])
        for a in inexact:
            w = ws[a]
            below, above = w.size - w.leftover, w.size + w.stride - w.leftover
            fits = below > 0 and below + w.pad_begin + w.pad_end >= w.k_eff
            near[a] = below if fits and w.leftover <= w.stride - w.leftover else above
        shape = (*near, inp[-1])
        yield Fix(f"input {format_shape(shape)} instead of {format_shape(inp)}", layer,
                  layer_input=shape)
    for axes in groups:
        w = ws[axes[0]]
        below, above = w.size - w.leftover, w.size + w.stride - w.leftover
        sizes = [n for n in (below, above) if n > 0 and n + w.pad_begin + w.pad_end >= w.k_eff]
        name = "size" if len(axes) == len(ws) > 1 else _joined([names[a] for a in axes])
        for n in sizes:
            shape = tuple(n if i in axes else m for i, m in enumerate(inp[:-1]))
            yield Fix(f"input {name} {n} instead of {w.size}", layer,
                      layer_input=(*shape, inp[-1]),
                      template=f"input {name} {{}} instead of {w.size}", value=str(n))
