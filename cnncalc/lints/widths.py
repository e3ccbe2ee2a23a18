"""L001: filter and unit counts that are not powers of two, unless the network pins them."""

from __future__ import annotations

from collections.abc import Iterator

from ..diagnostics import Finding, Fix
from ..layers import Block, Layer
from ..report import LayerRow, Report
from .flow import Flow, leaves, node_of


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



def in_call(row: LayerRow, rows: tuple[LayerRow, ...]) -> bool:
    """``row`` is a layer inside a block call: its width comes from the block's body and
    the call's arguments, so no replacement of that one layer is an edit the spec can take
    (a library block's body is not even in the file). Such a layer is listed, not fixed."""
    parent = row.parent
    while parent is not None:
        holder = rows[parent]
        if isinstance(holder.node, Block) and holder.node.called() is not None:
            return True
        parent = holder.parent
    return False


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
        fixes: tuple[Layer, ...] = () if in_call(row, report.layers) else tuple(
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

