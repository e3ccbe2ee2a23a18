"""The picture's graph, from an analysed report: volumes, the joins of blocks and the
chains between them, folded by ``--depth`` as the table folds its rows.

Every writer (SVG through :mod:`.layout`, DOT, Mermaid) reads this one structure, so the
three formats draw the same network. One pass over the rows: linear in the report's size.

A layer that keeps its input's shape and does no multiply-accumulates (an activation, a
batch norm, dropout) gets no volume of its own: its text joins the caption of the arrow
into the volume before it (``conv 3×3, 64 · bn · relu``), or, when no volume precedes it
in its chain, of the arrow into the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import cast

from ...diagnostics import Severity
from ...layers import Block
from ...report import LayerRow, Report
from ...shapes import Shape, format_shape
from ..formats import clean, human, input_text

INPUT = 0
"""The key of the network's input volume."""

NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufffe\uffff]")


def safe(text: str) -> str:
    r"""Spec text for a picture: :func:`~cnncalc.output.formats.clean`, and the
    noncharacters XML may not carry made visible too.

    >>> safe("a\u202eb\ufffe")
    'a\\u202eb\\ufffe'
    """
    text = clean(text)
    return NONCHARACTER.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@dataclass(frozen=True, slots=True)
class Mark:
    """A problem drawn on the volume or join of the row it concerns."""

    severity: Severity
    code: str


@dataclass(frozen=True, slots=True)
class Volume:
    """A tensor drawn as a box: what the arrow into it does (``caption``, one line per
    layer) and its shape."""

    key: int
    shape: Shape | None
    caption: tuple[str, ...] = ()
    folded: bool = False
    """A block folded by ``--depth`` into one box."""
    route: int | None = None
    """``@NAME``: the key of the volume (or join) whose tensor this one is."""
    marks: tuple[Mark, ...] = ()
    params: int = 0
    macs: int = 0


@dataclass(frozen=True, slots=True)
class Join:
    """Where a block's groups meet: ``⊕``, ``⊗`` or ``concat``."""

    key: int
    glyph: str
    shape: Shape | None
    marks: tuple[Mark, ...] = ()
    after: tuple[str, ...] = ()
    """The layers right after the block that keep its shape (the ``relu`` after a residual):
    written under the arrow out of the join."""


@dataclass(frozen=True, slots=True)
class Fork:
    """A block whose groups run side by side; an empty branch is the block's input itself
    (an identity shortcut, a gate's input, a concat's ``[]``)."""

    branches: tuple[Chain, ...]
    join: Join
    label: str
    params: int = 0
    macs: int = 0


Item = Volume | Fork
Chain = tuple[Item, ...]


@dataclass(frozen=True)
class Picture:
    title: str
    subtitle: str
    chain: Chain
    """The network from its input volume (key :data:`INPUT`) on."""
    notes: tuple[str, ...] = field(default=())
    """Problems that concern no drawn row (``expect:``), as text."""


def codes_of(marks: Sequence[Mark]) -> str:
    """The marks' codes, each once, in order: ``G001 L003``."""
    return " ".join(dict.fromkeys(m.code for m in marks))


def severity_rank(marks: Sequence[Mark]) -> Severity | None:
    """The worst severity among ``marks`` (None when there are none)."""
    for s in (Severity.ERROR, Severity.WARNING, Severity.NOTE):
        if any(m.severity is s for m in marks):
            return s
    return None


class _Builder:
    def __init__(self, report: Report, depth: int | None) -> None:
        self.report, self.depth, self.next_key = report, depth, INPUT + 1
        self.row_key: dict[int, int] = {-1: INPUT}
        self.marks: dict[int, list[Mark]] = {}
        self.loose: list[str] = []
        index = {row.path: i for i, row in enumerate(report.layers)}
        for p in report.problems:
            if p.severity is Severity.NOTE:
                continue  # notes stay in the table: a picture marks what needs fixing
            i = index.get(p.path)
            if i is None:
                self.loose.append(f"{p.severity.value} {p.code}: {safe(p.message)}")
                continue
            self.marks.setdefault(self.shown(i), []).append(Mark(p.severity, p.code))

    def shown(self, i: int) -> int:
        """Row ``i``, or the folded block row that hides it."""
        rows, parent = self.report.layers, self.report.layers[i].parent
        while self.depth is not None and rows[i].depth > self.depth and parent is not None:
            i, parent = parent, rows[parent].parent
        return i

    def key(self) -> int:
        self.next_key += 1
        return self.next_key - 1

    def expanded(self, row: LayerRow) -> bool:
        return isinstance(row.node, Block) and (self.depth is None or row.depth < self.depth)

    def chain(self, rows: Sequence[int]) -> Chain:
        items: list[Item] = []
        pending: list[int] = []
        for i in self.flat(rows):
            row = self.report.layers[i]
            if self.expanded(row):
                if pending:  # layers before the block with no volume of theirs
                    items.append(self.volume(pending[-1], pending[:-1]))
                    pending = []
                items.append(self.fork(i))
            elif absorbed(row) and items and (isinstance(items[-1], Fork)
                                              or items[-1].route is None):
                items[-1] = self.absorb(items[-1], i)
            elif absorbed(row) and row.tensor is None:  # a named one needs its own volume
                pending.append(i)
            else:
                items.append(self.volume(i, pending))
                pending = []
        if pending:
            items.append(self.volume(pending[-1], pending[:-1]))
        return tuple(items)

    def flat(self, rows: Sequence[int]) -> Iterator[int]:
        """The rows with every expanded chained block (``repeat``, a block call, a
        residual without a shortcut) replaced by its rows, recursively."""
        for i in rows:
            row = self.report.layers[i]
            if self.expanded(row) and not _glyph(row):
                inner = self.report.children[i]
                if inner:  # its own problems go to its last row's volume
                    self.marks.setdefault(inner[-1], []).extend(self.marks.pop(i, []))
                yield from self.flat(inner)
                # a route to the block's output reads its last row's volume
                self.row_key[i] = self.row_key.get(inner[-1], INPUT) if inner else \
                    self.next_key - 1  # `* 0`: the tensor before it
            else:
                yield i

    def text(self, i: int) -> str:
        row = self.report.layers[i]
        text = safe(row.node.caption(row.input_shape) if row.node is not None else row.spec)
        return f"{text} as {safe(row.tensor)}" if row.tensor else text

    def taken(self, rows: Sequence[int], key: int) -> tuple[Mark, ...]:
        out: list[Mark] = []
        for i in rows:
            self.row_key[i] = key
            out += self.marks.get(i, [])
        return tuple(out)

    def volume(self, i: int, before: Sequence[int]) -> Volume:
        row, key = self.report.layers[i], self.key()
        marks = self.taken([*before, i], key)
        route = self.row_key.get(self.shown(row.source)) if row.source is not None and \
            row.source >= 0 else (INPUT if row.source == -1 else None)
        return Volume(key, row.output_shape, tuple(self.text(j) for j in (*before, i)),
                      folded=row.is_block, route=route, marks=marks,
                      params=sum(self.report.layers[j].params or 0 for j in (*before, i)),
                      macs=sum(self.report.layers[j].macs or 0 for j in (*before, i)))

    def absorb(self, item: Item, i: int) -> Item:
        params = self.report.layers[i].params or 0
        if isinstance(item, Fork):
            j = item.join
            marks = self.taken([i], j.key)
            return replace(item, join=replace(j, after=(*j.after, self.text(i)),
                                              marks=(*j.marks, *marks)),
                           params=item.params + params)
        marks = self.taken([i], item.key)
        return replace(item, caption=(*item.caption, self.text(i)),
                       marks=(*item.marks, *marks), params=item.params + params)

    def fork(self, i: int) -> Fork:
        row = self.report.layers[i]
        node = cast(Block, row.node)  # `expanded`: a block row with its node
        branches = [self.chain(rows) for rows in self.report.group_rows(i, node.groups())]
        key = self.key()
        join = Join(key, _glyph(row), row.output_shape, tuple(self.marks.get(i, [])))
        self.row_key[i] = key
        return Fork(tuple(branches), join, safe(node.label()),
                    params=row.params or 0, macs=row.macs or 0)


def _glyph(row: LayerRow) -> str:
    return row.node.glyph() if isinstance(row.node, Block) else ""


def absorbed(row: LayerRow) -> bool:
    """A leaf that keeps its input's shape and does no MACs (no volume of its own)."""
    return (not row.is_block and row.source is None and row.input_shape is not None
            and row.output_shape == row.input_shape and not row.macs)


def build(report: Report, depth: int | None = None) -> Picture:
    """The report's picture graph down to ``depth`` (None: every row)."""
    b = _Builder(report, depth)
    chain = b.chain(report.roots)
    t = report.totals
    first = Volume(INPUT, report.input_shape, marks=())
    counts = {s: sum(p.severity is s for p in report.problems) for s in (Severity.ERROR,
                                                                         Severity.WARNING)}
    found = ", ".join(f"{n} {s.value}{'s' if n != 1 else ''}" for s, n in counts.items() if n)
    subtitle = (f"{input_text(report.input_shape)} → {format_shape(t.output_shape)} · "
                f"{human(t.params)} params · {human(t.macs)} MACs" + (f" · {found}" if found else ""))
    return Picture(safe(report.name or "network"), subtitle, (first, *chain), tuple(b.loose))


def walk(chain: Chain) -> Iterator[Volume | Join]:
    """Every volume and join of ``chain``, in drawing order."""
    for item in chain:
        if isinstance(item, Volume):
            yield item
        else:
            for branch in item.branches:
                yield from walk(branch)
            yield item.join


Edge = tuple[int, int, tuple[str, ...], bool]
"""(from key, to key, caption lines, a route: the named tensor, not a layer)."""


def edges(picture: Picture) -> list[Edge]:
    """Every arrow of the picture: the flow from volume to volume through the joins, and
    each ``@NAME`` route from its tensor."""
    out: list[Edge] = []

    def chain(items: Chain, current: int | None) -> int | None:
        for item in items:
            if isinstance(item, Volume):
                if item.route is not None:
                    out.append((item.route, item.key, item.caption, True))
                elif current is not None:
                    out.append((current, item.key, item.caption, False))
                current = item.key
            else:
                for branch in item.branches:
                    end = chain(branch, current)
                    if end is not None:
                        out.append((end, item.join.key, (), False))
                current = item.join.key
        return current

    chain(picture.chain, None)
    return out


__all__ = [
    "INPUT",
    "Chain",
    "Edge",
    "Fork",
    "Item",
    "Join",
    "Mark",
    "Picture",
    "Volume",
    "absorbed",
    "build",
    "codes_of",
    "edges",
    "severity_rank",
    "walk",
]
