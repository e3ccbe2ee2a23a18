"""The window shared by convolution and pooling: a kernel sliding with a stride over
padded input, the lecture's (N − F + 2P)/S + 1 checks and the fixes they suggest."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from fractions import Fraction

from .. import values as v
from ..diagnostics import Finding, Fix, fixes_wanted
from ..shapes import Shape, Window, format_shape, is_volume
from ..values import Padding, Pair
from .base import Layer, Step, count_lines, needs_volume


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

    def geometry(self) -> tuple[Pair, Pair, Padding, Pair]:
        """(kernel, stride, padding, dilation)."""
        raise NotImplementedError

    def windows(self, inp: Shape) -> tuple[Window, Window]:
        kernel, stride, padding, dilation = self.geometry()
        top, bottom, left, right = padding.resolve((inp[0], inp[1]), kernel, stride, dilation)
        return (Window(inp[0], kernel[0], stride[0], top, bottom, dilation[0], self.uses_ceil()),
                Window(inp[1], kernel[1], stride[1], left, right, dilation[1], self.uses_ceil()))

    def pads(self, inp: Shape) -> tuple[int, int, int, int]:
        wh, ww = self.windows(inp)
        return wh.pad_begin, wh.pad_end, ww.pad_begin, ww.pad_end

    def out_hw(self, inp: Shape) -> Pair:
        wh, ww = self.windows(inp)
        return wh.out, ww.out

    def check(self, inp: Shape) -> Iterator[Finding]:
        if not is_volume(inp):
            yield from needs_volume(self, inp)
            return
        wh, ww = self.windows(inp)
        for axis, w in (("height", wh), ("width", ww)):
            if not w.fits:
                yield Finding(
                    "G003", f"the {w.k_eff}-pixel window is larger than the padded input "
                    f"{axis} {w.size} + {w.pad_begin} + {w.pad_end} = "
                    f"{w.size + w.pad_begin + w.pad_end}",
                    ("use a smaller kernel or more padding, or remove a downsampling layer "
                     "before this one",), fatal=True)
                return
        yield from division_findings(self, inp, wh, ww)
        if any(out < 1 for out in (wh.out, ww.out)):  # pragma: no cover - fits implies out ≥ 1
            yield Finding("G009", "the output would be empty", fatal=True)

    def step(self, inp: Shape) -> Step | None:
        wh, ww = self.windows(inp)
        return Step((wh.k_eff, ww.k_eff), (wh.stride, ww.stride))

    def explain(self, inp: Shape, out: Shape) -> list[str]:
        c = self.counts(inp, out)
        kernel = self.geometry()[0]
        per_group = c.weights // max(1, kernel[0] * kernel[1] * out[2]) if c.weights else 0
        formula = f"{kernel[0]}·{kernel[1]}·{per_group}·{out[2]}"
        spatial = f" · {out[0]}·{out[1]}"
        return window_lines(self, inp, out) + count_lines(c, formula, spatial)


def window_lines(layer: Windowed, inp: Shape, out: Shape) -> list[str]:
    """Per-axis (N − F + 2P)/S + 1 lines (one when both axes agree)."""
    wh, ww = layer.windows(inp)
    floor = "⌈⌉" if wh.ceil else "⌊⌋"
    lines = []
    for axis, w, n in (("height", wh, out[0]), ("width", ww, out[1])):
        exact = "" if not w.leftover else f" → {floor[0]}…{floor[1]} = {n}"
        lines.append(f"{axis}: {arithmetic(w)}{exact}")
    if lines[0].split(": ", 1)[1] == lines[1].split(": ", 1)[1]:
        lines = ["height and width: " + lines[0].split(": ", 1)[1]]
    if wh.dilation > 1 or ww.dilation > 1:
        lines.append(f"dilated kernel spans {wh.k_eff}×{ww.k_eff} pixels (d·(k−1) + 1)")
    return [*lines, f"output {format_shape(out)}"]


def _lost_text(lost_h: int, lost_w: int) -> str:
    """``the last row and column of the input are never read``."""
    def part(n: int, noun: str) -> str:
        return noun if n == 1 else f"{n} {noun}s"
    if lost_h and lost_w:
        what, verb = f"{part(lost_h, 'row')} and {part(lost_w, 'column')}", "are"
    else:
        n, noun = (lost_h, "row") if lost_h else (lost_w, "column")
        what, verb = part(n, noun), "is" if n == 1 else "are"
    return f"the last {what} of the input {verb} never read"


def arithmetic(w: Window) -> str:
    """``(7 − 3 + 2·0)/3 + 1 = 2.33`` — the lecture's formula with this axis' numbers."""
    pad = f"2·{w.pad_begin}" if w.pad_begin == w.pad_end else f"{w.pad_begin}+{w.pad_end}"
    value = v.decimal_text(Fraction(w.span, w.stride) + 1)
    return f"({w.size} − {w.k_eff} + {pad})/{w.stride} + 1 = {value}"


def division_findings(layer: Windowed, inp: Shape, wh: Window, ww: Window) -> Iterator[Finding]:
    """The lecture's rule: (N − F + 2P)/S + 1 must be an integer (spec §6)."""
    inexact = [w for w in (wh, ww) if w.leftover]
    if not inexact:
        return
    sums = sorted({arithmetic(w) for w in inexact})
    formula = " and ".join(sums) + (" are not integers" if len(sums) > 1 else " is not an integer")
    losing = [w for w in (wh, ww) if w.lost > w.gap]
    fixes = tuple(suggest_fixes(layer, inp, restride=bool(losing))) if fixes_wanted() else ()
    if losing:
        lost_h = wh.lost if wh in losing else 0
        lost_w = ww.lost if ww in losing else 0
        yield Finding("G001", f"{formula}: {_lost_text(lost_h, lost_w)}", fixes=fixes)
    else:
        padding_only = all(w.lost == 0 for w in inexact)
        why = ("only padding goes unread" if padding_only
               else "the unread input is no more than the stride skips anyway")
        yield Finding("G002", f"{formula}: {why}", fixes=fixes)


SEARCH = 32
"""Fix candidates searched per axis around the current value: the search is bounded
whatever the size of the numbers in the spec."""


def suggest_fixes(layer: Windowed, inp: Shape, restride: bool = True) -> Iterator[Fix]:
    """Paddings, ceil mode, strides (when input is lost) and input sizes that make the
    division exact. Each is a :class:`~cnncalc.diagnostics.Fix` that says what it replaces;
    the driver re-analyses them in context before any is shown (:mod:`cnncalc.fixes`)."""
    _, stride, padding, _ = layer.geometry()
    wh, ww = layer.windows(inp)
    candidates: list[Windowed] = []
    if not padding.same and padding.hw[0] == padding.hw[1]:
        limit = min(layer.widest_fix_padding(), SEARCH)
        candidates += [dataclasses.replace(layer, padding=Padding((p, p)))  # type: ignore[call-arg]
                       for p in range(0, limit + 1) if p != padding.hw[0]]
    ceil = layer.ceil_variant()
    if ceil is not None:
        candidates.append(ceil)
    if restride and stride[0] == stride[1]:
        candidates += [dataclasses.replace(layer, stride=(s, s))  # type: ignore[call-arg]
                       for s in range(stride[0] - 1, max(0, stride[0] - 1 - SEARCH), -1)]
    exact, padding_only = [], []
    for c in candidates:
        ch, cw = c.windows(inp)
        if not (ch.fits and cw.fits):
            continue
        if not ch.leftover and not cw.leftover:
            exact.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))}", layer, (c,)))
        elif c.geometry()[2] != padding and all(w.lost <= w.gap for w in (ch, cw)) and any(
                w.lost > w.gap for w in (wh, ww)):
            padding_only.append(Fix(f"{c.describe()} → {format_shape(c.output_shape(inp))} "
                                    "(inexact, but only padding goes unread)", layer, (c,),
                                    slot="padding-only"))
    yield from exact
    if not any(isinstance(f.nodes[0], Windowed) and f.nodes[0].geometry()[2] != padding
               for f in exact):
        yield from padding_only
    for w, axis in ((wh, 0), (ww, 1)) if restride else ():
        if w.leftover and (axis == 0 or w.size != wh.size or not wh.leftover):
            below, above = w.size - w.leftover, w.size + w.stride - w.leftover
            sizes = [n for n in (below, above) if n > 0 and n + w.pad_begin + w.pad_end >= w.k_eff]
            both = axis == 0 and wh.size == ww.size and ww.leftover
            name = "height" if axis == 0 and not both else "width" if axis == 1 else "size"
            for n in sizes:
                shape = (n, n, inp[2]) if both else (n, inp[1], inp[2]) if axis == 0 else (
                    inp[0], n, inp[2])
                yield Fix(f"input {name} {n} instead of {w.size}", layer, layer_input=shape,
                          template=f"input {name} {{}} instead of {w.size}", value=str(n))
