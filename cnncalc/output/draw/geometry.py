"""The picture's primitives as exact integer geometry — boxes, labels, joins, arrows,
stage bars — and what the layout measures them with: the log scales of a volume's sides
and an upper estimate of a text's width."""

from __future__ import annotations

import functools
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from ...diagnostics import Severity
from ...shapes import Shape

STACK = 6
"""The offset of each slice of a 3-D volume (pixels)."""


def side(n: int) -> int:
    """A spatial size on the page: log scale, clamped.

    >>> side(1), side(7), side(56), side(224), side(10**40)
    (8, 44, 83, 109, 112)
    """
    return min(112, max(8, round(8 + 13 * math.log2(max(n, 1)))))


def thickness(c: int) -> int:
    """Channels along the flow: log scale, clamped.

    >>> thickness(1), thickness(3), thickness(64), thickness(2048)
    (3, 11, 33, 58)
    """
    return min(72, max(3, round(3 + 5 * math.log2(max(c, 1)))))


def advance(ch: str) -> float:
    """A character's width in ems, on the wide side of DejaVu Sans (so an estimate never
    lets two labels touch): narrow punctuation, average letters, wide capitals and symbols."""
    if unicodedata.combining(ch):
        return 0.0
    if unicodedata.east_asian_width(ch) in "WF":
        return 1.05
    if ch in " .,:;'|!ilIjtf()[]/·-":
        return 0.42
    if ch in "mwMW@%":
        return 1.0
    if ch.isupper() or ch in "×⊕⊗→…—#&~<>=+":
        return 0.86
    return 0.66


@functools.lru_cache(maxsize=4096)  # a network repeats its captions and sizes
def text_width(text: str, size: int) -> int:
    """An upper estimate of ``text``'s width at ``size`` pixels.

    >>> text_width("56×56×256", 11), text_width("", 11)
    (72, 2)
    """
    return math.ceil(size * sum(advance(ch) for ch in text)) + 2


def line_height(size: int) -> int:
    return math.ceil(size * 1.3)


@dataclass(frozen=True, slots=True)
class Box:
    """A volume: front face at (x, y) of w×h, its depth drawn up-right by (dx, dy);
    ``copies`` slices for a 3-D volume, each :data:`STACK` further back."""

    x: int
    y: int
    w: int
    h: int
    dx: int = 0
    dy: int = 0
    copies: int = 1
    style: str = "volume"
    """``volume``, ``folded`` (a block folded by --depth), ``route`` (a named tensor read
    again), ``unknown`` (no shape: an error upstream)."""
    severity: Severity | None = None
    tip: str = ""

    def bounds(self) -> tuple[int, int, int, int]:
        back = (self.copies - 1) * STACK
        return (self.x, self.y - self.dy - back, self.x + self.w + self.dx + back, self.y + self.h)


@dataclass(frozen=True, slots=True)
class Label:
    """One line of text; (x, y) is the top left of its box of w×h."""

    x: int
    y: int
    w: int
    h: int
    text: str
    size: int
    role: str
    """``title``, ``subtitle``, ``note``, ``size``, ``caption``, ``code``, ``stage``."""
    severity: Severity | None = None

    def bounds(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.w, self.y + self.h)


@dataclass(frozen=True, slots=True)
class Glyph:
    """A join: a circle (``⊕``, ``⊗``) or a pill (``concat``) centred at (cx, cy)."""

    cx: int
    cy: int
    w: int
    h: int
    text: str
    severity: Severity | None = None

    def bounds(self) -> tuple[int, int, int, int]:
        return (self.cx - self.w // 2, self.cy - self.h // 2,
                self.cx - self.w // 2 + self.w, self.cy - self.h // 2 + self.h)


@dataclass(frozen=True, slots=True)
class Arrow:
    """A polyline with a head at its last point; a route is a dashed curve through its
    middle point."""

    points: tuple[tuple[int, int], ...]
    route: bool = False
    head: bool = True


@dataclass(frozen=True, slots=True)
class Bar:
    """A stage's bracket over its columns."""

    x0: int
    x1: int
    y: int


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    boxes: tuple[Box, ...]
    glyphs: tuple[Glyph, ...]
    labels: tuple[Label, ...]
    arrows: tuple[Arrow, ...]
    bars: tuple[Bar, ...]


@dataclass
class Part:
    """A laid-out item or chain, relative to its origin: x from 0, the flow's axis at y 0."""

    width: int = 0
    up: int = 0
    down: int = 0
    entry: int = 0
    exit: int = 0
    boxes: list[Box] = field(default_factory=list)
    glyphs: list[Glyph] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    arrows: list[Arrow] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    anchors: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Each volume's and join's top centre, for the routes drawn once everything is placed."""
    routes: list[tuple[int, int]] = field(default_factory=list)
    """(source key, target key) of every ``@NAME`` volume."""

    def settle(self) -> Part:
        """``up`` and ``down`` from what the part holds (boxes, joins, labels, arrows)."""
        ys = [y for prims in (self.boxes, self.glyphs, self.labels) for q in prims
              for y in q.bounds()[1::2]] + [y for a in self.arrows for _, y in a.points]
        self.up, self.down = max([0, *(-y for y in ys)]), max([0, *ys])
        return self

    def put(self, other: Part, dx: int, dy: int) -> None:
        """Place ``other`` with its origin at (dx, dy)."""
        self.boxes += [Box(b.x + dx, b.y + dy, b.w, b.h, b.dx, b.dy, b.copies, b.style,
                           b.severity, b.tip) for b in other.boxes]
        self.glyphs += [Glyph(g.cx + dx, g.cy + dy, g.w, g.h, g.text, g.severity)
                        for g in other.glyphs]
        self.labels += [Label(t.x + dx, t.y + dy, t.w, t.h, t.text, t.size, t.role, t.severity)
                        for t in other.labels]
        self.arrows += [Arrow(tuple((x + dx, y + dy) for x, y in a.points), a.route, a.head)
                        for a in other.arrows]
        self.anchors.update({k: (x + dx, y + dy) for k, (x, y) in other.anchors.items()})
        self.routes += other.routes


def dims(shape: Shape | None) -> tuple[int, int, int, int, int]:
    """(thickness, height, dx, dy, copies) of a volume's box: H up, W into the page, C along
    the flow; a flat vector a thin column, 1-D a long thin bar, 3-D stacked slices."""
    if shape is None or not shape:
        return 24, 24, 0, 0, 1
    if len(shape) == 1:
        return 8, min(112, max(10, round(10 + 9 * math.log2(max(shape[0], 1))))), 0, 0, 1
    spatial, t = shape[:-1], thickness(shape[-1])
    h = side(spatial[-2] if len(spatial) >= 2 else spatial[0])
    depth = side(spatial[-1]) // 2 if len(spatial) >= 2 else 4
    copies = min(spatial[0], 3) if len(spatial) >= 3 else 1
    return t, h, round(depth * 0.6), round(depth * 0.5), max(copies, 1)


def text_lines(lines: Sequence[str], size: int, role: str, x: int, y: int, width: int,
               severity: Severity | None = None) -> list[Label]:
    """Lines centred in a column of ``width`` from x, stacked down from y."""
    out, lh = [], line_height(size)
    for n, line in enumerate(lines):
        w = text_width(line, size)
        out.append(Label(x + (width - w) // 2, y + n * lh, w, lh, line, size, role, severity))
    return out


def overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Two (x0, y0, x1, y1) rectangles share some area (touching edges do not).

    >>> overlap((0, 0, 10, 10), (10, 0, 20, 10)), overlap((0, 0, 10, 10), (9, 9, 20, 20))
    (False, True)
    """
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


__all__ = ["STACK", "Arrow", "Bar", "Box", "Glyph", "Label", "Layout", "Part", "advance", "dims",
           "line_height", "overlap", "side", "text_lines", "text_width", "thickness"]
