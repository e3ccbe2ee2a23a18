"""Architecture lints: what a demanding reviewer of CNN code would flag.

Nothing here makes a network invalid. Each lint is a small generator over a
finished :class:`~cnncalc.analysis.Report` that yields ``(row, finding)`` pairs
(``row`` is None for whole-network findings such as the input's layout);
:func:`lint` runs every lint in :data:`LINTS` and turns the findings into
:class:`~cnncalc.diagnostics.Problem` objects with the mode's severity, the
row's path and its location. Codes ``L001``… are documented in
:data:`cnncalc.diagnostics.RULES`.

Severity policy (the per-mode table lives in ``RULES``):

- likely bugs (``L002`` channels-first input, ``L004`` a layer after softmax,
  ``L012`` an activation before softmax) are warnings in every mode, lenient
  included — the framework accepts them, but they are almost never meant;
- wasted or skipped computation (``L003``, ``L006``, ``L008``–``L011``) is a
  warning, demoted to a note in lenient mode;
- design and efficiency advice (``L001``, ``L005``, ``L007``, ``L013``,
  ``L014``) is a note (``L005`` and ``L007`` become warnings in strict mode)
  and is silent in lenient mode.

Lints never raise errors: an architecture that computes is valid. A layer
inside ``[...] * N`` is one spec layer, so a finding that every repetition
would repeat word for word is reported once, at the first repetition.

>>> from cnncalc import analyze
>>> report = analyze("32x32x3 -> conv(10, 3) -> relu -> relu -> gap -> fc(10)")
>>> [(p.code, p.path, str(p.severity)) for p in lint(report)]
[('L001', '1', 'note'), ('L011', '3', 'warning')]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Literal

from .diagnostics import Finding, Fix, Problem, resolve
from .layers import (
    FC,
    BatchNorm,
    Block,
    Conv,
    Deconv,
    DepthwiseConv,
    Dropout,
    Flatten,
    GlobalAvgPool,
    Layer,
    Node,
    Pool,
    ReLU,
    Repeat,
    Softmax,
    Upsample,
    Windowed,
    describe_group,
)
from .report import LayerRow, Report
from .shapes import Shape, elements, format_shape, is_volume
from .values import Padding, percent

Lint = Callable[[Report, "Flow"], Iterator[tuple[LayerRow | None, Finding]]]

NO_NODE: Node = Layer()
"""Stands in for a row without a node: every trait off, so it matches no rule."""


def node_of(row: LayerRow) -> Node:
    """The row's layer or block, for asking its traits."""
    return row.node if row.node is not None else NO_NODE



# --------------------------------------------------------------------------- the flow

Where = Literal["row", "join", "end"]


class Flow:
    """The sequence structure behind the pre-order rows: which layer feeds which.

    ``after(row)`` says where a row's output goes: to the next row (``"row"``; a
    ``repeat`` is entered, a residual/concat block is returned as itself), into the
    add/concatenation of the enclosing parallel block (``"join"``, with that block),
    or out of the network (``"end"``).
    """

    def __init__(self, rows: tuple[LayerRow, ...]) -> None:
        self.top: list[LayerRow] = []
        self.groups: dict[str, list[list[LayerRow]]] = {}
        self.place: dict[str, tuple[LayerRow | None, int, int]] = {}
        by_path: dict[str, LayerRow] = {}
        for row in rows:
            by_path[row.path] = row
            parts = row.path.split(".")
            parent = by_path.get(".".join(parts[:-2])) if len(parts) >= 3 else None
            group = int(parts[-2]) - 1 if parent is not None else 0
            if parent is None:
                seq = self.top
            else:
                groups = self.groups.setdefault(parent.path, [])
                while len(groups) <= group:
                    groups.append([])
                seq = groups[group]
            self.place[row.path] = (parent, group, len(seq))
            seq.append(row)
            if row.is_block:
                count = len(row.node.groups()) if isinstance(row.node, Block) else 0
                self.groups.setdefault(row.path, [[] for _ in range(count)])
        self._feeds: dict[str, bool] = {}
        self._reduced: dict[str, LayerRow | None] = {}
        self.before: dict[str, LayerRow] = {}
        for row in rows:
            if not row.is_block:
                where, nxt = self.after(row)
                if where == "row" and nxt is not None:
                    self.before.setdefault(nxt.path, row)

    def enter(self, row: LayerRow) -> tuple[Where, LayerRow | None]:
        """What runs first when the flow reaches ``row`` (a repeat is transparent)."""
        if row.is_block and node_of(row).chained:
            for group in self.groups.get(row.path, []):
                if group:
                    return self.enter(group[0])
            return self.after(row)
        return "row", row

    def after(self, row: LayerRow) -> tuple[Where, LayerRow | None]:
        parent, group, i = self.place[row.path]
        seq = self.top if parent is None else self.groups[parent.path][group]
        if i + 1 < len(seq):
            return self.enter(seq[i + 1])
        if parent is None:
            return "end", None
        if node_of(parent).chained:
            # Every repetition holds the same layers, so the next one is never empty.
            groups = self.groups[parent.path]
            if group + 1 < len(groups) and groups[group + 1]:
                return self.enter(groups[group + 1][0])
            return self.after(parent)
        return "join", parent

    def next(self, row: LayerRow) -> LayerRow | None:
        """The row right after ``row`` in sequence, or None (a join or the network's end)."""
        where, nxt = self.after(row)
        return nxt if where == "row" else None

    def next_skipping(self, row: LayerRow, skip: Callable[[Node], bool]) -> LayerRow | None:
        """Like :meth:`next`, stepping over layers for which ``skip(layer)`` holds."""
        nxt = self.next(row)
        while nxt is not None and not nxt.is_block and skip(node_of(nxt)):
            nxt = self.next(nxt)
        return nxt

    def feeds_output(self, row: LayerRow) -> bool:
        """True when nothing with weights of its own, and no join, lies between ``row``
        and the network's output. Remembered for every row the walk passes, so asking
        for every row costs time linear in the rows."""
        walked: list[str] = []
        where, nxt = self.after(row)
        answer: bool | None = None
        while answer is None:
            if where != "row" or nxt is None:
                answer = where == "end"
            elif nxt.is_block or node_of(nxt).weighted:
                answer = False
            elif nxt.path in self._feeds:
                answer = self._feeds[nxt.path]
            else:
                walked.append(nxt.path)
                where, nxt = self.after(nxt)
        for path in walked:
            self._feeds[path] = answer
        return answer

    def reduced_by(self, row: LayerRow) -> LayerRow | None:
        """The nearest layer before ``row`` whose input differs from ``row``'s in H×W (the
        one that brought the map to this size), or None when the flow has no such layer
        before it. Remembered along the way: asking for every row is linear in the rows."""
        walked: list[str] = []
        cur = row
        while True:
            if cur.path in self._reduced:
                found = self._reduced[cur.path]
                break
            walked.append(cur.path)
            prev = self.before.get(cur.path)
            if (prev is None or prev.input_shape is None or cur.input_shape is None
                    or prev.input_shape[:2] != cur.input_shape[:2]):
                found = prev
                break
            cur = prev  # same size: whatever reduced prev's input reduced this one
        for path in walked:
            self._reduced[path] = found
        return found


def leaves(report: Report) -> Iterator[LayerRow]:
    """Leaf rows whose shapes are known (layers analysis could follow)."""
    for row in report.layers:
        if not row.is_block and row.input_shape is not None and row.output_shape is not None:
            yield row


# --------------------------------------------------------------------------- helpers

def is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def powers_of_two_near(n: int) -> tuple[int, ...]:
    """The powers of two either side of ``n``, nearest first.

    >>> powers_of_two_near(96), powers_of_two_near(84), powers_of_two_near(6)
    ((64, 128), (64, 128), (4, 8))
    >>> powers_of_two_near(120), powers_of_two_near(3)
    ((128, 64), (2, 4))
    """
    low = 1 << (n.bit_length() - 1)
    high = low * 2
    return (high, low) if high - n < n - low else (low, high)


def unread_per_stride(kernel: int, stride: int, dilation: int = 1) -> int:
    """How many of every ``stride`` rows no tap of a window ever touches, when windows
    of ``kernel`` taps ``dilation`` apart start ``stride`` rows apart.

    >>> unread_per_stride(2, 3), unread_per_stride(3, 2), unread_per_stride(3, 2, dilation=2)
    (1, 0, 1)
    """
    # The taps j·d (mod s) cycle through the multiples of gcd(d, s): s / gcd distinct rows.
    return stride - min(kernel, stride // math.gcd(dilation, stride))


def largest_full_stride(kernel: int, stride: int, dilation: int = 1) -> int:
    """The largest stride ≤ ``stride`` at which the window reads every row: s ≤ kernel and
    gcd(s, dilation) = 1 (see :func:`unread_per_stride`). Numbers coprime to the dilation
    are never far apart (a 32-bit dilation has at most 9 prime factors), so the search
    from min(stride, kernel) down is short; it is bounded anyway, and 1 always qualifies.

    >>> largest_full_stride(2, 3), largest_full_stride(3, 4, dilation=2), largest_full_stride(5, 9)
    (2, 3, 5)
    """
    top = min(stride, kernel)
    for s in range(top, max(0, top - 1000), -1):
        if math.gcd(s, dilation) == 1:
            return s
    return 1


def shape_after(layer: Windowed, inp: Shape) -> str:
    """`` → 16×16×8`` when the layer fits ``inp``, else nothing."""
    if all(w.fits for w in layer.windows(inp)):
        return f" → {format_shape(layer.output_shape(inp))}"
    return ""


def per_axis(h: int, w: int, stride: tuple[int, int]) -> str:
    """``1 of every 3 rows and columns``, ``1 of every 2 rows``."""
    if h and w and (h, stride[0]) == (w, stride[1]):
        return f"{h} of every {stride[0]} rows and columns"
    parts = []
    if h:
        parts.append(f"{h} of every {stride[0]} rows")
    if w:
        parts.append(f"{w} of every {stride[1]} columns")
    return " and ".join(parts)


def label(row: LayerRow) -> str:
    """``conv(64, 3, p=1) at 4.1.2``."""
    return f"{row.spec} at {row.path}"


# --------------------------------------------------------------------------- the lints

LISTED = 6
"""Most layers an L001 finding names (and offers fixes for); the rest are counted."""


def pinned_channels(report: Report, flow: Flow) -> set[str]:
    """Paths of the rows whose output channel count is not free to change: it reaches a
    residual's add (body end, shortcut end, or the input of an identity shortcut) or the
    network's output, through layers that keep or scale the channels (bn, activations,
    pooling, depthwise convs, concatenation). A conv/fc that consumes it frees it.

    Computed once for the whole report with an explicit stack (no recursion): linear in
    the number of rows.
    """
    Key = tuple[str, str]  # ("out", path): the row's output; ("in", path): what enters it
    rows = {row.path: row for row in report.layers}
    memo: dict[Key, bool] = {}

    def deps(key: Key) -> bool | list[Key]:
        kind, path = key
        row = rows[path]
        if kind == "out":
            where, nxt = flow.after(row)
            if where == "end" or nxt is None:
                return True
            if where == "join":
                return True if node_of(nxt).join_pins_channels else [("out", nxt.path)]
            return [("in", nxt.path)]
        if node_of(row).chained:
            where, nxt = flow.enter(row)
            if nxt is None or nxt is row:
                return [("out", path)]
            return [("in", nxt.path)] if where == "row" else [("out", path)]
        if isinstance(row.node, Block):
            keys: list[Key] = []
            for group in flow.groups.get(path, []):
                if group:
                    keys.append(("in", group[0].path))
                elif not node_of(row).join_pins_channels:
                    keys.append(("out", path))
                else:
                    return True  # an identity shortcut carries the channels to the add
            return keys
        if node_of(row).sets_channels:
            return False
        return [("out", path)]

    def solve(start: Key) -> bool:
        stack = [start]
        while stack:
            key = stack[-1]
            if key in memo:
                stack.pop()
                continue
            found = deps(key)
            if isinstance(found, bool):
                memo[key] = found
                stack.pop()
                continue
            missing = [k for k in found if k not in memo]
            if missing:
                stack += missing
                continue
            memo[key] = any(memo[k] for k in found)
            stack.pop()
        return memo[start]

    return {row.path for row in leaves(report) if node_of(row).weighted
            and solve(("out", row.path))}


def non_power_of_two_width(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L001: filter and unit counts that are not powers of two (the lecture's GPU hint).

    One finding per network, at the first such layer, listing them all (up to
    :data:`LISTED` by name). Not flagged: counts fixed by the network (a residual's add or
    the output: :func:`pinned_channels`), a grouped conv whose groups are not a power of
    two, and a depthwise conv whose input channels have an odd factor (no multiplier
    gives a power of two). A layer repeated by ``[...] * N`` is listed once, and only
    when no repetition is pinned. Each listed layer gets one fix, the nearest power of two
    that re-analyses cleanly.
    """
    pinned = pinned_channels(report, flow)
    blocked: set[int] = {id(row.node) for row in leaves(report) if row.path in pinned}
    flagged: list[tuple[LayerRow, int, str, tuple[Layer, ...]]] = []
    seen: set[int] = set()
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        assert inp is not None
        if id(node) in seen or id(node) in blocked:
            continue
        width = node.width(inp) if isinstance(node, Layer) else None  # leaves hold layers
        if width is None:
            continue
        n, noun = width.count, width.noun
        fixes: tuple[Layer, ...] = tuple(
            f for f in map(width.with_knob, powers_of_two_near(width.knob)) if f is not None)
        if is_power_of_two(n):
            continue
        seen.add(id(node))
        flagged.append((row, n, noun, fixes))
    if not flagged:
        return
    first = flagged[0][0]
    if len(flagged) == 1:
        row, n, noun, fixes = flagged[0]
        near = " or ".join(map(str, powers_of_two_near(n)))
        yield first, Finding(
            "L001", f"{row.spec} has {n} {noun}, not a power of two: GPU kernels tile "
            f"channels in powers of two, so {near} would use the hardware fully",
            fixes=tuple(Fix(f.describe(), row.node, (f,)) for f in fixes))
        return
    listed = ", ".join(f"{row.spec} at {row.path} ({n:,} {noun.split(' ')[0]})"
                       for row, n, noun, _ in flagged[:LISTED])
    more = f", and {len(flagged) - LISTED} more" if len(flagged) > LISTED else ""
    yield first, Finding(
        "L001", f"{len(flagged)} layers have filter or unit counts that are not powers of "
        f"two: {listed}{more}. GPU kernels tile channels in powers of two, so the nearest "
        "power of two would use the hardware fully",
        fixes=tuple(Fix(f"{f.describe()} at {row.path}", row.node, (f,), slot=row.path)
                    for row, _, _, fixes in flagged[:LISTED] for f in fixes))


def channels_first_input(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L002: an input that looks like C×H×W typed in H×W×C order (``3x224x224``)."""
    shape = report.input_shape
    if shape is None or not is_volume(shape):
        return
    h, w, c = shape
    if h <= 4 and w >= 16 and c >= 16 and w <= 2 * c and c <= 2 * w:
        yield None, Finding(
            "L002", f"the input {format_shape(shape)} has {h} row{'s' if h > 1 else ''} and {c} "
            f"channels: it looks like a C×H×W shape ({h} channel{'s' if h > 1 else ''} of {w}×{c}, "
            "PyTorch's order) "
            "typed where cnncalc reads H×W×C",
            fixes=(Fix(f"input {w}x{c}x{h}", network_input=(w, c, h)),))


def collapsed_spatial(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L003: a k > 1 conv or pool on a 1-pixel-high or -wide input: most taps see padding."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Windowed) or inp is None or not is_volume(inp):
            continue
        wh, ww = node.windows(inp)
        thin = [inp[0] == 1 and wh.k_eff > 1, inp[1] == 1 and ww.k_eff > 1]
        if not any(thin):
            continue
        kh, kw = node.geometry()[0]
        real = (1 if thin[0] else kh) * (1 if thin[1] else kw)
        source = ""
        prev = flow.reduced_by(row)
        if prev is not None:
            source = f" ({label(prev)} reduced it to {format_shape(prev.output_shape)})"
        elif report.input_shape is not None and report.input_shape[:2] == inp[:2]:
            source = " (the network's input)"
        message = (f"{row.spec} slides a {kh}×{kw} window over a {inp[0]}×{inp[1]} input"
                   f"{source}: {kh * kw - real} of its {kh * kw} taps only ever see padding")
        fixes: list[Fix] = []
        prose: list[str] = []
        if isinstance(node, Conv | DepthwiseConv):
            k1 = (1 if thin[0] else kh, 1 if thin[1] else kw)
            pad = node.padding if node.padding.same else Padding(
                (0 if thin[0] else node.padding.hw[0], 0 if thin[1] else node.padding.hw[1]))
            small = replace(node, kernel=k1, padding=pad)
            w_old = row.weights or 0
            w_new = w_old // (kh * kw) * k1[0] * k1[1]
            fixes.append(Fix(f"{small.describe()}: the same output shape with {w_new:,} instead "
                             f"of {w_old:,} weights", node, (small,)))
        else:
            prose.append(f"remove {row.spec}: on a {inp[0]}×{inp[1]} input it pools padding")
        if prev is not None:
            prose.append(f"downsample less before it ({label(prev)}), or use a larger input")
        yield row, Finding("L003", message, tuple(prose), fixes=tuple(fixes))


def layer_after_softmax(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L004: softmax that is not the last layer (an activation, dropout or more after it)."""
    for row in leaves(report):
        if not isinstance(row.node, Softmax):
            continue
        where, nxt = flow.after(row)
        while where == "row" and nxt is not None and node_of(nxt).reshapes_only:
            where, nxt = flow.after(nxt)  # reshaping the probabilities changes nothing
        if where == "end" or nxt is None:
            continue
        fixes = ("remove the softmax and give the loss logits (CrossEntropyLoss, or "
                 "from_logits=True in Keras, apply it themselves)",)
        if where == "join":
            op = "added to the shortcut" if nxt.kind == "residual" else "concatenated"
            yield row, Finding(
                "L004", f"softmax is {op} in the enclosing {nxt.kind}: probabilities that no "
                "longer sum to 1 go on through the network; softmax belongs at the very end",
                fixes)
            continue
        if isinstance(nxt.node, Dropout):
            why = (f"{nxt.spec} zeroes probabilities and scales the rest by "
                   f"1/(1 − {nxt.node.p:g}), so they no longer sum to 1")
        elif node_of(nxt).activation:
            why = f"{nxt.spec} on probabilities in (0, 1) only distorts them"
        else:
            why = f"{nxt.spec} then works on probabilities instead of features"
        yield row, Finding(
            "L004", f"softmax is followed by {nxt.spec}: {why}; softmax belongs at the very "
            "end", (f"move the softmax after {label(nxt)}", *fixes))


def dominant_fc(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L005: one fc layer on an unpooled H×W×C feature map holding most of a CNN's
    parameters (VGG's fc6). An fc after global pooling is not flagged: pooling cannot
    shrink it."""
    total = report.totals.params
    rows = list(leaves(report))
    if not total or not any(isinstance(r.node, Conv | DepthwiseConv) for r in rows):
        return
    for row in rows:
        node, params = row.node, row.params or 0
        if not isinstance(node, FC) or 2 * params <= total:
            continue
        inp = row.input_shape
        assert inp is not None
        volume: Shape | None = inp if is_volume(inp) else None
        flattener: LayerRow | None = None
        prev = flow.before.get(row.path)
        while volume is None and prev is not None and prev.input_shape is not None:
            if isinstance(prev.node, Flatten) and is_volume(prev.input_shape):
                volume, flattener = prev.input_shape, prev
            elif not (node_of(prev).inference_identity or node_of(prev).activation):
                break
            prev = flow.before.get(prev.path)
        if volume is None or volume[0] * volume[1] == 1:
            continue  # already pooled: its size is the widths', not the feature map's
        n_in, c = elements(inp), volume[2]
        new = c * node.units + (node.units if node.bias else 0)
        yield row, Finding(
            "L005", f"{row.spec} holds {params:,} of the network's {total:,} parameters "
            f"({percent(params, total)}): each of its {n_in:,} inputs ({format_shape(volume)}) "
            f"connects to all {node.units:,} units",
            fixes=(Fix(f"global average pooling before it (gap -> {row.spec}): {c:,} inputs "
                       f"instead of {n_in:,}, {new:,} parameters instead of {params:,}",
                       *((flattener.node, (GlobalAvgPool(), flattener.node)) if flattener
                         else (node, (GlobalAvgPool(), node)))),))


def stride_exceeds_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L006: conv/dwconv windows further apart than they are wide (1×1 projections aside),
    and transposed convs whose stride leaves output pixels no tap reaches."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        assert inp is not None
        if isinstance(node, Conv | DepthwiseConv):
            if node.kernel == (1, 1):
                continue  # ResNet's 1×1/2 projection subsamples by design
            unread = [unread_per_stride(node.kernel[a], node.stride[a], node.dilation[a])
                      for a in (0, 1)]
            if not any(unread):
                continue
            dil = f" (dilation {node.dilation[0]})" if node.dilation != (1, 1) else ""
            message = (f"{row.spec}: its {node.kernel[0]}×{node.kernel[1]} window{dil} moves "
                       f"{node.stride[0]}×{node.stride[1]} pixels at a time, so "
                       f"{per_axis(unread[0], unread[1], node.stride)} of the input are never "
                       "read")
            strides = tuple(largest_full_stride(node.kernel[a], node.stride[a], node.dilation[a])
                            for a in (0, 1))
            kernels = tuple(
                max(node.kernel[a], node.stride[a])
                if math.gcd(node.dilation[a], node.stride[a]) == 1 else node.kernel[a]
                for a in (0, 1))
            fixes = []
            restrided = replace(node, stride=(strides[0], strides[1]))
            fixes.append(Fix(f"{restrided.describe()}{shape_after(restrided, inp)}", node,
                             (restrided,)))
            if (kernels[0], kernels[1]) != node.kernel:
                grown = replace(node, kernel=(kernels[0], kernels[1]))
                fixes.append(Fix(f"{grown.describe()}{shape_after(grown, inp)}", node, (grown,)))
            yield row, Finding("L006", message, fixes=tuple(fixes))
        elif isinstance(node, Deconv):
            holes = [unread_per_stride(node.kernel[a], node.stride[a], node.dilation[a])
                     for a in (0, 1)]
            if not any(holes):
                continue
            message = (f"{row.spec}: with stride {node.stride[0]}×{node.stride[1]} and a "
                       f"{node.kernel[0]}×{node.kernel[1]} kernel, "
                       f"{per_axis(holes[0], holes[1], node.stride)} of the output get no input "
                       "at all (only the bias): a grid of holes")
            even = replace(node, kernel=node.stride)
            fixes = [Fix(f"{even.describe()}: a kernel that is a multiple of the stride covers "
                         "every output pixel evenly", node, (even,))]
            resize = (Upsample(node.stride), Conv(node.filters, (3, 3), padding=Padding((1, 1))))
            fixes.append(Fix(f"{describe_group(resize)[1:-1]} instead", node, resize))
            yield row, Finding("L006", message, fixes=tuple(fixes))


def bias_before_bn(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L007: a conv/fc bias that the batch norm right after cancels."""
    for row in leaves(report):
        node = row.node
        plain = node.without_bias() if isinstance(node, Layer) else None  # leaves hold layers
        if plain is None or not node_of(row).weighted or not row.biases:
            continue
        nxt = flow.next(row)
        if nxt is None or not isinstance(nxt.node, BatchNorm):
            continue
        yield row, Finding(
            "L007", f"{row.spec} adds {row.biases:,} biases that the {nxt.spec} right after removes: "
            "batch norm subtracts each channel's mean, so a per-channel constant cannot "
            f"survive it ({row.biases:,} wasted parameters)",
            fixes=(Fix(plain.describe(), node, (plain,)),))


def excessive_dropout(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L008: dropout with p ≥ 0.9, or two dropouts in a row."""
    for row in leaves(report):
        node = row.node
        if not isinstance(node, Dropout):
            continue
        if node.p >= 0.9:
            yield row, Finding(
                "L008", f"{row.spec} zeroes {node.p:.0%} of the activations and scales the "
                f"survivors by 1/(1 − {node.p:g}) = {1 / (1 - node.p):.0f}: a signal this thin "
                "and noisy rarely trains",
                fixes=tuple(Fix(f"dropout({q})", node, (replace(node, p=q),)) for q in (0.5, 0.2)))
        nxt = flow.next(row)
        if nxt is not None and isinstance(nxt.node, Dropout):
            q = 1 - (1 - node.p) * (1 - nxt.node.p)
            yield nxt, Finding(
                "L008", f"dropout({node.p:g}) -> dropout({nxt.node.p:g}): two "
                "dropouts in a row drop "
                f"1 − (1 − {node.p:g})·(1 − {nxt.node.p:g}) = {q:.4g} of the activations; "
                "one dropout does the same",
                (f"one dropout({q:.4g}) instead of both",))


def identity_layer(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L009: a layer that computes nothing (pooling that does not pool, dropout(0), ...).

    The explicit ``identity`` layer is deliberate and is not flagged, and neither is an
    ``adaptiveavgpool`` whose size equals its input: torchvision's VGG and AlexNet keep
    one so that other input sizes work, and at the nominal size it is meant to be a no-op.
    """
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        assert inp is not None
        fixes: tuple[Fix, ...] = (Fix(f"remove {row.spec}"),)
        why = node.does_nothing(inp) if isinstance(node, Layer) else ""  # leaves hold layers
        if why and isinstance(node, Pool) and min(inp[0], inp[1]) >= 2:
            halve = replace(node, kernel=(2, 2), stride=None)
            fixes += (Fix(f"{halve.describe()}{shape_after(halve, inp)}, if "
                          "downsampling was meant", node, (halve,)),)
        if why:
            yield row, Finding("L009", f"{row.spec} does nothing: {why}", fixes=fixes)


def pool_skips_input(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L010: max/avg pooling windows further apart than they are wide."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if not isinstance(node, Pool) or inp is None or not is_volume(inp):
            continue
        kernel, stride, _, _ = node.geometry()
        unread = [unread_per_stride(kernel[a], stride[a]) for a in (0, 1)]
        if not any(unread):
            continue
        kind = "max" if node.name == "maxpool" else "average"
        if kernel == (1, 1):
            message = (f"{row.spec}: a 1×1 {kind}-pool with stride {stride[0]}×{stride[1]} "
                       f"pools nothing, it just drops {per_axis(unread[0], unread[1], stride)}")
        else:
            message = (f"{row.spec}: {kernel[0]}×{kernel[1]} windows {stride[0]}×{stride[1]} "
                       f"apart never look at {per_axis(unread[0], unread[1], stride)}; "
                       f"those activations never reach the {kind}")
        candidates = [replace(node, kernel=stride, stride=None)]
        if kernel != (1, 1):
            candidates.append(replace(node, stride=None))
        fixes = tuple(Fix(f"{c.describe()}{shape_after(c, inp)}", node, (c,)) for c in candidates)
        yield row, Finding("L010", message, fixes=fixes)


def stacked_activations(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L011: two element-wise activations in a row."""
    for row in leaves(report):
        first = node_of(row)
        if not first.activation:
            continue
        nxt = flow.next(row)
        if nxt is None or not node_of(nxt).activation:
            continue
        second, rng = node_of(nxt), first.output_range
        if type(first) is type(second) and first.idempotent:
            why = f"{first.name}({first.name}(x)) = {first.name}(x), the second changes nothing"
        elif rng is not None and rng.non_negative and second.identity_on_non_negative:
            why = (f"{nxt.spec} is the identity on {row.spec}'s non-negative output, "
                   "so it changes nothing")
        else:
            seen = f" outputs in {rng.text}" if rng else " output"
            why = f"{nxt.spec} only ever sees {row.spec}'s{seen}: keep one nonlinearity"
        yield nxt, Finding("L011", f"{row.spec} -> {nxt.spec}: two activations in a row; {why}",
                           (f"remove {nxt.spec} at {nxt.path}",
                            f"remove {row.spec} at {row.path}"))


def activation_before_softmax(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L012: an activation squashing the logits right before softmax."""
    for row in leaves(report):
        node = node_of(row)
        if not node.activation:
            continue
        nxt = flow.next_skipping(row, lambda n: n.inference_identity)
        if nxt is None or not isinstance(nxt.node, Softmax) or nxt.output_shape is None:
            continue
        n = nxt.output_shape[-1]
        rng = node.output_range
        if rng is not None and rng.high is not None and rng.low is not None and n > 1:
            low, high = rng.low, rng.high
            top = math.exp(high) / (math.exp(high) + (n - 1) * math.exp(low))
            why = (f"the logits are squashed into {rng.text}, so over {n:,} classes softmax can "
                   f"never give any class more than e^{high:g}/(e^{high:g} + {n - 1:,}·"
                   f"e^{low:g}) = {top:.3g}")
        else:  # unbounded above: negative logits lose their differences
            what = "clipped to 0" if rng is not None and rng.low == 0 else "squashed towards 0"
            why = (f"negative logits are {what}, so the classes the network rules out all get "
                   "nearly the same probability and it cannot push them apart")
        yield row, Finding(
            "L012", f"{row.spec} right before softmax: {why}",
            (f"remove {row.spec}: the layer before softmax should output raw logits",))


def large_kernel(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L013: a k×k conv (k ≥ 5, past the stem) that stacked 3×3 convs would do for fewer
    weights (VGG's argument)."""
    for row in leaves(report):
        node, inp = row.node, row.input_shape
        if (type(node) is not Conv or inp is None or not is_volume(inp) or node.groups != 1
                or node.dilation != (1, 1)):
            continue
        k = node.kernel[0]
        if node.kernel != (k, k) or k < 5 or k % 2 == 0:
            continue
        if row.receptive_field == (k, k) and row.jump == node.stride:
            continue  # the stem reads the raw image: a large first kernel is standard
        n, c, f = (k - 1) // 2, inp[2], node.filters
        big = k * k * c * f
        stacked = 9 * c * c * (n - 1) + 9 * c * f
        if stacked >= big:
            continue
        fixes: tuple[Fix, ...] = ()
        p = node.padding
        if p.same or p.hw in ((0, 0), (n, n)):
            each = p if p.same else Padding((p.hw[0] // n, p.hw[1] // n))
            mid = Conv(c, (3, 3), padding=each, bias=node.bias)
            last = replace(node, kernel=(3, 3), padding=each)
            stack: tuple[Node, ...] = (mid, ReLU()) if n == 2 else (Repeat(n - 1, (mid, ReLU())),)
            fixes = (Fix(f"{describe_group((*stack, last))[1:-1]}: {stacked:,} weights, the same "
                         f"{k}×{k} receptive field and output shape", node, (*stack, last)),)
        yield row, Finding(
            "L013", f"{row.spec}: one {k}×{k} conv on {c} channels has {big:,} weights; {n} "
            f"stacked 3×3 convs see the same {k}×{k} field with {stacked:,} "
            f"({percent(big - stacked, big, 0)} fewer) and add {n - 1} more nonlinearit"
            f"{'y' if n == 2 else 'ies'}", fixes=fixes)


def linear_stack(report: Report, flow: Flow) -> Iterator[tuple[LayerRow | None, Finding]]:
    """L014: two conv/fc layers with no nonlinearity between them (a depthwise conv
    followed by a pointwise one is a separable conv and is not flagged)."""
    for row in leaves(report):
        first = row.node
        if not isinstance(first, Conv | FC):
            continue
        nxt = flow.next_skipping(row, lambda n: n.inference_identity or n.reshapes_only)
        if nxt is None or not isinstance(nxt.node, Conv | FC) or nxt.params is None:
            continue
        both = (row.params or 0) + nxt.params
        message = (f"{row.spec} -> {nxt.spec} with no activation between: two linear layers "
                   f"compose into one linear map, so the pair adds {both:,} parameters but no "
                   "expressive power beyond one layer")
        fixes: list[Fix | str] = [Fix(f"{row.spec} -> relu -> {nxt.spec}", first, (first, ReLU()))]
        second = nxt.node
        inp = row.input_shape
        if isinstance(first, FC) and isinstance(second, FC) and inp is not None:
            n_in = elements(inp)
            if first.units >= min(n_in, second.units):
                merged = n_in * second.units + (second.units if second.bias else 0)
                fixes.append(f"one {second.describe()} on the {n_in:,} inputs: {merged:,} "
                             f"parameters instead of {both:,}")
        yield row, Finding("L014", message, fixes=tuple(
            f if isinstance(f, Fix) else Fix(f) for f in fixes))


LINTS: tuple[Lint, ...] = (
    non_power_of_two_width,
    channels_first_input,
    collapsed_spatial,
    layer_after_softmax,
    dominant_fc,
    stride_exceeds_kernel,
    bias_before_bn,
    excessive_dropout,
    identity_layer,
    pool_skips_input,
    stacked_activations,
    activation_before_softmax,
    large_kernel,
    linear_stack,
)
"""Every lint, in code order."""


def lint(report: Report) -> list[Problem]:
    """Run every lint on ``report``; problems in spec order, with the report's mode, each
    fix re-analysed (:func:`cnncalc.fixes.verify_fixes`).

    Findings about the input (no row) get the path ``input`` and the input's location.
    A finding repeated word for word on another repetition of the same spec layer
    (``[...] * N``) is reported once.
    """
    flow = Flow(report.layers)
    flow_index = {row.path: n for n, row in enumerate(report.layers)}
    input_location = report.spec.input_location if report.spec is not None else None
    seen: set[tuple[str, int, str]] = set()
    ranked: list[tuple[int, int, Problem]] = []
    for order, check in enumerate(LINTS):
        for row, finding in check(report, flow):
            key = (finding.code, id(row.node) if row is not None else 0, finding.message)
            if key in seen:
                continue
            seen.add(key)
            if row is None:
                problems = resolve([finding], report.mode, "input", input_location)
                rank = -1
            else:
                problems = resolve([finding], report.mode, row.path, row.location)
                rank = flow_index[row.path]
            ranked += [(rank, order, p) for p in problems]
    ranked.sort(key=lambda t: (t[0], t[1]))
    from .fixes import verify_fixes  # a fix is shown only when it re-analyses cleanly
    found = tuple(p for _, _, p in ranked)
    checked = verify_fixes(replace(report, problems=(*report.problems, *found)), flow)
    return list(checked.problems[len(report.problems):])


__all__ = ["LINTS", "Flow", "lint"]
