"""What the rules share: the shape of a rule, stride arithmetic and message pieces."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from ..diagnostics import Finding
from ..layers import Windowed
from ..report import LayerRow, Report
from ..shapes import Shape, axis_names, format_shape
from .flow import Flow

Lint = Callable[[Report, Flow], Iterator[tuple[LayerRow | None, Finding]]]
"""A rule: a generator of ``(row, finding)`` pairs over a finished report (``row`` is None
for a whole-network finding such as the input's layout)."""


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


PLURALS = {"length": "positions", "depth": "slices", "height": "rows", "width": "columns"}


def every_nth(unread: Sequence[int], stride: Sequence[int]) -> str:
    """``1 of every 3 rows and columns``, ``1 of every 2 rows`` — one entry per spatial axis
    (``positions`` along a 1-D signal, ``slices`` along depth).

    >>> every_nth((1, 1), (3, 3)), every_nth((1, 0), (2, 1)), every_nth((1,), (4,))
    ('1 of every 3 rows and columns', '1 of every 2 rows', '1 of every 4 positions')
    >>> every_nth((1, 1, 1), (2, 3, 3))
    '1 of every 2 slices and 1 of every 3 rows and columns'
    """
    names = axis_names(len(unread))
    groups: dict[tuple[int, int], list[str]] = {}
    for u, s, axis in zip(unread, stride, names, strict=True):
        if u:
            groups.setdefault((u, s), []).append(PLURALS[axis])
    return " and ".join(f"{u} of every {s} {' and '.join(nouns)}"
                        for (u, s), nouns in groups.items())


def times(sizes: Sequence[int]) -> str:
    """``3×3``, ``3×3×3``, ``80``."""
    return "×".join(str(n) for n in sizes)


def label(row: LayerRow) -> str:
    """``conv(64, 3, p=1) at 4.1.2``."""
    return f"{row.spec} at {row.path}"

