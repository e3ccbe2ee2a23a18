"""The sequence structure behind a report's rows: which layer feeds which.

:class:`Flow` is built from the rows' ``parent`` links (the tree the walker recorded) and
each block's groups, never from path strings: a row's parent, its group inside the
parent and its place in that group are all read off the tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

from ..layers import Block, Layer, Node
from ..report import LayerRow, Report

NO_NODE: Node = Layer()
"""Stands in for a row without a node: every trait off, so it matches no rule."""


def node_of(row: LayerRow) -> Node:
    """The row's layer or block, for asking its traits."""
    return row.node if row.node is not None else NO_NODE


Where = Literal["row", "join", "end"]


class Flow:
    """The sequence structure behind the pre-order rows: which layer feeds which.

    ``after(row)`` says where a row's output goes: to the next row (``"row"``; a
    ``repeat`` is entered, a residual/concat block is returned as itself), into the
    add/concatenation of the enclosing parallel block (``"join"``, with that block),
    or out of the network (``"end"``).

    ``top`` holds the network's own rows, ``groups[path]`` a block's rows group by group
    (a repeat's repetitions, a residual's body and shortcut, a concat's branches), and
    ``place[path]`` a row's ``(parent row, group, index in that group)``.
    """

    def __init__(self, rows: tuple[LayerRow, ...]) -> None:
        self.top: list[LayerRow] = []
        self.groups: dict[str, list[list[LayerRow]]] = {}
        self.place: dict[str, tuple[LayerRow | None, int, int]] = {}
        inside: list[list[LayerRow]] = [[] for _ in rows]
        for row in rows:
            if row.parent is None:
                self.place[row.path] = (None, 0, len(self.top))
                self.top.append(row)
            else:
                inside[row.parent].append(row)
        for i, row in enumerate(rows):
            if not row.is_block:
                continue
            # The walker gives every node of a group one row, so a block's rows split into
            # its groups by the groups' lengths.
            sizes = [len(g) for g in row.node.groups()] if isinstance(row.node, Block) else []
            members = inside[i]
            groups: list[list[LayerRow]] = []
            start = 0
            for size in sizes:
                groups.append(members[start:start + size])
                start += size
            self.groups[row.path] = groups
            for g, group in enumerate(groups):
                for j, member in enumerate(group):
                    self.place[member.path] = (row, g, j)
        self._reduced: dict[str, LayerRow | None] = {}
        self.before: dict[str, LayerRow] = {}
        for row in rows:
            if not row.is_block:
                where, nxt = self.after(row)
                if where == "row" and nxt is not None:
                    self.before.setdefault(nxt.path, row)
    def enter(self, row: LayerRow) -> tuple[Where, LayerRow | None]:
        """What runs first when the flow reaches ``row`` (a repeat is transparent). A route
        (``@NAME``) leaves the tensor before it as it is: for the lints it is an ``"end"``,
        an output or a tensor read by name (spec §9)."""
        if node_of(row).reads:
            return "end", None
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

    def reduced_by(self, row: LayerRow) -> LayerRow | None:
        """The nearest layer before ``row`` whose input differs from ``row``'s in its spatial
        sizes (H×W; L; D×H×W) — the one that brought the map to this size — or None when the
        flow has no such layer before it. Remembered along the way: asking for every row is
        linear in the rows."""
        walked: list[str] = []
        cur = row
        while True:
            if cur.path in self._reduced:
                found = self._reduced[cur.path]
                break
            walked.append(cur.path)
            prev = self.before.get(cur.path)
            if (prev is None or prev.input_shape is None or cur.input_shape is None
                    or prev.input_shape[:-1] != cur.input_shape[:-1]):
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

